"""The provider plugin interface: read live state in bulk, apply one phase of changes.

A provider is thin (DNSControl's lesson): the shared diff engine decides what changes; the
provider only reads what it holds and turns a phase's changes into its API's unit of work
(a file, a record set, a batch). Providers are found through the entry-point group
`mtasts.providers`, so a third party ships one as its own package and touches nothing here.

Contract:
- `read(domains)` is called once per run with every domain the provider must report on,
  so it can list zones once, batch, and run requests concurrently. A plan calls it as
  `read_expecting(domains, progress, expected)`, telling the provider the policy body the
  spec renders for each domain, so a listing that carries content hashes (S3 ETag, GCS
  md5Hash) is enough to know a body is unchanged without fetching it.
- `managed_domains()` lists domains the provider holds a policy for: how removals are found.
- `apply(changes)` receives the changes of ONE phase (see `provisioner.plan`) and returns
  only when they are live (caches purged, records in sync); it raises ProviderError naming
  the domain on failure, and the run stops before the next phase.
- `plan_settings()` is what a saved plan records to rebuild the provider: never secrets,
  which come from each cloud's credential chain or the environment.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path, PurePath
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel

from provisioner.plan import Change
from provisioner.state import Endpoint, LiveDomain


class Capability(StrEnum):
    """What a provider can do; drives which resources it plans and which tests run."""

    POLICY = "policy"
    STS_RECORD = "sts_record"
    TLSRPT_RECORD = "tlsrpt_record"
    ENDPOINT = "endpoint"
    READ_MX = "read_mx"


HOSTED = frozenset(Capability)
"""Everything: a provider that hosts the endpoint itself and can read live MX records."""


class Progress(Protocol):
    def advance(self, amount: int = 1) -> None: ...


@runtime_checkable
class PhaseProgress(Progress, Protocol):
    """A progress display that names what is happening (the CLI's bar does)."""

    def start_phase(self, name: str) -> None: ...


def announce_phase(progress: Progress, name: str) -> None:
    """Name the step a long run is in ("waiting for CloudFront to deploy", "certificates
    issuing") on a display that shows phases; a plain `Progress` ignores it.

    Providers call it before a wait that can last minutes, so a user sees what the run
    waits for instead of a bar standing still.
    """
    if isinstance(progress, PhaseProgress):
        progress.start_phase(name)


class NoProgress:
    def advance(self, amount: int = 1) -> None:
        return None


class Provider(ABC):
    type_name: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]]
    Settings: ClassVar[type[BaseModel]]

    settings: BaseModel
    """The validated settings: each provider narrows the type, `settings: MySettings`."""

    def __init__(self, name: str, settings: BaseModel, base_dir: Path) -> None:
        if not isinstance(settings, self.Settings):
            raise TypeError(
                f"provider {name!r} needs {self.Settings.__name__}, got {type(settings).__name__}"
            )
        self.name = name
        self.settings = settings
        self.base_dir = base_dir

    @abstractmethod
    def managed_domains(self) -> set[str]:
        """Domains this provider holds a policy for, whether or not the spec names them."""

    @abstractmethod
    def read(self, domains: Sequence[str], progress: Progress) -> dict[str, LiveDomain]:
        """Live state of each domain; a domain with nothing deployed may be left out."""

    def read_expecting(
        self, domains: Sequence[str], progress: Progress, expected: Mapping[str, str]
    ) -> dict[str, LiveDomain]:
        """`read`, knowing the policy body the spec renders for each domain in `expected`.

        Why: reading a deployment should cost about one API call per domain, and fetching
        every policy body doubles that; where the bulk listing carries a hash of each body,
        a body whose hash equals the expected one's is that body, and needs no fetch. The
        result must be exactly what `read` would return. A separate method, not a parameter
        of `read`, so providers that cannot use it keep their `read` unchanged. Default:
        `read`, ignoring `expected`.
        """
        return self.read(domains, progress)

    @abstractmethod
    def apply(self, changes: Sequence[Change], progress: Progress) -> None:
        """Make one phase's changes live, in the order given."""

    def endpoint_story(self, domain: str) -> str | None:
        """After `read`: what the endpoint change of `domain` does beyond its fields, in
        MTA-STS words ("joins group 7 (certificate re-issued for 10 hosts)"), or None.

        Words for the plan's reader only: the endpoint values, and so a saved plan's replay
        in a fresh process, never depend on it.
        """
        return None

    def notices(self) -> tuple[str, ...]:
        """Warnings about what the provider found and left alone (after managed_domains/read).

        Shown with the plan's warnings: e.g. a directory in the local tree that looks like a
        policy host but holds no policy mtasts could have written.
        """
        return ()

    def close(self) -> None:
        """Release what the provider holds for a run (the local provider's apply lock)."""
        return None

    def endpoint_for(self, domain: str) -> Endpoint | None:
        """The healthy endpoint this provider builds for `domain`; None where it hosts none.

        Its `read` must describe a live endpoint with the same host, target and part names,
        so the planner can say by field what is missing or wrong (`Endpoint.differences`).
        """
        return None

    def plan_settings(self) -> dict[str, Any]:
        """The settings a saved plan records to rebuild this provider: never a secret.

        A saved plan is applied from any working directory (the providers are rebuilt with
        `base_dir` = the current directory), so a setting typed `Path` that is relative to
        the spec's directory is recorded absolute; a file path typed `str` would silently
        aim the apply elsewhere, and the apply would refuse the plan as stale.
        """
        data = self.settings.model_dump(mode="json")
        for name in type(self.settings).model_fields:
            value = getattr(self.settings, name)
            if isinstance(value, PurePath) and not value.is_absolute():
                data[name] = str((self.base_dir / value).resolve())
        return data
