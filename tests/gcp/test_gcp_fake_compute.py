"""The Compute fake, driven by google-cloud-compute's own REST clients (what the provider will
send), plus its URL-map resolution.

What these tests pin down about the library (google-cloud-compute 1.57, api-core 2.44):
- `client_options={"api_endpoint": "http://127.0.0.1:PORT"}`: the scheme must be given (a
  bare `127.0.0.1:PORT` is taken as https), and a path after the port is kept as a prefix
  of every request path, so the fake is served at the root;
- `insert(...)` returns an ExtendedOperation whose `.result()` polls through a
  `GlobalOperationsClient` the transport builds WITHOUT client_options, i.e. against
  https://compute.googleapis.com: use `insert_unary()` and poll with your own
  `GlobalOperationsClient(client_options=...)` (`get` or `wait`);
- a 503 is retried on GET only (not on insert), 429 is not retried; a request that never
  answers raises `requests.exceptions.ReadTimeout` (not a google.api_core exception) once
  the call's `timeout` passes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests
from gcp_fake_compute import FakeCompute

compute_v1 = pytest.importorskip("google.cloud.compute_v1")
from google.api_core import exceptions  # noqa: E402
from google.auth.credentials import AnonymousCredentials  # noqa: E402

DONE = compute_v1.Operation.Status.DONE
BB = "global/backendBuckets/bb"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeCompute]:
    fake = FakeCompute().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def fake(server: FakeCompute) -> Iterator[FakeCompute]:
    server.reset()
    server.operation_polls = 1
    server.wait_advance = None
    yield server
    server.reset()


def client(fake: FakeCompute, cls, endpoint: str | None = None):
    return cls(
        client_options={"api_endpoint": endpoint or fake.endpoint},
        credentials=AnonymousCredentials(),
        transport="rest",
    )


def wait(fake: FakeCompute, op) -> None:
    ops = client(fake, compute_v1.GlobalOperationsClient)
    for _ in range(10):
        op = ops.get(project="p", operation=op.name)
        if op.status == DONE:
            return
    raise AssertionError("operation never DONE")


def rewrite_rule(host: str, priority: int = 1) -> compute_v1.HttpRouteRule:
    return compute_v1.HttpRouteRule(
        priority=priority,
        match_rules=[compute_v1.HttpRouteRuleMatch(full_path_match="/.well-known/mta-sts.txt")],
        service=BB,
        route_action=compute_v1.HttpRouteAction(
            url_rewrite=compute_v1.UrlRewrite(
                path_prefix_rewrite=f"/{host}/.well-known/mta-sts.txt"
            )
        ),
    )


def policy_map(hosts: list[str]) -> compute_v1.UrlMap:
    """The shape the provider is meant to build: per host one exact route with a rewrite to
    its key, anything else to a prefix no object has (a 404 from the bucket)."""
    not_found = compute_v1.HttpRouteAction(
        url_rewrite=compute_v1.UrlRewrite(path_prefix_rewrite="/404/")
    )
    return compute_v1.UrlMap(
        name="um",
        default_service=BB,
        default_route_action=not_found,
        host_rules=[
            compute_v1.HostRule(hosts=[h], path_matcher=f"m{i}") for i, h in enumerate(hosts)
        ],
        path_matchers=[
            compute_v1.PathMatcher(
                name=f"m{i}",
                default_service=BB,
                default_route_action=not_found,
                route_rules=[rewrite_rule(h)],
            )
            for i, h in enumerate(hosts)
        ],
    )


def build_lb(fake: FakeCompute, hosts: list[str]) -> None:
    """The whole load balancer through the real clients, each operation awaited."""
    fake.operation_polls = 0
    steps = [
        (
            compute_v1.GlobalAddressesClient,
            "address_resource",
            compute_v1.Address(name="ip4", ip_version="IPV4"),
        ),
        (
            compute_v1.BackendBucketsClient,
            "backend_bucket_resource",
            compute_v1.BackendBucket(name="bb", bucket_name="mtasts-p", enable_cdn=False),
        ),
        (compute_v1.UrlMapsClient, "url_map_resource", policy_map(hosts)),
        (
            compute_v1.SslPoliciesClient,
            "ssl_policy_resource",
            compute_v1.SslPolicy(name="tls12", min_tls_version="TLS_1_2", profile="MODERN"),
        ),
        (
            compute_v1.TargetHttpsProxiesClient,
            "target_https_proxy_resource",
            compute_v1.TargetHttpsProxy(
                name="px",
                url_map="global/urlMaps/um",
                ssl_policy="global/sslPolicies/tls12",
                certificate_map="//certificatemanager.googleapis.com/projects/p/locations/"
                "global/certificateMaps/cm",
            ),
        ),
    ]
    for cls, key, resource in steps:
        client(fake, cls).insert_unary(project="p", **{key: resource})
    address = fake.get("addresses", "ip4")
    assert address is not None
    client(fake, compute_v1.GlobalForwardingRulesClient).insert_unary(
        project="p",
        forwarding_rule_resource=compute_v1.ForwardingRule(
            name="fr",
            I_p_address=address["selfLink"],
            port_range="443",
            target="global/targetHttpsProxies/px",
            load_balancing_scheme="EXTERNAL_MANAGED",
        ),
    )
    fake.operation_polls = 1


def test_endpoint_needs_the_scheme_and_no_path(fake):
    addresses = client(fake, compute_v1.GlobalAddressesClient)
    assert list(addresses.list(project="p")) == []
    bare = client(fake, compute_v1.GlobalAddressesClient, fake.endpoint.removeprefix("http://"))
    with pytest.raises(requests.exceptions.SSLError):
        list(bare.list(project="p", timeout=5))
    prefixed = client(fake, compute_v1.GlobalAddressesClient, fake.endpoint + "/x")
    with pytest.raises(exceptions.NotFound):
        list(prefixed.list(project="p"))
    assert fake.calls[-1].path == "/x/compute/v1/projects/p/global/addresses"


def test_extended_operation_polls_the_real_service_not_the_endpoint(fake):
    addresses = client(fake, compute_v1.GlobalAddressesClient)
    poller = addresses._transport._global_operations_client
    assert poller._transport._host == "https://compute.googleapis.com"


def test_operations_run_then_done_through_get_and_wait(fake):
    fake.operation_polls = 3
    addresses = client(fake, compute_v1.GlobalAddressesClient)
    ops = client(fake, compute_v1.GlobalOperationsClient)
    op = addresses.insert_unary(project="p", address_resource=compute_v1.Address(name="a"))
    assert op.status == compute_v1.Operation.Status.PENDING
    assert ops.get(project="p", operation=op.name).status != DONE
    assert ops.get(project="p", operation=op.name).status != DONE
    done = ops.get(project="p", operation=op.name)
    assert done.status == DONE and done.progress == 100 and done.operation_type == "insert"
    assert done.target_link.endswith("/projects/p/global/addresses/a")
    op = addresses.delete_unary(project="p", address="a")
    assert ops.wait(project="p", operation=op.name).status == DONE
    assert fake.count("POST", r"/wait$") == 1 and fake.count("GET", "/operations/") == 3
    with pytest.raises(exceptions.NotFound):
        ops.get(project="p", operation="operation-nope")


def test_a_resource_not_ready_cannot_be_referenced_or_changed(fake):
    buckets = client(fake, compute_v1.BackendBucketsClient)
    op = buckets.insert_unary(
        project="p", backend_bucket_resource=compute_v1.BackendBucket(name="bb", bucket_name="b")
    )
    maps = client(fake, compute_v1.UrlMapsClient)
    with pytest.raises(exceptions.BadRequest) as info:
        maps.insert_unary(
            project="p", url_map_resource=compute_v1.UrlMap(name="um", default_service=BB)
        )
    assert info.value.errors[0]["reason"] == "resourceNotReady"
    with pytest.raises(exceptions.BadRequest):
        buckets.delete_unary(project="p", backend_bucket="bb")
    wait(fake, op)
    maps.insert_unary(
        project="p", url_map_resource=compute_v1.UrlMap(name="um", default_service=BB)
    )


def test_addresses_v4_v6_paging_and_errors(fake):
    fake.operation_polls = 0
    addresses = client(fake, compute_v1.GlobalAddressesClient)
    addresses.insert_unary(project="p", address_resource=compute_v1.Address(name="v4"))
    addresses.insert_unary(
        project="p", address_resource=compute_v1.Address(name="v6", ip_version="IPV6")
    )
    v4, v6 = addresses.get(project="p", address="v4"), addresses.get(project="p", address="v6")
    assert v4.ip_version == "IPV4" and v4.address.count(".") == 3 and v4.status == "RESERVED"
    assert v6.ip_version == "IPV6" and ":" in v6.address
    assert v4.self_link == "https://www.googleapis.com/compute/v1/projects/p/global/addresses/v4"
    for i in range(3):
        addresses.insert_unary(project="p", address_resource=compute_v1.Address(name=f"z{i}"))
    fake.calls.clear()
    request = compute_v1.ListGlobalAddressesRequest(project="p", max_results=2)
    names = [a.name for a in addresses.list(request=request)]
    assert names == ["v4", "v6", "z0", "z1", "z2"] and fake.count("GET") == 3
    with pytest.raises(exceptions.Conflict) as info:
        addresses.insert_unary(project="p", address_resource=compute_v1.Address(name="v4"))
    assert info.value.errors[0]["reason"] == "alreadyExists"
    with pytest.raises(exceptions.NotFound):
        addresses.get(project="p", address="nope")
    with pytest.raises(exceptions.BadRequest):
        addresses.insert_unary(project="p", address_resource=compute_v1.Address(name="Bad_Name"))


def test_repeated_request_id_answers_the_first_operation(fake):
    addresses = client(fake, compute_v1.GlobalAddressesClient)
    request = compute_v1.InsertGlobalAddressRequest(
        project="p", address_resource=compute_v1.Address(name="a"), request_id="r-1"
    )
    first = addresses.insert_unary(request=request)
    again = addresses.insert_unary(request=request)
    assert fake.calls[-1].query["requestId"] == "r-1"
    assert again.name == first.name and fake.names("addresses") == ["a"]


def test_backend_bucket_patch_and_in_use_delete(fake):
    build_lb(fake, ["mta-sts.example.com"])
    buckets = client(fake, compute_v1.BackendBucketsClient)
    op = buckets.patch_unary(
        project="p",
        backend_bucket="bb",
        backend_bucket_resource=compute_v1.BackendBucket(enable_cdn=True),
    )
    wait(fake, op)
    got = buckets.get(project="p", backend_bucket="bb")
    assert got.enable_cdn and got.bucket_name == "mtasts-p"
    for policy in (
        compute_v1.BackendBucketCdnPolicy(default_ttl=60),
        compute_v1.BackendBucketCdnPolicy(max_ttl=300),
    ):
        buckets.patch_unary(
            project="p",
            backend_bucket="bb",
            backend_bucket_resource=compute_v1.BackendBucket(cdn_policy=policy),
        )
        fake.finish_operations()
    got = buckets.get(project="p", backend_bucket="bb")
    assert (got.cdn_policy.default_ttl, got.cdn_policy.max_ttl) == (60, 300)  # merge patch
    with pytest.raises(exceptions.BadRequest) as info:
        buckets.delete_unary(project="p", backend_bucket="bb")
    assert info.value.errors[0]["reason"] == "resourceInUseByAnotherResource"
    assert "urlMaps/um" in info.value.message
    for cls, kw in [
        (compute_v1.GlobalAddressesClient, {"address": "ip4"}),
        (compute_v1.TargetHttpsProxiesClient, {"target_https_proxy": "px"}),
        (compute_v1.SslPoliciesClient, {"ssl_policy": "tls12"}),
        (compute_v1.UrlMapsClient, {"url_map": "um"}),
    ]:
        with pytest.raises(exceptions.BadRequest):
            client(fake, cls).delete_unary(project="p", **kw)


def test_url_map_fingerprint_update_and_patch(fake):
    build_lb(fake, ["mta-sts.a.example"])
    maps = client(fake, compute_v1.UrlMapsClient)
    current = maps.get(project="p", url_map="um")
    stale = current.fingerprint
    bigger = policy_map(["mta-sts.a.example", "mta-sts.b.example"])
    bigger.fingerprint = stale
    wait(fake, maps.update_unary(project="p", url_map="um", url_map_resource=bigger))
    assert len(maps.get(project="p", url_map="um").host_rules) == 2
    with pytest.raises(exceptions.PreconditionFailed) as info:
        maps.update_unary(project="p", url_map="um", url_map_resource=bigger)
    assert info.value.errors[0]["reason"] == "conditionNotMet"
    fresh = maps.get(project="p", url_map="um")
    assert fresh.fingerprint != stale
    patch = compute_v1.UrlMap(description="mtasts", fingerprint=fresh.fingerprint)
    wait(fake, maps.patch_unary(project="p", url_map="um", url_map_resource=patch))
    after = maps.get(project="p", url_map="um")
    assert after.description == "mtasts" and len(after.host_rules) == 2
    with pytest.raises(exceptions.PreconditionFailed):
        maps.patch_unary(
            project="p",
            url_map="um",
            url_map_resource=compute_v1.UrlMap(description="no fingerprint"),
        )


def test_ssl_policy_patch_needs_its_fingerprint(fake):
    """sslPolicies.patch as google-cloud-compute sends it: a JSON merge patch carrying the
    fingerprint (https://cloud.google.com/compute/docs/reference/rest/v1/sslPolicies/patch);
    412 when it is stale or missing, nothing changed."""
    policies = client(fake, compute_v1.SslPoliciesClient)
    wait(
        fake,
        policies.insert_unary(
            project="p",
            ssl_policy_resource=compute_v1.SslPolicy(
                name="weak", min_tls_version="TLS_1_0", profile="COMPATIBLE"
            ),
        ),
    )
    current = policies.get(project="p", ssl_policy="weak")
    for fingerprint in ("stale", None):
        with pytest.raises(exceptions.PreconditionFailed):
            policies.patch_unary(
                project="p",
                ssl_policy="weak",
                ssl_policy_resource=compute_v1.SslPolicy(
                    min_tls_version="TLS_1_2", fingerprint=fingerprint
                ),
            )
    op = policies.patch_unary(
        project="p",
        ssl_policy="weak",
        ssl_policy_resource=compute_v1.SslPolicy(
            min_tls_version="TLS_1_2", fingerprint=current.fingerprint
        ),
    )
    assert fake.calls[-1].method == "PATCH"
    assert fake.calls[-1].body == {"minTlsVersion": "TLS_1_2", "fingerprint": current.fingerprint}
    wait(fake, op)
    after = policies.get(project="p", ssl_policy="weak")
    assert (after.min_tls_version, after.profile) == ("TLS_1_2", "COMPATIBLE")  # merged
    assert after.fingerprint != current.fingerprint


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (
            lambda m: m.path_matchers.append(
                compute_v1.PathMatcher(name="orphan", default_service=BB)
            ),
            "not used",
        ),
        (
            lambda m: m.host_rules.append(
                compute_v1.HostRule(hosts=["mta-sts.a.example"], path_matcher="m0")
            ),
            "duplicate",
        ),
        (
            lambda m: m.path_matchers[0].path_rules.append(
                compute_v1.PathRule(paths=["/x"], service=BB)
            ),
            "only one of",
        ),
        (lambda m: setattr(m, "default_service", "global/backendBuckets/none"), "not found"),
        (
            lambda m: m.path_matchers[0].route_rules.append(rewrite_rule("x", priority=1)),
            "priority",
        ),
    ],
)
def test_url_map_validation(fake, change, why):
    build_lb(fake, [])
    umap = policy_map(["mta-sts.a.example"])
    umap.name = "um2"
    change(umap)
    with pytest.raises(exceptions.BadRequest) as info:
        client(fake, compute_v1.UrlMapsClient).insert_unary(project="p", url_map_resource=umap)
    assert why in info.value.message


def test_url_map_size_limit(fake):
    build_lb(fake, [])
    fake.url_map_max_bytes = 65_536
    umap = policy_map([f"mta-sts.d{i}.example" for i in range(200)])
    umap.name = "big"
    with pytest.raises(exceptions.BadRequest, match="maximum size"):
        client(fake, compute_v1.UrlMapsClient).insert_unary(project="p", url_map_resource=umap)


def test_proxy_set_url_map_has_no_global_segment_and_set_certificate_map(fake):
    build_lb(fake, ["mta-sts.a.example"])
    fake.operation_polls = 0
    maps = client(fake, compute_v1.UrlMapsClient)
    other = policy_map(["mta-sts.b.example"])
    other.name = "um2"
    maps.insert_unary(project="p", url_map_resource=other)
    proxies = client(fake, compute_v1.TargetHttpsProxiesClient)
    proxies.set_url_map_unary(
        project="p",
        target_https_proxy="px",
        url_map_reference_resource=compute_v1.UrlMapReference(url_map="global/urlMaps/um2"),
    )
    assert fake.calls[-1].path == "/compute/v1/projects/p/targetHttpsProxies/px/setUrlMap"
    new_map = "//certificatemanager.googleapis.com/projects/p/locations/global/certificateMaps/cm2"
    proxies.set_certificate_map_unary(
        project="p",
        target_https_proxy="px",
        target_https_proxies_set_certificate_map_request_resource=(
            compute_v1.TargetHttpsProxiesSetCertificateMapRequest(certificate_map=new_map)
        ),
    )
    got = proxies.get(project="p", target_https_proxy="px")
    assert got.url_map.endswith("/global/urlMaps/um2") and got.certificate_map == new_map
    assert got.ssl_policy.endswith("/global/sslPolicies/tls12")
    fake.certificate_map_exists = lambda name: False
    with pytest.raises(exceptions.BadRequest, match="certificateMap"):
        proxies.set_certificate_map_unary(
            project="p",
            target_https_proxy="px",
            target_https_proxies_set_certificate_map_request_resource=(
                compute_v1.TargetHttpsProxiesSetCertificateMapRequest(certificate_map=new_map)
            ),
        )
    fake.certificate_map_exists = None
    policy = client(fake, compute_v1.SslPoliciesClient).get(project="p", ssl_policy="tls12")
    assert policy.min_tls_version == "TLS_1_2" and policy.profile == "MODERN"


def test_forwarding_rule_holds_the_literal_ip_and_uses_the_address(fake):
    build_lb(fake, ["mta-sts.a.example"])
    rule = client(fake, compute_v1.GlobalForwardingRulesClient).get(
        project="p", forwarding_rule="fr"
    )
    address = client(fake, compute_v1.GlobalAddressesClient).get(project="p", address="ip4")
    assert rule.I_p_address == address.address and rule.port_range == "443-443"
    assert rule.load_balancing_scheme == "EXTERNAL_MANAGED" and rule.I_p_protocol == "TCP"
    assert rule.target.endswith("/global/targetHttpsProxies/px")
    assert address.status == "IN_USE" and address.users == [rule.self_link]


def test_resolve_serves_each_host_key_and_nothing_else(fake):
    build_lb(fake, ["mta-sts.a.example", "mta-sts.b.example"])
    route = fake.resolve("mta-sts.a.example", "/.well-known/mta-sts.txt?x=1")
    assert (route.backend_bucket, route.bucket) == ("bb", "mtasts-p")
    assert route.object_key == "mta-sts.a.example/.well-known/mta-sts.txt"
    assert fake.resolve("MTA-STS.B.example:443", "/.well-known/mta-sts.txt").object_key == (
        "mta-sts.b.example/.well-known/mta-sts.txt"
    )
    assert (
        fake.resolve("mta-sts.a.example", "/mta-sts.b.example/.well-known/mta-sts.txt").object_key
        == "404/mta-sts.b.example/.well-known/mta-sts.txt"
    )
    assert fake.resolve("other.example", "/.well-known/mta-sts.txt").object_key == (
        "404/.well-known/mta-sts.txt"
    )
    assert fake.frontend(443)[0]["name"] == "fr"
    with pytest.raises(LookupError):
        fake.frontend(80)


def test_resolve_host_and_path_precedence(fake):
    build_lb(fake, [])
    fake.operation_polls = 0
    buckets = client(fake, compute_v1.BackendBucketsClient)
    for name in ("b1", "b2", "b3"):
        buckets.insert_unary(
            project="p",
            backend_bucket_resource=compute_v1.BackendBucket(name=name, bucket_name=f"g-{name}"),
        )
    svc = "global/backendBuckets/"
    umap = compute_v1.UrlMap(
        name="prec",
        default_service=svc + "b1",
        host_rules=[
            compute_v1.HostRule(hosts=["*"], path_matcher="any"),
            compute_v1.HostRule(hosts=["*.example.com"], path_matcher="wild"),
            compute_v1.HostRule(hosts=["a.example.com"], path_matcher="exact"),
        ],
        path_matchers=[
            compute_v1.PathMatcher(name="any", default_service=svc + "b1"),
            compute_v1.PathMatcher(
                name="wild",
                default_service=svc + "b2",
                path_rules=[
                    compute_v1.PathRule(paths=["/p/*"], service=svc + "b1"),
                    compute_v1.PathRule(
                        paths=["/p/q/*"],
                        service=svc + "b3",
                        route_action=(
                            compute_v1.HttpRouteAction(
                                url_rewrite=compute_v1.UrlRewrite(
                                    path_prefix_rewrite="/r/", host_rewrite="h.example"
                                )
                            )
                        ),
                    ),
                ],
            ),
            compute_v1.PathMatcher(
                name="exact",
                default_service=svc + "b3",
                route_rules=[
                    compute_v1.HttpRouteRule(
                        priority=20,
                        service=svc + "b1",
                        match_rules=[
                            compute_v1.HttpRouteRuleMatch(prefix_match="/A", ignore_case=True)
                        ],
                    ),
                    compute_v1.HttpRouteRule(
                        priority=10,
                        service=svc + "b2",
                        match_rules=[compute_v1.HttpRouteRuleMatch(prefix_match="/a/b")],
                    ),
                ],
            ),
        ],
    )
    client(fake, compute_v1.UrlMapsClient).insert_unary(project="p", url_map_resource=umap)

    def where(host: str, path: str) -> tuple[str | None, str | None]:
        route = fake.resolve(host, path, url_map="prec")
        return route.backend_bucket, route.object_key

    assert where("zzz.org", "/f") == ("b1", "f")
    assert where("x.example.com", "/f") == ("b2", "f")
    assert where("x.example.com", "/p/q/z") == ("b3", "r/z")
    assert fake.resolve("x.example.com", "/p/q/z", url_map="prec").host == "h.example"
    assert where("x.example.com", "/p/z") == ("b1", "p/z")
    assert where("a.example.com", "/a/b/c") == ("b2", "a/b/c")
    assert where("a.example.com", "/a/x") == ("b1", "a/x")
    assert where("a.example.com", "/z") == ("b3", "z")


def test_faults_retries_and_a_request_that_never_answers(fake):
    addresses = client(fake, compute_v1.GlobalAddressesClient)
    fake.inject("GET", r"/addresses$", 503, times=2)
    assert list(addresses.list(project="p")) == []
    assert fake.count("GET", r"/addresses$") == 3
    fake.inject("POST", r"/addresses$", 503)
    with pytest.raises(exceptions.ServiceUnavailable):
        addresses.insert_unary(project="p", address_resource=compute_v1.Address(name="a"))
    assert fake.count("POST") == 1 and fake.names("addresses") == []
    fake.inject("*", "addresses", 429)
    with pytest.raises(exceptions.TooManyRequests) as info:
        list(addresses.list(project="p"))
    assert info.value.errors[0]["reason"] == "rateLimitExceeded"
    fake.inject("POST", "addresses", 403, message="Required 'compute.addresses.create'")
    with pytest.raises(exceptions.Forbidden, match=r"compute\.addresses\.create"):
        addresses.insert_unary(project="p", address_resource=compute_v1.Address(name="a"))
    fake.hang("GET", "addresses")
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        list(addresses.list(project="p", timeout=0.5))
    assert time.monotonic() - started < 5
    assert list(addresses.list(project="p")) == []


def test_seed_and_the_certificate_map_hook(fake):
    fake.seed("backendBuckets", {"name": "bb", "bucketName": "mtasts-p"})
    fake.seed("urlMaps", {"name": "um", "defaultService": BB})
    assert fake.get("urlMaps", "um")["defaultService"].endswith("/global/backendBuckets/bb")
    known = {"//certificatemanager.googleapis.com/projects/p/locations/global/certificateMaps/m"}
    fake.certificate_map_exists = known.__contains__
    proxy = {"name": "px", "urlMap": "global/urlMaps/um", "certificateMap": next(iter(known))}
    fake.seed("targetHttpsProxies", proxy)
    with pytest.raises(Exception, match="certificateMap"):
        fake.seed("targetHttpsProxies", {**proxy, "name": "px2", "certificateMap": "//x"})
    fake.certificate_map_exists = None
    got = client(fake, compute_v1.TargetHttpsProxiesClient).get(
        project="p", target_https_proxy="px"
    )
    assert got.certificate_map == next(iter(known)) and got.fingerprint


def test_an_accepted_mutation_whose_operation_fails(fake):
    build_lb(fake, [])
    fake.fail_operations(
        "POST",
        r"/urlMaps$",
        "Quota 'URL_MAPS' exceeded.  Limit: 10.0 globally.",
        code="QUOTA_EXCEEDED",
    )
    umap = policy_map(["mta-sts.a.example"])
    umap.name = "um2"
    op = client(fake, compute_v1.UrlMapsClient).insert_unary(project="p", url_map_resource=umap)
    assert not op.error.errors
    done = client(fake, compute_v1.GlobalOperationsClient).wait(project="p", operation=op.name)
    assert done.status == DONE and done.http_error_status_code == 403
    assert done.error.errors[0].code == "QUOTA_EXCEEDED"
    assert "URL_MAPS" in done.error.errors[0].message
    assert fake.names("urlMaps") == ["um"]


def test_served_path_across_the_fakes_and_the_gcs_emulator(fake, gcp_storage):
    """What an end-to-end test of the provider can check: the listener on 443, the
    certificate its map presents for the host, and the object the URL map leads to."""
    from gcp_fake_certmanager import PARENT, FakeCertificateManager

    certs = FakeCertificateManager().start()
    try:
        certs.seed("dnsAuthorizations", "a", {"domain": "mta-sts.a.example"})
        managed = {"domains": ["mta-sts.a.example"], "dnsAuthorizations": ["a"]}
        cert = certs.seed("certificates", "c", {"managed": managed})
        certs.seed("certificateMaps", "cm", {})
        entry = {"hostname": "mta-sts.a.example", "certificates": [cert["name"]]}
        certs.seed("certificateMapEntries", "e", entry, parent=f"{PARENT}/certificateMaps/cm")
        certs.finish_provisioning()
        fake.certificate_map_exists = certs.map_exists
        build_lb(fake, ["mta-sts.a.example"])
        policy = "version: STSv1\nmode: enforce\nmx: mx.a.example\nmax_age: 86400\n"
        blob = (
            gcp_storage.client()
            .create_bucket("mtasts-p")
            .blob("mta-sts.a.example/.well-known/mta-sts.txt")
        )
        blob.content_type = "text/plain; charset=utf-8"
        blob.upload_from_string(policy)

        rule, proxy, _ = fake.frontend(443)
        assert certs.serving_certificate(proxy["certificateMap"], "mta-sts.a.example")
        route = fake.resolve("mta-sts.a.example", "/.well-known/mta-sts.txt", ip=rule["IPAddress"])
        served = gcp_storage.client().bucket(route.bucket).get_blob(route.object_key)
        assert served.download_as_bytes().decode() == policy
        assert served.content_type == "text/plain; charset=utf-8"
        elsewhere = fake.resolve("mta-sts.a.example", "/index.html")
        assert gcp_storage.client().bucket(elsewhere.bucket).get_blob(elsewhere.object_key) is None
    finally:
        fake.certificate_map_exists = None
        certs.stop()


def test_every_collection_lists_and_tears_down_in_reverse_order(fake):
    build_lb(fake, ["mta-sts.a.example"])
    fake.operation_polls = 0
    order = [
        (compute_v1.GlobalForwardingRulesClient, "forwarding_rule", "fr"),
        (compute_v1.TargetHttpsProxiesClient, "target_https_proxy", "px"),
        (compute_v1.SslPoliciesClient, "ssl_policy", "tls12"),
        (compute_v1.UrlMapsClient, "url_map", "um"),
        (compute_v1.BackendBucketsClient, "backend_bucket", "bb"),
        (compute_v1.GlobalAddressesClient, "address", "ip4"),
    ]
    for cls, key, name in order:
        api = client(fake, cls)
        assert [r.name for r in api.list(project="p")] == [name]
        api.delete_unary(project="p", **{key: name})
        assert list(api.list(project="p")) == []
        with pytest.raises(exceptions.NotFound):
            api.delete_unary(project="p", **{key: name})
    assert fake.count("DELETE") == 12 and fake.count("POST") == 6
