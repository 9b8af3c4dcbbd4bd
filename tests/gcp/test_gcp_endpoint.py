"""The Google Cloud endpoint half (providers/gcp/endpoint.py) on the Compute and Certificate
Manager fakes: converge from empty, idempotence, what the plan says, and what is served.

"Served" is decided by the fakes as the real load balancer would: a request resolves through
forwarding rule -> proxy -> URL map -> backend bucket object key (`FakeCompute.resolve`),
and the proxy presents the certificate its map holds for the SNI host
(`FakeCertificateManager.serving_certificate`).
"""

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

from providers.gcp.clouddns import Rrset
from provisioner.errors import ProviderError

DOMAINS = ["example.com", "example.org", "xn--bcher-kva.example"]
OURS = "mtasts: TLS 1.2 or later"
MARK = {"description": OURS}
"""What an older deployment of mtasts left on its SSL policy: the mark of ownership."""


@pytest.fixture(scope="module")
def servers() -> Iterator[Fakes]:
    yield from started()


@pytest.fixture
def fakes(servers, monkeypatch) -> Iterator[Fakes]:
    yield from fresh(servers, monkeypatch)


@pytest.fixture
def endpoints(fakes):
    yield from opened(fakes)


SHARED = {
    "addresses": ["mtasts-lb-ipv4", "mtasts-lb-ipv6"],
    "backendBuckets": ["mtasts-lb-policies"],
    "sslPolicies": ["mtasts-lb-tls12"],
    "urlMaps": ["mtasts-lb-urls"],
    "targetHttpsProxies": ["mtasts-lb-https"],
    "forwardingRules": ["mtasts-lb-https-ipv4", "mtasts-lb-https-ipv6"],
}


def inserts(fakes, collection: str) -> int:
    return fakes.compute.count("POST", rf"/global/{collection}$")


def test_converge_from_empty_creates_each_shared_piece_once(fakes, endpoints):
    dns = converge(endpoints, DOMAINS)
    for collection, names in SHARED.items():
        assert fakes.compute.names(collection, project=PROJECT) == names
        assert inserts(fakes, collection) == len(names), collection
    assert fakes.compute.count("PATCH", "/urlMaps/") == 0  # the map was created with every host
    assert fakes.certs.count("POST", "/certificateMaps$") == 1
    for kind in ("dnsAuthorizations", "certificates", "certificateMapEntries"):
        assert len(fakes.certs.names(kind)) == len(DOMAINS)
    bb = fakes.compute.get("backendBuckets", "mtasts-lb-policies", project=PROJECT)
    assert bb["bucketName"] == f"mtasts-{PROJECT}" and bb["enableCdn"] is False
    ssl = fakes.compute.get("sslPolicies", "mtasts-lb-tls12", project=PROJECT)
    assert ssl["minTlsVersion"] == "TLS_1_2"
    for name in SHARED["forwardingRules"]:
        rule = fakes.compute.get("forwardingRules", name, project=PROJECT)
        assert rule["portRange"] == "443-443"
        assert rule["loadBalancingScheme"] == "EXTERNAL_MANAGED"
    assert len(dns.written) == 1


def test_records_written_are_the_addresses_and_the_authorization_cnames(fakes, endpoints):
    dns = converge(endpoints, ["example.com"])
    v4 = fakes.compute.get("addresses", "mtasts-lb-ipv4", project=PROJECT)["address"]
    v6 = fakes.compute.get("addresses", "mtasts-lb-ipv6", project=PROJECT)["address"]
    [auth] = [fakes.certs.get(n) for n in fakes.certs.names("dnsAuthorizations")]
    record = auth["dnsResourceRecord"]
    assert sorted(dns.written[0], key=lambda r: r.type) == [
        Rrset("mta-sts.example.com.", "A", 300, (v4,)),
        Rrset("mta-sts.example.com.", "AAAA", 300, (v6,)),
        Rrset("_acme-challenge.mta-sts.example.com.", "CNAME", 300, (record["data"],)),
    ]
    inventory = endpoints.read(["example.com"])
    assert endpoints.addresses(inventory) == (v4, v6)
    assert endpoints.dns_records(inventory, "example.com") == dns.written[0]


def test_second_converge_writes_nothing(fakes, endpoints):
    converge(endpoints, DOMAINS)
    fakes.forget_calls()
    dns = converge(endpoints, DOMAINS)
    assert fakes.writes() == 0, [(c.method, c.path) for c in fakes.compute.calls]
    assert dns.written == [
        [r for d in DOMAINS for r in endpoints.dns_records(endpoints.read(DOMAINS), d)]
    ]


def test_describe_is_wanted_once_active_and_provisioning_before(fakes, endpoints, monkeypatch):
    assert endpoints.describe(endpoints.read(DOMAINS), "example.com") is None
    monkeypatch.setenv("MTASTS_GCP_CERT_TIMEOUT", "0.01")
    fakes.certs.provisioning_polls = 10**6  # never ACTIVE within this apply
    with pytest.raises(Exception, match="still PROVISIONING"):
        converge(endpoints, DOMAINS)
    inventory = endpoints.read(DOMAINS)
    for domain in DOMAINS:
        assert endpoints.wanted(domain).differences(endpoints.describe(inventory, domain)) == (
            "certificate PROVISIONING -> ACTIVE",
        )
    fakes.certs.finish_provisioning()
    monkeypatch.delenv("MTASTS_GCP_CERT_TIMEOUT")
    fakes.forget_calls()
    converge(endpoints, DOMAINS)
    assert fakes.writes() == 0
    inventory = endpoints.read(DOMAINS)
    for domain in DOMAINS:
        assert endpoints.describe(inventory, domain) == endpoints.wanted(domain)
    assert endpoints.managed_hosts(inventory) == {f"mta-sts.{d}" for d in DOMAINS}


def test_describe_names_each_missing_piece(fakes, endpoints):
    converge(endpoints, ["example.com"])
    entry = fakes.certs.names("certificateMapEntries")[0]
    with fakes.certs.lock:
        del fakes.certs.resources[entry]
    described = endpoints.describe(endpoints.read([]), "example.com")
    assert endpoints.wanted("example.com").differences(described) == (
        "certificate map entry missing",
    )
    converge(endpoints, ["example.com"])
    assert endpoints.describe(endpoints.read([]), "example.com") == endpoints.wanted("example.com")


def test_converge_waits_until_every_certificate_is_active(fakes, endpoints):
    fakes.certs.provisioning_polls = 4
    converge(endpoints, DOMAINS)
    for name in fakes.certs.names("certificates"):
        assert fakes.certs.get(name)["managed"]["state"] == "ACTIVE"


def test_certificate_timeout_is_one_line(fakes, endpoints, monkeypatch):
    monkeypatch.setenv("MTASTS_GCP_CERT_TIMEOUT", "0.01")
    fakes.certs.provisioning_polls = 10**6
    with pytest.raises(Exception) as caught:
        converge(endpoints, ["example.com"])
    message = str(caught.value)
    assert "\n" not in message
    assert "example.com" in message and "PROVISIONING" in message
    assert "MTASTS_GCP_CERT_TIMEOUT" in message


def test_failed_certificate_is_one_line_and_replaced_by_the_next_apply(fakes, endpoints):
    fakes.certs.fail("mta-sts.example.com")
    with pytest.raises(Exception) as caught:
        converge(endpoints, ["example.com"])
    assert "\n" not in str(caught.value) and "FAILED" in str(caught.value)
    inventory = endpoints.read([])
    assert "certificate FAILED" in str(endpoints.describe(inventory, "example.com"))
    fakes.certs.failures.clear()
    fakes.forget_calls()
    endpoints.converge(inventory, ["example.com"], Dns().write)
    assert fakes.certs.count("DELETE") == 2  # the entry, then the certificate
    assert endpoints.describe(endpoints.read([]), "example.com") == endpoints.wanted("example.com")
    assert fakes.certs.serving_certificate(proxy_map(fakes), "mta-sts.example.com") is not None


def test_an_entry_naming_another_certificate_is_replaced(fakes, endpoints):
    converge(endpoints, ["example.com", "example.org"])
    entries = {
        fakes.certs.get(n)["hostname"]: n for n in fakes.certs.names("certificateMapEntries")
    }
    certs = {
        fakes.certs.get(n)["managed"]["domains"][0]: n for n in fakes.certs.names("certificates")
    }
    with fakes.certs.lock:
        fakes.certs.resources[entries["mta-sts.example.com"]]["certificates"] = [
            certs["mta-sts.example.org"]
        ]
    inventory = endpoints.read([])
    assert "certificate map entry" in str(endpoints.describe(inventory, "example.com"))
    endpoints.converge(inventory, ["example.com"], Dns().write)
    served = fakes.certs.serving_certificate(proxy_map(fakes), "mta-sts.example.com")
    assert served is not None and served["managed"]["domains"] == ["mta-sts.example.com"]


def test_each_policy_host_serves_exactly_its_key(fakes, endpoints):
    converge(endpoints, DOMAINS)
    bucket = f"mtasts-{PROJECT}"
    for domain in DOMAINS:
        route = fakes.compute.resolve(f"mta-sts.{domain}", POLICY_PATH, project=PROJECT)
        assert (route.bucket, route.object_key) == (bucket, f"mta-sts.{domain}{POLICY_PATH}")
        assert route.redirect is None
        with_query = fakes.compute.resolve(
            f"MTA-STS.{domain}", POLICY_PATH + "?x=1", project=PROJECT
        )
        assert with_query.object_key == f"mta-sts.{domain}{POLICY_PATH}"


POLICY_KEYS = {f"mta-sts.{d}{POLICY_PATH}" for d in DOMAINS}


@pytest.mark.parametrize(
    ("host", "path"),
    [
        ("mta-sts.example.com", "/"),
        ("mta-sts.example.com", "/.well-known/mta-sts.txt/"),
        ("mta-sts.example.com", "/.well-known/MTA-STS.txt"),
        ("mta-sts.example.com", "/.well-known/"),
        ("mta-sts.example.com", f"/mta-sts.example.org{POLICY_PATH}"),
        ("mta-sts.example.com", f"/mta-sts.example.com{POLICY_PATH}"),
        ("example.com", POLICY_PATH),
        ("mta-sts.unknown.example", POLICY_PATH),
        ("34.120.0.2", POLICY_PATH),
        ("anything", f"/mta-sts.example.com{POLICY_PATH}"),
    ],
)
def test_anything_else_is_a_404_never_a_redirect(fakes, endpoints, host, path):
    converge(endpoints, DOMAINS)
    route = fakes.compute.resolve(host, path, project=PROJECT)
    assert route.redirect is None
    assert route.object_key not in POLICY_KEYS
    assert (route.object_key or "").startswith("mtasts-no-such-object/")


def test_nothing_listens_on_port_80(fakes, endpoints):
    converge(endpoints, ["example.com"])
    with pytest.raises(LookupError):
        fakes.compute.resolve("mta-sts.example.com", POLICY_PATH, project=PROJECT, port=80)


def test_both_addresses_serve_the_policy(fakes, endpoints):
    converge(endpoints, ["example.com"])
    inventory = endpoints.read(["example.com"])
    for ip in endpoints.addresses(inventory):
        route = fakes.compute.resolve("mta-sts.example.com", POLICY_PATH, project=PROJECT, ip=ip)
        assert route.object_key == f"mta-sts.example.com{POLICY_PATH}"


def test_proxy_presents_the_active_certificate_for_each_host(fakes, endpoints):
    converge(endpoints, DOMAINS)
    certificate_map = proxy_map(fakes)
    for domain in DOMAINS:
        cert = fakes.certs.serving_certificate(certificate_map, f"mta-sts.{domain}")
        assert cert is not None
        assert cert["managed"]["state"] == "ACTIVE"
        assert cert["managed"]["domains"] == [f"mta-sts.{domain}"]
    assert fakes.certs.serving_certificate(certificate_map, "mta-sts.unknown.example") is None
    proxy = fakes.compute.get("targetHttpsProxies", "mtasts-lb-https", project=PROJECT)
    assert proxy["sslPolicy"].endswith("/sslPolicies/mtasts-lb-tls12")


def test_adding_a_domain_changes_the_url_map_once(fakes, endpoints):
    converge(endpoints, DOMAINS[:2])
    fakes.forget_calls()
    converge(endpoints, DOMAINS)
    assert fakes.compute.count("PATCH", "/urlMaps/mtasts-lb-urls$") == 1
    assert fakes.compute.count("PUT", "/urlMaps/") == 0
    for collection in SHARED:
        assert inserts(fakes, collection) == 0
    route = fakes.compute.resolve(f"mta-sts.{DOMAINS[2]}", POLICY_PATH, project=PROJECT)
    assert route.object_key == f"mta-sts.{DOMAINS[2]}{POLICY_PATH}"
    for domain in DOMAINS[:2]:
        route = fakes.compute.resolve(f"mta-sts.{domain}", POLICY_PATH, project=PROJECT)
        assert route.object_key == f"mta-sts.{domain}{POLICY_PATH}"


def test_two_prefixes_share_a_project_without_touching_each_other(fakes):
    first, second = fakes.endpoints("mtasts"), fakes.endpoints("mtasts-b")
    try:
        converge(first, ["example.com"])
        converge(second, ["example.org"])
        one, two = first.read([]), second.read([])
        assert first.managed_hosts(one) == {"mta-sts.example.com"}
        assert second.managed_hosts(two) == {"mta-sts.example.org"}
        assert first.describe(one, "example.org") is None
        second.remove(two, ["example.org"], Dns().remove)
        assert first.describe(first.read([]), "example.com") == first.wanted("example.com")
        assert len(fakes.compute.names("forwardingRules", project=PROJECT)) == 2
    finally:
        first.close()
        second.close()


def test_a_repaired_proxy_gets_its_certificate_map_back(fakes, endpoints):
    converge(endpoints, ["example.com"])
    with fakes.compute.lock:
        proxy = fakes.compute.resources["targetHttpsProxies"][f"{PROJECT}/mtasts-lb-https"]
        proxy["certificateMap"] = proxy["certificateMap"].replace("mtasts-lb-certs", "other")
    inventory = endpoints.read(["example.com"])
    assert "HTTPS proxy" in str(endpoints.describe(inventory, "example.com"))
    fakes.forget_calls()
    endpoints.converge(inventory, ["example.com"], Dns().write)
    assert fakes.compute.count("POST", "/setCertificateMap$") == 1
    assert proxy_map(fakes).endswith("/certificateMaps/mtasts-lb-certs")


def test_a_map_named_with_a_project_number_is_still_ours(fakes, endpoints):
    converge(endpoints, ["example.com"])
    with fakes.compute.lock:
        proxy = fakes.compute.resources["targetHttpsProxies"][f"{PROJECT}/mtasts-lb-https"]
        proxy["certificateMap"] = proxy["certificateMap"].replace(PROJECT, "123456789012")
    inventory = endpoints.read(["example.com"])
    assert endpoints.describe(inventory, "example.com") == endpoints.wanted("example.com")


def test_a_rule_moved_to_port_80_is_put_back_on_443(fakes, endpoints):
    converge(endpoints, ["example.com"])
    with fakes.compute.lock:
        rule = fakes.compute.resources["forwardingRules"][f"{PROJECT}/mtasts-lb-https-ipv4"]
        rule["portRange"] = "80-80"
    inventory = endpoints.read([])
    assert "forwarding rule 443 IPv4" in str(endpoints.describe(inventory, "example.com"))
    endpoints.converge(inventory, ["example.com"], Dns().write)
    with pytest.raises(LookupError):
        fakes.compute.resolve("mta-sts.example.com", POLICY_PATH, project=PROJECT, port=80)
    rule = fakes.compute.get("forwardingRules", "mtasts-lb-https-ipv4", project=PROJECT)
    assert rule["portRange"] == "443-443"
    assert endpoints.describe(endpoints.read([]), "example.com") == endpoints.wanted("example.com")


def test_a_backend_bucket_with_cdn_on_is_patched(fakes, endpoints):
    converge(endpoints, ["example.com"])
    with fakes.compute.lock:
        bb = fakes.compute.resources["backendBuckets"][f"{PROJECT}/mtasts-lb-policies"]
        bb["enableCdn"] = True
    inventory = endpoints.read([])
    assert "backend bucket" in str(endpoints.describe(inventory, "example.com"))
    fakes.forget_calls()
    endpoints.converge(inventory, ["example.com"], Dns().write)
    assert fakes.compute.count("PATCH", "/backendBuckets/mtasts-lb-policies$") == 1
    bb = fakes.compute.get("backendBuckets", "mtasts-lb-policies", project=PROJECT)
    assert bb["enableCdn"] is False


def test_a_proxy_with_every_reference_wrong_is_repaired_one_change_at_a_time(fakes, endpoints):
    converge(endpoints, ["example.com"])
    fakes.compute.seed("sslPolicies", {"name": "other-tls"}, project=PROJECT)
    fakes.compute.seed(
        "urlMaps",
        {"name": "other-map", "defaultService": "global/backendBuckets/mtasts-lb-policies"},
        project=PROJECT,
    )
    fakes.compute.operation_polls = 2  # the proxy stays busy until its operation is polled
    with fakes.compute.lock:
        proxy = fakes.compute.resources["targetHttpsProxies"][f"{PROJECT}/mtasts-lb-https"]
        proxy["sslPolicy"] = proxy["sslPolicy"].replace("mtasts-lb-tls12", "other-tls")
        proxy["urlMap"] = proxy["urlMap"].replace("mtasts-lb-urls", "other-map")
        proxy["certificateMap"] = proxy["certificateMap"].replace("mtasts-lb-certs", "other")
    endpoints.converge(endpoints.read([]), ["example.com"], Dns().write)
    assert endpoints.describe(endpoints.read([]), "example.com") == endpoints.wanted("example.com")
    route = fakes.compute.resolve("mta-sts.example.com", POLICY_PATH, project=PROJECT)
    assert route.object_key == f"mta-sts.example.com{POLICY_PATH}"


def test_slow_operations_are_awaited_before_anything_refers_to_them(fakes, endpoints):
    """The fake answers "not ready" for a reference to a resource whose operation runs."""
    fakes.compute.operation_polls = 3
    fakes.certs.operation_polls = 3
    converge(endpoints, DOMAINS)
    inventory = endpoints.read(DOMAINS)
    for domain in DOMAINS:
        assert endpoints.describe(inventory, domain) == endpoints.wanted(domain)
    endpoints.remove(inventory, DOMAINS, Dns().remove)
    assert fakes.compute.names("urlMaps", project=PROJECT) == []


@pytest.mark.parametrize("weak", ["TLS_1_0", "TLS_1_1", None])
def test_a_weaker_ssl_policy_of_ours_is_patched_to_tls_1_2(fakes, endpoints, weak):
    """The proxy needs TLS 1.2 at least (RFC 8461 section 3.3, RFC 8996): an SSL policy of
    mtasts's name allowing less is patched under its fingerprint, its profile kept."""
    body = {"name": "mtasts-lb-tls12", "profile": "COMPATIBLE", "description": OURS}
    if weak:
        body["minTlsVersion"] = weak
    fakes.compute.seed("sslPolicies", body, project=PROJECT)
    inventory = endpoints.read(["example.com"])
    assert "SSL policy TLS 1.2" in endpoints.lb.needs(inventory.compute, False)
    endpoints.converge(inventory, ["example.com"], Dns().write)
    [patch] = [c for c in fakes.compute.calls if c.method == "PATCH"]
    assert patch.path.endswith("/global/sslPolicies/mtasts-lb-tls12")
    assert set(patch.body) == {"minTlsVersion", "fingerprint"}
    assert patch.body["minTlsVersion"] == "TLS_1_2"
    policy = fakes.compute.get("sslPolicies", "mtasts-lb-tls12", project=PROJECT)
    assert (policy["minTlsVersion"], policy["profile"]) == ("TLS_1_2", "COMPATIBLE")
    assert endpoints.describe(endpoints.read([]), "example.com") == endpoints.wanted("example.com")


def test_a_stricter_ssl_policy_of_ours_is_left_alone(fakes, endpoints):
    fakes.compute.seed(
        "sslPolicies",
        {"name": "mtasts-lb-tls12", "minTlsVersion": "TLS_1_3", "profile": "RESTRICTED", **MARK},
        project=PROJECT,
    )
    converge(endpoints, ["example.com"])
    assert fakes.compute.count("PATCH") == 0
    assert endpoints.describe(endpoints.read([]), "example.com") == endpoints.wanted("example.com")


def test_an_ssl_policy_changed_during_the_patch_is_read_again(fakes, endpoints):
    fakes.compute.seed(
        "sslPolicies",
        {"name": "mtasts-lb-tls12", "minTlsVersion": "TLS_1_0", **MARK},
        project=PROJECT,
    )
    inventory = endpoints.read(["example.com"])
    with fakes.compute.lock:  # another writer: a new fingerprint since mtasts read it
        stored = fakes.compute.resources["sslPolicies"][f"{PROJECT}/mtasts-lb-tls12"]
        stored["fingerprint"] = "changed-by-someone"
        stored["description"] = "theirs"
    endpoints.converge(inventory, ["example.com"], Dns().write)
    assert fakes.compute.count("PATCH", "/sslPolicies/") == 2  # 412, re-read, patched
    policy = fakes.compute.get("sslPolicies", "mtasts-lb-tls12", project=PROJECT)
    assert (policy["minTlsVersion"], policy["description"]) == ("TLS_1_2", "theirs")


def test_an_ssl_policy_stale_twice_is_one_line(fakes, endpoints):
    fakes.compute.seed(
        "sslPolicies",
        {"name": "mtasts-lb-tls12", "minTlsVersion": "TLS_1_0", **MARK},
        project=PROJECT,
    )
    fakes.compute.inject("PATCH", "/sslPolicies/", 412, times=2)
    with pytest.raises(ProviderError) as info:
        endpoints.converge(endpoints.read(["example.com"]), ["example.com"], Dns().write)
    assert "\n" not in str(info.value)
    assert "raising SSL policy mtasts-lb-tls12 to TLS 1.2" in str(info.value)


FOREIGN = [
    ("addresses", {"name": "mtasts-lb-ipv4", "ipVersion": "IPV4"}, "address"),
    ("backendBuckets", {"name": "mtasts-lb-policies", "bucketName": "web-assets"}, "backend"),
    ("sslPolicies", {"name": "mtasts-lb-tls12", "minTlsVersion": "TLS_1_0"}, "SSL policy"),
    ("urlMaps", {"name": "mtasts-lb-urls", "defaultService": "global/backendBuckets/web"}, "URL"),
]


@pytest.mark.parametrize(("collection", "body", "label"), FOREIGN)
def test_a_resource_of_mtastss_name_but_not_made_by_it_is_never_taken_over(
    fakes, endpoints, collection, body, label
):
    """A name_prefix collision: somebody's own load balancer piece named `mtasts-lb-...`
    (no `mtasts` description) stops the read in one line; nothing is patched, rewired or
    deleted (before: the backend bucket was re-aimed at the policy bucket, the URL map's
    default route replaced by mtasts's 404, and the last domain's removal deleted them)."""
    if collection == "urlMaps":
        fakes.compute.seed("backendBuckets", {"name": "web", "bucketName": "w"}, project=PROJECT)
    fakes.compute.seed(collection, {**body, "description": "team web: site"}, project=PROJECT)
    fakes.forget_calls()
    with pytest.raises(ProviderError) as info:
        endpoints.read(DOMAINS)
    line = str(info.value)
    assert "\n" not in line and line.startswith("g: " + label)
    assert f"{body['name']} in project {PROJECT} was not created by mtasts" in line
    assert "'team web: site'" in line and "set name_prefix" in line
    assert fakes.writes() == 0
    stored = fakes.compute.get(collection, body["name"], project=PROJECT)
    assert stored["description"] == "team web: site"


def test_a_certificate_map_of_mtastss_name_but_not_made_by_it_is_never_taken_over(fakes, endpoints):
    """Somebody's certificate map named `mtasts-lb-certs` (no `mtasts` description) stops
    the read in one line: mtasts never adds its entries to it, nor deletes it with the last
    domain."""
    fakes.certs.seed(
        "certificateMaps",
        "mtasts-lb-certs",
        {"description": "team web: certs"},
        parent=f"projects/{PROJECT}/locations/global",
    )
    fakes.forget_calls()

    with pytest.raises(ProviderError) as info:
        endpoints.read(DOMAINS)

    line = str(info.value)
    assert "\n" not in line
    assert line.startswith("g: certificate map mtasts-lb-certs in ")
    assert "was not created by mtasts ('team web: certs')" in line.replace("description ", "")
    assert "set name_prefix" in line
    assert fakes.writes() == 0
