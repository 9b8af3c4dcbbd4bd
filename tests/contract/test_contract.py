"""The provider contract: what every provider must do, proven on its emulator or fake.

Each test runs once per world, each world being one fixture `<name>_contract_world`
(`conftest.worlds`; DNSControl's integration suite is the model): apply from empty, then a
re-plan must be empty; the policy is published before the id; foreign data survives byte
for byte; RFC 8461 section 8.3 removal; a saved plan applies with providers built afresh,
and a stale one is refused; faults are survived or named in one line. Tests that need a
capability the provider does not declare, or a fault the world cannot inject, are skipped,
saying which.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from clihelpers import run, write_spec
from contract_world import DEFAULTS, ContractWorld

from provisioner import workflow
from provisioner.apply import TXT_PHASE
from provisioner.provider import Capability
from provisioner.rfc8461 import id_names_body


def spec(world: ContractWorld, domains: dict[str, dict[str, Any]]):
    return write_spec(
        world.directory,
        domains,
        defaults={**DEFAULTS, "provider": world.provider_name},
        providers={world.provider_name: world.provider_settings()},
    )


def one(domain: str, **settings: Any) -> dict[str, dict[str, Any]]:
    return {domain: {"mx": [f"mx.{domain}"], **settings}}


def apply_ok(path, *extra: str, env: dict[str, str] | None = None) -> None:
    result = run("apply", "-c", path, "--auto-approve", *extra, env=env)
    assert result.exit_code == 0, result.stderr


def plan_is_empty(path, env: dict[str, str] | None = None) -> None:
    result = run("plan", "-c", path, "--detailed-exitcode", env=env)
    assert result.exit_code == 0, result.stdout + result.stderr


def sts_ids(world: ContractWorld, domain: str) -> list[str]:
    values = [text for text, _ in world.records(f"_mta-sts.{domain}", "TXT")]
    return [v.strip('"').split("id=")[-1] for v in values if v.startswith('"v=STSv1')]


def test_apply_from_empty_then_the_plan_is_empty(world: ContractWorld) -> None:
    world.add_zone("example.com")
    path = spec(world, one("example.com"))
    apply_ok(path)
    plan_is_empty(path)
    body = world.served("example.com")
    assert body is not None and body.startswith(b"version: STSv1\r\n")
    [sts_id] = sts_ids(world, "example.com")
    assert id_names_body(sts_id, body.decode())


def test_a_mode_change_publishes_the_policy_before_the_id(world: ContractWorld) -> None:
    world.add_zone("example.com")
    path = spec(world, one("example.com"))
    apply_ok(path)
    spec(world, one("example.com", mode="enforce", max_age=1209600))
    providers, result = workflow.plan(workflow.load(path))
    new_body = next(c.after for c in result.plan.changes if c.resource == "policy")
    seen: list[bytes | None] = []

    def before(phase: int, changes: Any) -> None:
        if phase == TXT_PHASE:
            seen.append(world.served("example.com"))

    from provisioner.apply import apply_plan

    apply_plan(result.plan, providers, before_phase=before)
    assert seen == [new_body.encode()], "the new policy was stored before the id moved"
    plan_is_empty(path)


FOREIGN = [  # one TTL per name and type: an RRset has one (RFC 2181 section 5.2)
    ("_mta-sts.example.com", "TXT", '"vendor-verification=keep"', 600),
    ("_mta-sts.example.com", "TXT", '"two " "strings"', 600),
    ("_smtp._tls.example.com", "TXT", '"caf\\195\\169 r\\195\\169sum\\195\\169"', 1200),
    ("example.com", "TXT", '"v=spf1 -all"', 3600),
    ("www.example.com", "A", "192.0.2.10", 120),
]


def test_foreign_records_survive_byte_for_byte_ttl_included(world: ContractWorld) -> None:
    world.add_zone("example.com")
    for name, rtype, text, ttl in FOREIGN:
        world.add_record(name, rtype, text, ttl)
    before = {(n, t): world.records(n, t) for n, t, _, _ in FOREIGN}
    path = spec(world, one("example.com"))

    apply_ok(path)
    spec(world, one("example.com", mode="enforce", max_age=1209600))
    apply_ok(path)

    for (name, rtype), records in before.items():
        after = world.records(name, rtype)
        for record in records:
            assert record in after, f"{name} {rtype} {record} was changed or lost"
    ttls = {ttl for _, ttl in world.records("_mta-sts.example.com", "TXT")}
    assert ttls == {600}, "mtasts's value joins the RRset at its TTL (RFC 2181 section 5.2)"
    plan_is_empty(path)


def test_duplicate_sts_records_collapse_to_one(world: ContractWorld) -> None:
    world.add_zone("example.com")
    world.add_record("_mta-sts.example.com", "TXT", '"v=STSv1; id=one"', 300)
    world.add_record("_mta-sts.example.com", "TXT", '"v=STSv1; id=two"', 300)
    path = spec(world, one("example.com"))
    apply_ok(path)
    assert len(sts_ids(world, "example.com")) == 1
    plan_is_empty(path)


def test_a_value_over_255_bytes_round_trips(world: ContractWorld) -> None:
    world.add_zone("example.com")
    rua = [f"mailto:tls-report-{i}@reports.example.net" for i in range(12)]
    path = spec(world, one("example.com", tlsrpt={"rua": rua}))
    apply_ok(path)
    [(text, _)] = world.records("_smtp._tls.example.com", "TXT")
    assert text.count('" "') >= 1, "split into strings of at most 255 bytes"
    assert "".join(text.split('" "')).strip('"') == "v=TLSRPTv1; rua=" + ",".join(rua)
    plan_is_empty(path)


def test_nested_domains_in_one_zone_keep_foreign_values(world: ContractWorld) -> None:
    """Issue 8.1: an apex and subdomains of the spec in one zone, foreign values at each."""
    names = ["example.com", "mail.example.com", "a.mail.example.com", "b-2.example.com"]
    world.add_zone("example.com")
    for name in names:
        world.add_record(f"_mta-sts.{name}", "TXT", '"vendor-verification=keep"', 300)
    path = spec(world, {n: {"mx": [f"mx.{n}"]} for n in names})
    apply_ok(path)
    for name in names:
        texts = [t for t, _ in world.records(f"_mta-sts.{name}", "TXT")]
        assert '"vendor-verification=keep"' in texts, name
        assert len(sts_ids(world, name)) == 1, name
    plan_is_empty(path)


def test_a_delegated_sts_name_stops_the_plan_and_nothing_is_written(world: ContractWorld) -> None:
    """Issue 8.2: `_mta-sts` is a CNAME to a hosted MTA-STS service."""
    world.add_zone("example.com")
    world.add_record("_mta-sts.example.com", "CNAME", "_mta-sts.hosted.example.net.", 300)
    path = spec(world, one("example.com"))
    result = run("apply", "-c", path, "--auto-approve")
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert "_mta-sts.example.com is a CNAME to _mta-sts.hosted.example.net" in line
    assert "mtasts import example.com" in line
    assert world.served("example.com") is None
    assert world.records("_mta-sts.example.com", "TXT") == []


def test_removal_follows_rfc_8461_section_8_3(world: ContractWorld) -> None:
    world.add_zone("example.com")
    world.add_zone("example.org")
    path = spec(world, {**one("example.com"), **one("example.org")})
    apply_ok(path)
    spec(world, one("example.org"))
    apply_ok(path)
    body = world.served("example.com")
    assert body is not None and b"mode: none" in body
    [sts_id] = sts_ids(world, "example.com")
    assert id_names_body(sts_id, body.decode())
    plan_is_empty(path)

    later = (datetime.now(UTC) + timedelta(seconds=86400 + 3600)).isoformat()
    apply_ok(path, env={"MTASTS_NOW": later})
    assert world.served("example.com") is None
    assert sts_ids(world, "example.com") == []
    assert world.served("example.org") is not None
    plan_is_empty(path, env={"MTASTS_NOW": later})


def test_a_stale_saved_plan_is_refused(world: ContractWorld) -> None:
    world.add_zone("example.com")
    path = spec(world, one("example.com"))
    plan_file = world.directory / "plan.json"
    assert run("plan", "-c", path, "--out", plan_file).exit_code == 0
    apply_ok(path)
    result = run("apply", "--auto-approve", plan_file)
    assert result.exit_code == 1
    assert "saved plan is stale" in result.stderr
    assert json.loads(plan_file.read_text())["format_version"] == 1


def test_a_saved_plan_applies_with_providers_built_afresh(world: ContractWorld) -> None:
    """`apply PLANFILE` builds its providers from the plan file alone (as a fresh process
    does): it needs nothing a plan's `read` left behind, and converges like `apply`."""
    world.add_zone("example.com")
    world.add_record("_mta-sts.example.com", "TXT", '"vendor-verification=keep"', 600)
    path = spec(world, one("example.com"))
    plan_file = world.directory / "plan.json"
    assert run("plan", "-c", path, "--out", plan_file).exit_code == 0
    result = run("apply", "--auto-approve", plan_file)
    assert result.exit_code == 0, result.stderr
    plan_is_empty(path)
    assert ('"vendor-verification=keep"', 600) in world.records("_mta-sts.example.com", "TXT")

    spec(world, one("example.com", mode="enforce", max_age=1209600))
    assert run("plan", "-c", path, "--out", plan_file).exit_code == 0
    result = run("apply", "--auto-approve", plan_file)
    assert result.exit_code == 0, result.stderr
    body = world.served("example.com")
    assert body is not None and b"mode: enforce" in body
    [sts_id] = sts_ids(world, "example.com")
    assert id_names_body(sts_id, body.decode())
    plan_is_empty(path)


@pytest.mark.parametrize("status", [429, 500])
def test_a_throttled_or_failing_api_is_survived(world: ContractWorld, status: int) -> None:
    if not world.injects_faults:
        pytest.skip(f"{world.provider_name} has no API to answer {status}")
    world.add_zone("example.com")
    path = spec(world, one("example.com"))
    world.fail_writes(status, 1)
    apply_ok(path)
    plan_is_empty(path)


KNOWN_GAPS: dict[str, str] = {}
"""Contract failures known and reported, per world: shown as XFAIL, never silently passed."""


def test_a_429_storm_ends_at_the_run_deadline_in_one_line(world: ContractWorld) -> None:
    """MTASTS_DEADLINE bounds the whole run: retries of a throttled API stop there."""
    if not world.injects_faults:
        pytest.skip(f"{world.provider_name} has no API to throttle")
    if world.provider_name in KNOWN_GAPS:
        pytest.xfail(KNOWN_GAPS[world.provider_name])
    world.add_zone("example.com")
    path = spec(world, one("example.com"))
    world.fail_writes(429, 10_000)
    result = run("apply", "-c", path, "--auto-approve", env={"MTASTS_DEADLINE": "3"})
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert "MTASTS_DEADLINE" in line, line


def test_a_failed_txt_phase_is_one_line_and_the_next_plan_moves_the_id(
    world: ContractWorld,
) -> None:
    """Issue 14.3: the old id announces the new body after a failed TXT phase."""
    world.add_zone("example.com")
    path = spec(world, one("example.com"))
    apply_ok(path)
    [old_id] = sts_ids(world, "example.com")
    spec(world, one("example.com", mode="enforce", max_age=1209600))
    world.fail_txt_writes_forever()

    failed = run("apply", "-c", path, "--auto-approve")

    assert failed.exit_code == 1
    assert len(failed.stderr.splitlines()) == 1, failed.stderr
    assert "Traceback" not in failed.stderr
    body = world.served("example.com")
    assert body is not None and b"mode: enforce" in body
    assert sts_ids(world, "example.com") == [old_id]
    shown = json.loads(run("plan", "-c", path, "--format", "json").stdout)
    [sts] = [c for c in shown["changes"] if c["resource"] == "sts_record"]
    assert not id_names_body(old_id, body.decode())
    assert id_names_body(sts["after"].split("id=")[1], body.decode())


def test_endpoint_capability_is_declared_honestly(world: ContractWorld) -> None:
    if Capability.ENDPOINT not in world.capabilities:
        pytest.skip(f"{world.provider_name} does not host an endpoint")
    world.add_zone("example.com")
    path = spec(world, one("example.com"))
    shown = json.loads(run("plan", "-c", path, "--format", "json").stdout)
    assert any(c["resource"] == "endpoint" for c in shown["changes"])


def test_enforce_names_a_live_mx_the_patterns_miss(world: ContractWorld) -> None:
    if Capability.READ_MX not in world.capabilities:
        pytest.skip(f"{world.provider_name} does not read live MX records")
    world.add_zone("example.com")
    path = spec(world, {"example.com": {"mx": ["mx.other.example"], "mode": "enforce"}})
    shown = json.loads(run("plan", "-c", path, "--format", "json").stdout)
    assert any(
        "enforce would block mail to mx.example.com" in warning for warning in shown["warnings"]
    ), shown["warnings"]
