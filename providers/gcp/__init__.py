"""The `gcp` provider (`type: gcp`): MTA-STS on Cloud DNS, GCS and one HTTPS load balancer.

Modules, one job each: `provider` (the plugin: read, apply by phase), `inventory` (the bulk
read), `clouddns` (zones, rrset listings, changes), `storage` (the policy bucket and
objects), `settings`, `clients` (endpoints, credentials, timeouts), `errors` (one-line
errors); the endpoint half lives in `endpoint` and the modules it uses. Importing this
package imports the Google Cloud libraries; without them the registry names the `gcp` extra.
"""

from providers.gcp.provider import GcpProvider

__all__ = ["GcpProvider"]
