"""Removing endpoints (providers/gcp/endpoint.py `remove`) on the fakes: a domain's own pieces
go, the others keep being served; the shared load balancer goes with the last domain."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gcp_endpoint_testing import (
    POLICY_PATH,
    PROJECT,
    Dns,
    Fakes,
    converge,
    fresh,
    opened,
    proxy_map,
    started,
)

DOMAINS = ["example.com", "example.org", "example.net"]
COLLECTIONS = (
    "addresses",
    "backendBuckets",
    "sslPolicies",
    "urlMaps",
    "targetHttpsProxies",
    "forwardingRules",
)
KINDS = ("dnsAuthorizations", "certificates", "certificateMapEntries")


@pytest.fixture(scope="module")
def servers() -> Iterator[Fakes]:
    yield from started()


@pytest.fixture
def fakes(servers, monkeypatch) -> Iterator[Fakes]:
    yield from fresh(servers, monkeypatch)


@pytest.fixture
def endpoints(fakes):
    yield from opened(fakes)


def hosts_of_kind(fakes, kind: str) -> set[str]:
    out = set()
    for name in fakes.certs.names(kind):
        item = fakes.certs.get(name)
        out.add(item.get("domain") or item.get("hostname") or item["managed"]["domains"][0])
    return out


def test_removing_one_domain_keeps_the_rest(fakes, endpoints):
    converge(endpoints, DOMAINS)
    inventory = endpoints.read(DOMAINS)
    expected_records = endpoints.dns_records(inventory, "example.org")
    fakes.forget_calls()
    dns = Dns()
    endpoints.remove(inventory, ["example.org"], dns.remove)
    assert dns.removed == [expected_records]
    assert {r.type for r in expected_records} == {"A", "AAAA", "CNAME"}
    assert fakes.compute.count("PATCH", "/urlMaps/") == 1
    assert fakes.compute.count("DELETE") == 0
    for kind in KINDS:
        assert hosts_of_kind(fakes, kind) == {"mta-sts.example.com", "mta-sts.example.net"}
    gone = fakes.compute.resolve("mta-sts.example.org", POLICY_PATH, project=PROJECT)
    assert gone.object_key != f"mta-sts.example.org{POLICY_PATH}"
    for domain in ("example.com", "example.net"):
        route = fakes.compute.resolve(f"mta-sts.{domain}", POLICY_PATH, project=PROJECT)
        assert route.object_key == f"mta-sts.{domain}{POLICY_PATH}"
    after = endpoints.read(DOMAINS)
    assert endpoints.describe(after, "example.org") is None
    assert endpoints.describe(after, "example.com") == endpoints.wanted("example.com")
    assert endpoints.managed_hosts(after) == {"mta-sts.example.com", "mta-sts.example.net"}


def test_removing_the_last_domain_removes_the_shared_pieces(fakes, endpoints):
    converge(endpoints, DOMAINS[:1])
    endpoints.remove(endpoints.read([]), DOMAINS[:1], Dns().remove)
    for collection in COLLECTIONS:
        assert fakes.compute.names(collection, project=PROJECT) == [], collection
    for kind in (*KINDS, "certificateMaps"):
        assert fakes.certs.names(kind) == [], kind
    inventory = endpoints.read([])
    assert endpoints.managed_hosts(inventory) == set()
    assert endpoints.addresses(inventory) == ()


def test_removing_every_domain_at_once(fakes, endpoints):
    converge(endpoints, DOMAINS)
    endpoints.remove(endpoints.read([]), DOMAINS, Dns().remove)
    for collection in COLLECTIONS:
        assert fakes.compute.names(collection, project=PROJECT) == []
    for kind in (*KINDS, "certificateMaps"):
        assert fakes.certs.names(kind) == []


def test_removal_never_touches_foreign_resources(fakes, endpoints):
    converge(endpoints, DOMAINS[:1])
    fakes.compute.seed("sslPolicies", {"name": "mtasts-lb-tls12x"}, project=PROJECT)
    fakes.compute.seed("sslPolicies", {"name": "other-lb-tls12"}, project=PROJECT)
    fakes.certs.seed(
        "dnsAuthorizations",
        "mtasts-auth-notahash",
        {"domain": "mta-sts.example.com"},
        parent=f"projects/{PROJECT}/locations/global",
    )
    inventory = endpoints.read([])
    endpoints.remove(inventory, DOMAINS[:1], Dns().remove)
    assert fakes.compute.names("sslPolicies", project=PROJECT) == [
        "mtasts-lb-tls12x",
        "other-lb-tls12",
    ]
    assert [n.rsplit("/", 1)[-1] for n in fakes.certs.names("dnsAuthorizations")] == [
        "mtasts-auth-notahash"
    ]


def test_remove_then_converge_again(fakes, endpoints):
    converge(endpoints, DOMAINS)
    endpoints.remove(endpoints.read([]), DOMAINS, Dns().remove)
    converge(endpoints, DOMAINS[:1])
    inventory = endpoints.read([])
    assert endpoints.describe(inventory, "example.com") == endpoints.wanted("example.com")


def test_removing_an_unknown_domain_changes_nothing(fakes, endpoints):
    converge(endpoints, DOMAINS[:1])
    fakes.forget_calls()
    endpoints.remove(endpoints.read([]), ["unknown.example"], Dns().remove)
    assert fakes.writes() == 0
    inventory = endpoints.read([])
    assert endpoints.describe(inventory, "example.com") == endpoints.wanted("example.com")


def test_no_domains_no_calls(fakes, endpoints):
    converge(endpoints, ["example.com"])
    inventory = endpoints.read([])
    fakes.forget_calls()
    dns = Dns()
    endpoints.converge(inventory, [], dns.write)
    endpoints.remove(inventory, [], dns.remove)
    assert fakes.calls() == 0 and dns.written == dns.removed == []


FOREIGN_RULE = {"hosts": ["www.example.net"], "pathMatcher": "www-site", "description": "site"}
FOREIGN_MATCHER = {
    "name": "www-site",
    "description": "theirs, not mtasts's",
    "defaultService": "",
    "pathRules": [{"paths": ["/static/*"], "service": ""}],
}


def _add_foreign(fakes) -> tuple[dict, dict]:
    """Somebody's host rule and path matcher in mtasts's URL map; as stored."""
    with fakes.compute.lock:
        umap = fakes.compute.resources["urlMaps"][f"{PROJECT}/mtasts-lb-urls"]
        matcher = {**FOREIGN_MATCHER, "defaultService": umap["defaultService"]}
        matcher["pathRules"] = [{"paths": ["/static/*"], "service": umap["defaultService"]}]
        umap["hostRules"].insert(0, dict(FOREIGN_RULE))
        umap["pathMatchers"].insert(0, matcher)
        umap["fingerprint"] = "theirs"
    stored = fakes.compute.get("urlMaps", "mtasts-lb-urls", project=PROJECT)
    return stored["hostRules"][0], stored["pathMatchers"][0]


def test_foreign_host_rules_survive_every_change_byte_for_byte(fakes, endpoints):
    """Somebody else's host rule and path matcher in the map are never rewritten or lost:
    not when mtasts adds hosts, not when it removes some, not when it removes its last."""
    converge(endpoints, ["example.com"])
    rule, matcher = _add_foreign(fakes)
    converge(endpoints, ["example.com", "example.org"])
    umap = fakes.compute.get("urlMaps", "mtasts-lb-urls", project=PROJECT)
    assert (umap["hostRules"][0], umap["pathMatchers"][0]) == (rule, matcher)
    [patch] = [c for c in fakes.compute.calls if c.method == "PATCH"]
    assert set(patch.body) == {"hostRules", "pathMatchers", "fingerprint"}
    assert patch.body["hostRules"][0] == rule and patch.body["pathMatchers"][0] == matcher

    endpoints.remove(endpoints.read([]), ["example.com"], Dns().remove)
    umap = fakes.compute.get("urlMaps", "mtasts-lb-urls", project=PROJECT)
    assert (umap["hostRules"][0], umap["pathMatchers"][0]) == (rule, matcher)
    assert len(umap["hostRules"]) == 2

    endpoints.remove(endpoints.read([]), ["example.org"], Dns().remove)
    umap = fakes.compute.get("urlMaps", "mtasts-lb-urls", project=PROJECT)
    assert umap["hostRules"] == [rule] and umap["pathMatchers"] == [matcher]
    # their host is served through the load balancer: it stays, with the certificate map
    assert fakes.compute.names("targetHttpsProxies", project=PROJECT) == ["mtasts-lb-https"]
    assert fakes.certs.map_exists(proxy_map(fakes))
