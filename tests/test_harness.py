"""Self-tests of the MTA-STS harness: the local servers behave like the Internet's, and the
real clients (postfix-mta-sts-resolver, checkdmarc) reach conclusions we can trust.

What the clients really return for a broken endpoint is asserted as observed, with the reason:
postfix-mta-sts-resolver turns every policy fetch problem (non-200, redirect, non-text/plain,
TLS failure, connection failure) into FETCH_ERROR, and a missing or ambiguous TXT into NONE;
checkdmarc fails on status and TLS problems but only warns about the Content-Type.
"""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
from harness import MtaStsWorld, read_local_tree
from harness.sts_client import run_checkdmarc, run_postfix_client

DOMAIN = "example.com"
HOST = f"mta-sts.{DOMAIN}"
POLICY_PATH = "/.well-known/mta-sts.txt"
POLICY = (
    "version: STSv1\r\n"
    "mode: enforce\r\n"
    "mx: mx1.example.com\r\n"
    "mx: *.mail.example.net\r\n"
    "max_age: 604800\r\n"
)


def _query(
    world: MtaStsWorld, name: str, rtype: str, *, tcp: bool = False, edns: int | bool = 0
) -> dns.message.Message:
    query = dns.message.make_query(name, rtype, use_edns=edns)
    send = dns.query.tcp if tcp else dns.query.udp
    host, port = world.nameserver
    return send(query, host, port=port, timeout=2)


# DNS server


def test_dns_distinguishes_nxdomain_nodata_and_follows_cname(mta_sts_world: MtaStsWorld):
    world = mta_sts_world
    world.publish_txt("_mta-sts.example.com", ["v=STSv1; id=abc"])
    world.publish_cname("_mta-sts.delegated.org", "_mta-sts.example.com")

    answer = _query(world, "_MTA-STS.example.com.", "TXT")
    assert answer.rcode() == dns.rcode.NOERROR
    assert answer.flags & dns.flags.AA
    assert [r.strings for r in answer.answer[0]] == [(b"v=STSv1; id=abc",)]
    assert answer.answer[0].ttl == 0  # c-ares caches by TTL; tests change records

    assert _query(world, "nothing.example.com", "TXT").rcode() == dns.rcode.NXDOMAIN
    nodata = _query(world, "_mta-sts.example.com", "A")  # the name exists, other type
    assert (nodata.rcode(), nodata.answer) == (dns.rcode.NOERROR, [])
    empty_non_terminal = _query(world, "example.com", "TXT")
    assert (empty_non_terminal.rcode(), empty_non_terminal.answer) == (dns.rcode.NOERROR, [])

    chased = _query(world, "_mta-sts.delegated.org", "TXT")
    assert [rrset.rdtype for rrset in chased.answer] == [dns.rdatatype.CNAME, dns.rdatatype.TXT]
    assert _query(world, "_mta-sts.delegated.org", "CNAME").answer[0][0].target.to_text() == (
        "_mta-sts.example.com."
    )


def test_dns_truncates_large_udp_answers_and_serves_them_over_tcp(mta_sts_world: MtaStsWorld):
    mta_sts_world.publish_txt("big.example.com", [["x" * 255] * 3])
    udp = _query(mta_sts_world, "big.example.com", "TXT", edns=False)
    assert udp.flags & dns.flags.TC
    assert udp.question  # kept: c-ares drops answers whose question does not match
    tcp = _query(mta_sts_world, "big.example.com", "TXT", tcp=True, edns=False)
    assert tcp.answer[0][0].strings == (b"x" * 255,) * 3


def test_publish_txt_refuses_a_single_string_over_255_bytes(mta_sts_world: MtaStsWorld):
    with pytest.raises(ValueError, match="over 255"):
        mta_sts_world.publish_txt("_mta-sts.example.com", ["v=STSv1; id=" + "a" * 250])


def test_each_test_starts_from_an_empty_world(mta_sts_world: MtaStsWorld):
    assert mta_sts_world.dns.data.snapshot() == {}
    assert mta_sts_world.https_requests == []
    assert mta_sts_world.dns_queries == []


# A correct deployment, seen by both clients


def test_valid_deployment_resolves_valid_with_the_real_client(mta_sts_world: MtaStsWorld):
    mta_sts_world.deploy(DOMAIN, POLICY, "0123abcd")

    result = mta_sts_world.resolve_with_postfix_client(DOMAIN)

    assert result.status == "VALID", result.log
    assert result.policy_id == "0123abcd"
    assert result.mode == "enforce"
    assert result.mx == ("mx1.example.com", "*.mail.example.net")
    assert result.max_age == 604800
    # The client itself asked our DNS, went through the proxy, and sent SNI for the host.
    assert ("_mta-sts.example.com", "TXT") in mta_sts_world.dns_queries
    assert mta_sts_world.proxy_connects == [f"{HOST}:443"]
    [request] = mta_sts_world.https_requests
    assert (request.sni, request.host, request.path) == (HOST, HOST, POLICY_PATH)
    assert request.user_agent == "postfix-mta-sts-resolver"


def test_known_policy_id_is_not_fetched_again(mta_sts_world: MtaStsWorld):
    mta_sts_world.deploy(DOMAIN, POLICY, "0123abcd")
    result = mta_sts_world.resolve_with_postfix_client(DOMAIN, last_known_id="0123abcd")
    assert result.status == "NOT_CHANGED"
    assert mta_sts_world.https_requests == []


def test_checkdmarc_agrees_on_a_valid_deployment(mta_sts_world: MtaStsWorld):
    mta_sts_world.deploy(
        DOMAIN,
        POLICY,
        "0123abcd",
        tlsrpt_rua="mailto:tlsrpt@example.net",
        mx=["mx1.example.com", "in.mail.example.net", "old.mail.example.org"],
    )

    result = mta_sts_world.check_with_checkdmarc(DOMAIN)

    assert result.valid, result.errors
    assert result.warnings == ()
    assert result.policy_id == "0123abcd"
    assert result.policy == {
        "version": "STSv1",
        "mode": "enforce",
        "max_age": 604800,
        "mx": ["mx1.example.com", "*.mail.example.net"],
    }
    assert result.tlsrpt["valid"] is True
    assert result.tlsrpt["tags"]["rua"]["value"] == ["mailto:tlsrpt@example.net"]
    assert result.mx_not_covered == ("old.mail.example.org",)


def test_sts_record_delegated_by_cname_is_followed(mta_sts_world: MtaStsWorld):
    """RFC 8461 section 8.2: _mta-sts may be a CNAME to a policy-hosting provider."""
    world = mta_sts_world
    world.deploy(DOMAIN, POLICY, "ignored")
    world.unpublish(f"_mta-sts.{DOMAIN}")
    world.publish_cname(f"_mta-sts.{DOMAIN}", "_mta-sts.sts-host.example.net")
    world.publish_txt("_mta-sts.sts-host.example.net", ["v=STSv1; id=delegated1"])

    assert world.resolve_with_postfix_client(DOMAIN).policy_id == "delegated1"


# Broken deployments: what the real clients actually conclude


def _redirect(world: MtaStsWorld) -> None:
    world.serve_redirect(HOST, POLICY_PATH, f"https://www.{DOMAIN}{POLICY_PATH}")
    world.publish_a(f"www.{DOMAIN}")
    world.serve(f"www.{DOMAIN}", POLICY_PATH, POLICY)  # a client following it would succeed


BREAKAGES = {
    "redirect": _redirect,
    "text-html": lambda w: w.serve(HOST, POLICY_PATH, POLICY, content_type="text/html"),
    "no-content-type": lambda w: w.serve(HOST, POLICY_PATH, POLICY, content_type=None),
    "404": lambda w: w.unserve(HOST),
    "cert-wrong-name": lambda w: w.serve_wrong_cert(HOST),
    "cert-untrusted-ca": lambda w: w.serve_wrong_cert(HOST, "untrusted"),
    "cert-expired": lambda w: w.serve_wrong_cert(HOST, "expired"),
    "no-address-for-policy-host": lambda w: w.unpublish(HOST),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_broken_endpoint_is_a_fetch_error_for_the_real_client(
    mta_sts_world: MtaStsWorld, breakage: str
):
    """STSResolver raises (and logs) inside its fetch for any of these and returns
    FETCH_ERROR: it checks status == 200 with redirects off, then Content-Type text/plain,
    and aiohttp verifies the certificate against SSL_CERT_FILE with SNI."""
    mta_sts_world.deploy(DOMAIN, POLICY, "0123abcd")
    BREAKAGES[breakage](mta_sts_world)

    result = mta_sts_world.resolve_with_postfix_client(DOMAIN)

    assert result.status == "FETCH_ERROR"
    assert result.policy is None
    requests = mta_sts_world.https_requests
    if breakage.startswith("cert-"):
        assert requests == []  # the client hung up in the handshake
        assert any("CERTIFICATE_VERIFY_FAILED" in line for line in result.log), result.log
    elif breakage == "no-address-for-policy-host":
        assert requests == []
        assert any("502" in line for line in result.log), result.log
    else:  # it got an answer and refused it; the redirect was not followed
        assert [(r.host, r.path) for r in requests] == [(HOST, POLICY_PATH)]
        assert mta_sts_world.proxy_connects == [f"{HOST}:443"]


@pytest.mark.parametrize(
    ("breakage", "valid", "message"),
    [
        ("redirect", False, "HTTP 301"),
        ("404", False, "HTTP 404"),
        ("cert-wrong-name", False, "Hostname mismatch"),
        ("cert-expired", False, "certificate has expired"),
        # checkdmarc only warns about the media type, where senders refuse the policy.
        ("text-html", True, "should be text/plain, not text/html"),
    ],
)
def test_checkdmarc_on_broken_endpoints(
    mta_sts_world: MtaStsWorld, breakage: str, valid: bool, message: str
):
    mta_sts_world.deploy(DOMAIN, POLICY, "0123abcd")
    BREAKAGES[breakage](mta_sts_world)

    result = mta_sts_world.check_with_checkdmarc(DOMAIN)

    assert result.valid is valid
    assert any(message in text for text in (*result.errors, *result.warnings)), result


def test_wrong_certificate_is_per_host(mta_sts_world: MtaStsWorld):
    """Certificates are chosen by SNI, so one broken host leaves the others valid."""
    mta_sts_world.deploy(DOMAIN, POLICY, "0123abcd")
    mta_sts_world.deploy("example.org", POLICY, "4567ef")
    mta_sts_world.serve_wrong_cert(HOST)

    assert mta_sts_world.resolve_with_postfix_client(DOMAIN).status == "FETCH_ERROR"
    assert mta_sts_world.resolve_with_postfix_client("example.org").status == "VALID"


def test_missing_sts_record_means_no_policy(mta_sts_world: MtaStsWorld):
    mta_sts_world.deploy(DOMAIN, POLICY, "0123abcd")
    mta_sts_world.unpublish(f"_mta-sts.{DOMAIN}")

    assert mta_sts_world.resolve_with_postfix_client(DOMAIN).status == "NONE"
    assert mta_sts_world.https_requests == []  # no record, no fetch
    checked = mta_sts_world.check_with_checkdmarc(DOMAIN)
    assert not checked.valid
    assert checked.error == "An MTA-STS DNS record does not exist."


def test_two_sts_records_mean_no_policy(mta_sts_world: MtaStsWorld):
    mta_sts_world.deploy(DOMAIN, POLICY, "0123abcd")
    mta_sts_world.publish_txt(f"_mta-sts.{DOMAIN}", ["v=STSv1; id=one", "v=STSv1; id=two"])
    assert mta_sts_world.resolve_with_postfix_client(DOMAIN).status == "NONE"


# TXT values over 255 bytes


def test_long_txt_is_served_as_two_strings_and_joined_without_separator(
    mta_sts_world: MtaStsWorld,
):
    """The split falls inside the id: only a client joining with no separator reads
    ``split123`` (a space would make it ``spl it123``, which checkdmarc rejects)."""
    record = "v=STSv1; x=" + "a" * 236 + "; id=split123"
    first, second = record[:255], record[255:]
    assert (first[-3:], second) == ("spl", "it123")
    mta_sts_world.deploy(DOMAIN, POLICY, "unused")
    mta_sts_world.publish_txt(f"_mta-sts.{DOMAIN}", [[first, second]])

    wire = _query(mta_sts_world, f"_mta-sts.{DOMAIN}", "TXT")
    assert wire.answer[0][0].strings == (first.encode(), second.encode())
    assert mta_sts_world.resolve_with_postfix_client(DOMAIN).policy_id == "split123"
    checked = mta_sts_world.check_with_checkdmarc(DOMAIN)
    assert (checked.valid, checked.policy_id) == (True, "split123"), checked


# The local provider's directory


def _write_local_tree(root: Path) -> None:
    """A tree as mtasts's local provider writes it, by hand; the TLSRPT value is over 255
    bytes and so split in two quoted strings."""
    rua = ",".join(f"mailto:tlsrpt{i}@reports.example.net" for i in range(8))
    tlsrpt = f"v=TLSRPTv1; rua={rua}"
    assert len(tlsrpt) > 255
    policy_dir = root / "mta-sts.example.org" / ".well-known"
    policy_dir.mkdir(parents=True)
    (policy_dir / "mta-sts.txt").write_bytes(
        b"version: STSv1\r\nmode: testing\r\nmx: mx.example.org\r\nmax_age: 86400\r\n"
    )
    (root / "zones").mkdir()
    (root / "zones" / "example.org.zone").write_text(
        "; managed by mtasts\n"
        "$TTL 300\n"
        '_mta-sts.example.org. 300 IN TXT "v=STSv1; id=20240101abc"\n'
        'example.org. 300 IN TXT "v=spf1 -all"\n'  # records mtasts does not own are kept
        "www.example.org. 300 IN AAAA 2001:db8::1\n"
        f'_smtp._tls.example.org. 300 IN TXT "{tlsrpt[:255]}" "{tlsrpt[255:]}"\n',
        encoding="utf-8",
    )


def test_local_tree_loads_and_resolves_valid(mta_sts_world: MtaStsWorld, tmp_path: Path):
    _write_local_tree(tmp_path)

    tree = mta_sts_world.load_local_tree(tmp_path)
    mta_sts_world.publish_mx("example.org", ["mx.example.org"])

    assert tree.domains == ["example.org"]
    assert tree.txt("_mta-sts.example.org") == ["v=STSv1; id=20240101abc"]
    assert [(r.owner, r.rtype) for r in tree.unpublished] == [("www.example.org", "AAAA")]
    result = mta_sts_world.resolve_with_postfix_client("example.org")
    assert result.status == "VALID", result.log
    assert (result.policy_id, result.mode, result.mx, result.max_age) == (
        "20240101abc",
        "testing",
        ("mx.example.org",),
        86400,
    )
    [request] = mta_sts_world.https_requests
    assert request.sni == "mta-sts.example.org"
    checked = mta_sts_world.check_with_checkdmarc("example.org")
    assert checked.valid, checked.errors
    assert checked.tlsrpt["valid"] is True, checked.tlsrpt
    assert len(checked.tlsrpt["tags"]["rua"]["value"]) == 8
    assert checked.mx_not_covered == ()


def test_local_tree_keeps_split_strings_on_the_wire(mta_sts_world: MtaStsWorld, tmp_path: Path):
    _write_local_tree(tmp_path)
    tree = read_local_tree(tmp_path)
    [tlsrpt] = [r for r in tree.records["example.org"] if r.owner == "_smtp._tls.example.org"]
    assert len(tlsrpt.value) == 2

    mta_sts_world.load_local_tree(tmp_path)

    wire = _query(mta_sts_world, "_smtp._tls.example.org", "TXT")
    assert [len(s) for s in wire.answer[0][0].strings] == [255, len("".join(tlsrpt.value)) - 255]


# The two ways of running the clients


def test_one_shot_client_processes_agree_with_the_long_lived_one(mta_sts_world: MtaStsWorld):
    """``run_*`` without a ClientProcess start a fresh interpreter per call (used by
    anything that only has a ClientTarget); both paths must see the same world."""
    mta_sts_world.deploy(DOMAIN, POLICY, "0123abcd")
    target = mta_sts_world.client_target

    assert run_postfix_client(target, DOMAIN) == mta_sts_world.resolve_with_postfix_client(DOMAIN)
    assert run_checkdmarc(target, DOMAIN) == mta_sts_world.check_with_checkdmarc(DOMAIN)


def test_client_process_is_killed_on_timeout_and_restarts(mta_sts_world: MtaStsWorld):
    mta_sts_world.deploy(DOMAIN, POLICY, "0123abcd")
    clients = mta_sts_world.clients
    assert clients is not None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent_dns:  # never answers
        silent_dns.bind(("127.0.0.1", 0))
        request = {
            "client": "postfix",
            "domain": DOMAIN,
            "last_known_id": None,
            "dns": list(silent_dns.getsockname()),
            "timeout": 30,
        }
        with pytest.raises(subprocess.TimeoutExpired):
            clients.run(request, timeout=0.5)
    assert mta_sts_world.resolve_with_postfix_client(DOMAIN).status == "VALID"


# Content from an origin (how cloud tests put an emulator or a Worker behind the endpoint)


@pytest.fixture
def http_origin() -> Iterator[tuple[str, list[str]]]:
    """A plain-HTTP origin on a random port serving the policy under /bucket, logging the
    Host header of each request."""
    hosts: list[str] = []

    class Origin(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hosts.append(self.headers["Host"])
            found = self.path == f"/bucket{POLICY_PATH}"
            body = POLICY.encode() if found else b"no such key"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Origin)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/bucket", hosts
    server.shutdown()
    server.server_close()
    thread.join()


def test_endpoint_can_be_served_from_an_http_origin(
    mta_sts_world: MtaStsWorld, http_origin: tuple[str, list[str]]
):
    origin_url, origin_hosts = http_origin
    mta_sts_world.deploy(DOMAIN, "replaced below", "0123abcd")
    mta_sts_world.unserve(HOST)
    mta_sts_world.serve_upstream(HOST, origin_url)

    result = mta_sts_world.resolve_with_postfix_client(DOMAIN)

    assert (result.status, result.mode) == ("VALID", "enforce"), result.log
    assert origin_hosts == [HOST]  # the origin sees the policy host, as behind a CDN
