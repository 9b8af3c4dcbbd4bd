"""`mtasts import`: adopt domains that already publish MTA-STS, by writing their spec entries.

Two sources, one result: the outside (`import DOMAIN...`: the `_mta-sts` and `_smtp._tls`
records and the policy read over HTTPS exactly as `check` reads them, with its options) or
a provider (`import --from-provider NAME`: every domain it manages, from its own `read`, as
octoDNS's dump rebuilds a config from a zone). Each adopted domain gets its live `mode`,
`mx` (in the live order), `max_age` and, when a valid TLSRPT record is live, `tlsrpt.rua`;
so the next plan changes none of them. At most it re-publishes the policy in mtasts's
canonical form (CRLF, one field per line, RFC 8461 section 3.2) under an id mtasts mints,
and the plan says so in a note.

A domain that publishes nothing, or a record or policy senders would reject, is named with
the reason and not imported: copying a broken policy into the spec would publish it again.

Where entries go: an existing spec is edited in place (`specedit.py`: every other byte
kept; an existing domain's four fields replaced, its comments and other keys kept); a
missing spec is created with the embedded `local` provider (`./build/mta-sts`), because a
cloud provider's settings (account, region, bucket) cannot be read from DNS. `--provider
NAME` must name a provider of an existing spec; it is written under each imported domain
when the spec has several providers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from provisioner.checks.dnsprobe import DnsFailure, make_resolver, query_txt
from provisioner.checks.verdict import CheckOptions, DomainReport, Status, check_domains
from provisioner.concurrency import each
from provisioner.errors import MtastsError
from provisioner.lifecycle.specedit import (
    Value,
    new_spec_text,
    read_spec_text,
    replace_file,
    set_fields,
    unified_diff,
    verified_text,
)
from provisioner.provider import NoProgress
from provisioner.registry import build_provider, build_providers
from provisioner.render import normalize_domain_filter
from provisioner.rfc8460 import is_tlsrpt_record, parse_tlsrpt_record, render_tlsrpt_record
from provisioner.rfc8461 import GrammarError, Mode, Policy, parse_policy
from provisioner.spec import DEFAULT_LOCAL_PATH, DEFAULT_PROVIDER_NAME, DomainSpec, Spec, load_spec
from provisioner.state import LiveDomain

FORMAT_VERSION = 1
_FATAL_CHECKS = ("dns", "sts_record", "policy_fetch", "policy_certificate", "policy_syntax")
"""Findings that mean senders see no valid policy: such a domain is not imported."""


@dataclass(frozen=True)
class LiveSettings:
    """What one domain publishes, in spec terms."""

    policy: Policy
    rua: tuple[str, ...] | None

    def fields(self, provider: str | None) -> dict[str, Value]:
        fields: dict[str, Value] = {}
        if provider is not None:
            fields["provider"] = provider
        fields["mode"] = self.policy.mode.value
        if self.policy.mx or self.policy.mode is not Mode.NONE:
            fields["mx"] = list(self.policy.mx)
        fields["max_age"] = self.policy.max_age
        if self.rua is not None:
            fields["tlsrpt"] = {"rua": list(self.rua)}
        return fields


@dataclass(frozen=True)
class Adoption:
    """One named domain: imported (with its settings) or refused (with the reason)."""

    domain: str
    settings: LiveSettings | None
    reason: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def imported(self) -> bool:
        return self.settings is not None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"domain": self.domain, "imported": self.imported}
        if self.settings is not None:
            data["settings"] = self.settings.fields(None)
        if self.reason is not None:
            data["reason"] = self.reason
        data["notes"] = list(self.notes)
        return data


@dataclass(frozen=True)
class ImportResult:
    spec_path: Path
    created: bool
    adoptions: tuple[Adoption, ...]
    diff: str
    written: bool
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return all(a.imported for a in self.adoptions)

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "spec": str(self.spec_path),
            "created": self.created,
            "dry_run": self.dry_run,
            "written": self.written,
            "ok": self.ok,
            "domains": [a.to_json() for a in self.adoptions],
            "diff": self.diff,
        }


def import_domains(
    config: Path,
    domains: Sequence[str],
    options: CheckOptions,
    *,
    provider: str | None = None,
    dry_run: bool = False,
) -> ImportResult:
    """Read each domain from the outside and write (or merge) its spec entry.

    Raises MtastsError for a spec that does not load, an unknown --provider, or an edit
    that cannot be made safely; a domain that publishes nothing valid is an Adoption with
    a reason, and the others are still imported.
    """
    names = _names(domains)
    spec = _existing_spec(config)
    _check_provider(config, spec, provider)
    adoptions = each(lambda report: _adopt(report, options), check_domains(names, options))
    return _write(config, spec, adoptions, provider, dry_run)


def import_from_provider(config: Path, provider: str, *, dry_run: bool = False) -> ImportResult:
    """Spec entries for every domain `provider` manages, read through the provider itself.

    Without a spec, only the embedded `local` provider can be named (its settings are the
    default ones); any other provider's settings must be in the spec first.
    """
    spec = _existing_spec(config)
    if spec is None:
        if provider != DEFAULT_PROVIDER_NAME:
            raise MtastsError(
                f"{config} does not exist: only the embedded {DEFAULT_PROVIDER_NAME!r} provider "
                f"can be read without a spec; write {provider!r}'s settings in a spec first"
            )
        source = build_provider(
            provider, "local", {"path": DEFAULT_LOCAL_PATH}, config.resolve().parent
        )
    else:
        _check_provider(config, spec, provider)
        source = build_providers(spec, {provider})[provider]
    try:
        managed = sorted(source.managed_domains())
        live = source.read(managed, NoProgress()) if managed else {}
        notices = source.notices()
    finally:
        source.close()
    adoptions = [_adopt_live(live.get(name) or LiveDomain(name)) for name in managed]
    if notices and adoptions:
        first = adoptions[0]
        adoptions[0] = Adoption(
            first.domain, first.settings, first.reason, (*first.notes, *notices)
        )
    return _write(config, spec, adoptions, provider if spec is not None else None, dry_run)


# --- reading ----------------------------------------------------------------------------


def _names(domains: Sequence[str]) -> list[str]:
    if not domains:
        raise MtastsError("name at least one DOMAIN (or --from-provider NAME)")
    ordered: list[str] = []
    for raw in domains:
        name = next(iter(normalize_domain_filter([raw], source="DOMAIN") or ()))
        if "." not in name:
            raise MtastsError(f"DOMAIN: {name!r} is a single label, not a domain")
        if name not in ordered:
            ordered.append(name)
    return ordered


def _adopt(report: DomainReport, options: CheckOptions) -> Adoption:
    """A domain as `check` saw it: importable when a valid record and policy are served."""
    fatal = [f for f in report.ordered() if f.status is Status.FAIL and f.check in _FATAL_CHECKS]
    if report.policy is None or report.sts_id is None or fatal:
        why = fatal[0].message if fatal else "publishes no valid MTA-STS policy"
        return Adoption(report.domain, None, why)
    notes = [
        f"{f.check}: {f.message} (imported as it is live)"
        for f in report.ordered()
        if f.status is Status.FAIL
    ]
    rua, tlsrpt_note = _live_rua(report.domain, options)
    if tlsrpt_note:
        notes.append(tlsrpt_note)
    policy, mx_note = _unrepeated(report.policy)
    notes.extend(mx_note)
    return Adoption(report.domain, LiveSettings(policy, rua), None, tuple(notes))


def _unrepeated(policy: Policy) -> tuple[Policy, tuple[str, ...]]:
    """The policy with each mx pattern once (the spec keeps one of each, and senders match
    a host against the set, RFC 8461 section 4.1), and a note naming what was repeated."""
    unique = tuple(dict.fromkeys(policy.mx))
    if unique == policy.mx:
        return policy, ()
    repeated = sorted({mx for mx in policy.mx if policy.mx.count(mx) > 1})
    note = f"mx: {', '.join(repeated)} listed more than once live; imported once"
    return replace(policy, mx=unique), (note,)


def _live_rua(domain: str, options: CheckOptions) -> tuple[tuple[str, ...] | None, str | None]:
    """The report URIs of the one valid TLSRPT record at `_smtp._tls.<domain>`, or a note."""
    resolver = make_resolver(options.nameserver, options.timeout)
    try:
        answer = query_txt(resolver, f"_smtp._tls.{domain}")
    except DnsFailure as exc:
        return None, f"tlsrpt: not imported ({exc})"
    return _rua_of(answer.values)


def _rua_of(values: Sequence[str]) -> tuple[tuple[str, ...] | None, str | None]:
    records = [v for v in values if is_tlsrpt_record(v)]
    if not records:
        return None, "tlsrpt: no TLSRPT record is live; none imported"
    if len(records) > 1:
        return (
            None,
            f"tlsrpt: {len(records)} TLSRPT records (reporters ignore them all); none imported",
        )
    try:
        rua = parse_tlsrpt_record(records[0]).rua
    except GrammarError as exc:
        return None, f"tlsrpt: the live record is invalid ({exc}); not imported"
    canonical = render_tlsrpt_record(rua, max_bytes=None)
    if canonical != records[0]:
        return rua, (
            f"tlsrpt: rua unchanged; the next plan re-publishes the record as {canonical!r} "
            f"(live: {records[0]!r})"
        )
    return rua, None


def _adopt_live(live: LiveDomain) -> Adoption:
    """A domain as its provider holds it (`import --from-provider`)."""
    if live.policy_text is None:
        return Adoption(live.domain, None, "the provider holds no policy for it")
    try:
        policy = parse_policy(live.policy_text).policy
    except GrammarError as exc:
        return Adoption(live.domain, None, f"the provider's policy is invalid: {exc}")
    rua, note = _rua_of(live.tlsrpt_txt)
    policy, mx_note = _unrepeated(policy)
    notes: tuple[str, ...] = ((note,) if note else ()) + mx_note
    if policy.mode is Mode.NONE:
        notes += ("mode none: its removal was under way; keeping it in the spec stops it",)
    return Adoption(live.domain, LiveSettings(policy, rua), None, notes)


# --- writing ----------------------------------------------------------------------------


def _existing_spec(config: Path) -> Spec | None:
    if not config.exists() and not config.is_symlink():
        return None
    return load_spec(config)


def _check_provider(config: Path, spec: Spec | None, provider: str | None) -> None:
    if provider is None:
        return
    if spec is None:
        if provider == DEFAULT_PROVIDER_NAME:
            return
        raise MtastsError(
            f"--provider {provider}: {config} does not exist, so it names no provider; a new "
            f"spec gets the embedded {DEFAULT_PROVIDER_NAME!r} provider (omit --provider), or "
            "write the spec with its providers first"
        )
    if provider not in spec.providers:
        known = ", ".join(sorted(spec.providers))
        raise MtastsError(f"--provider {provider}: not a provider of {config} (known: {known})")


def _write(
    config: Path,
    spec: Spec | None,
    adoptions: list[Adoption],
    provider: str | None,
    dry_run: bool,
) -> ImportResult:
    adopted = [a for a in adoptions if a.settings is not None]
    written_provider = provider if spec is not None and len(spec.providers) > 1 else None
    expected = {
        a.domain: _resolves_to(a.settings, provider) for a in adopted if a.settings is not None
    }
    if spec is None:
        before_text = ""
        text = new_spec_text(
            "Written by mtasts import from the live records; review, then plan.",
            {DEFAULT_PROVIDER_NAME: {"type": "local", "path": DEFAULT_LOCAL_PATH}},
            {a.domain: a.settings.fields(None) for a in adopted if a.settings is not None},
        )
        before: Mapping[str, DomainSpec] = {}
        expected_bytes = None
    else:
        source = read_spec_text(spec.path)
        before_text = text = source.text
        text = set_fields(
            text,
            {a.domain: a.settings.fields(written_provider) for a in adopted if a.settings},
        )
        before = spec.domains
        expected_bytes = source.data
    if adopted:
        edited = verified_text(config, before, text, expected)
        adoptions = [_with_inherited_rua(a, edited.domains.get(a.domain)) for a in adoptions]
    diff = unified_diff(config, before_text, text)
    written = bool(adopted) and not dry_run
    if written:
        replace_file(config, text, expected_bytes)
    return ImportResult(config, spec is None, tuple(adoptions), diff, written, dry_run)


def _with_inherited_rua(adoption: Adoption, domain: DomainSpec | None) -> Adoption:
    """Say so when no TLSRPT record is live but the spec's defaults give the domain one:
    the next plan then publishes it (the only field an import can leave to change)."""
    if adoption.settings is None or adoption.settings.rua is not None or domain is None:
        return adoption
    if not domain.tlsrpt_rua:
        return adoption
    note = (
        f"tlsrpt: the spec's default rua ({', '.join(domain.tlsrpt_rua)}) applies to it, so "
        "the next plan publishes a TLSRPT record"
    )
    return replace(adoption, notes=(*adoption.notes, note))


def _resolves_to(
    settings: LiveSettings, provider: str | None
) -> Callable[[DomainSpec | None], bool]:
    """Whether a domain resolves to exactly the live settings (and the named provider)."""

    def test(domain: DomainSpec | None) -> bool:
        return (
            domain is not None
            and domain.mode is settings.policy.mode
            and domain.max_age == settings.policy.max_age
            and domain.mx == settings.policy.mx
            and (settings.rua is None or domain.tlsrpt_rua == settings.rua)
            and (provider is None or domain.provider == provider)
        )

    return test
