"""The `local` provider's contract world: a directory, read with dnspython."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dns.zone
import pytest

from providers.local import LocalProvider
from providers.localtree import LocalTree


class LocalWorld:
    provider_name = "p"
    capabilities = LocalProvider.capabilities
    injects_faults = False

    def __init__(self, directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.directory = directory
        self.root = directory / "out"
        self.monkeypatch = monkeypatch

    def provider_settings(self) -> dict[str, Any]:
        return {"type": "local", "path": "./out"}

    def zone_file(self, name: str) -> Path | None:
        """The fragment holding `name`: the longest spec-domain suffix among the fragments."""
        zones = self.root / "zones"
        best: Path | None = None
        for path in zones.glob("*.zone") if zones.is_dir() else ():
            zone = path.name.removesuffix(".zone")
            if (name == zone or name.endswith("." + zone)) and (
                best is None or len(zone) > len(best.name.removesuffix(".zone"))
            ):
                best = path
        return best

    def add_zone(self, zone: str) -> None:
        return None  # the local provider keeps one fragment per domain, made on demand

    def add_record(self, name: str, rtype: str, text: str, ttl: int) -> None:
        domain = name.split("._tls.", 1)[-1].removeprefix("_mta-sts.").removeprefix("mta-sts.")
        path = self.root / "zones" / f"{domain}.zone"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(f"{name}. {ttl} IN {rtype} {text}\n")

    def records(self, name: str, rtype: str) -> list[tuple[str, int]]:
        path = self.zone_file(name)
        if path is None:
            return []
        zone = dns.zone.from_text(
            path.read_text(encoding="utf-8"), origin=".", relativize=False, check_origin=False
        )
        found: list[tuple[str, int]] = []
        node = zone.get_node(name + ".")
        if node is not None:
            for rdataset in node.rdatasets:
                if dns.rdatatype.to_text(rdataset.rdtype) == rtype:
                    found += [(rdata.to_text(), rdataset.ttl) for rdata in rdataset]
        return sorted(found)

    def served(self, domain: str) -> bytes | None:
        path = self.root / f"mta-sts.{domain}" / ".well-known" / "mta-sts.txt"
        return path.read_bytes() if path.is_file() else None

    def fail_writes(self, status: int, count: int) -> None:
        return None  # a directory has no rate limit or server error to survive

    def fail_txt_writes_forever(self) -> None:
        """The disk refuses every zone fragment write (the TXT phase), policies still go."""
        real_write = LocalTree.write

        def write(tree: LocalTree, parts: Any, data: bytes) -> None:
            if parts and parts[0] == "zones":
                raise OSError(28, "No space left on device")
            real_write(tree, parts, data)

        self.monkeypatch.setattr(LocalTree, "write", write)
