"""The URL map of the shared load balancer: what each policy host serves, and nothing else.

Per host `mta-sts.<domain>`: a host rule and a path matcher whose single route rule matches
the full path `/.well-known/mta-sts.txt` and rewrites it to the object key
`/mta-sts.<domain>/.well-known/mta-sts.txt` on the backend bucket
(https://cloud.google.com/load-balancing/docs/url-map-concepts#url-rewrites). A full-path
match ignores the query string, as a sender's `?` never changes the policy.

Everything else is a 404, and never a redirect: RFC 8461 section 3.3 forbids senders to
follow redirects, and a URL map must have a default service or a default redirect
(https://cloud.google.com/compute/docs/reference/rest/v1/urlMaps). So the default (of the
map and of every path matcher) is the same backend bucket with the path rewritten under
`/mtasts-no-such-object/`, a prefix mtasts never writes (its keys are all
`mta-sts.<domain>/.well-known/mta-sts.txt`): GCS answers 404 for the missing object, given
the bucket's public grant includes listing (roles/storage.objectViewer; with object read
only, GCS answers 403 for a missing key). Without that rewrite, `https://any-host/mta-sts.
other.example/.well-known/mta-sts.txt` would serve another domain's policy.

Size: a host costs 600-850 bytes of the map (two service links, the rewrite); a URL map of
a global external Application Load Balancer holds 1 MB (classic: 64 KB), so some 1,200
hosts or more per provider; and the project's load balancer configuration size quota counts
the map once per forwarding rule using it, twice here (IPv4 and IPv6)
(https://cloud.google.com/load-balancing/docs/url-map-size-quota). A change over either
limit is refused by the API, nothing of it applied, and reported as one line.

The map is mtasts's (by name) and compared by what it serves (`served`), not field by field,
so defaults the API adds never look like a change. A host rule or path matcher somebody
else added to it (anything whose path matcher is not `host-<16 hex>`) is foreign: `merged`
keeps it as read, in its place, so a change of mtasts's hosts sends it back byte for byte.

How a change is sent (providers/gcp/loadbalancer.py): `urlMaps.patch`, a JSON merge patch
carrying the fingerprint, `hostRules` and `pathMatchers` only (and the default route when
it is wrong). The API has no narrower update: a merge patch replaces a list whole, so both
lists go in full, foreign entries included; but the map's other fields (`tests`,
`headerAction`, a custom error policy somebody set) are left as they are, where an
`urlMaps.update` (PUT) would clear whatever the body leaves out. Same one call either way
(https://cloud.google.com/compute/docs/reference/rest/v1/urlMaps/patch).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from google.cloud import compute_v1

POLICY_PATH = "/.well-known/mta-sts.txt"
NOT_FOUND_PREFIX = "/mtasts-no-such-object/"
MATCHER_PREFIX = "host-"
_OURS = re.compile(r"host-[0-9a-f]{16}")


def matcher_name(host: str) -> str:
    """A path matcher name (RFC 1035 label, 63 characters at most) for the host."""
    return MATCHER_PREFIX + hashlib.sha256(host.encode()).hexdigest()[:16]


def _not_found() -> compute_v1.HttpRouteAction:
    return compute_v1.HttpRouteAction(
        url_rewrite=compute_v1.UrlRewrite(path_prefix_rewrite=NOT_FOUND_PREFIX)
    )


def build(name: str, bucket_link: str, hosts: set[str]) -> compute_v1.UrlMap:
    """The whole URL map serving `hosts` from the backend bucket at `bucket_link`."""
    ordered = sorted(hosts)
    return compute_v1.UrlMap(
        name=name,
        description="mtasts: MTA-STS policy hosts; 404 for anything else",
        default_service=bucket_link,
        default_route_action=_not_found(),
        host_rules=[
            compute_v1.HostRule(hosts=[host], path_matcher=matcher_name(host)) for host in ordered
        ],
        path_matchers=[
            compute_v1.PathMatcher(
                name=matcher_name(host),
                default_service=bucket_link,
                default_route_action=_not_found(),
                route_rules=[
                    compute_v1.HttpRouteRule(
                        priority=1,
                        match_rules=[compute_v1.HttpRouteRuleMatch(full_path_match=POLICY_PATH)],
                        service=bucket_link,
                        route_action=compute_v1.HttpRouteAction(
                            url_rewrite=compute_v1.UrlRewrite(
                                path_prefix_rewrite=f"/{host}{POLICY_PATH}"
                            )
                        ),
                    )
                ],
            )
            for host in ordered
        ],
    )


def _last(link: str) -> str:
    return link.rsplit("/", 1)[-1]


def _default(node: Any) -> tuple[str, str]:
    action = node.default_route_action
    rewrite = action.url_rewrite.path_prefix_rewrite if action else ""
    redirect = "redirect" if node.default_url_redirect else ""
    return _last(node.default_service) + redirect, rewrite


def served(umap: Any) -> dict[str, Any]:
    """What the map serves, as comparable data: the default, and per host its routes."""
    matchers = {pm.name: pm for pm in umap.path_matchers}
    hosts: dict[str, Any] = {}
    for rule in umap.host_rules:
        pm = matchers.get(rule.path_matcher)
        if pm is None:
            continue
        routes = tuple(
            sorted(
                (
                    r.priority,
                    tuple(m.full_path_match or f"other:{m}" for m in r.match_rules),
                    _last(r.service) + ("redirect" if r.url_redirect else ""),
                    r.route_action.url_rewrite.path_prefix_rewrite if r.route_action else "",
                )
                for r in pm.route_rules
            )
        )
        extra = tuple(str(p) for p in pm.path_rules)
        for host in rule.hosts:
            hosts[host.lower()] = (_default(pm), routes, extra)
    return {"default": _default(umap), "hosts": hosts}


def is_ours(matcher: str) -> bool:
    """True for a path matcher name of mtasts's shape (`host-` and 16 hex digits)."""
    return _OURS.fullmatch(matcher) is not None


def hosts_of(umap: Any) -> set[str]:
    """The policy hosts the map has a host rule for (any rule of mtasts's shape)."""
    return set(_summary(umap)[1])


def _hosts_of(umap: Any) -> frozenset[str]:
    found: set[str] = set()
    for rule in umap.host_rules:
        if is_ours(rule.path_matcher):
            found.update(h.lower() for h in rule.hosts)
    return frozenset(found)


def has_foreign(umap: Any) -> bool:
    """True when somebody else's host rules or path matchers are in the map."""
    return any(not is_ours(r.path_matcher) for r in umap.host_rules) or any(
        not is_ours(pm.name) for pm in umap.path_matchers
    )


def merged(umap: Any, bucket_link: str, hosts: set[str]) -> compute_v1.UrlMap:
    """`umap` serving exactly mtasts's `hosts`, everything foreign in it kept as read.

    Foreign host rules and path matchers stay in their order and come first; mtasts's
    follow, sorted by host. The map's default route becomes mtasts's 404 (the map is
    mtasts's by name); every other field is copied as read.
    """
    ours = build(umap.name, bucket_link, hosts)
    out = compute_v1.UrlMap(umap)
    del out.host_rules[:]
    del out.path_matchers[:]
    out.host_rules.extend(r for r in umap.host_rules if not is_ours(r.path_matcher))
    out.host_rules.extend(ours.host_rules)
    out.path_matchers.extend(pm for pm in umap.path_matchers if not is_ours(pm.name))
    out.path_matchers.extend(ours.path_matchers)
    out.default_service = ours.default_service
    out.default_route_action = ours.default_route_action
    if "default_url_redirect" in out:
        del out.default_url_redirect  # a default service and a redirect exclude each other
    return out


_LAST: list[tuple[Any, dict[str, Any], frozenset[str]]] = []
"""The last map summarised (`served`, mtasts's hosts), kept by identity: a plan asks about
every host of the same map, and walking the whole map per host made a 1,000-domain plan
quadratic (297 s with `served`, then 140 s with `hosts_of`, in benchmarks/gcp_scale.py).
Holding the map keeps its id from being reused; maps are never changed in place after
they are summarised (a change builds a new one: `merged`, `build`)."""


def _summary(umap: Any) -> tuple[dict[str, Any], frozenset[str]]:
    last = _LAST[0] if _LAST else None
    if last is not None and last[0] is umap:
        return last[1], last[2]
    summary, ours = served(umap), _hosts_of(umap)
    _LAST[:] = [(umap, summary, ours)]
    return summary, ours


def serves(umap: Any, host: str, backend_bucket: str) -> bool:
    """True when the live map serves exactly the policy for `host` and 404 elsewhere."""
    default, route = wanted(host, backend_bucket)
    live = _summary(umap)[0]
    same_default: bool = live["default"] == default
    return same_default and live["hosts"].get(host) == route


def wanted(host: str, backend_bucket: str) -> tuple[tuple[str, str], Any]:
    """`served(build(..., backend_bucket, {host}))`'s default and host entry, without
    building a map (a proto map a host cost 3 ms: 3 s a 1,000-domain plan)."""
    default = (_last(backend_bucket), NOT_FOUND_PREFIX)
    route = (1, (POLICY_PATH,), _last(backend_bucket), f"/{host}{POLICY_PATH}")
    return default, (default, (route,), ())
