"""The Cloudflare provider (`type: cloudflare`): one Worker, custom domains, DNS records.

Modules, one job each: `provider` (the plugin: read, apply by phase), `worker` (the
script and the policy map inside it), `domains` (Workers custom domains), `dns` (TXT
records, batched per zone), `zones` (which zone holds a domain), `client` (the SDK client,
token, knobs, errors), `gate` (what every request passes: the shared pacer, the hold after
a 429, the run's deadline).
"""

from .provider import CloudflareProvider, CloudflareSettings

__all__ = ["CloudflareProvider", "CloudflareSettings"]
