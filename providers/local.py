"""The embedded `local` provider: a directory you serve yourself. Needs no account.

Layout under `path` (relative to the spec file):
  mta-sts.<domain>/.well-known/mta-sts.txt   a web root per host, for nginx or Caddy
  zones/<domain>.zone                         a BIND fragment with the two TXT records

It is the reference for every other provider: bulk read, one phase applied at a time,
atomic writes (temporary file + rename, so a web server never serves half a policy; no
fsync: after a crash the next apply converges), and nothing
touched that mtasts did not write: other files stay, other records in a zone fragment stay,
and a web root is removed only when mtasts's policy was the last file in it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from provisioner.errors import ProviderError
from provisioner.plan import Action, Change
from provisioner.provider import Capability, Progress, Provider
from provisioner.rfc8461 import POLICY_PATH
from provisioner.state import LiveDomain, Resource, policy_host, record_name
from provisioner.zonefile import (
    ZoneFileError,
    ZoneRecord,
    parse_zone_fragment,
    render_zone_fragment,
    replace_txt,
    txt_values,
)

WELL_KNOWN = POLICY_PATH.strip("/").split("/")


class LocalSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = "./build/mta-sts"


class LocalProvider(Provider):
    type_name = "local"
    capabilities = frozenset({Capability.POLICY, Capability.STS_RECORD, Capability.TLSRPT_RECORD})
    Settings = LocalSettings

    @property
    def root(self) -> Path:
        assert isinstance(self.settings, LocalSettings)
        return (self.base_dir / self.settings.path).resolve()

    def policy_file(self, domain: str) -> Path:
        return self.root / policy_host(domain) / Path(*WELL_KNOWN)

    def zone_file(self, domain: str) -> Path:
        return self.root / "zones" / f"{domain}.zone"

    def plan_settings(self) -> dict[str, str]:
        return {"path": str(self.root)}

    def managed_domains(self) -> set[str]:
        if not self.root.is_dir():
            return set()
        prefix = policy_host("")
        return {
            entry.name[len(prefix) :]
            for entry in self.root.iterdir()
            if entry.name.startswith(prefix)
            and self.policy_file(entry.name[len(prefix) :]).is_file()
        }

    def read(self, domains: Sequence[str], progress: Progress) -> dict[str, LiveDomain]:
        live: dict[str, LiveDomain] = {}
        for domain in domains:
            live[domain] = self._read_domain(domain)
            progress.advance()
        return live

    def _read_domain(self, domain: str) -> LiveDomain:
        policy_text: str | None = None
        published: datetime | None = None
        path = self.policy_file(domain)
        try:
            data = path.read_bytes()
            published = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            policy_text = data.decode("utf-8", errors="replace")
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise ProviderError(f"{self.name}: {domain}: cannot read {path}: {exc}") from None
        records = self._zone_records(domain)
        return LiveDomain(
            domain=domain,
            policy_text=policy_text,
            policy_published_at=published,
            sts_txt=txt_values(records, record_name(Resource.STS_RECORD, domain)),
            tlsrpt_txt=txt_values(records, record_name(Resource.TLSRPT_RECORD, domain)),
        )

    def _zone_records(self, domain: str) -> list[ZoneRecord]:
        path = self.zone_file(domain)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as exc:
            raise ProviderError(f"{self.name}: {domain}: cannot read {path}: {exc}") from None
        try:
            return parse_zone_fragment(text, domain, filename=str(path))
        except ZoneFileError as exc:
            raise ProviderError(f"{self.name}: {domain}: {exc}") from None

    def apply(self, changes: Sequence[Change], progress: Progress) -> None:
        txt_by_domain: dict[str, list[Change]] = {}
        for change in changes:
            if change.resource in (Resource.STS_RECORD, Resource.TLSRPT_RECORD):
                txt_by_domain.setdefault(change.domain, []).append(change)
                continue
            with self._reported(change):
                self._apply_policy(change)
            progress.advance()
        for domain, txt_changes in txt_by_domain.items():
            with self._reported(txt_changes[0]):
                self._write_zone(domain, txt_changes)
            progress.advance(len(txt_changes))

    @contextmanager
    def _reported(self, change: Change) -> Iterator[None]:
        """Storage errors as one line naming the domain and what was being done."""
        try:
            yield
        except OSError as exc:
            raise ProviderError(
                f"{self.name}: {change.domain}: {change.action} {change.resource} failed: {exc}"
            ) from None

    def _apply_policy(self, change: Change) -> None:
        if change.resource is not Resource.POLICY:
            raise ProviderError(f"{self.name}: the local provider hosts no {change.resource}")
        path = self.policy_file(change.domain)
        if change.action is Action.DELETE:
            path.unlink(missing_ok=True)
            _remove_empty_dirs(path.parent, stop=self.root)
        else:
            assert change.after is not None
            _write_atomically(path, change.after.encode("utf-8"))

    def _write_zone(self, domain: str, changes: list[Change]) -> None:
        """One read and one write of the fragment for all of a domain's TXT changes."""
        records = self._zone_records(domain)
        for change in changes:
            owner = record_name(change.resource, domain)
            records = replace_txt(records, owner, change.rrset_after)
        path = self.zone_file(domain)
        if records:
            _write_atomically(path, render_zone_fragment(domain, records).encode("utf-8"))
        else:
            path.unlink(missing_ok=True)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(tmp).chmod(0o644)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _remove_empty_dirs(directory: Path, stop: Path) -> None:
    while directory != stop and stop in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent
