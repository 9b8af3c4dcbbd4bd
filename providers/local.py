"""The embedded `local` provider: a directory you serve yourself. Needs no account.

Layout under `path` (relative to the spec file):
  mta-sts.<domain>/.well-known/mta-sts.txt   a web root per host, for nginx or Caddy
  zones/<domain>.zone                         a BIND fragment with the two TXT records

It is the reference for every other provider: bulk read, one phase applied at a time,
atomic writes (temporary file + rename, so a web server never serves half a policy; no
fsync: after a crash the next apply converges), and nothing touched that mtasts did not
write: other files stay, other records in a zone fragment stay, and a web root is removed
only when mtasts's policy was the last file in it.

Every file access goes through `providers.localtree.LocalTree`, which follows no link below
the root and builds paths only from validated host names. On top of it, this module decides
what mtasts owns:

- Managed (`managed_domains`, how removals are found) means an `mta-sts.<NAME>` directory
  whose NAME is a normalised host name and whose policy file holds a body mtasts could have
  written (it parses strictly and re-renders byte for byte). Anything else under the root
  (a name holding escapes or a newline, a policy another tool wrote, a link) is left alone
  and named in `tree_warnings`, so a plan never tears down what no spec ever had.
- A zone fragment is never deleted (users `$INCLUDE` it): its last record removed, it stays
  as a valid fragment holding no record. Only mtasts's own TXT lines in it are edited;
  comments and foreign records stay exactly as written (`edit_zone_fragment`).
- A CNAME (or NS) at `_mta-sts.<d>` or `_smtp._tls.<d>` in a fragment is reported as
  `LiveDomain.blocking`: the plan refuses (`provisioner.conflicts`) instead of writing a TXT
  beside it, which no DNS server would load; `_write_zone` refuses too, for saved plans.
- `apply` holds an exclusive lock on the tree from its first call (the first phase) until
  `close()` or the process ends: two applies on one tree cannot interleave their phases.

Reads (issue 9.9): a plan's `managed_domains` reads each web root's policy once, and the
`read` right after it takes those bodies (and the listing's word that a host has no web
root) instead of reading again: one policy read and one fragment read per domain. The
handover is used once; any later `read` (the core's id guard before the TXT phase, a
saved plan's apply) reads the files again.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from providers.localtree import ZONE_MAX_BYTES, FileContent, LocalTree, is_host_name
from provisioner.errors import ProviderError
from provisioner.plan import Action, Change
from provisioner.provider import Capability, Progress, Provider
from provisioner.rfc8461 import POLICY_MAX_BYTES, parse_policy
from provisioner.state import BlockingRecord, LiveDomain, Resource, policy_host, record_name
from provisioner.zonefile import (
    ZoneFileError,
    ZoneRecord,
    delegation,
    edit_zone_fragment,
    parse_zone_fragment,
    txt_values,
)

TXT_RESOURCES = (Resource.STS_RECORD, Resource.TLSRPT_RECORD)


class LocalSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = "./build/mta-sts"


class LocalProvider(Provider):
    type_name = "local"
    capabilities = frozenset({Capability.POLICY, Capability.STS_RECORD, Capability.TLSRPT_RECORD})
    Settings = LocalSettings
    settings: LocalSettings

    def __init__(self, name: str, settings: BaseModel, base_dir: Path) -> None:
        super().__init__(name, settings, base_dir)
        self.tree_warnings: list[str] = []
        """What `managed_domains` found under the root and left alone, one line each."""
        self._tree: LocalTree | None = None
        self._listed: _Listing | None = None
        """What the last `managed_domains` read, for the next `read` only (module notes)."""

    @property
    def root(self) -> Path:
        return (self.base_dir / self.settings.path).resolve()

    @property
    def tree(self) -> LocalTree:
        if self._tree is None:
            self._tree = LocalTree(self.root, self.name)
        return self._tree

    def policy_file(self, domain: str) -> Path:
        return self.tree.path(self.tree.policy_parts(domain))

    def zone_file(self, domain: str) -> Path:
        return self.tree.path(self.tree.zone_parts(domain))

    def plan_settings(self) -> dict[str, Any]:
        return {"path": str(self.root)}

    def notices(self) -> tuple[str, ...]:
        """What `managed_domains` found under the root and left alone (`tree_warnings`)."""
        return tuple(self.tree_warnings)

    def close(self) -> None:
        """Release the apply lock (the process's end releases it too)."""
        if self._tree is not None:
            self._tree.unlock()

    def __del__(self) -> None:
        with suppress(Exception):  # nothing to report to at collection time
            self.close()

    # --- what mtasts owns -----------------------------------------------------------------

    def managed_domains(self) -> set[str]:
        """Domains whose web root holds a policy mtasts could have written; the rest of the
        `mta-sts.*` entries are left alone and named in `tree_warnings`."""
        self.tree_warnings = []
        self._listed = None
        listed = _Listing()
        managed: set[str] = set()
        prefix = policy_host("")
        with self._storage_errors("reading the tree"):
            for entry, kind in self.tree.host_entries():
                where = self.tree.path((entry,))
                domain = entry[len(prefix) :]
                listed.entries.add(domain)
                if kind == "link":
                    self._left_alone(where, "is a symbolic link")
                elif kind != "dir":
                    continue
                elif not is_host_name(domain):
                    if self.tree.holds_policy_file(entry):
                        self._left_alone(where, "is not named after a normalised host name")
                elif self._holds_own_policy(domain, listed):
                    managed.add(domain)
        self._listed = listed
        return managed

    def _holds_own_policy(self, domain: str, listed: _Listing) -> bool:
        try:
            content = self.tree.read(self.tree.policy_parts(domain), POLICY_MAX_BYTES)
        except ProviderError as exc:
            self.tree_warnings.append(f"{exc}; left alone")
            return False
        listed.bodies[domain] = content
        if content is None:
            return False
        try:
            text = content.data.decode("utf-8")
            if parse_policy(text).policy.render() == text:
                return True
        except ValueError:
            pass
        self._left_alone(
            self.policy_file(domain),
            "holds a policy mtasts did not write",
            "mtasts never removes it (only a spec naming the domain replaces it)",
        )
        return False

    def _left_alone(self, path: Path, why: str, so: str = "mtasts leaves it alone") -> None:
        self.tree_warnings.append(f"{self.name}: {str(path)!a} {why}; {so}")

    # --- read -----------------------------------------------------------------------------

    def read(self, domains: Sequence[str], progress: Progress) -> dict[str, LiveDomain]:
        listed, self._listed = self._listed, None
        live: dict[str, LiveDomain] = {}
        for domain in domains:
            live[domain] = self._read_domain(domain, listed)
            progress.advance()
        return live

    def _read_domain(self, domain: str, listed: _Listing | None) -> LiveDomain:
        policy_text: str | None = None
        published: datetime | None = None
        if listed is not None and domain in listed.bodies:
            content = listed.bodies[domain]
        elif listed is not None and domain not in listed.entries:
            content = None  # no web root at all when the tree was listed just now
        else:
            with self._storage_errors(f"{domain}: cannot read {self.policy_file(domain)}"):
                content = self.tree.read(self.tree.policy_parts(domain), POLICY_MAX_BYTES)
        if content is not None:
            published = datetime.fromtimestamp(content.mtime, UTC)
            policy_text = content.data.decode("utf-8", errors="replace")
        records = self._zone_records(domain)
        return LiveDomain(
            domain=domain,
            policy_text=policy_text,
            policy_published_at=published,
            sts_txt=txt_values(records, record_name(Resource.STS_RECORD, domain)),
            tlsrpt_txt=txt_values(records, record_name(Resource.TLSRPT_RECORD, domain)),
            blocking=_blocking(records, domain),
        )

    def _zone_records(self, domain: str) -> list[ZoneRecord]:
        return self._zone(domain)[1]

    def _zone(self, domain: str) -> tuple[str | None, list[ZoneRecord]]:
        """The fragment's text (None when there is none) and its records."""
        path = self.zone_file(domain)
        with self._storage_errors(f"{domain}: cannot read {path}"):
            content = self.tree.read(self.tree.zone_parts(domain), ZONE_MAX_BYTES)
        if content is None:
            return None, []
        try:
            text = content.data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProviderError(f"{self.name}: {domain}: cannot read {path}: {exc}") from None
        try:
            return text, parse_zone_fragment(text, domain, filename=str(path))
        except ZoneFileError as exc:
            raise ProviderError(f"{self.name}: {domain}: {exc}") from None

    @contextmanager
    def _storage_errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except ProviderError:
            raise
        except OSError as exc:
            raise ProviderError(f"{self.name}: {doing}: {exc}") from None

    # --- apply ----------------------------------------------------------------------------

    def apply(self, changes: Sequence[Change], progress: Progress) -> None:
        """One phase. The first call takes the tree's lock, which later phases keep, and
        removes the temporary files a killed apply left (no other apply can be writing)."""
        self._listed = None  # a write makes the listing old: later reads go to the files
        with self._storage_errors(f"cannot lock {self.root}"):
            if self.tree.lock():
                self.tree.sweep_temporary_files()
        txt_by_domain: dict[str, list[Change]] = {}
        for change in changes:
            if change.resource in TXT_RESOURCES:
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
        except ProviderError:
            raise
        except OSError as exc:
            raise ProviderError(
                f"{self.name}: {change.domain}: {change.action} {change.resource} failed: {exc}"
            ) from None

    def _apply_policy(self, change: Change) -> None:
        if change.resource is not Resource.POLICY:
            raise ProviderError(f"{self.name}: the local provider hosts no {change.resource}")
        parts = self.tree.policy_parts(change.domain)
        if change.action is Action.DELETE:
            self.tree.delete(parts, remove_empty_dirs=True)
        else:
            assert change.after is not None
            self.tree.write(parts, change.after.encode("utf-8"))

    def _write_zone(self, domain: str, changes: list[Change]) -> None:
        """One read and one write of the fragment for all of a domain's TXT changes."""
        text, records = self._zone(domain)
        rrsets = {record_name(c.resource, domain): c.rrset_after for c in changes}
        for owner, values in rrsets.items():
            there = delegation(records, owner)
            if there is not None and values:
                raise ProviderError(
                    f"{self.name}: {domain}: {owner} is a {there.rdtype} to "
                    f"{_target(there)}: mtasts writes no TXT beside it (no DNS server would "
                    f"serve it from {self.zone_file(domain)})"
                )
        edited = edit_zone_fragment(text, domain, rrsets)
        self.tree.write(self.tree.zone_parts(domain), edited.encode("utf-8"))


@dataclass
class _Listing:
    """One `managed_domains` pass: the host names it saw under the root, and the policy it
    read for each valid one (None: no policy file)."""

    entries: set[str] = field(default_factory=set)
    bodies: dict[str, FileContent | None] = field(default_factory=dict)


def _blocking(records: list[ZoneRecord], domain: str) -> tuple[BlockingRecord, ...]:
    """A CNAME or NS at a name mtasts writes TXT at: a delegation it must not write beside."""
    found: list[BlockingRecord] = []
    for resource in TXT_RESOURCES:
        owner = record_name(resource, domain)
        there = delegation(records, owner)
        if there is not None:
            found.append(BlockingRecord(resource, owner, there.rdtype, _target(there)))
    return tuple(found)


def _target(record: ZoneRecord) -> str:
    """The delegation's target as a host name: no trailing dot, lower case."""
    return record.rdata.rstrip(".").lower()
