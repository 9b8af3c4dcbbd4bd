"""providers/gcp/urlmap.py on its own: the summary a plan compares, foreign entries kept."""

from __future__ import annotations

import pytest

from providers.gcp import urlmap

compute_v1 = pytest.importorskip("google.cloud.compute_v1")

BB = "https://www.googleapis.com/compute/v1/projects/p/global/backendBuckets/bb"


@pytest.mark.parametrize("host", ["mta-sts.example.com", "mta-sts.xn--bcher-kva.example"])
def test_wanted_is_what_a_built_map_serves(host):
    built = urlmap.served(urlmap.build("um", BB, {host}))
    assert urlmap.wanted(host, BB) == (built["default"], built["hosts"][host])
    assert urlmap.serves(urlmap.build("um", BB, {host, "mta-sts.other.example"}), host, "bb")


def test_a_plan_asks_every_host_of_a_big_map_in_linear_work(monkeypatch):
    """The whole map is summarised once however many hosts are asked about."""
    hosts = {f"mta-sts.d{i}.example" for i in range(300)}
    umap = urlmap.build("um", BB, hosts)
    summaries = []
    real = urlmap.served
    monkeypatch.setattr(urlmap, "served", lambda m: summaries.append(m) or real(m))
    for host in sorted(hosts):
        assert host in urlmap.hosts_of(umap)
        assert urlmap.serves(umap, host, "bb")
    assert len(summaries) == 1


def test_merged_keeps_foreign_entries_as_read_and_in_place():
    umap = urlmap.build("um", BB, {"mta-sts.a.example", "mta-sts.b.example"})
    theirs = compute_v1.HostRule(hosts=["www.example.net"], path_matcher="www", description="x")
    matcher = compute_v1.PathMatcher(
        name="www",
        default_service=BB,
        path_rules=[compute_v1.PathRule(paths=["/static/*"], service=BB)],
    )
    umap.host_rules.insert(0, theirs)
    umap.path_matchers.insert(0, matcher)
    umap.tests.append(compute_v1.UrlMapTest(host="www.example.net", path="/", service=BB))
    out = urlmap.merged(umap, BB, {"mta-sts.b.example", "mta-sts.c.example"})
    assert out.host_rules[0] == theirs and out.path_matchers[0] == matcher
    assert urlmap.hosts_of(out) == {"mta-sts.b.example", "mta-sts.c.example"}
    assert list(out.tests) == list(umap.tests)
    assert urlmap.has_foreign(out) and not urlmap.has_foreign(urlmap.build("um", BB, {"h"}))


def test_a_matcher_named_like_ours_but_not_of_our_shape_is_foreign():
    umap = urlmap.build("um", BB, set())
    umap.host_rules.append(compute_v1.HostRule(hosts=["x.example"], path_matcher="host-mine"))
    umap.path_matchers.append(compute_v1.PathMatcher(name="host-mine", default_service=BB))
    assert urlmap.hosts_of(umap) == set()
    out = urlmap.merged(umap, BB, {"mta-sts.a.example"})
    assert out.host_rules[0].path_matcher == "host-mine"
