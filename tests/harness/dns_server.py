"""A tiny authoritative DNS server on 127.0.0.1 whose data is a plain Python mapping.

Real clients (c-ares in postfix-mta-sts-resolver, dnspython in checkdmarc) must see real DNS
answers, so the data a test publishes goes over the wire, UDP and TCP on the same random port.
The server behaves like an authoritative server for every name it is given:

- TTL 0 on every answer, because c-ares caches by TTL and tests change records between calls;
- NXDOMAIN only for a name that has no records and no records below it; a name with records
  of other types (or an empty non-terminal such as ``_tls.example.com`` under
  ``_smtp._tls.example.com``) answers NOERROR with no data;
- a CNAME is answered for any other type and chased through the data;
- a UDP answer larger than the client's payload size (512, or its EDNS size) is truncated with
  TC set and the question kept, so clients retry over TCP as they would on the Internet.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dnslib import CNAME, EDNS0, MX, QTYPE, RCODE, RR, TXT, A, DNSRecord
from dnslib.server import DNSHandler, DNSLogger, DNSServer

TXT_STRING_MAX = 255
"""Bytes in one TXT character-string (RFC 1035 section 3.3)."""

_MAX_CNAME_CHAIN = 8


def normalize_name(name: str) -> str:
    """Lower-case without the trailing dot: the key used for every name in the data."""
    return name.rstrip(".").lower()


@dataclass(frozen=True)
class Record:
    """One resource record: type name and a value in the shape that type needs.

    TXT: a tuple of strings (one per character-string), A: an IPv4 address, MX:
    ``(preference, host)``, CNAME: the target name.
    """

    rtype: str
    value: tuple[str, ...] | str | tuple[int, str]


def txt_strings(value: str | Sequence[str]) -> tuple[str, ...]:
    """The character-strings of one TXT value; a plain str is one string and must fit in one."""
    strings = (value,) if isinstance(value, str) else tuple(value)
    if not strings:
        raise ValueError("a TXT record needs at least one string")
    for string in strings:
        if len(string.encode()) > TXT_STRING_MAX:
            raise ValueError(
                f"TXT string of {len(string.encode())} bytes is over {TXT_STRING_MAX}: "
                "pass the value as a list of strings to say how it is split"
            )
    return strings


class ZoneData:
    """Thread-safe mapping name -> records, read by server threads, written by tests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, list[Record]] = {}

    def set(
        self, name: str, rtype: str, values: Iterable[Record], *, beside_cname: bool = False
    ) -> None:
        """Replace the rrset (name, rtype); an empty iterable deletes it.

        A CNAME beside other records is refused, as a real server refuses such a zone,
        unless ``beside_cname`` opts in to that broken data (to test that checkers see it).
        """
        key, rtype = normalize_name(name), rtype.upper()
        new = list(values)
        with self._lock:
            kept = [r for r in self._records.get(key, []) if r.rtype != rtype]
            if new and rtype == "CNAME" and kept and not beside_cname:
                raise ValueError(f"{key}: a CNAME cannot sit beside other records ({kept})")
            if (
                new
                and rtype != "CNAME"
                and any(r.rtype == "CNAME" for r in kept)
                and not beside_cname
            ):
                raise ValueError(f"{key}: {rtype} cannot sit beside a CNAME")
            if kept or new:
                self._records[key] = kept + new
            else:
                self._records.pop(key, None)

    def remove(self, name: str, rtype: str | None = None) -> None:
        """Delete every record at name, or only those of one type."""
        key = normalize_name(name)
        with self._lock:
            if rtype is None:
                self._records.pop(key, None)
            else:
                kept = [r for r in self._records.get(key, []) if r.rtype != rtype.upper()]
                if kept:
                    self._records[key] = kept
                else:
                    self._records.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def get(self, name: str) -> list[Record] | None:
        """The records at name, [] for an empty non-terminal, None when the name does not exist."""
        key = normalize_name(name)
        with self._lock:
            if key in self._records:
                return list(self._records[key])
            suffix = "." + key
            if any(other.endswith(suffix) for other in self._records):
                return []
            return None

    def snapshot(self) -> dict[str, list[Record]]:
        with self._lock:
            return {k: list(v) for k, v in self._records.items()}

    def lookup(self, name: str, rtype: str) -> tuple[str, list[tuple[str, Record]]]:
        """(rcode, [(owner, record)]) as an authoritative server answers, chasing CNAMEs.

        Where broken data (``beside_cname``) holds a CNAME and records of the asked type at
        the same name, those records are answered and the CNAME is not chased, as a lenient
        server serving such a zone does.
        """
        rtype = rtype.upper()
        owner = normalize_name(name)
        answers: list[tuple[str, Record]] = []
        for _ in range(_MAX_CNAME_CHAIN):
            records = self.get(owner)
            if records is None:
                return "NXDOMAIN", answers
            cname = next((r for r in records if r.rtype == "CNAME"), None)
            if any(r.rtype == rtype for r in records):
                cname = None
            if cname is not None and rtype not in ("CNAME", "ANY"):
                answers.append((owner, cname))
                owner = normalize_name(str(cname.value))
                continue
            answers.extend((owner, r) for r in records if rtype in ("ANY", r.rtype))
            return "NOERROR", answers
        return "SERVFAIL", answers

    def addresses(self, name: str) -> list[str]:
        """IPv4 addresses of name after CNAMEs: what a client's connect() would try."""
        _, answers = self.lookup(name, "A")
        return [str(r.value) for _, r in answers if r.rtype == "A"]


def _to_rdata(record: Record) -> A | TXT | MX | CNAME:
    if record.rtype == "TXT":
        return TXT([s.encode() for s in record.value])
    if record.rtype == "A":
        return A(str(record.value))
    if record.rtype == "MX":
        preference, host = record.value  # type: ignore[misc]
        return MX(host, int(preference))
    if record.rtype == "CNAME":
        return CNAME(str(record.value))
    raise ValueError(f"unsupported record type {record.rtype}")


class _Resolver:
    """dnslib resolver answering from a ZoneData, and logging each question for assertions."""

    def __init__(self, data: ZoneData, queries: list[tuple[str, str]]) -> None:
        self.data = data
        self.queries = queries

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        reply = request.reply()  # copies id and question, sets qr, ra, aa
        reply.header.aa = 1
        qname = str(request.q.qname)
        qtype = QTYPE.get(request.q.qtype, str(request.q.qtype))
        self.queries.append((normalize_name(qname), qtype))
        rcode, answers = self.data.lookup(qname, qtype)
        reply.header.rcode = getattr(RCODE, rcode)
        for owner, record in answers:
            reply.add_answer(
                RR(owner + ".", getattr(QTYPE, record.rtype), rdata=_to_rdata(record), ttl=0)
            )
        if _edns_payload(request) is not None:
            reply.add_ar(EDNS0(udp_len=1232))
        return reply


def _edns_payload(request: DNSRecord) -> int | None:
    for rr in request.ar:
        if rr.rtype == QTYPE.OPT:
            return int(rr.rclass)
    return None


class _Handler(DNSHandler):
    """Truncates oversized UDP answers but keeps the question, which c-ares checks."""

    def get_reply(self, data: bytes) -> bytes:
        request = DNSRecord.parse(data)
        reply = self.server.resolver.resolve(request, self)
        packed = reply.pack()
        if self.protocol == "udp":
            limit = max(512, _edns_payload(request) or 512)
            if len(packed) > limit:
                truncated = DNSRecord(header=reply.header, q=reply.q)
                truncated.header.tc = 1
                packed = truncated.pack()
        return packed


class _QuietLogger(DNSLogger):
    def __init__(self) -> None:
        super().__init__(log="-request,-reply,-truncated,-error", prefix=False)


def _not_a_str(values: object) -> None:
    """A bare str is iterable too: catch ``publish_txt(name, "v=STSv1; ...")`` early."""
    if isinstance(values, str | bytes):
        raise TypeError("pass a list of values, not a single string")


class LocalDnsServer:
    """UDP + TCP authoritative server on 127.0.0.1:<random port>, started in daemon threads."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self.data = ZoneData()
        self.queries: list[tuple[str, str]] = []
        self._servers: list[DNSServer] = []
        self.port = 0

    def start(self) -> LocalDnsServer:
        resolver = _Resolver(self.data, self.queries)
        for _ in range(20):
            udp = DNSServer(
                resolver, address=self.host, port=0, logger=_QuietLogger(), handler=_Handler
            )
            port = udp.server.server_address[1]
            try:
                tcp = DNSServer(
                    resolver,
                    address=self.host,
                    port=port,
                    tcp=True,
                    logger=_QuietLogger(),
                    handler=_Handler,
                )
            except OSError:  # the TCP twin of that port is taken: pick another port
                udp.server.server_close()
                continue
            self.port = port
            self._servers = [udp, tcp]
            for server in self._servers:
                # A short poll interval keeps stop() quick (socketserver's default is 0.5 s).
                server.thread = threading.Thread(
                    target=server.server.serve_forever,
                    kwargs={"poll_interval": 0.05},
                    name="dns",
                    daemon=True,
                )
                server.thread.start()
            return self
        raise RuntimeError("no free port for both UDP and TCP")

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
            server.server.server_close()
        self._servers = []

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>``, the form c-ares takes as a nameserver."""
        return f"{self.host}:{self.port}"

    def reset(self) -> None:
        self.data.clear()
        self.queries.clear()

    # Publishing: each call replaces the rrset of that type at that name.

    def set_txt(self, name: str, values: Iterable[str | Sequence[str]]) -> None:
        _not_a_str(values)
        self.data.set(name, "TXT", [Record("TXT", txt_strings(v)) for v in values])

    def set_a(self, name: str, addresses: Iterable[str]) -> None:
        _not_a_str(addresses)
        addresses = list(addresses)
        for address in addresses:
            socket.inet_aton(address)  # fail early on a typo, not in a server thread
        self.data.set(name, "A", [Record("A", a) for a in addresses])

    def set_mx(
        self, name: str, hosts: Iterable[str | tuple[int, str]], *, keep_case: bool = False
    ) -> None:
        """MX rrset; ``(0, ".")`` is a null MX. ``keep_case`` sends the exchange names as
        written (DNS names are case-insensitive, and some zones hold ``MX1.Example.COM``)."""
        _not_a_str(hosts)
        records = []
        for index, host in enumerate(hosts):
            preference, target = (10 * (index + 1), host) if isinstance(host, str) else host
            exchange = target.rstrip(".") if keep_case else normalize_name(target)
            records.append(Record("MX", (int(preference), exchange)))
        self.data.set(name, "MX", records)

    def set_cname(self, name: str, target: str, *, beside_other_records: bool = False) -> None:
        self.data.set(
            name,
            "CNAME",
            [Record("CNAME", normalize_name(target))],
            beside_cname=beside_other_records,
        )
