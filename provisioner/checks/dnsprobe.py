"""DNS look-ups as a sender makes them: TXT joined from its strings, CNAMEs noticed.

dnspython with an explicit nameserver (`--nameserver HOST[:PORT]`) or the system resolver.
Every answer keeps what a checker needs to name a breakage: whether the TXT came through a
CNAME, whether a CNAME sits beside a TXT, which values are there at all.

One resolver serves every look-up of a check, host addresses included (`query_addresses`):
a check aimed at a private resolver must not ask the system's for the policy host or the
MX hosts, which it may not know at all ("Name or service not known").
"""

from __future__ import annotations

from dataclasses import dataclass

import dns.exception
import dns.message
import dns.name
import dns.rdatatype
import dns.resolver

from provisioner.dnstext import readable_value


class DnsFailure(Exception):
    """The resolver could not answer (timeout, SERVFAIL): not the same as "no record"."""


@dataclass(frozen=True)
class TxtAnswer:
    name: str
    values: tuple[str, ...]
    """Each record's strings joined with no separator, as senders join them; a byte that is
    not UTF-8 reads as a `\\DDD` escape (`provisioner.dnstext.readable_value`)."""
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
    values = tuple(readable_value(rdata.strings) for rdata in answer)
    direct = answer.rrset is not None and answer.rrset.name == dns.name.from_text(name)
    return TxtAnswer(name, values, cname, cname_beside_txt=cname is not None and direct)


@dataclass(frozen=True)
class MailRoute:
    """Where senders deliver a domain's mail (RFC 5321 section 5.1, RFC 7505).

    MTA-STS judges the names in the MX records, never their CNAME targets (RFC 8461 section
    4.1), so `mx_hosts` are those names, lower-case (DNS names are case-insensitive), by
    preference, the null MX left out. With no MX record at all, a sender delivers to the
    domain's own address (the implicit MX): then the domain itself must be covered.
    """

    domain: str
    mx_hosts: tuple[str, ...]
    """The exchange names of the MX records, lower-case, by preference; no null MX."""
    null_mx: bool = False
    """An `MX 0 .` record: the domain says it accepts no mail (RFC 7505)."""
    implicit: bool = False
    """No MX record, but the domain has an A or AAAA record: it is its own MX."""

    @property
    def hosts(self) -> tuple[str, ...]:
        """The host names senders connect to, which the policy's mx patterns must cover.

        A null MX beside other MX records is forbidden (RFC 7505 section 3); senders still
        try the others, so those are the hosts.
        """
        if self.mx_hosts:
            return self.mx_hosts
        return (self.domain,) if self.implicit else ()


def query_mx(resolver: dns.resolver.Resolver, domain: str) -> tuple[str, ...]:
    """The MX names of domain, lower-case, by preference, without a null MX."""
    return query_mail_route(resolver, domain, implicit=False).mx_hosts


def query_mail_route(
    resolver: dns.resolver.Resolver, domain: str, *, implicit: bool = True
) -> MailRoute:
    """The hosts senders deliver domain's mail to; raises DnsFailure.

    With no MX record and `implicit`, the domain's own A/AAAA records are asked for, with
    the same resolver, to tell an implicit MX from a domain that receives no mail.
    """
    answer = _resolve(resolver, domain, "MX")
    records = sorted(
        (rdata.preference, rdata.exchange.to_text(omit_final_dot=True).lower(), rdata.exchange)
        for rdata in answer or ()
    )
    mx_hosts = tuple(host for _, host, name in records if name != dns.name.root)
    null_mx = any(name == dns.name.root for _, _, name in records)
    has_address = implicit and not records and bool(query_addresses(resolver, domain))
    return MailRoute(domain, mx_hosts, null_mx=null_mx, implicit=has_address)


def query_addresses(resolver: dns.resolver.Resolver, host: str) -> tuple[str, ...]:
    """The IPv4 then IPv6 addresses of host (CNAMEs followed), () when it has none.

    Raises DnsFailure when a question failed and the other gave no address: a server that
    fails on AAAA but gives A records still gives a sender an address to connect to, while
    "no address" must not be claimed from an answer that never came.
    """
    addresses: list[str] = []
    failures: list[DnsFailure] = []
    for rdtype in ("A", "AAAA"):
        try:
            answer = _resolve(resolver, host, rdtype)
        except DnsFailure as exc:
            failures.append(exc)
            continue
        addresses.extend(rdata.address for rdata in answer or ())
    if failures and not addresses:
        raise failures[0]
    return tuple(addresses)


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
