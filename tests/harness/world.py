"""MtaStsWorld: a tiny Internet on 127.0.0.1 for MTA-STS, seen through real clients.

It composes the authoritative DNS server, the SNI-aware HTTPS server with its test CA, and the
CONNECT proxy that carries ``https://<host>:443`` to it. The proxy routes a host only when the
local DNS gives it an address in 127.0.0.0/8 (directly or through CNAMEs), so an endpoint
needs an A record as it would for a real sender; ``deploy()`` publishes one for you.

Servers start once (per pytest session, per xdist worker); ``reset()`` empties all data
between tests. What is served is plain Python data, so cloud-provider tests can fill the
world from their emulators' state just as ``load_local_tree()`` fills it from a directory.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from .connect_proxy import ConnectProxy
from .dns_server import LocalDnsServer
from .https_server import (
    CertProblem,
    Handler,
    LocalHttpsServer,
    RequestLog,
    Response,
    SilentServer,
    upstream_handler,
)
from .local_tree import POLICY_CONTENT_TYPE, POLICY_PATH, LocalTree, load_local_tree
from .sts_client import (
    CheckdmarcResult,
    ClientProcess,
    ClientTarget,
    StsClientResult,
    run_checkdmarc,
    run_postfix_client,
)

HTTPS_PORT = 443


class MtaStsWorld:
    """Local DNS + HTTPS + CONNECT proxy, and the real clients aimed at them."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self.dns = LocalDnsServer()
        self.https = LocalHttpsServer()
        self.proxy = ConnectProxy(self._route)
        self.silent = SilentServer()
        self.ca_file = self.workdir / "test-ca.pem"
        self.clients: ClientProcess | None = None

    # Lifecycle

    def __enter__(self) -> MtaStsWorld:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> MtaStsWorld:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ca_file.write_bytes(self.https.ca_pem())
        try:
            self.dns.start()
            self.https.start()
            self.proxy.start()
            self.silent.start()
            stderr_path = self.workdir / "clients.stderr"
            self.clients = ClientProcess(self.client_target, stderr_path).start()
        except BaseException:
            self.stop()  # every part's stop() tolerates never having started
            raise
        return self

    def stop(self) -> None:
        if self.clients is not None:
            self.clients.close()
        self.silent.stop()
        self.proxy.stop()
        self.https.stop()
        self.dns.stop()

    def reset(self) -> None:
        """Forget every record, every served file, every certificate problem and every log."""
        self.dns.reset()
        self.https.reset()
        self.proxy.connects.clear()
        self.silent.reset()

    def _route(self, host: str, port: int) -> tuple[str, int] | None:
        if port != HTTPS_PORT:
            return None
        for address in self.dns.data.addresses(host):
            if ipaddress.ip_address(address).is_loopback:
                return (self.https.host, self.https.port)
        return None

    # Where clients must look

    @property
    def client_target(self) -> ClientTarget:
        return ClientTarget(self.dns.host, self.dns.port, self.proxy.url, self.ca_file)

    def client_env(self) -> dict[str, str]:
        """Environment for any other client subprocess (e.g. ``mtasts check``): HTTPS_PROXY,
        SSL_CERT_FILE and REQUESTS_CA_BUNDLE set; DNS must still be aimed at ``nameserver``."""
        return self.client_target.env()

    @property
    def nameserver(self) -> tuple[str, int]:
        return (self.dns.host, self.dns.port)

    @property
    def dead_endpoint(self) -> tuple[str, int]:
        """``(host, port)`` of a server that accepts TCP and never answers (see SilentServer):
        aim ``--connect-to`` (or a DNS server address) at it to stand for a dead endpoint."""
        return (self.silent.host, self.silent.port)

    # DNS: each publish_* replaces the rrset of that type at that name

    def publish_txt(self, name: str, values: Iterable[str | Sequence[str]]) -> None:
        """TXT rrset at name; each value is one string, or a list of strings (one record
        split into several character-strings, joined by clients with no separator)."""
        self.dns.set_txt(name, values)

    def publish_a(self, name: str, addresses: Iterable[str] = ("127.0.0.1",)) -> None:
        self.dns.set_a(name, addresses)

    def publish_mx(
        self, domain: str, hosts: Iterable[str | tuple[int, str]], *, keep_case: bool = False
    ) -> None:
        """MX rrset; plain host names get preferences 10, 20, ... in order; ``(0, ".")`` is
        a null MX (RFC 7505). ``keep_case`` sends the host names in the case given."""
        self.dns.set_mx(domain, hosts, keep_case=keep_case)

    def publish_cname(self, name: str, target: str, *, beside_other_records: bool = False) -> None:
        """CNAME at name. ``beside_other_records=True`` publishes it even next to other
        records (forbidden, and refused otherwise), to test that checkers notice; a query
        for a type present at the name then gets those records, other types the CNAME."""
        self.dns.set_cname(name, target, beside_other_records=beside_other_records)

    def unpublish(self, name: str, rtype: str | None = None) -> None:
        self.dns.data.remove(name, rtype)

    @property
    def dns_queries(self) -> list[tuple[str, str]]:
        """(name, type) of every question the DNS server answered since the last reset."""
        return list(self.dns.queries)

    # HTTPS

    def serve(
        self,
        host: str,
        path: str,
        body: bytes | str,
        status: int = 200,
        content_type: str | None = "text/plain",
        headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        trickle: float = 0.0,
    ) -> None:
        """Answer GET https://host/path exactly so (content_type None sends no Content-Type).
        DNS is not touched: the host also needs an A record (see ``deploy``). ``trickle``
        sends the body one byte per that many seconds (a slow endpoint)."""
        pairs = list(headers.items() if isinstance(headers, Mapping) else headers or ())
        if content_type is not None:
            pairs.insert(0, ("Content-Type", content_type))
        data = body.encode() if isinstance(body, str) else body
        self.https.set(host, path, Response(status, tuple(pairs), data, trickle))

    def serve_handler(self, host: str, handler: Handler) -> None:
        """Answer every path of host that ``serve`` did not set by calling
        ``handler(method, path, headers) -> Response``."""
        self.https.set_handler(host, handler)

    def serve_upstream(self, host: str, base_url: str) -> None:
        """Serve host from a plain-HTTP origin (S3/GCS emulator, miniflare/workerd), as a CDN
        in front of it would: https://host/p is fetched from ``base_url`` + p."""
        self.https.set_handler(host, upstream_handler(base_url))

    def serve_redirect(self, host: str, path: str, location: str, status: int = 301) -> None:
        self.serve(
            host, path, b"", status=status, content_type="text/html", headers={"Location": location}
        )

    def serve_wrong_cert(self, host: str, problem: CertProblem = "wrong-name") -> None:
        """Make host present a bad certificate: for another name (default), from a CA
        clients do not trust, expired, or ``expiring`` (valid, but only for
        ``https_server.EXPIRING_DAYS`` more days)."""
        self.https.set_cert_problem(host, problem)

    def serve_good_cert(self, host: str) -> None:
        self.https.set_cert_problem(host, None)

    def unserve(self, host: str, path: str | None = None) -> None:
        self.https.remove(host, path)

    @property
    def https_requests(self) -> list[RequestLog]:
        """Requests that reached the HTTPS server (after a successful handshake)."""
        return self.https.requests

    @property
    def proxy_connects(self) -> list[str]:
        """``host:port`` of every CONNECT the proxy received."""
        return list(self.proxy.connects)

    # Whole deployments

    def deploy(
        self,
        domain: str,
        policy: str | bytes,
        sts_id: str,
        *,
        tlsrpt_rua: str | None = None,
        mx: Iterable[str] | None = None,
    ) -> None:
        """What a correct provider leaves behind: the STS TXT, an A record for the policy
        host, the policy served as text/plain, and optionally TLS-RPT and MX records."""
        self.publish_txt(f"_mta-sts.{domain}", [f"v=STSv1; id={sts_id}"])
        self.publish_a(f"mta-sts.{domain}")
        self.serve(f"mta-sts.{domain}", POLICY_PATH, policy, content_type=POLICY_CONTENT_TYPE)
        if tlsrpt_rua is not None:
            self.publish_txt(f"_smtp._tls.{domain}", [f"v=TLSRPTv1; rua={tlsrpt_rua}"])
        if mx is not None:
            self.publish_mx(domain, mx)

    def load_local_tree(self, path: Path) -> LocalTree:
        """Publish the output directory of mtasts's ``local`` provider (see local_tree.py)."""
        return load_local_tree(self, path)

    # The real clients

    def resolve_with_postfix_client(
        self, domain: str, last_known_id: str | None = None
    ) -> StsClientResult:
        """What postfix-mta-sts-resolver's STSResolver concludes for domain."""
        return run_postfix_client(self.client_target, domain, last_known_id, process=self.clients)

    def check_with_checkdmarc(self, domain: str) -> CheckdmarcResult:
        """What checkdmarc's ``check_mta_sts`` (and TLS-RPT check) concludes for domain."""
        return run_checkdmarc(self.client_target, domain, process=self.clients)
