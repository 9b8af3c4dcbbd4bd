"""Records mtasts must not write beside: refuse the plan rather than take a deployment over.

A domain that already publishes MTA-STS through someone else usually delegates: `_mta-sts`
is a CNAME to a hosted service (RFC 8461 section 8.2), or `mta-sts.<d>` is a CNAME to a
vendor's web host. Writing a TXT or an A/AAAA beside a CNAME is illegal DNS (RFC 1034
section 3.6.2): Route53 refuses the whole change batch (failing every domain of the phase),
and a zone fragment holding both is one no DNS server loads. Writing over it instead would
take the deployment over without anyone deciding to. So every provider reports what it
found at the names mtasts would write (`LiveDomain.blocking`), and the plan stops here,
before anything is written, with one line per domain naming the record and the ways out.
"""

from __future__ import annotations

from collections.abc import Mapping

from provisioner.errors import Problem, SpecError
from provisioner.state import BlockingRecord, DesiredDomain, LiveDomain, Resource


class ConflictError(SpecError):
    """Records at names mtasts would write that belong to someone else; one line each.

    A SpecError so the CLI prints every domain's line as its own `error:` line.
    """


def blocking_records(want: DesiredDomain, have: LiveDomain) -> list[BlockingRecord]:
    """The foreign records that stop `want` from being published; empty when none do.

    A CNAME at `_smtp._tls` only matters when the spec manages TLS reporting for the domain
    (otherwise mtasts never writes there); an endpoint record only when the provider hosts
    the endpoint.
    """
    found: list[BlockingRecord] = []
    for record in have.blocking:
        if record.resource is Resource.TLSRPT_RECORD and want.tlsrpt_record is None:
            continue
        if record.resource is Resource.ENDPOINT and want.endpoint is None:
            continue
        found.append(record)
    return found


def refuse_conflicts(
    desired: Mapping[str, DesiredDomain],
    live: Mapping[str, LiveDomain],
    removals: Mapping[str, str] | None = None,
) -> None:
    """Raise ConflictError naming each domain with records mtasts cannot write beside."""
    problems: list[Problem] = []
    for name in sorted(desired):
        have = live.get(name)
        if have is None:
            continue
        records = blocking_records(desired[name], have)
        if records:
            where = f"{name} ({desired[name].provider})"
            problems.append(Problem(where, None, "", describe(records, name)))
    for name, provider in sorted((removals or {}).items()):
        have = live.get(name)
        # A removal writes `_mta-sts` (the mode none id) and deletes the endpoint: a record
        # someone put there since is theirs now, and neither step may go beside it.
        records = [
            r for r in (have.blocking if have else ()) if r.resource is not Resource.TLSRPT_RECORD
        ]
        if records:
            problems.append(Problem(f"{name} ({provider})", None, "", describe(records, name)))
    if problems:
        raise ConflictError(problems)


def describe(records: list[BlockingRecord], domain: str) -> str:
    """One line: what is there, why mtasts stops, and how to take it over.

    `mtasts import` reads the live policy from the outside (through a delegation too) and
    writes its fields into the spec, so removing the record then changes nothing senders
    see; importing alone does not lift the conflict, the record must still go.
    """
    found = "; ".join(
        f"{r.name} is {_article(r.rdtype)} {r.rdtype}"
        + (f" to {r.value}" if r.rdtype == "CNAME" else f" ({r.value})")
        for r in records
    )
    delegated = any(r.rdtype == "CNAME" for r in records)
    return (
        f"{found}: "
        + ("MTA-STS is delegated elsewhere" if delegated else "another deployment owns it")
        + "; mtasts writes nothing for this domain. Remove that record to let mtasts manage "
        "it; to keep what senders see now, first copy the live mode, mx, max_age and rua "
        f"into the spec with 'mtasts import {domain}'"
    )


def _article(rdtype: str) -> str:
    """ "an A", "an AAAA", "an NS", "a CNAME": by how the type is said aloud."""
    return "an" if rdtype[:1] in "AEFHILMNORSX" else "a"
