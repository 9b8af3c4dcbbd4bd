"""The shared half of the endpoint: ONE global external Application Load Balancer.

Pieces, all named `<prefix>-lb-...` (Compute names are RFC 1035 labels of at most 63
characters; the prefix is at most 20), created once and shared by every domain:
- global static addresses `-lb-ipv4` and `-lb-ipv6` (stable A/AAAA targets);
- backend bucket `-lb-policies` on the policy bucket, Cloud CDN off (a cached policy would
  outlive an update: https://cloud.google.com/cdn/docs/caching);
- SSL policy `-lb-tls12`: profile MODERN, minimum TLS 1.2 (RFC 8461 section 3.3 requires a
  TLS server authenticated with a valid certificate; 1.0/1.1 are deprecated by RFC 8996);
- URL map `-lb-urls` (see `providers.gcp.urlmap`), target HTTPS proxy `-lb-https` with the
  Certificate Manager map and the SSL policy;
- forwarding rules `-lb-https-ipv4` / `-lb-https-ipv6`, one per address (a forwarding rule
  has one IP), port 443 only, scheme EXTERNAL_MANAGED (the global external Application Load
  Balancer). Nothing listens on 80, so no redirect to HTTPS can ever be served on a policy
  host (https://cloud.google.com/load-balancing/docs/https).

The fixed word `lb` after the prefix keeps another deployment's longer prefix from producing
one of these names (prefix `a-lb` makes `a-lb-lb-ipv4`, never `a-lb-ipv4`).

Creation follows the references (the API answers "not ready" for a reference to a
resource whose operation is running): addresses, backend bucket and SSL policy side by
side; the URL map; the proxy; the forwarding rules. Teardown is the reverse.
API reference: https://cloud.google.com/compute/docs/reference/rest/v1 (globalAddresses,
backendBuckets, sslPolicies, urlMaps, targetHttpsProxies, globalForwardingRules).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from google.api_core import exceptions as google_exceptions
from google.cloud import compute_v1

from providers.gcp import urlmap
from providers.gcp.compute import Compute, Pending
from provisioner.errors import ProviderError

MIN_TLS = "TLS_1_2"
WEAKER_TLS = ("TLS_1_0", "TLS_1_1")
"""An SSL policy of mtasts's name allowing these is patched to MIN_TLS; TLS_1_3 (stricter,
somebody's choice) is left as it is."""
PORT = "443"
SCHEME = "EXTERNAL_MANAGED"

OWNED = "mtasts"
"""How every description mtasts gives a shared piece starts: the mark of ownership."""
LABELS = {
    "addresses": "address",
    "backendBuckets": "backend bucket",
    "sslPolicies": "SSL policy",
    "urlMaps": "URL map",
    "targetHttpsProxies": "target HTTPS proxy",
    "forwardingRules": "forwarding rule",
}

Live = dict[str, dict[str, Any]]
"""collection -> name -> the resource as listed (mtasts's names only)."""


@dataclass(frozen=True)
class Names:
    """The shared pieces' names for one prefix."""

    prefix: str

    def _n(self, suffix: str) -> str:
        return f"{self.prefix}-lb-{suffix}"

    @property
    def ipv4(self) -> str:
        return self._n("ipv4")

    @property
    def ipv6(self) -> str:
        return self._n("ipv6")

    @property
    def backend_bucket(self) -> str:
        return self._n("policies")

    @property
    def ssl_policy(self) -> str:
        return self._n("tls12")

    @property
    def url_map(self) -> str:
        return self._n("urls")

    @property
    def proxy(self) -> str:
        return self._n("https")

    @property
    def rule_ipv4(self) -> str:
        return self._n("https-ipv4")

    @property
    def rule_ipv6(self) -> str:
        return self._n("https-ipv6")

    def by_collection(self) -> dict[str, tuple[str, ...]]:
        return {
            "addresses": (self.ipv4, self.ipv6),
            "backendBuckets": (self.backend_bucket,),
            "sslPolicies": (self.ssl_policy,),
            "urlMaps": (self.url_map,),
            "targetHttpsProxies": (self.proxy,),
            "forwardingRules": (self.rule_ipv4, self.rule_ipv6),
        }


TEARDOWN = (
    ("forwardingRules",),
    ("targetHttpsProxies",),
    ("urlMaps",),
    ("sslPolicies", "backendBuckets", "addresses"),
)


def last(link: str) -> str:
    return link.rsplit("/", 1)[-1]


class LoadBalancer:
    def __init__(self, compute: Compute, names: Names, bucket: str, certificate_map: str) -> None:
        self.compute = compute
        self.names = names
        self.bucket = bucket
        self.certificate_map = certificate_map
        """`//certificatemanager.googleapis.com/projects/.../certificateMaps/<id>`."""

    def link(self, collection: str, name: str) -> str:
        return f"projects/{self.compute.project}/global/{collection}/{name}"

    # Reading

    def read(self, collection: str) -> dict[str, Any]:
        """mtasts's pieces of `collection` by name; ProviderError for one that only has the
        name: mtasts marks what it creates with a description starting `mtasts`, and never
        patches, rewires or deletes another's load balancer (a `name_prefix` collision)."""
        wanted = set(self.names.by_collection()[collection])
        found = {r.name: r for r in self.compute.list(collection) if r.name in wanted}
        for name, resource in sorted(found.items()):
            if not (resource.description or "").startswith(OWNED):
                raise ProviderError(
                    f"{self.compute.provider}: {LABELS[collection]} {name} in project "
                    f"{self.compute.project} was not created by mtasts (description "
                    f"{resource.description[:80]!r}); mtasts never takes over another's resource: "
                    "set name_prefix to a prefix of your own"
                )
        return found

    def needs(self, live: Live, certificate_map: bool) -> list[str]:
        """What the shared pieces lack, in words for the plan ([] when complete)."""
        n = self.names
        needs: list[str] = []
        addresses = live["addresses"]
        for name, label in ((n.ipv4, "IPv4 address"), (n.ipv6, "IPv6 address")):
            if name not in addresses:
                needs.append(label)
        bb = live["backendBuckets"].get(n.backend_bucket)
        if bb is None or bb.bucket_name != self.bucket or bb.enable_cdn:
            needs.append("backend bucket")
        ssl = live["sslPolicies"].get(n.ssl_policy)
        if ssl is None or _weak(ssl):
            needs.append("SSL policy TLS 1.2")
        if n.url_map not in live["urlMaps"]:
            needs.append("URL map")
        if not certificate_map:
            needs.append("certificate map")
        if not self._proxy_ok(live.get("targetHttpsProxies", {}).get(n.proxy)):
            needs.append("HTTPS proxy")
        for name, label in ((n.rule_ipv4, "IPv4"), (n.rule_ipv6, "IPv6")):
            if not self._rule_ok(live["forwardingRules"].get(name)):
                needs.append(f"forwarding rule 443 {label}")
        return needs

    def _proxy_ok(self, proxy: Any) -> bool:
        n = self.names
        return (
            proxy is not None
            and last(proxy.url_map) == n.url_map
            and last(proxy.ssl_policy) == n.ssl_policy
            and last(proxy.certificate_map) == last(self.certificate_map)
        )

    def _rule_ok(self, rule: Any) -> bool:
        return (
            rule is not None
            and last(rule.target) == self.names.proxy
            and rule.port_range in (PORT, f"{PORT}-{PORT}")
        )

    def ip_addresses(self, live: Live) -> tuple[str, ...]:
        found = (live["addresses"].get(self.names.ipv4), live["addresses"].get(self.names.ipv6))
        return tuple(a.address for a in found if a is not None and a.address)

    # Creating

    def ensure_base(self, live: Live) -> None:
        """Addresses, backend bucket, SSL policy: the pieces that reference nothing."""
        n = self.names
        pending: list[Pending | None] = []
        for name, version in ((n.ipv4, "IPV4"), (n.ipv6, "IPV6")):
            if name not in live["addresses"]:
                address = compute_v1.Address(
                    name=name,
                    ip_version=version,
                    address_type="EXTERNAL",
                    description="mtasts: MTA-STS policy endpoint",
                )
                pending.append(self.compute.insert("addresses", address))
        bb = live["backendBuckets"].get(n.backend_bucket)
        wanted_bb = compute_v1.BackendBucket(
            name=n.backend_bucket,
            bucket_name=self.bucket,
            enable_cdn=False,
            description="mtasts: MTA-STS policies",
        )
        if bb is None:
            pending.append(self.compute.insert("backendBuckets", wanted_bb))
            live["backendBuckets"][n.backend_bucket] = wanted_bb
        elif bb.bucket_name != self.bucket or bb.enable_cdn:
            request = compute_v1.PatchBackendBucketRequest(
                project=self.compute.project,
                backend_bucket=n.backend_bucket,
                backend_bucket_resource=compute_v1.BackendBucket(
                    bucket_name=self.bucket, enable_cdn=False
                ),
                request_id=str(uuid.uuid4()),
            )
            pending.append(
                self.compute.mutate(
                    f"updating backend bucket {n.backend_bucket}",
                    compute_v1.BackendBucketsClient,
                    "patch_unary",
                    request,
                )
            )
            live["backendBuckets"][n.backend_bucket] = wanted_bb
        ssl = live["sslPolicies"].get(n.ssl_policy)
        if ssl is not None and _weak(ssl):
            pending.append(self._strengthen(ssl))
            live["sslPolicies"][n.ssl_policy] = compute_v1.SslPolicy(
                name=n.ssl_policy, min_tls_version=MIN_TLS, profile=ssl.profile
            )
        elif ssl is None:
            policy = compute_v1.SslPolicy(
                name=n.ssl_policy,
                min_tls_version=MIN_TLS,
                profile="MODERN",
                description="mtasts: TLS 1.2 or later",
            )
            pending.append(self.compute.insert("sslPolicies", policy))
            live["sslPolicies"][n.ssl_policy] = policy
        if not pending:
            return
        self.compute.wait(pending)
        if len(live["addresses"]) < 2:
            live["addresses"] = self.read("addresses")  # the IPs Google gave them

    def _strengthen(self, ssl: Any) -> Pending | None:
        """Patch the SSL policy's minTlsVersion to TLS 1.2 under its fingerprint.

        sslPolicies.patch needs the current fingerprint (412 conditionNotMet otherwise:
        https://cloud.google.com/compute/docs/reference/rest/v1/sslPolicies/patch). On a 412
        (someone changed it since the read) the policy is read again and, if still weaker,
        patched once more; a second 412 is one line. Only `minTlsVersion` is sent: the
        profile and custom features stay as they are.
        """
        name = self.names.ssl_policy
        for attempt in (1, 2):
            request = compute_v1.PatchSslPolicyRequest(
                project=self.compute.project,
                ssl_policy=name,
                ssl_policy_resource=compute_v1.SslPolicy(
                    min_tls_version=MIN_TLS, fingerprint=ssl.fingerprint
                ),
                request_id=str(uuid.uuid4()),
            )
            try:
                return self.compute.mutate(
                    f"raising SSL policy {name} to TLS 1.2",
                    compute_v1.SslPoliciesClient,
                    "patch_unary",
                    request,
                )
            except ProviderError as exc:
                stale = isinstance(exc.__context__, google_exceptions.PreconditionFailed)
                if not stale or attempt == 2:
                    raise
                ssl = self.compute.get("sslPolicies", name)
                if not _weak(ssl):
                    return None
        raise AssertionError("unreachable")

    def ensure_url_map(self, live: Live, add: set[str], drop: set[str]) -> None:
        """The URL map serving (its hosts | add) - drop: one insert or one patch.

        The change is a `urlMaps.patch` of `hostRules` and `pathMatchers` under the map's
        fingerprint, foreign entries kept as read (`urlmap.merged`, whose docstring says why
        not narrower and why not PUT); a whole `update` only when the map's default route
        is wrong too or no host rule would be left (a merge patch cannot empty a list). A
        412 (somebody changed the map since it was read) reads it again and merges once
        more, so their change is kept, not overwritten; a second 412 is one line.
        """
        n = self.names
        bb_link = self.link("backendBuckets", n.backend_bucket)
        current = live["urlMaps"].get(n.url_map)
        if current is None:
            if not add - drop:
                return
            built = urlmap.build(n.url_map, bb_link, add - drop)
            self.compute.wait([self.compute.insert("urlMaps", built)])
            live["urlMaps"][n.url_map] = built  # no fingerprint: an update re-reads (412)
            return
        for attempt in (1, 2):
            desired = urlmap.merged(current, bb_link, (urlmap.hosts_of(current) | add) - drop)
            now, then = urlmap.served(current), urlmap.served(desired)
            if now == then:
                return
            request: Any
            if now["default"] == then["default"] and desired.host_rules:
                method = "patch_unary"
                request = compute_v1.PatchUrlMapRequest(
                    project=self.compute.project,
                    url_map=n.url_map,
                    url_map_resource=compute_v1.UrlMap(
                        host_rules=desired.host_rules,
                        path_matchers=desired.path_matchers,
                        fingerprint=current.fingerprint,
                    ),
                    request_id=str(uuid.uuid4()),
                )
            else:
                method = "update_unary"
                desired.fingerprint = current.fingerprint
                request = compute_v1.UpdateUrlMapRequest(
                    project=self.compute.project,
                    url_map=n.url_map,
                    url_map_resource=desired,
                    request_id=str(uuid.uuid4()),
                )
            try:
                operation = self.compute.mutate(
                    f"updating URL map {n.url_map}", compute_v1.UrlMapsClient, method, request
                )
            except ProviderError as exc:
                if not isinstance(exc.__context__, google_exceptions.PreconditionFailed):
                    raise
                if attempt == 2:
                    raise ProviderError(
                        f"{self.compute.provider}: URL map {n.url_map} changed again while "
                        "mtasts updated it (HTTP 412, stale fingerprint, twice): another "
                        "writer is at work; nothing of mtasts's change was applied; run "
                        "apply again"
                    ) from None
                current = self.compute.get("urlMaps", n.url_map)
                continue
            self.compute.wait([operation])
            live["urlMaps"][n.url_map] = desired
            return

    def ensure_front(self, live: Live) -> None:
        """The proxy (URL map, SSL policy, certificate map), then a 443 rule per address."""
        self._ensure_proxy(live)
        self._ensure_rules(live)

    def _ensure_proxy(self, live: Live) -> None:
        n = self.names
        proxy = live["targetHttpsProxies"].get(n.proxy)
        if proxy is None:
            wanted = compute_v1.TargetHttpsProxy(
                name=n.proxy,
                url_map=self.link("urlMaps", n.url_map),
                ssl_policy=self.link("sslPolicies", n.ssl_policy),
                certificate_map=self.certificate_map,
                description="mtasts: MTA-STS policy endpoint",
            )
            self.compute.wait([self.compute.insert("targetHttpsProxies", wanted)])
            live["targetHttpsProxies"][n.proxy] = wanted
            return
        project, proxy_name = self.compute.project, n.proxy
        fixes: list[tuple[str, str, Any]] = []
        # The certificate map first: the API checks every reference of the proxy.
        if last(proxy.certificate_map) != last(self.certificate_map):
            body = compute_v1.TargetHttpsProxiesSetCertificateMapRequest(
                certificate_map=self.certificate_map
            )
            request: Any = compute_v1.SetCertificateMapTargetHttpsProxyRequest(
                project=project,
                target_https_proxy=proxy_name,
                target_https_proxies_set_certificate_map_request_resource=body,
            )
            fixes.append(
                ("setting the proxy's certificate map", "set_certificate_map_unary", request)
            )
        if last(proxy.url_map) != n.url_map:
            reference = compute_v1.UrlMapReference(url_map=self.link("urlMaps", n.url_map))
            request = compute_v1.SetUrlMapTargetHttpsProxyRequest(
                project=project, target_https_proxy=proxy_name, url_map_reference_resource=reference
            )
            fixes.append(("setting the proxy's URL map", "set_url_map_unary", request))
        if last(proxy.ssl_policy) != n.ssl_policy:
            ssl = compute_v1.SslPolicyReference(ssl_policy=self.link("sslPolicies", n.ssl_policy))
            request = compute_v1.SetSslPolicyTargetHttpsProxyRequest(
                project=project, target_https_proxy=proxy_name, ssl_policy_reference_resource=ssl
            )
            fixes.append(("setting the proxy's SSL policy", "set_ssl_policy_unary", request))
        # One at a time: a resource with a running operation answers "not ready".
        for doing, method, request in fixes:
            client = compute_v1.TargetHttpsProxiesClient
            self.compute.wait([self.compute.mutate(doing, client, method, request)])
        if fixes:
            live["targetHttpsProxies"] = self.read("targetHttpsProxies")

    def _ensure_rules(self, live: Live) -> None:
        n = self.names
        pending: list[Pending | None] = []
        for name, address in ((n.rule_ipv4, n.ipv4), (n.rule_ipv6, n.ipv6)):
            rule = live["forwardingRules"].get(name)
            if rule is not None and self._rule_ok(rule):
                continue
            if rule is not None:  # a port cannot be changed in place: delete, create
                self.compute.wait([self.compute.delete("forwardingRules", name)])
            wanted_rule = compute_v1.ForwardingRule(
                name=name,
                I_p_address=self.link("addresses", address),
                I_p_protocol="TCP",
                port_range=PORT,
                target=self.link("targetHttpsProxies", n.proxy),
                load_balancing_scheme=SCHEME,
                network_tier="PREMIUM",
                description="mtasts: HTTPS only",
            )
            pending.append(self.compute.insert("forwardingRules", wanted_rule))
            live["forwardingRules"][name] = wanted_rule
        self.compute.wait(pending)

    # Removing

    def teardown(self, live: Live) -> None:
        """Delete every shared piece that exists, users before what they use."""
        for step in TEARDOWN:
            pending = [
                self.compute.delete(collection, name)
                for collection in step
                for name in sorted(live.get(collection, {}))
            ]
            self.compute.wait(pending)
            for collection in step:
                live[collection] = {}


def _weak(ssl: Any) -> bool:
    """True when the SSL policy allows TLS below 1.2 (unset means TLS_1_0, the API default)."""
    return (ssl.min_tls_version or "TLS_1_0") in WEAKER_TLS
