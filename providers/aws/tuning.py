"""Every run-time knob the AWS provider reads, validated together before its first request.

The knobs are `provisioner.knobs` knobs (one parser, one error format for every provider):
the shared request timeouts and run deadline, Route53's quota (`provisioner.pacing`), and
two AWS waits declared here. Reading them all when the session is built means a typo in
any one (`MTASTS_READ_TIMEOUT=20s`) stops the run before anything is read or written, in one
line naming the variable, instead of surfacing mid-apply or, worse, as a silent default.
"""

from __future__ import annotations

from dataclasses import dataclass

from provisioner.errors import ProviderError
from provisioner.knobs import CONNECT_TIMEOUT, READ_TIMEOUT, RUN_DEADLINE, KnobError, seconds
from provisioner.pacing import ROUTE53

CERT_TIMEOUT = seconds("MTASTS_AWS_CERT_TIMEOUT", 1800.0)
"""Seconds apply waits for ACM to issue the certificates it requested (DNS validation)."""
DEPLOY_TIMEOUT = seconds("MTASTS_AWS_DEPLOY_TIMEOUT", 1800.0)
"""Seconds apply waits for CloudFront to deploy a distribution or finish an invalidation."""


@dataclass(frozen=True)
class Tuning:
    connect_timeout: float
    read_timeout: float
    deadline: float
    route53_rps: float
    cert_timeout: float
    deploy_timeout: float

    @classmethod
    def read(cls, provider: str) -> Tuning:
        """Every knob, validated; a bad one is a ProviderError naming provider and variable."""
        try:
            quota = ROUTE53.read()
            return cls(
                connect_timeout=CONNECT_TIMEOUT.read(),
                read_timeout=READ_TIMEOUT.read(),
                deadline=RUN_DEADLINE.read(),
                route53_rps=quota.requests / quota.seconds,
                cert_timeout=CERT_TIMEOUT.read(),
                deploy_timeout=DEPLOY_TIMEOUT.read(),
            )
        except KnobError as exc:
            raise ProviderError(f"{provider}: {exc}") from None
