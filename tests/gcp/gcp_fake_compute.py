"""A local fake of the Compute Engine v1 REST subset behind one global external Application
Load Balancer, over real HTTP, checked against google-cloud-compute's REST transport.

Paths under `/compute/v1/projects/{project}/`: `global/addresses`, `global/backendBuckets`,
`global/urlMaps`, `global/targetHttpsProxies`, `global/sslPolicies`,
`global/forwardingRules` (insert/get/list/delete; PATCH, a JSON merge patch, for backend
buckets, URL maps, proxies and SSL policies; PUT for URL maps),
`targetHttpsProxies/{p}/setUrlMap` (no `/global/`, as in the real API),
`global/targetHttpsProxies/{p}/setCertificateMap` and `setSslPolicy`,
`global/forwardingRules/{f}/setTarget`, `global/operations/{op}` (GET) and
`global/operations/{op}/wait` (POST).

Modelled as the real API does it:
- every mutation answers a global Operation (PENDING/RUNNING, DONE after
  `operation_polls` GETs; a `wait` finishes it unless `wait_advance` says otherwise);
  a resource whose operation is not DONE is "not ready": referencing or changing it answers
  400 `resourceNotReady`. A repeated `requestId` answers the first operation (idempotent
  retries). State changes when the request is accepted; GET shows the resource at once;
- errors in Compute's envelope: 409 `alreadyExists`, 404 `notFound`, 412 `conditionNotMet`
  (URL map / proxy / SSL policy `fingerprint` missing or stale on update/patch), 400
  `resourceInUseByAnotherResource` (deleting what another resource references), 400
  `invalid` (bad names, dangling references, URL map rules, a URL map over
  `url_map_max_bytes`: 1 MB for EXTERNAL_MANAGED, the classic ALB's 64 KB is a setting);
- references are returned as full `https://www.googleapis.com/compute/v1/...` links
  whatever form was sent; a forwarding rule's `IPAddress` is returned as the literal IP;
  addresses get an `address` on insert and `status` RESERVED / IN_USE with `users`;
- URL maps resolve a (host, path) like the load balancer: host rules (exact, then the
  longest `*.`/`*-` wildcard, then `*`) -> path matcher -> routeRules by priority
  (prefixMatch / fullPathMatch / regexMatch, ignoreCase) or pathRules (longest match,
  `/x/*` prefixes) -> `urlRewrite.pathPrefixRewrite` / `hostRewrite` -> default service.
  `resolve()` answers a `Route` naming the backend bucket, its GCS bucket and object key;
- an operation can end in error (`fail_operations`, e.g. `QUOTA_EXCEEDED`, with
  `httpErrorStatusCode` 403) with nothing changed.

For tests: `seed(collection, body)` stores a resource as if inserted and DONE, `get()` /
`names()` look, `finish_operations()` ends every pending operation, `frontend(port)` is the
forwarding rule -> proxy -> URL map chain; faults and counting come from gcp_fake_http.

Not modelled: backend services, health checks, regional resources, header and query
parameter matches (`resolve` raises on them), weights (the heaviest backend wins), list
`filter`/`orderBy` (400), `aggregated` lists, quotas other than URL map size, CDN
behaviour. Whether a certificate map exists is asked of `certificate_map_exists` if set.
"""

from __future__ import annotations

import base64
import copy
import ipaddress
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from gcp_fake_http import ApiError, FakeGoogleApi

LINK = "https://www.googleapis.com/compute/v1/"
_NAME = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
_REF = re.compile(
    r"(?:(?:.*/)?projects/(?P<project>[^/]+)/)?global/(?P<coll>[A-Za-z]+)/(?P<name>[^/]+)"
    r"|(?P<bare>[a-z][-a-z0-9]*)"
)
KINDS = {
    "addresses": "address",
    "backendBuckets": "backendBucket",
    "urlMaps": "urlMap",
    "targetHttpsProxies": "targetHttpsProxy",
    "sslPolicies": "sslPolicy",
    "forwardingRules": "forwardingRule",
}
_FINGERPRINTED = {"urlMaps", "targetHttpsProxies", "sslPolicies"}
_PATCHABLE = {"backendBuckets", "urlMaps", "targetHttpsProxies", "sslPolicies"}
_RULE_KEYS = ("prefixMatch", "fullPathMatch", "regexMatch", "pathTemplateMatch")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def new_fingerprint() -> str:
    return base64.b64encode(os.urandom(8)).decode()


def link(project: str, collection: str, name: str) -> str:
    return f"{LINK}projects/{project}/global/{collection}/{name}"


@dataclass(frozen=True)
class Route:
    """Where the load balancer sends a request: `backend_bucket` None means a 404 from the
    load balancer itself (no service, or a redirect in `redirect`)."""

    backend_bucket: str | None
    bucket: str | None
    object_key: str | None
    host: str
    path: str
    redirect: dict[str, Any] | None = None


class FakeCompute(FakeGoogleApi):
    style = "compute"
    service = "compute.googleapis.com"

    def __init__(self) -> None:
        super().__init__()
        self.operation_polls = 1
        """GETs of an operation before it is DONE (0: DONE in the mutation's answer)."""
        self.wait_advance: int | None = None
        """Polls one `wait` counts for; None: `wait` answers DONE, as the real one does
        within its two minutes."""
        self.url_map_max_bytes = 1_000_000
        self.certificate_map_exists: Callable[[str], bool] | None = None
        self.clear()

    def clear(self) -> None:
        self.resources: dict[str, dict[str, dict[str, Any]]] = {c: {} for c in KINDS}
        """collection -> "project/name" -> resource, as the API shows it."""
        self.operations: dict[str, dict[str, Any]] = {}
        self._remaining: dict[str, int] = {}
        self._busy: dict[str, str] = {}
        """"collection/project/name" -> name of its operation not yet DONE."""
        self._request_ids: dict[str, str] = {}
        self._serial = 0
        self._ips = 0

    # Seeding and looking, for tests

    def get(self, collection: str, name: str, project: str = "p") -> dict[str, Any] | None:
        with self.lock:
            found = self.resources[collection].get(f"{project}/{name}")
            return self._show(collection, found) if found else None

    def names(self, collection: str, project: str = "p") -> list[str]:
        with self.lock:
            return sorted(
                k.split("/", 1)[1]
                for k in self.resources[collection]
                if k.startswith(project + "/")
            )

    def seed(self, collection: str, body: dict[str, Any], project: str = "p") -> dict[str, Any]:
        """Store a resource as if inserted and DONE (references are checked the same way)."""
        with self.lock:
            if f"{project}/{body['name']}" in self.resources[collection]:
                raise ApiError(409, f"{collection}/{body['name']} already exists")
            built = self._build(project, collection, body, None)
            self.resources[collection][f"{project}/{body['name']}"] = built
            return self._show(collection, built)

    def finish_operations(self) -> None:
        with self.lock:
            for name in list(self._remaining):
                self._advance(name, 10**9)

    # Routing

    def route(self, method: str, path: str, query: dict[str, str], body: Any) -> Any:
        m = re.fullmatch(
            r"/compute/v1/projects/([^/]+)/(global/)?([A-Za-z]+)(?:/([^/]+))?"
            r"(?:/([A-Za-z]+))?",
            path,
        )
        if not m:
            raise ApiError(404, f"The requested URL {path} was not found on this server.")
        project, is_global, collection, name, verb = m.groups()
        with self.lock:
            if collection == "operations" and is_global and name:
                return self._poll(name, wait=verb == "wait" and method == "POST")
            if collection not in KINDS or (verb == "setUrlMap") == bool(is_global):
                raise ApiError(404, f"The requested URL {path} was not found on this server.")
            if name is None and method == "GET":
                return self._list(project, collection, query)
            if name is None and method == "POST":
                return self._mutate(project, collection, body["name"], "insert", body, query)
            if name is not None and method == "GET" and verb is None:
                return self._show(collection, self._find(project, collection, name))
            op = {"DELETE": "delete", "PUT": "update", "PATCH": "patch"}.get(method, verb)
            if name is not None and op is not None and (verb is None) == (method != "POST"):
                return self._mutate(project, collection, name, op, body or {}, query)
        raise ApiError(404, f"The requested URL {path} was not found on this server.")

    def _show(self, collection: str, resource: dict[str, Any]) -> dict[str, Any]:
        """The resource as the API shows it: an address says who uses it."""
        shown = copy.deepcopy(resource)
        if collection == "addresses":
            users = [
                r["selfLink"]
                for r in self.resources["forwardingRules"].values()
                if r["IPAddress"] == resource["address"]
            ]
            shown["status"] = "IN_USE" if users else "RESERVED"
            if users:
                shown["users"] = users
        return shown

    def _find(self, project: str, collection: str, name: str) -> dict[str, Any]:
        found = self.resources[collection].get(f"{project}/{name}")
        if found is None:
            raise ApiError(
                404, f"The resource 'projects/{project}/global/{collection}/{name}' was not found"
            )
        return found

    def _list(self, project: str, collection: str, query: dict[str, str]) -> dict[str, Any]:
        if query.get("filter") or query.get("orderBy"):
            raise ApiError(400, "The fake does not implement list filter/orderBy.")
        size = min(int(query.get("maxResults") or 500), 500)
        start = int(query.get("pageToken") or 0)
        items = [
            self._show(collection, r)
            for k, r in sorted(self.resources[collection].items())
            if k.startswith(project + "/")
        ]
        answer: dict[str, Any] = {
            "kind": f"compute#{KINDS[collection]}List",
            "id": f"projects/{project}/global/{collection}",
            "selfLink": f"{LINK}projects/{project}/global/{collection}",
        }
        if items[start : start + size]:
            answer["items"] = items[start : start + size]
        if start + size < len(items):
            answer["nextPageToken"] = str(start + size)
        return answer

    # Operations

    def _operation(self, project: str, kind: str, target: str, target_id: str) -> dict[str, Any]:
        self._serial += 1
        name = f"operation-{self._serial:06d}-{os.urandom(4).hex()}"
        op = {
            "kind": "compute#operation",
            "id": str(int.from_bytes(os.urandom(7), "big")),
            "name": name,
            "operationType": kind,
            "targetLink": target,
            "targetId": target_id,
            "status": "PENDING" if self.operation_polls > 1 else "RUNNING",
            "progress": 0,
            "user": "fake@example.com",
            "insertTime": now(),
            "startTime": now(),
            "selfLink": f"{LINK}projects/{project}/global/operations/{name}",
        }
        self.operations[name] = op
        self._remaining[name] = self.operation_polls
        self._advance(name, 0)
        return op

    def _advance(self, name: str, polls: int) -> None:
        if name not in self._remaining:
            return
        left = self._remaining[name] - polls
        self._remaining[name] = left
        op = self.operations[name]
        if left > 0:
            op["status"] = "PENDING" if left > 1 and op["status"] == "PENDING" else "RUNNING"
            return
        del self._remaining[name]
        op.update(status="DONE", progress=100, endTime=now())
        self._fail(op)
        for key in [k for k, v in self._busy.items() if v == name]:
            del self._busy[key]

    @staticmethod
    def _fail(op: dict[str, Any]) -> None:
        if "_error" in op:
            op.update(error=op.pop("_error"), httpErrorStatusCode=403, httpErrorMessage="FORBIDDEN")

    def _poll(self, name: str, wait: bool) -> dict[str, Any]:
        if name not in self.operations:
            raise ApiError(404, f"The resource 'operations/{name}' was not found")
        if wait and self.wait_advance is None:
            self._advance(name, 10**9)
        else:
            self._advance(name, self.wait_advance if wait and self.wait_advance else 1)
        return _public(self.operations[name])

    # Mutations

    def _mutate(
        self, project: str, collection: str, name: str, op: str, body: Any, query: dict[str, str]
    ) -> dict[str, Any]:
        request_id = query.get("requestId")
        if request_id and request_id in self._request_ids:
            return _public(self.operations[self._request_ids[request_id]])
        key = f"{project}/{name}"
        target_id = self.resources[collection].get(key, {}).get("id", "0")
        saved = copy.deepcopy(self.resources) if self.operation_failure() else self.resources
        if op != "insert":
            self._find(project, collection, name)
            self._ready(collection, project, name)
        store = self.resources[collection]
        if op == "insert":
            if not isinstance(name, str) or not _NAME.fullmatch(name):
                raise ApiError(
                    400,
                    f"Invalid value for field 'resource.name': '{name}'. Must "
                    "be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'",
                )
            if key in store:
                raise ApiError(
                    409,
                    f"The resource 'projects/{project}/global/{collection}/{name}' already exists",
                )
            store[key] = self._build(project, collection, body, None)
        elif op == "delete":
            self._check_unused(project, collection, name)
            del store[key]
        elif op in ("update", "patch"):
            if collection not in _PATCHABLE or (op == "update" and collection != "urlMaps"):
                raise ApiError(404, f"{op} is not supported on {collection}")
            old = store[key]
            self._check_fingerprint(collection, old, body)
            merged = _merge_patch(old, body) if op == "patch" else {**body}
            merged["name"] = name
            store[key] = self._build(project, collection, merged, old)
        else:
            store[key] = self._build(
                project, collection, {**store[key], **self._set(op, body)}, store[key]
            )
        self_link = link(project, collection, name)
        target_id = (store.get(key) or {}).get("id", target_id)
        operation = self._operation(project, op, self_link, target_id)
        failure = self.operation_failure()
        if failure is not None:
            self.resources = saved
            operation["_error"] = {"errors": [{"code": failure.code, "message": failure.message}]}
            self._advance(operation["name"], 0)
            if operation["status"] == "DONE":
                self._fail(operation)
        if op != "delete" and operation["status"] != "DONE":
            self._busy[f"{collection}/{key}"] = operation["name"]
        if request_id:
            self._request_ids[request_id] = operation["name"]
        return _public(operation)

    @staticmethod
    def _set(verb: str, body: dict[str, Any]) -> dict[str, Any]:
        field_name = {
            "setUrlMap": "urlMap",
            "setCertificateMap": "certificateMap",
            "setSslPolicy": "sslPolicy",
            "setTarget": "target",
        }.get(verb)
        if field_name is None:
            raise ApiError(404, f"Unknown method {verb}")
        return {field_name: body.get(field_name)}

    def _ready(self, collection: str, project: str, name: str) -> None:
        if f"{collection}/{project}/{name}" in self._busy:
            raise ApiError(
                400,
                f"The resource 'projects/{project}/global/{collection}/{name}' is not ready",
                reason="resourceNotReady",
            )

    def _check_fingerprint(self, collection: str, old: dict[str, Any], body: Any) -> None:
        if collection in _FINGERPRINTED and body.get("fingerprint") != old.get("fingerprint"):
            raise ApiError(412, "Supplied fingerprint does not match current fingerprint.")

    def _ref(self, project: str, value: Any, collection: str, field_name: str) -> str:
        """A reference in any accepted form -> the full link; 400 when it names nothing."""
        m = _REF.fullmatch(str(value or ""))
        if not m or (m["coll"] or collection) != collection:
            raise ApiError(400, f"Invalid value for field '{field_name}': '{value}'.")
        ref_project = m["project"] or project
        name = m["name"] or m["bare"]
        if f"{ref_project}/{name}" not in self.resources[collection]:
            raise ApiError(
                400,
                f"Invalid value for field '{field_name}': '{value}'. The "
                f"resource 'projects/{ref_project}/global/{collection}/{name}' "
                "was not found",
                reason="invalid",
            )
        self._ready(collection, ref_project, name)
        return link(ref_project, collection, name)

    def _references(self, resource: dict[str, Any], collection: str) -> list[str]:
        """Links `resource` holds, as the API stores them (for the in-use check)."""
        if collection == "forwardingRules":
            return [resource["target"]] + [
                a["selfLink"]
                for a in self.resources["addresses"].values()
                if a["address"] == resource["IPAddress"]
            ]
        if collection == "targetHttpsProxies":
            return [resource.get("urlMap", ""), resource.get("sslPolicy", "")]
        if collection == "urlMaps":
            return list(_services(resource))
        return []

    def _check_unused(self, project: str, collection: str, name: str) -> None:
        target = link(project, collection, name)
        for other_collection, store in self.resources.items():
            for other in store.values():
                if target in self._references(other, other_collection):
                    raise ApiError(
                        400,
                        f"The {KINDS[collection]} resource '{target.removeprefix(LINK)}' "
                        f"is already being used by '{other['selfLink'].removeprefix(LINK)}'",
                        reason="resourceInUseByAnotherResource",
                    )

    def _build(
        self, project: str, collection: str, body: dict[str, Any], old: dict[str, Any] | None
    ) -> dict[str, Any]:
        name = body["name"]
        res = {
            k: v
            for k, v in copy.deepcopy(body).items()
            if k not in ("kind", "selfLink") and v is not None
        }
        res.update(
            kind=f"compute#{KINDS[collection]}",
            id=old["id"] if old else str(int.from_bytes(os.urandom(7), "big")),
            creationTimestamp=old["creationTimestamp"] if old else now(),
            selfLink=link(project, collection, name),
        )
        if collection in _FINGERPRINTED:
            res["fingerprint"] = new_fingerprint()
        builders: dict[str, Callable[[str, dict[str, Any]], None]] = {
            "addresses": self._build_address,
            "backendBuckets": self._build_backend_bucket,
            "urlMaps": self._build_url_map,
            "targetHttpsProxies": self._build_proxy,
            "sslPolicies": self._build_ssl_policy,
            "forwardingRules": self._build_forwarding_rule,
        }
        builders[collection](project, res)
        return res

    def _build_address(self, project: str, res: dict[str, Any]) -> None:
        res.setdefault("ipVersion", "IPV4")
        res.setdefault("addressType", "EXTERNAL")
        res.setdefault("networkTier", "PREMIUM")
        if "address" not in res:
            res["address"] = self._new_ip(res["ipVersion"])
        ipaddress.ip_address(res["address"])
        res["status"] = "RESERVED"

    def _build_backend_bucket(self, project: str, res: dict[str, Any]) -> None:
        if not res.get("bucketName"):
            raise ApiError(400, "Invalid value for field 'resource.bucketName': ''.")
        res.setdefault("enableCdn", False)

    def _build_ssl_policy(self, project: str, res: dict[str, Any]) -> None:
        res.setdefault("minTlsVersion", "TLS_1_0")
        res.setdefault("profile", "COMPATIBLE")
        if res["minTlsVersion"] not in ("TLS_1_0", "TLS_1_1", "TLS_1_2", "TLS_1_3"):
            raise ApiError(
                400, f"Invalid value for field 'resource.minTlsVersion': '{res['minTlsVersion']}'."
            )

    def _build_proxy(self, project: str, res: dict[str, Any]) -> None:
        res["urlMap"] = self._ref(project, res.get("urlMap"), "urlMaps", "resource.urlMap")
        if res.get("sslPolicy"):
            res["sslPolicy"] = self._ref(
                project, res["sslPolicy"], "sslPolicies", "resource.sslPolicy"
            )
        cert_map = res.get("certificateMap")
        if cert_map:
            if not re.fullmatch(
                r"//certificatemanager\.googleapis\.com/projects/[^/]+/"
                r"locations/global/certificateMaps/[^/]+",
                cert_map,
            ) or (self.certificate_map_exists and not self.certificate_map_exists(cert_map)):
                raise ApiError(
                    400, f"Invalid value for field 'resource.certificateMap': '{cert_map}'."
                )
        elif not res.get("sslCertificates"):
            raise ApiError(
                400,
                "At least one SSL certificate or a certificate map must be "
                "specified for target HTTPS proxy.",
            )

    def _build_forwarding_rule(self, project: str, res: dict[str, Any]) -> None:
        res["target"] = self._ref(
            project, res.get("target"), "targetHttpsProxies", "resource.target"
        )
        res.setdefault("IPProtocol", "TCP")
        res.setdefault("loadBalancingScheme", "EXTERNAL")
        res.setdefault("networkTier", "PREMIUM")
        ports = str(res.get("portRange") or "")
        if not re.fullmatch(r"\d+(-\d+)?", ports):
            raise ApiError(400, f"Invalid value for field 'resource.portRange': '{ports}'.")
        res["portRange"] = ports if "-" in ports else f"{ports}-{ports}"
        given = str(res.get("IPAddress") or "")
        if given and not _is_ip(given):
            address_link = self._ref(project, given, "addresses", "resource.IPAddress")
            given = self._by_link("addresses", address_link)["address"]
        res["IPAddress"] = given or self._new_ip(res.get("ipVersion", "IPV4"))
        res["ipVersion"] = "IPV6" if ":" in res["IPAddress"] else "IPV4"

    def _new_ip(self, version: str) -> str:
        self._ips += 1
        n = self._ips
        return f"34.120.{n // 250}.{n % 250 + 1}" if version == "IPV4" else f"2600:1901:0:{n:x}::"

    def _build_url_map(self, project: str, res: dict[str, Any]) -> None:
        for path, value in list(_service_fields(res)):
            _assign(
                res,
                path,
                self._ref(project, value, "backendBuckets", ".".join(str(p) for p in path)),
            )
        _validate_url_map(res)
        if len(json.dumps(res)) > self.url_map_max_bytes:
            raise ApiError(
                400,
                f"URL map exceeds the maximum size of {self.url_map_max_bytes} bytes.",
                reason="urlMapTooLarge",
            )

    # Serving: forwarding rule -> proxy -> URL map -> backend bucket object

    def frontend(
        self, port: int = 443, ip: str | None = None
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """The forwarding rule listening on `port` (and `ip`), its proxy and URL map."""
        with self.lock:
            return copy.deepcopy(self._frontend(port, ip))

    def _frontend(
        self, port: int, ip: str | None
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        for rule in self.resources["forwardingRules"].values():
            low, _, high = rule["portRange"].partition("-")
            if int(low) <= port <= int(high) and ip in (None, rule["IPAddress"]):
                proxy = self._by_link("targetHttpsProxies", rule["target"])
                return rule, proxy, self._by_link("urlMaps", proxy["urlMap"])
        raise LookupError(f"no forwarding rule on port {port}")

    def _by_link(self, collection: str, value: str) -> dict[str, Any]:
        project, name = value.split("/projects/")[1].split("/")[0], value.rsplit("/", 1)[1]
        return self.resources[collection][f"{project}/{name}"]

    def resolve(
        self,
        host: str,
        path: str,
        *,
        url_map: str | None = None,
        project: str = "p",
        port: int = 443,
        ip: str | None = None,
    ) -> Route:
        """Where the load balancer sends `https://host/path`: through the named URL map, or
        through the forwarding rule on `port` (and `ip`) and its proxy."""
        with self.lock:
            umap = (
                self._find(project, "urlMaps", url_map) if url_map else self._frontend(port, ip)[2]
            )
            route = _resolve(umap, host, path)
            if route.backend_bucket is None:
                return route
            bucket = self._by_link("backendBuckets", route.backend_bucket)
        key = unquote(route.path.split("?", 1)[0]).removeprefix("/")
        return Route(bucket["name"], bucket["bucketName"], key or None, route.host, route.path)


def _public(op: dict[str, Any]) -> dict[str, Any]:
    """An operation as answered: without the fake's own `_` keys."""
    return {k: copy.deepcopy(v) for k, v in op.items() if not k.startswith("_")}


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396, as Compute's PATCH documents: objects merge, null deletes, the rest replace."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge_patch(out.get(key), value)
    return out


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _service_fields(umap: dict[str, Any]) -> list[tuple[list[Any], str]]:
    """(path in the URL map, value) of every service reference."""
    out: list[tuple[list[Any], str]] = []

    def action(base: list[Any], obj: dict[str, Any], key: str) -> None:
        for i, w in enumerate(obj.get(key, {}).get("weightedBackendServices", [])):
            out.append(
                ([*base, key, "weightedBackendServices", i, "backendService"], w["backendService"])
            )

    for key in ("defaultService", "service"):
        if umap.get(key):
            out.append(([key], umap[key]))
    action([], umap, "defaultRouteAction")
    for i, pm in enumerate(umap.get("pathMatchers", [])):
        base = ["pathMatchers", i]
        if pm.get("defaultService"):
            out.append(([*base, "defaultService"], pm["defaultService"]))
        action(base, pm, "defaultRouteAction")
        for kind in ("pathRules", "routeRules"):
            for j, rule in enumerate(pm.get(kind, [])):
                if rule.get("service"):
                    out.append(([*base, kind, j, "service"], rule["service"]))
                action([*base, kind, j], rule, "routeAction")
    return out


def _services(umap: dict[str, Any]) -> set[str]:
    return {value for _, value in _service_fields(umap)}


def _assign(obj: Any, path: list[Any], value: str) -> None:
    for step in path[:-1]:
        obj = obj[step]
    obj[path[-1]] = value


def _bad(field_name: str, why: str) -> ApiError:
    return ApiError(400, f"Invalid value for field 'resource.{field_name}': {why}")


def _validate_url_map(umap: dict[str, Any]) -> None:
    if not (
        umap.get("defaultService")
        or umap.get("defaultUrlRedirect")
        or umap.get("defaultRouteAction")
    ):
        raise _bad("defaultService", "a default service or redirect is required.")
    matchers = {pm.get("name") for pm in umap.get("pathMatchers", [])}
    if len(matchers) != len(umap.get("pathMatchers", [])):
        raise _bad("pathMatchers", "duplicate path matcher name.")
    hosts: set[str] = set()
    used: set[str] = set()
    for i, rule in enumerate(umap.get("hostRules", [])):
        if rule.get("pathMatcher") not in matchers:
            raise _bad(f"hostRules[{i}].pathMatcher", f"'{rule.get('pathMatcher')}' not found.")
        used.add(rule["pathMatcher"])
        for host in rule.get("hosts", []):
            if host.lower() in hosts:
                raise _bad(f"hostRules[{i}].hosts", f"duplicate host '{host}'.")
            if not re.fullmatch(
                r"(\*|(\*[.-])?[a-z0-9]([-a-z0-9.]*[a-z0-9])?)(:\d+)?", host.lower()
            ):
                raise _bad(f"hostRules[{i}].hosts", f"'{host}' is not a valid host pattern.")
            hosts.add(host.lower())
    for i, pm in enumerate(umap.get("pathMatchers", [])):
        where = f"pathMatchers[{i}]"
        if pm["name"] not in used:
            raise _bad(where, f"path matcher '{pm['name']}' is not used by any host rule.")
        if not (
            pm.get("defaultService") or pm.get("defaultUrlRedirect") or pm.get("defaultRouteAction")
        ):
            raise _bad(f"{where}.defaultService", "a default service or redirect is required.")
        if pm.get("pathRules") and pm.get("routeRules"):
            raise _bad(where, "only one of pathRules or routeRules may be set.")
        seen: set[str] = set()
        for j, rule in enumerate(pm.get("pathRules", [])):
            for p in rule.get("paths", []):
                if not re.fullmatch(r"/[^*?#]*(/\*)?|/\*", p) or p in seen:
                    raise _bad(f"{where}.pathRules[{j}].paths", f"invalid or duplicate '{p}'.")
                seen.add(p)
            _check_action(f"{where}.pathRules[{j}]", rule)
        priorities: set[int] = set()
        for j, rule in enumerate(pm.get("routeRules", [])):
            priority = int(rule.get("priority", -1))
            if not 0 <= priority <= 2147483647 or priority in priorities:
                raise _bad(f"{where}.routeRules[{j}].priority", "missing or duplicate.")
            priorities.add(priority)
            for k, match in enumerate(rule.get("matchRules", [])):
                given = [key for key in _RULE_KEYS if match.get(key)]
                if len(given) != 1 or (
                    given[0] != "regexMatch" and not match[given[0]].startswith("/")
                ):
                    raise _bad(
                        f"{where}.routeRules[{j}].matchRules[{k}]",
                        "exactly one path match starting with '/' is required.",
                    )
            _check_action(f"{where}.routeRules[{j}]", rule)


def _check_action(where: str, rule: dict[str, Any]) -> None:
    rewrite = rule.get("routeAction", {}).get("urlRewrite", {})
    prefix = rewrite.get("pathPrefixRewrite")
    if prefix is not None and not (prefix.startswith("/") and 1 <= len(prefix) <= 1024):
        raise _bad(f"{where}.routeAction.urlRewrite.pathPrefixRewrite", f"'{prefix}'.")
    if not (
        rule.get("service")
        or rule.get("urlRedirect")
        or rule.get("routeAction", {}).get("weightedBackendServices")
    ):
        raise _bad(where, "a service, weighted backend services or a redirect is required.")


def _host_match(pattern: str, host: str) -> int:
    """How specific a match `pattern` is for `host` (-1: none)."""
    pattern, host = pattern.lower().split(":")[0], host.lower().split(":")[0]
    if pattern == host:
        return 10**6
    if pattern == "*":
        return 0
    if pattern.startswith("*") and host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
        return len(pattern)
    return -1


def _target(obj: dict[str, Any], action_key: str) -> tuple[str | None, dict[str, Any] | None]:
    weighted = obj.get(action_key, {}).get("weightedBackendServices", [])
    if obj.get("service") or obj.get("defaultService"):
        return obj.get("service") or obj.get("defaultService"), None
    if weighted:
        return max(weighted, key=lambda w: w.get("weight", 0))["backendService"], None
    return None, obj.get("urlRedirect") or obj.get("defaultUrlRedirect")


def _rewrite(host: str, path: str, matched: str, action: dict[str, Any]) -> tuple[str, str]:
    rewrite = action.get("urlRewrite", {})
    if "pathPrefixRewrite" in rewrite:
        path = rewrite["pathPrefixRewrite"] + path[len(matched) :]
    return rewrite.get("hostRewrite", host), path


def _resolve(umap: dict[str, Any], host: str, path: str) -> Route:
    path = path.split("?", 1)[0] or "/"
    best, matcher_name = -1, None
    for rule in umap.get("hostRules", []):
        for pattern in rule.get("hosts", []):
            score = _host_match(pattern, host)
            if score > best:
                best, matcher_name = score, rule["pathMatcher"]
    node: dict[str, Any] = umap
    chosen: dict[str, Any] | None = None
    matched, action_key = "/", "defaultRouteAction"
    if matcher_name is not None:
        node = next(pm for pm in umap["pathMatchers"] if pm["name"] == matcher_name)
        for rule in sorted(node.get("routeRules", []), key=lambda r: int(r["priority"])):
            hit = next(
                (
                    m
                    for m in (_rule_match(mr, path) for mr in rule.get("matchRules", []))
                    if m is not None
                ),
                None,
            )
            if hit is not None:
                chosen, matched, action_key = rule, hit, "routeAction"
                break
        candidates = [
            (p, rule)
            for rule in node.get("pathRules", [])
            for p in rule["paths"]
            if (path.startswith(p[:-1]) if p.endswith("*") else path == p)
        ]
        if chosen is None and candidates:
            pattern, chosen = max(candidates, key=lambda c: len(c[0]))
            matched, action_key = pattern.rstrip("*") or "/", "routeAction"
    target = chosen if chosen is not None else node
    service, redirect = _target(target, action_key)
    new_host, new_path = _rewrite(host, path, matched, target.get(action_key, {}))
    return Route(service, None, None, new_host, new_path, redirect)


def _rule_match(rule: dict[str, Any], path: str) -> str | None:
    """The part of `path` a route rule's match rule matched, or None."""
    if rule.get("headerMatches") or rule.get("queryParameterMatches"):
        raise NotImplementedError("the fake resolves path matches only")
    fold = rule.get("ignoreCase", False)
    subject = path.lower() if fold else path
    if "prefixMatch" in rule:
        prefix = rule["prefixMatch"].lower() if fold else rule["prefixMatch"]
        return path[: len(prefix)] if subject.startswith(prefix) else None
    if "fullPathMatch" in rule:
        full = rule["fullPathMatch"].lower() if fold else rule["fullPathMatch"]
        return path if subject == full else None
    if "regexMatch" in rule:
        return path if re.fullmatch(rule["regexMatch"], path) else None
    raise NotImplementedError("pathTemplateMatch")


__all__ = ["FakeCompute", "Route"]
