"""Hostile input around the Cloudflare endpoint and read (issue 9): a saved plan whose
endpoint was edited, or written by an older mtasts as a sentence, is refused in one line
with nothing attached; a record listing that fails half-way through its pages is one line."""

from __future__ import annotations

import json

import pytest
from cf_helpers import add_zones, bound_hosts, cf_spec, domains_spec
from clihelpers import run
from fakehttp import Response

from providers.cloudflare import dns


def one_line(result) -> str:  # type: ignore[no-untyped-def]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0].removeprefix("error: ")


@pytest.fixture
def saved(cf_api, tmp_path):  # type: ignore[no-untyped-def]
    add_zones(cf_api, "example.com")
    spec = cf_spec(tmp_path, domains_spec(["example.com"]))
    path = tmp_path / "plan.json"
    assert run("plan", "-c", spec, "--out", path).exit_code == 0
    return path


def edit_endpoint(path, edit) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(path.read_text())
    (change,) = [c for c in data["changes"] if c["resource"] == "endpoint"]
    edit(change)
    path.write_text(json.dumps(data))


def test_the_saved_endpoint_is_an_object_of_fields(saved) -> None:
    data = json.loads(saved.read_text())
    (change,) = [c for c in data["changes"] if c["resource"] == "endpoint"]
    assert change["before"] is None
    assert change["after"] == {
        "host": "mta-sts.example.com",
        "target": "worker",
        "parts": {"script": "mtasts"},
    }


def test_an_endpoint_pointed_at_another_script_is_refused(cf_api, saved) -> None:
    edit_endpoint(saved, lambda c: c["after"]["parts"].update(script="attacker"))
    result = run("apply", "--auto-approve", saved)
    assert result.exit_code == 1
    assert "is not the endpoint provider 'cf' builds" in one_line(result)
    assert bound_hosts(cf_api) == {}


@pytest.mark.parametrize(
    "value",
    [
        "worker mtasts on mta-sts.example.com",  # an older mtasts's sentence
        {"host": "mta-sts.example.com", "target": "worker", "parts": {"script": ["x"]}},
        {"host": "mta-sts.example.com", "target": "worker"},
        ["mta-sts.example.com"],
    ],
)
def test_a_malformed_endpoint_is_a_one_line_refusal(cf_api, saved, value) -> None:
    edit_endpoint(saved, lambda c: c.update(after=value))
    result = run("apply", "--auto-approve", saved)
    assert result.exit_code == 1
    assert "malformed plan file" in one_line(result)
    assert bound_hosts(cf_api) == {}


def test_a_listing_that_fails_on_its_second_page_is_one_line(cf_api, tmp_path, monkeypatch):
    zone = add_zones(cf_api, "example.com")["example.com"]
    for i in range(5):
        cf_api.state.add_record(zone, "TXT", f"_x{i}.example.com", f"v{i}")
    monkeypatch.setattr(dns, "RECORDS_PER_PAGE", 2)
    spec = cf_spec(tmp_path, domains_spec(["example.com"]))
    pages: list[int] = []
    real = cf_api.handle

    def second_page_fails(request):  # type: ignore[no-untyped-def]
        if request.path.endswith("/dns_records") and request.query.get("page") == "2":
            pages.append(2)
            answer = {"success": False, "errors": [{"code": 1004, "message": "bad page"}]}
            return Response.json(400, answer)
        return real(request)

    monkeypatch.setattr(cf_api, "handle", second_page_fails)
    result = run("plan", "-c", spec)
    assert result.exit_code == 1 and pages == [2]
    line = one_line(result)
    assert line.startswith("cf: example.com: listing DNS records"), line
