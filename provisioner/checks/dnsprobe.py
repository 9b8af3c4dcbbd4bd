"""DNS look-ups as a sender makes them: TXT joined from its strings, CNAMEs noticed.

dnspython with an explicit nameserver (`--nameserver HOST[:PORT]`) or the system resolver.
Every answer keeps what a checker needs to name a breakage: whether the TXT came through a
CNAME, whether a CNAME sits beside a TXT, which values are there at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import dns.exception
import dns.message
import dns.name
import dns.rdatatype
import dns.resolver

from provisioner.txtstrings import join_strings


class DnsFailure(Exception):
    """The resolver could not answer (timeout, SERVFAIL): not the same as "no record"."""


@dataclass(frozen=True)
class TxtAnswer:
    name: str
    values: tuple[str, ...]
    """Each record's strings joined with no separator, as senders join them."""
    cname: str | None = None
    """Where a CNAME at the name points, if there is one."""
    cname_beside_txt: bool = False
    """A CNAME and TXT records at the very same name: forbidden, and readers disagree."""


def make_resolver(nameserver: str | None, timeout: float) -> dns.resolver.Resolver:
    """A resolver aimed at `HOST[:PORT]`, or the system's when None."""
    if nameserver is None:
        resolver = dns.resolver.Resolver()
    else:
        host, port = split_host_port(nameserver, default_port=53)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [host]
        resolver.port = port
    resolver.timeout = timeout
    resolver.lifetime = timeout
    resolver.cache = None
    return resolver


def split_host_port(text: str, default_port: int) -> tuple[str, int]:
    """`host`, `host:port` or `[v6]:port` as (host, port); raises ValueError."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or str(default_port)
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, str(default_port)
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r} is not HOST[:PORT]")
    return host, int(port)


def query_txt(resolver: dns.resolver.Resolver, name: str) -> TxtAnswer:
    cname = _cname_target(resolver, name)
    answer = _resolve(resolver, name, "TXT")
    if answer is None:
        return TxtAnswer(name, (), cname)
    values = tuple(join_strings(rdata.strings) for rdata in answer)
    direct = answer.rrset is not None and answer.rrset.name == dns.name.from_text(name)
    return TxtAnswer(name, values, cname, cname_beside_txt=cname is not None and direct)


def query_mx(resolver: dns.resolver.Resolver, domain: str) -> tuple[str, ...]:
    answer = _resolve(resolver, domain, "MX")
    if answer is None:
        return ()
    hosts = sorted(
        (rdata.preference, rdata.exchange.to_text(omit_final_dot=True).lower()) for rdata in answer
    )
    return tuple(host for _, host in hosts if host)


def _cname_target(resolver: dns.resolver.Resolver, name: str) -> str | None:
    answer = _resolve(resolver, name, "CNAME")
    if answer is None:
        return None
    target: dns.name.Name = next(iter(answer)).target
    return target.to_text(omit_final_dot=True).lower()


def _resolve(resolver: dns.resolver.Resolver, name: str, rdtype: str) -> dns.resolver.Answer | None:
    try:
        return resolver.resolve(name, rdtype, raise_on_no_answer=False, search=False) or None
    except dns.resolver.NXDOMAIN:
        return None
    except dns.resolver.NoNameservers as exc:
        raise DnsFailure(f"no nameserver answered for {name} {rdtype} ({exc})") from None
    except dns.exception.Timeout:
        raise DnsFailure(f"DNS timed out for {name} {rdtype}") from None
    except dns.exception.DNSException as exc:
        raise DnsFailure(f"DNS failed for {name} {rdtype}: {exc}") from None
