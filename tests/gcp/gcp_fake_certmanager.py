"""A local fake of Certificate Manager v1 (global location), over real HTTP, checked against
google-cloud-certificate-manager's REST transport.

Paths under `/v1/projects/{project}/locations/global/`: `dnsAuthorizations`,
`certificates`, `certificateMaps`, `certificateMaps/{m}/certificateMapEntries` (POST with
`<kind>Id` in the query, GET, list, PATCH with `updateMask`, DELETE) and
`operations/{id}` (GET).

Modelled as the real API does it:
- every mutation answers a long-running operation (`done` false, then true after
  `operation_polls` GETs, `response` holding the resource with its `@type`, or
  `google.protobuf.Empty` for a delete); state changes when the request is accepted;
- a DNS authorization answers `dnsResourceRecord {name: _acme-challenge.<domain>., type:
  CNAME, data: <uuid>.<n>.authorize.certificatemanager.goog.}`, the same record for the same
  domain in the same project (FIXED_RECORD);
- a managed certificate needs one DNS authorization per domain (the domain itself, or its
  parent for `*.` names) and starts PROVISIONING; it turns ACTIVE once it was read
  `provisioning_polls` times (default 2: the first read still says PROVISIONING) and
  `provisioning_seconds` passed, and, when `public_cname` is set, only while that callback
  answers each authorization's CNAME target for its name (the tests' "public DNS").
  `fail(domain, reason)` makes its certificates FAILED with a `provisioningIssue`; a map
  entry is ACTIVE when its certificates are, else PENDING;
- lists page with `pageSize` (default 50, at most 1000) / `pageToken` / `nextPageToken`;
- errors in the AIP envelope (`status`; an ErrorInfo naming the quota on 429):
  409 ALREADY_EXISTS (also a hostname already in the map: a guess, the real code may be
  400), 404 NOT_FOUND, 400 INVALID_ARGUMENT, 400 FAILED_PRECONDITION (deleting a
  certificate a map entry uses, an authorization a certificate uses, a map that still has
  entries), 429 RESOURCE_EXHAUSTED from `rate_limit(300, 60)` (the API's default rate
  quota), `inject` or a resource quota set in `quotas`; an operation
  ending in error (`fail_operations`).

For tests: `seed(kind, id, body)`, `get(name)`, `names(kind)`, `fail(domain)`,
`finish_provisioning()`, `map_exists(ref)` (hand it to `FakeCompute.certificate_map_exists`)
and `serving_certificate(map_ref, host)`: the ACTIVE certificate a proxy would present.

Not modelled: self-managed certificates and issuance configs, trust configs, locations other
than `global`, list `filter`/`orderBy` (400), operation cancel/list, `gclbTargets` of maps,
real issuance (no PEM), PER_PROJECT_RECORD authorizations.
"""

from __future__ import annotations

import copy
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from gcp_fake_http import ApiError, FakeGoogleApi

TYPE = "type.googleapis.com/google.cloud.certificatemanager.v1."
PARENT = "projects/p/locations/global"
KINDS = {
    "dnsAuthorizations": ("dnsAuthorizationId", "DnsAuthorization"),
    "certificates": ("certificateId", "Certificate"),
    "certificateMaps": ("certificateMapId", "CertificateMap"),
    "certificateMapEntries": ("certificateMapEntryId", "CertificateMapEntry"),
}
_ID = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
_SCOPES = {0: "DEFAULT", 1: "EDGE_CACHE", 2: "ALL_REGIONS", 3: "CLIENT_AUTH"}
_READ_ONLY = {"name", "createTime", "updateTime", "dnsResourceRecord", "state", "sanDnsnames"}


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class FakeCertificateManager(FakeGoogleApi):
    style = "aip"
    service = "certificatemanager.googleapis.com"
    quota_name = "Requests per minute"

    def __init__(self) -> None:
        super().__init__()
        self.operation_polls = 1
        """GETs of an operation before it is done (0: done in the mutation's answer)."""
        self.provisioning_polls = 2
        """Reads (get or list) of a certificate before it may turn ACTIVE."""
        self.provisioning_seconds = 0.0
        self.quotas: dict[str, int] = {}
        """Resource quotas: kind (`certificates`, `certificateMapEntries`, ...) -> how many a
        project may hold; one more answers 429 RESOURCE_EXHAUSTED naming the quota."""
        self.public_cname: Callable[[str], str | None] | None = None
        """name (`_acme-challenge.mta-sts.example.com.`) -> CNAME target seen publicly."""
        self.clear()

    def clear(self) -> None:
        self.resources: dict[str, dict[str, Any]] = {}
        """full name (`projects/p/locations/global/certificates/c`) -> resource."""
        self.operations: dict[str, dict[str, Any]] = {}
        self._remaining: dict[str, int] = {}
        self._reads: dict[str, int] = {}
        self._born: dict[str, float] = {}
        self.failures: dict[str, str] = {}
        self._saved: dict[str, dict[str, Any]] = {}

    # Seeding and looking, for tests

    def get(self, name: str) -> dict[str, Any] | None:
        with self.lock:
            found = self.resources.get(name)
            return self._show(found, count=False) if found else None

    def names(self, kind: str) -> list[str]:
        with self.lock:
            return sorted(n for n in self.resources if n.split("/")[-2] == kind)

    def seed(
        self, kind: str, rid: str, body: dict[str, Any], parent: str = PARENT
    ) -> dict[str, Any]:
        """Store a resource as if created (the operation is left done and unpolled)."""
        with self.lock:
            op = self._create(parent, kind, {KINDS[kind][0]: rid}, body)
            response: dict[str, Any] = self._advance(op["name"], 10**9)["response"]
            return response

    def map_exists(self, reference: str) -> bool:
        """For `FakeCompute.certificate_map_exists`: `//certificatemanager.googleapis.com/
        projects/p/locations/global/certificateMaps/m` names a map here."""
        with self.lock:
            return reference.removeprefix("//certificatemanager.googleapis.com/") in self.resources

    def serving_certificate(self, certificate_map: str, hostname: str) -> dict[str, Any] | None:
        """The certificate a proxy with this map presents for `hostname` (SNI): the entry for
        the host, else the PRIMARY entry; None when there is none or it is not ACTIVE."""
        name = certificate_map.removeprefix("//certificatemanager.googleapis.com/")
        with self.lock:
            entries = [e for n, e in self.resources.items() if n.startswith(name + "/")]
            entry = next((e for e in entries if e.get("hostname") == hostname.lower()), None)
            entry = entry or next((e for e in entries if e.get("matcher") == "PRIMARY"), None)
            if entry is None:
                return None
            cert = self._show(self.resources[entry["certificates"][0]], count=False)
            return cert if cert["managed"]["state"] == "ACTIVE" else None

    def fail(self, domain: str, reason: str = "AUTHORIZATION_ISSUE") -> None:
        """Certificates for `domain` go FAILED (reason AUTHORIZATION_ISSUE or RATE_LIMITED)."""
        with self.lock:
            self.failures[domain] = reason

    def finish_provisioning(self) -> None:
        """Every certificate may turn ACTIVE on its next read (DNS checks still apply)."""
        with self.lock:
            self.provisioning_polls, self.provisioning_seconds = 0, 0.0

    # Routing

    def route(self, method: str, path: str, query: dict[str, str], body: Any) -> Any:
        m = re.fullmatch(r"/v1/(projects/[^/]+/locations/([^/]+))/(.+)", path)
        if not m:
            raise ApiError(404, f"Method not found: {path}")
        parent, location, rest = m.groups()
        if location != "global":
            raise ApiError(400, f"Location {location} is not supported by the fake.")
        parts = rest.split("/")
        with self.lock:
            if self.operation_failure():
                self._saved = copy.deepcopy(self.resources)
            if parts[0] == "operations" and len(parts) == 2 and method == "GET":
                return self._poll(f"{parent}/{rest}")
            kind = parts[-1] if len(parts) % 2 else parts[-2]
            valid = parts[0::2] in (
                [kind],
                ["certificateMaps", "certificateMapEntries"],
            )
            if kind not in KINDS or not valid:
                raise ApiError(404, f"Method not found: {path}")
            if len(parts) % 2:
                collection_parent = "/".join([parent, *parts[:-1]])
                if len(parts) > 1:
                    self._find(collection_parent)
                if method == "GET":
                    return self._list(collection_parent, kind, query)
                if method == "POST":
                    return self._create(collection_parent, kind, query, body or {})
            else:
                name = f"{parent}/{rest}"
                if method == "GET":
                    return self._show(self._find(name))
                if method == "DELETE":
                    return self._delete(name, kind)
                if method == "PATCH":
                    return self._patch(name, kind, query, body or {})
        raise ApiError(404, f"Method not found: {method} {path}")

    def _find(self, name: str) -> dict[str, Any]:
        found = self.resources.get(name)
        if found is None:
            raise ApiError(404, f"Resource '{name}' was not found")
        return found

    def _list(self, parent: str, kind: str, query: dict[str, str]) -> dict[str, Any]:
        if query.get("filter") or query.get("orderBy"):
            raise ApiError(400, "The fake does not implement list filter/orderBy.")
        size = int(query.get("pageSize") or 50)
        if not 0 < size <= 1000:
            size = 1000 if size > 1000 else 50
        token = query.get("pageToken") or "0"
        if not token.isdigit():
            raise ApiError(400, "The page token is invalid.")
        start = int(token)
        depth = parent.count("/") + 2
        found = [
            r
            for n, r in sorted(self.resources.items())
            if n.startswith(f"{parent}/{kind}/") and n.count("/") == depth
        ]
        answer: dict[str, Any] = {kind: [self._show(r) for r in found[start : start + size]]}
        if start + size < len(found):
            answer["nextPageToken"] = str(start + size)
        return answer

    # Operations

    def _operation(self, parent: str, verb: str, target: str, response: Any) -> dict[str, Any]:
        project_parent = "/".join(parent.split("/")[:4])
        name = f"{project_parent}/operations/operation-{uuid.uuid4().hex[:20]}"
        op = {
            "name": name,
            "metadata": {
                "@type": f"{TYPE}OperationMetadata",
                "createTime": now(),
                "target": target,
                "verb": verb,
                "requestedCancellation": False,
                "apiVersion": "v1",
            },
            "done": False,
            "_response": response,
        }
        failure = self.operation_failure()
        if failure is not None:
            self.resources = self._saved
            op["_response"] = {"error": {"code": failure.code, "message": failure.message}}
        self.operations[name] = op
        self._remaining[name] = self.operation_polls
        return self._advance(name, 0)

    def _advance(self, name: str, polls: int) -> dict[str, Any]:
        op = self.operations[name]
        if not op["done"]:
            self._remaining[name] -= polls
            if self._remaining[name] <= 0:
                op["done"] = True
                op["metadata"]["endTime"] = now()
                result = op.pop("_response")
                op.update(result if "error" in result else {"response": result})
        return {k: copy.deepcopy(v) for k, v in op.items() if not k.startswith("_")}

    def _poll(self, name: str) -> dict[str, Any]:
        if name not in self.operations:
            raise ApiError(404, f"Operation '{name}' was not found")
        return self._advance(name, 1)

    # Mutations

    def _create(self, parent: str, kind: str, query: dict[str, str], body: Any) -> Any:
        id_param, type_name = KINDS[kind]
        rid = query.get(id_param, "")
        if not _ID.fullmatch(rid):
            raise ApiError(400, f"Invalid {id_param} '{rid}': must match {_ID.pattern}")
        name = f"{parent}/{kind}/{rid}"
        if name in self.resources:
            raise ApiError(409, f"Resource '{name}' already exists")
        project = "/".join(parent.split("/")[:2]) + "/"
        if kind in self.quotas and self.quotas[kind] <= sum(
            1 for n in self.resources if n.startswith(project) and f"/{kind}/" in n
        ):
            raise self.quota_error(f"Quota '{kind}' exceeded. Limit: {self.quotas[kind]}.")
        stamp = now()
        res = {k: v for k, v in copy.deepcopy(body).items() if k not in _READ_ONLY}
        res.update(name=name, createTime=stamp, updateTime=stamp)
        if kind == "dnsAuthorizations":
            self._build_authorization(parent, res)
        elif kind == "certificates":
            self._build_certificate(parent, res)
        elif kind == "certificateMapEntries":
            self._build_entry(parent, res)
        res.setdefault("labels", {})
        self.resources[name] = res
        self._reads[name], self._born[name] = 0, time.monotonic()
        shown = {"@type": TYPE + type_name, **self._show(res, count=False)}
        return self._operation(parent, "create", name, shown)

    def _patch(self, name: str, kind: str, query: dict[str, str], body: Any) -> Any:
        res = self._find(name)
        mask = [f for f in query.get("updateMask", "").split(",") if f]
        if not mask:
            raise ApiError(400, "update_mask is required")
        allowed = {"labels", "description"} | (
            {"certificates"} if kind == "certificateMapEntries" else set()
        )
        for field_name in mask:
            camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), field_name)
            if camel not in allowed:
                raise ApiError(400, f"Field '{field_name}' cannot be updated")
            if camel == "certificates":
                self._certificates(body.get("certificates"), name.split("/certificateMaps")[0])
            res[camel] = copy.deepcopy(body.get(camel))
        res["updateTime"] = now()
        shown = {"@type": TYPE + KINDS[kind][1], **self._show(res, count=False)}
        return self._operation(name, "update", name, shown)

    def _delete(self, name: str, kind: str) -> Any:
        self._find(name)
        for other in self.resources.values():
            uses = other.get("certificates", []) + other.get("managed", {}).get(
                "dnsAuthorizations", []
            )
            if name in uses or other["name"].startswith(name + "/"):
                raise ApiError(
                    400,
                    f"Resource '{name}' is still in use by '{other['name']}'",
                    rpc_status="FAILED_PRECONDITION",
                )
        del self.resources[name]
        return self._operation(
            name, "delete", name, {"@type": "type.googleapis.com/google.protobuf.Empty"}
        )

    def _build_authorization(self, parent: str, res: dict[str, Any]) -> None:
        domain = str(res.get("domain", "")).lower().rstrip(".")
        if not re.fullmatch(r"([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,63}", domain):
            raise ApiError(400, f"Invalid domain '{res.get('domain')}'")
        if res.get("type", "FIXED_RECORD") not in ("FIXED_RECORD", 1):
            raise ApiError(400, "Only FIXED_RECORD DNS authorizations are modelled.")
        token = uuid.uuid5(uuid.NAMESPACE_DNS, f"{parent}|{domain}")
        res.update(domain=domain, type="FIXED_RECORD")
        res["dnsResourceRecord"] = {
            "name": f"_acme-challenge.{domain}.",
            "type": "CNAME",
            "data": f"{token}.{token.int % 9 + 1}.authorize.certificatemanager.goog.",
        }

    def _build_certificate(self, parent: str, res: dict[str, Any]) -> None:
        managed = res.get("managed")
        if not isinstance(managed, dict) or res.get("selfManaged"):
            raise ApiError(400, "Only managed certificates are modelled.")
        domains = [str(d).lower() for d in managed.get("domains", [])]
        if not 0 < len(domains) <= 100:
            raise ApiError(400, "A managed certificate needs 1 to 100 domains.")
        auths = self._refs(managed.get("dnsAuthorizations", []), parent, "dnsAuthorizations")
        covered = {self.resources[a]["domain"] for a in auths}
        for domain in domains:
            if domain.removeprefix("*.") not in covered:
                raise ApiError(400, f"Domain '{domain}' has no DNS authorization.")
        managed.update(domains=domains, dnsAuthorizations=auths, state="PROVISIONING")
        managed["authorizationAttemptInfo"] = [
            {"domain": d, "state": "AUTHORIZING"} for d in domains
        ]
        res["sanDnsnames"] = domains
        res["scope"] = _SCOPES.get(res.get("scope", 0), res.get("scope"))

    def _build_entry(self, parent: str, res: dict[str, Any]) -> None:
        if bool(res.get("hostname")) == bool(res.get("matcher")):
            raise ApiError(400, "Exactly one of hostname or matcher must be set.")
        if res.get("hostname"):
            res["hostname"] = res["hostname"].lower().rstrip(".")
        if res.get("matcher") in (1, "PRIMARY"):
            res["matcher"] = "PRIMARY"
        project_parent = parent.split("/certificateMaps")[0]
        res["certificates"] = self._certificates(res.get("certificates"), project_parent)
        for other in self.resources.values():
            if other["name"].startswith(parent + "/") and (
                other.get("hostname") or other.get("matcher")
            ) == (res.get("hostname") or res.get("matcher")):
                raise ApiError(409, f"Entry for '{res.get('hostname')}' already exists in map")

    def _certificates(self, value: Any, parent: str) -> list[str]:
        if not isinstance(value, list) or len(value) != 1:
            raise ApiError(400, "A certificate map entry takes exactly one certificate.")
        return self._refs(value, parent, "certificates")

    def _refs(self, values: list[str], parent: str, kind: str) -> list[str]:
        out = []
        for value in values:
            name = value if value.startswith("projects/") else f"{parent}/{kind}/{value}"
            if name.split("/")[-2] != kind or name not in self.resources:
                raise ApiError(400, f"Resource '{value}' was not found", rpc_status="NOT_FOUND")
            out.append(name)
        return out

    # Provisioning

    def _show(self, res: dict[str, Any], count: bool = True) -> dict[str, Any]:
        kind = res["name"].split("/")[-2]
        if kind == "certificates":
            self._provision(res, count)
        if kind == "certificateMapEntries":
            states = [
                self.resources.get(c, {}).get("managed", {}).get("state")
                for c in res["certificates"]
            ]
            res["state"] = "ACTIVE" if all(s == "ACTIVE" for s in states) else "PENDING"
        return copy.deepcopy(res)

    def _provision(self, res: dict[str, Any], count: bool) -> None:
        managed, name = res["managed"], res["name"]
        if count:
            self._reads[name] = self._reads.get(name, 0) + 1
        if managed["state"] != "PROVISIONING":
            return
        failed = [d for d in managed["domains"] if d.removeprefix("*.") in self.failures]
        if failed:
            reason = self.failures[failed[0].removeprefix("*.")]
            managed["state"] = "FAILED"
            managed["provisioningIssue"] = {
                "reason": reason,
                "details": f"Domain {failed[0]}: {reason}",
            }
            for info in managed["authorizationAttemptInfo"]:
                if info["domain"] in failed:
                    info.update(state="FAILED", failureReason="CONFIG", details=reason)
            return
        elapsed = time.monotonic() - self._born.get(name, 0.0)
        if self._reads[name] < self.provisioning_polls or elapsed < self.provisioning_seconds:
            return
        if self.public_cname is not None:
            for auth in managed["dnsAuthorizations"]:
                record = self.resources[auth]["dnsResourceRecord"]
                if (self.public_cname(record["name"]) or "").lower() != record["data"].lower():
                    return
        managed["state"] = "ACTIVE"
        for info in managed["authorizationAttemptInfo"]:
            info["state"] = "AUTHORIZED"
        res["expireTime"] = (
            datetime.fromtimestamp(time.time() + 90 * 86400, UTC)
            .isoformat(timespec="seconds")
            .replace("+00:00", "Z")
        )
        res["updateTime"] = now()


__all__ = ["FakeCertificateManager"]
