"""Helpers for tests of the Cloud DNS fake: a google-cloud-dns client aimed at it, plain
HTTP requests (for what the library cannot send), and a seeded example zone."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from gcp_fake_dns import FakeCloudDns
from gcp_fake_dns_state import DEFAULT_PROJECT
from google.auth.credentials import AnonymousCredentials
from google.cloud import dns

ZONE = "example-com"
STS = "_mta-sts.example.com."


def client(fake: FakeCloudDns, project: str = DEFAULT_PROJECT) -> dns.Client:
    return dns.Client(
        project=project,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": fake.endpoint},
    )


def raw(fake: FakeCloudDns, path: str, method: str = "GET", body: Any = None):
    """(status, JSON answer) of one plain HTTP request under /dns/v1."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{fake.endpoint}/dns/v1{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            text = answer.read()
            return answer.status, json.loads(text) if text else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def seed_example(gcp_dns_fake: FakeCloudDns) -> FakeCloudDns:
    """Zone example-com with an MTA-STS TXT, a two-rrdata apex TXT (one of them two
    strings) and a CNAME; the call log emptied."""
    state = gcp_dns_fake.state
    state.add_zone("example.com.")
    state.add_rrset(ZONE, STS, "TXT", ['"v=STSv1; id=20240101"'], ttl=300)
    state.add_rrset(ZONE, "example.com.", "TXT", ['"v=spf1 -all"', '"a" "b"'], ttl=3600)
    state.add_rrset(ZONE, "www.example.com.", "CNAME", ["example.com."], ttl=60)
    gcp_dns_fake.calls.clear()
    return gcp_dns_fake


def the_zone(fake: FakeCloudDns) -> dns.ManagedZone:
    return client(fake).zone(ZONE, "example.com.")


def rrset(zone: dns.ManagedZone, name: str, rtype: str) -> dns.ResourceRecordSet:
    return next(
        r for r in zone.list_resource_record_sets() if (r.name, r.record_type) == (name, rtype)
    )
