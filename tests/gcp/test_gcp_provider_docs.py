"""docs/gcp.md and examples/gcp.yaml stay true: the example validates, and the two custom
IAM roles the document gives allow every permission a whole lifecycle (create, change,
remove) really needs, on all four fakes with the real endpoint half. Each request the
provider sends is mapped to the IAM permissions Google checks for it (the API references'
"IAM Permissions" sections), including the `*.use` permissions a resource needs to name
another (a forwarding rule names a proxy and an address, a certificate an authorization)."""

# ruff: noqa: F811 (the fixtures are imported from gcp_world, then requested by name)
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from clihelpers import run
from gcp_world import (  # noqa: F401
    PROJECT,
    GcpWorld,
    gcp_endpoint_servers,
    gcp_full,
)
from test_gcp_provider import apply

REPO = Path(__file__).resolve().parents[2]

COMPUTE = {
    "addresses": "globalAddresses",
    "backendBuckets": "backendBuckets",
    "sslPolicies": "sslPolicies",
    "urlMaps": "urlMaps",
    "targetHttpsProxies": "targetHttpsProxies",
    "forwardingRules": "globalForwardingRules",
    "operations": "globalOperations",
}
CERTS = {
    "dnsAuthorizations": "dnsauthorizations",
    "certificates": "certs",
    "certificateMaps": "certmaps",
    "certificateMapEntries": "certmapentries",
    "operations": "operations",
}
VERBS = {"GET": "get", "POST": "create", "DELETE": "delete", "PATCH": "update", "PUT": "update"}


def documented_roles() -> list[set[str]]:
    text = (REPO / "docs" / "gcp.md").read_text()
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, re.S)]
    return [set(b["includedPermissions"]) for b in blocks if "includedPermissions" in b]


def dns_permissions(call: Any) -> set[str]:
    needed = {f"dns.{call.kind}"}
    if call.kind == "changes.create":
        body = call.body or {}
        added = {(r["name"], r["type"]) for r in body.get("additions", ())}
        deleted = {(r["name"], r["type"]) for r in body.get("deletions", ())}
        if added - deleted:
            needed.add("dns.resourceRecordSets.create")
        if deleted - added:
            needed.add("dns.resourceRecordSets.delete")
        if added & deleted:
            needed.add("dns.resourceRecordSets.update")
    return needed


def storage_permissions(call: Any) -> set[str]:
    path, method = call.path, call.method
    if path.startswith("/upload/"):
        overwrite = call.query.get("ifGenerationMatch") != "0"
        return {"storage.objects.create"} | ({"storage.objects.delete"} if overwrite else set())
    if path.startswith("/download/") or re.search(r"/o/.", path):
        return {"storage.objects.delete" if method == "DELETE" else "storage.objects.get"}
    if path.endswith("/o"):
        return {"storage.objects.list"}
    if path.endswith("/iam"):
        return {
            "storage.buckets.getIamPolicy" if method == "GET" else "storage.buckets.setIamPolicy"
        }
    if path.endswith("/b"):
        return {"storage.buckets.create"}
    return {"storage.buckets.get" if method == "GET" else "storage.buckets.update"}


def compute_permissions(call: Any) -> set[str]:
    parts = [p for p in call.path.split("/") if p][4:]  # after compute/v1/projects/{p}
    if parts[0] == "global":
        parts = parts[1:]
    resource = COMPUTE[parts[0]]
    body = call.body if isinstance(call.body, dict) else {}
    if resource == "globalOperations":
        return {"compute.globalOperations.get"}
    if len(parts) == 1:
        verb = "list" if call.method == "GET" else "create"
    elif len(parts) == 3:
        verb = parts[2]  # setUrlMap, setSslPolicy, setCertificateMap, setTarget
    else:
        verb = VERBS[call.method]
    needed = {f"compute.{resource}.{verb}"}
    text = str(body)
    for field, used in (
        ("target", "compute.targetHttpsProxies.use"),
        ("IPAddress", "compute.globalAddresses.use"),
        ("urlMap", "compute.urlMaps.use"),
        ("sslPolicy", "compute.sslPolicies.use"),
        ("certificateMap", "certificatemanager.certmaps.use"),
        ("backendBuckets/", "compute.backendBuckets.use"),
    ):
        if verb not in ("get", "list", "delete") and field in text:
            needed.add(used)
    return needed


def certificate_manager_permissions(call: Any) -> set[str]:
    parts = [p for p in call.path.split("/") if p][5:]  # after v1/projects/{p}/locations/global
    kinds = [p for p in parts if p in CERTS]
    resource = CERTS[kinds[-1]]
    if resource == "operations":
        return {"certificatemanager.operations.get"}
    item = parts[-1] not in CERTS
    verb = VERBS[call.method] if item else ("list" if call.method == "GET" else "create")
    needed = {f"certificatemanager.{resource}.{verb}"}
    if verb in ("create", "update") and resource == "certs":
        needed.add("certificatemanager.dnsauthorizations.use")
    if verb in ("create", "update") and resource == "certmapentries":
        needed.add("certificatemanager.certs.use")
    return needed


def test_the_example_spec_validates():
    result = run("validate", "-c", REPO / "examples" / "gcp.yaml")
    assert result.exit_code == 0, result.stderr


def test_the_documented_roles_allow_every_call_of_a_lifecycle(gcp_full: GcpWorld):
    world = gcp_full
    world.zone("example.com", mx=["mx1.example.com"])
    world.zone("example.org", mx=["mx1.example.org"])
    both = {"example.com": {"mx": ["mx1.example.com"]}, "example.org": {"mx": ["mx1.example.org"]}}
    apply(world.spec(both))
    # the SSL policy lowered to TLS 1.0 behind mtasts's back: the next apply patches it
    with world.compute.lock:
        world.compute.resources["sslPolicies"][f"{PROJECT}/mtasts-lb-tls12"]["minTlsVersion"] = (
            "TLS_1_0"
        )
    both["example.org"]["mode"] = "enforce"
    apply(world.spec(both))
    assert world.compute.count("PATCH", "/sslPolicies/mtasts-lb-tls12$") == 1
    spec = world.spec({"example.org": both["example.org"]})
    apply(spec)
    later = {"MTASTS_NOW": (datetime.now(UTC) + timedelta(days=2)).isoformat()}
    result = run("apply", "-c", spec, "--auto-approve", env=later)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert world.policy("example.com") is None
    assert world.policy("example.org") is not None
    # the endpoint half's records went with the domain; the other domain's stay
    for name, rtype in (
        ("mta-sts", "A"),
        ("mta-sts", "AAAA"),
        ("_acme-challenge.mta-sts", "CNAME"),
    ):
        assert world.rrset("example-com", f"{name}.example.com.", rtype) is None
        assert world.rrset("example-org", f"{name}.example.org.", rtype) is not None

    dns_role, deployer_role = documented_roles()
    dns_needed = set().union(*(dns_permissions(c) for c in world.dns.calls))
    needed = set().union(
        *(storage_permissions(c) for c in world.gcs.calls),
        *(compute_permissions(c) for c in world.compute.calls),
        *(certificate_manager_permissions(c) for c in world.certs.calls),
    )
    assert not dns_needed - dns_role, f"mtastsDns lacks {sorted(dns_needed - dns_role)}"
    assert not needed - deployer_role, f"mtastsDeployer lacks {sorted(needed - deployer_role)}"
    # Nothing documented that no call could need: what one lifecycle leaves unused is a
    # single-resource read (`get`: the endpoint half reads by listing, but looks one up
    # after a lost answer), or a repair or teardown of the shared load balancer.
    unused = (dns_role | deployer_role) - dns_needed - needed
    repair = re.compile(
        r"\.(get|update|delete|setUrlMap|setSslPolicy|setCertificateMap|setTarget)$"
    )
    assert all(repair.search(p) for p in unused), sorted(p for p in unused if not repair.search(p))
