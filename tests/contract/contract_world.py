"""What a provider's test world must offer the contract suite (tests/contract/test_contract.py).

Adding a provider to the suite = one class implementing `ContractWorld` against that
provider's emulator or fake, and one fixture named `<name>_contract_world` returning it,
in `conftest.py` or in any pytest plugin (`conftest.worlds` finds it; nothing lists
providers). The suite drives mtasts through its CLI and library exactly as a user would,
and looks at the result only through the world: the records as the provider's own API
shows them (zone-file text and TTL), and the policy as the provider stores or serves it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from provisioner.provider import Capability

RUA = "mailto:tlsrpt@example.net"
DEFAULTS: dict[str, Any] = {"mode": "testing", "max_age": 86400, "tlsrpt": {"rua": [RUA]}}


class ContractWorld(Protocol):
    """One provider's emulator, seen as the contract suite needs it."""

    provider_name: str
    capabilities: frozenset[Capability]
    directory: Path
    injects_faults: bool
    """Whether `fail_writes` makes the API answer an error. False only for a provider with
    no API to fail (a directory); the fault tests then skip, saying so, never pass idle."""

    def provider_settings(self) -> dict[str, Any]:
        """The `providers.<name>` entry of a spec aimed at the emulator."""

    def add_zone(self, zone: str) -> None:
        """Make `zone` (an apex) exist, with an MX record `10 mx.<zone>.`."""

    def add_record(self, name: str, rtype: str, text: str, ttl: int) -> None:
        """Add a record someone else owns; `text` is zone-file rdata (`"a" "b"` for TXT)."""

    def records(self, name: str, rtype: str) -> list[tuple[str, int]]:
        """Every record at `name` of `rtype`, as (zone-file rdata, TTL), sorted."""

    def served(self, domain: str) -> bytes | None:
        """The policy body the provider stores or serves for `domain`; None if none."""

    def fail_writes(self, status: int, count: int) -> None:
        """Answer the next `count` DNS write requests with HTTP `status`."""

    def fail_txt_writes_forever(self) -> None:
        """Every TXT write fails from now on (a provider error in the TXT phase)."""
