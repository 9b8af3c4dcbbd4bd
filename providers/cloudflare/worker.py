"""The account's one Worker script: the map host -> policy, rendered, uploaded, read back.

Why one script for every domain: a Cloudflare account may hold many domains, and one
upload changes every policy at once (a phase of the plan is one upload, not one per
domain); a script per domain would cost an upload per domain and count against the
account's script limit.

The map is embedded in the script as a JSON literal between two comment markers, so the
live state is exactly what is served: `read` fetches the script content once and parses
the literal back; nothing else (no KV namespace, no state file) can drift from it. Each
entry carries its own `published` time, set only when that host's body changes: removal
waits `max_age` from the moment `mode: none` went out (RFC 8461 section 8.3), which the
script's `modified_on` cannot tell, since any other domain's change moves it; and a saved
plan of one domain does not turn stale because another domain was applied.

JSON in JavaScript: `json.dumps(ensure_ascii=True)` escapes U+2028/U+2029 (line
terminators in older JavaScript) and every non-ASCII character, and every `/` becomes `\\/`,
so neither `</script>`-style sequences, `*/` nor a copy of the end marker can appear inside.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import cloudflare

from provisioner import __version__
from provisioner.errors import ProviderError
from provisioner.polling import Wait, WaitTimedOut, poll
from provisioner.templating import template_environment

from .client import api_errors

TEMPLATE = "cloudflare-worker.js.j2"
MAIN_MODULE = "mtasts.mjs"
COMPATIBILITY_DATE = "2025-09-01"
BEGIN = "/*mtasts:policies:begin*/"
END = "/*mtasts:policies:end*/"
STATE_FORMAT = 1
READ_BACK = Wait(timeout=10.0, first_pause=1.0, longest_pause=2.0)
"""How long an upload may take to be served back: the API answers with the new version at
once in practice; ten seconds is what the ten tries a second apart used to cover, in six
fetches instead of ten (each one is a request against the account's quota)."""


@dataclass(frozen=True)
class PolicyEntry:
    body: str
    published: datetime


PolicyMap = dict[str, PolicyEntry]
"""host (`mta-sts.<domain>`) -> what it serves."""


def state_json(policies: Mapping[str, PolicyEntry]) -> str:
    """The map as a JavaScript-safe JSON literal (see the module docstring)."""
    data = {
        "format": STATE_FORMAT,
        "policies": {
            host: {
                "body": entry.body,
                "published": entry.published.astimezone(UTC).isoformat(timespec="seconds"),
            }
            for host, entry in sorted(policies.items())
        },
    }
    text = json.dumps(data, ensure_ascii=True, sort_keys=True, separators=(",", ":"))
    return text.replace("/", "\\/")


def render_script(policies: Mapping[str, PolicyEntry]) -> str:
    template = template_environment().get_template(TEMPLATE)
    return template.render(state_json=state_json(policies), version=__version__)


def parse_script(text: str) -> PolicyMap | None:
    """The map embedded in a script mtasts wrote; None when the script is not mtasts's."""
    start = text.find(BEGIN)
    end = text.find(END, start + len(BEGIN)) if start >= 0 else -1
    if start < 0 or end < 0:
        return None
    try:
        data = json.loads(text[start + len(BEGIN) : end])
        return {
            host: PolicyEntry(str(entry["body"]), datetime.fromisoformat(str(entry["published"])))
            for host, entry in data["policies"].items()
        }
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


class WorkerScript:
    """Fetches and uploads the script `name` of `account_id`."""

    def __init__(
        self, client: cloudflare.Cloudflare, provider: str, account_id: str, name: str
    ) -> None:
        self._client = client
        self._provider = provider
        self._account_id = account_id
        self.name = name

    def fetch(self) -> PolicyMap | None:
        """The live map, or None when the script does not exist yet. A script of that name
        that mtasts did not write is an error: mtasts never overwrites someone's Worker."""
        with api_errors(self._provider, f"reading Worker script {self.name!r}"):
            try:
                answer = self._client.workers.scripts.content.get(
                    self.name, account_id=self._account_id
                )
            except cloudflare.NotFoundError:
                return None
            text = answer.read().decode("utf-8", errors="replace")
        policies = parse_script(text)
        if policies is None:
            raise ProviderError(
                f"{self._provider}: Worker script {self.name!r} exists but was not written by "
                "mtasts; choose another name with the 'worker' setting"
            )
        return policies

    def upload(self, policies: Mapping[str, PolicyEntry]) -> None:
        """Upload the map and return once the API serves the new version back.

        An upload deploys the new version to 100% at once; reading the content back until
        it holds exactly this map is the confirmation the API can give (the fake answers
        at once; Cloudflare's edge picks a new version up within seconds).
        """
        script = render_script(policies)
        with api_errors(self._provider, f"uploading Worker script {self.name!r}"):
            self._client.workers.scripts.update(
                self.name,
                account_id=self._account_id,
                metadata={
                    "main_module": MAIN_MODULE,
                    "compatibility_date": COMPATIBILITY_DATE,
                    "bindings": [],
                },
                files=[(MAIN_MODULE, script.encode("utf-8"), "application/javascript+module")],
            )
        wanted = dict(policies)

        def served() -> bool | None:
            return True if self.fetch() == wanted else None

        try:
            poll(
                f"{self._provider}: Worker script {self.name!r} serving the upload",
                served,
                READ_BACK,
            )
        except WaitTimedOut:
            raise ProviderError(
                f"{self._provider}: Worker script {self.name!r} was uploaded but the API still "
                f"serves another version after {READ_BACK.timeout:g} s; run 'mtasts plan' again"
            ) from None


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
