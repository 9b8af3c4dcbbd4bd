"""API calls the endpoint half makes, counted on the fakes (operation polls included): a read
is a fixed handful of listings whatever the number of domains; an apply from empty costs
three calls a domain (the three creates, awaited together by listings, not one operation
poll each) plus the shared pieces."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gcp_endpoint_testing import Dns, Fakes, fresh, opened, started

READ_CALLS = 10
"""Six Compute listings, three Certificate Manager listings and the certificate map's get."""
PER_DOMAIN = 3
SHARED_BUDGET = 30
"""The shared pieces: nine creates, their operation polls, a few listings and the waits."""


@pytest.fixture(scope="module")
def servers() -> Iterator[Fakes]:
    yield from started()


@pytest.fixture
def fakes(servers, monkeypatch) -> Iterator[Fakes]:
    yield from fresh(servers, monkeypatch)


@pytest.fixture
def endpoints(fakes):
    yield from opened(fakes)


def domains(n: int) -> list[str]:
    return [f"d{i}.example" for i in range(n)]


@pytest.mark.parametrize("n", [0, 1, 30])
def test_read_is_a_handful_of_listings_whatever_the_domains(fakes, endpoints, n):
    if n:
        endpoints.converge(endpoints.read(domains(n)), domains(n), Dns().write)
    fakes.forget_calls()
    endpoints.read(domains(n))
    # No map yet (n == 0): its get answers 404 and its entries are not listed.
    assert fakes.calls() == (READ_CALLS if n else READ_CALLS - 1)
    assert all(c.method == "GET" for c in fakes.compute.calls + fakes.certs.calls)


def test_apply_from_empty_costs_three_calls_a_domain(fakes, endpoints):
    names = domains(30)
    inventory = endpoints.read(names)
    fakes.forget_calls()
    endpoints.converge(inventory, names, Dns().write)
    calls = fakes.calls()
    assert calls <= PER_DOMAIN * len(names) + SHARED_BUDGET, calls
    fakes.forget_calls()
    endpoints.converge(endpoints.read(names), names, Dns().write)
    assert fakes.writes() == 0
    assert fakes.calls() == READ_CALLS  # all ACTIVE: nothing to wait for


def test_adding_one_domain_to_thirty_costs_three_calls_and_one_map_update(fakes, endpoints):
    names = domains(31)
    endpoints.converge(endpoints.read(names[:30]), names[:30], Dns().write)
    inventory = endpoints.read(names)
    fakes.forget_calls()
    endpoints.converge(inventory, names, Dns().write)
    assert fakes.compute.count("PATCH") == 1
    # three creates, a listing awaiting each kind, the map update and its poll, one listing
    # of certificates until ACTIVE, the certificate map's ownership get
    assert fakes.calls() <= PER_DOMAIN + 3 + 2 + 1 + 1, [
        (c.method, c.path) for c in fakes.certs.calls
    ]


def test_operations_answered_done_are_never_polled(fakes, endpoints):
    """A mutation whose answer already says DONE (Compute) or done (Certificate Manager) is
    not asked about again."""
    fakes.compute.operation_polls = 0
    fakes.certs.operation_polls = 0
    names = domains(3)
    endpoints.converge(endpoints.read(names), names, Dns().write)
    assert fakes.compute.count("GET", r"/operations/") == 0
    assert fakes.compute.count("POST", r"/operations/.*/wait") == 0
    assert fakes.certs.count("GET", r"/operations/") == 0
    inventory = endpoints.read(names)
    assert all(endpoints.describe(inventory, d) == endpoints.wanted(d) for d in names)
