"""The AWS provider's own run-time knobs, declared with `provisioner.knobs`.

The knobs every provider shares (connect and read timeouts, the run's deadline, the worker
count, Route53's quota in `provisioner.pacing`) are declared in the core; what is declared
here exists only on AWS: how long apply waits for ACM, CloudFront and Route53 to settle.
All of them are read when the session is built (`session.AwsClients`), so a typo in any one
(`MTASTS_AWS_CERT_TIMEOUT=30m`) stops the run before anything is read or written, in one
line naming the variable, instead of surfacing mid-apply or as a silent default.
"""

from __future__ import annotations

from provisioner.knobs import seconds

CERT_TIMEOUT = seconds("MTASTS_AWS_CERT_TIMEOUT", 1800.0)
"""Seconds apply waits for ACM to issue the certificates it requested (DNS validation)."""
DEPLOY_TIMEOUT = seconds("MTASTS_AWS_DEPLOY_TIMEOUT", 1800.0)
"""Seconds apply waits for CloudFront to deploy a distribution or finish an invalidation."""
INSYNC_TIMEOUT = seconds("MTASTS_AWS_INSYNC_TIMEOUT", 600.0)
"""Seconds apply waits for a Route53 change batch to be INSYNC (usually under a minute)."""

AWS_KNOBS = (CERT_TIMEOUT, DEPLOY_TIMEOUT, INSYNC_TIMEOUT)
"""Read together, with the shared knobs, before the first request."""
