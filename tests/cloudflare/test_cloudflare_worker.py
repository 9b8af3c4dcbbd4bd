"""The generated Worker, run for real in workerd (Miniflare 4), and fetched by real clients.

Per host: the right policy, byte for byte, as `text/plain; charset=utf-8`, with `nosniff`
and a short cache; HEAD gets the headers and no body; any other host or path gets 404 and
nothing ever redirects. Then the whole chain: mtasts applies against the fake API, the
script the fake received runs in workerd, and postfix-mta-sts-resolver and checkdmarc
fetch it over HTTPS through the harness (local DNS from the fake's records, test CA).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from cf_helpers import add_zones, cf_spec, domains_spec, live_map
from clihelpers import run
from harness import MtaStsWorld

from providers.cloudflare.worker import (
    BEGIN,
    END,
    PolicyEntry,
    parse_script,
    render_script,
    state_json,
)

PATH = "/.well-known/mta-sts.txt"
WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
NASTY = [
    "version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n",
    "</script><script>alert(1)</script>\r\n",
    "a */ b /* c " + END + " d " + BEGIN,
    "line\u2028sep\u2029para \\ \" ' ` ${x} \x00 \x7f é 𝄞",
]


def policy(domain: str, mode: str = "testing") -> str:
    return f"version: STSv1\r\nmode: {mode}\r\nmx: mx.{domain}\r\nmax_age: 86400\r\n"


def test_the_map_survives_the_round_trip_whatever_the_bodies():
    policies = {f"mta-sts.n{i}.example": PolicyEntry(body, WHEN) for i, body in enumerate(NASTY)}
    script = render_script(policies)
    assert parse_script(script) == policies
    literal = state_json(policies)
    for forbidden in ("</", "*/", "\u2028", "\u2029", END):
        assert forbidden not in literal
    assert json.loads(literal.replace("\\/", "/"))["format"] == 1


def test_a_script_without_the_markers_is_not_ours():
    assert parse_script("export default { fetch() { return new Response('hi') } }") is None
    assert parse_script(f"{BEGIN}not json{END}") is None


def test_every_host_gets_its_own_policy_and_nothing_else(miniflare):
    domains = [f"d{i:02d}.example" for i in range(40)]
    policies = {f"mta-sts.{d}": PolicyEntry(policy(d), WHEN) for d in domains}
    nasty = {f"mta-sts.n{i}.example": PolicyEntry(b, WHEN) for i, b in enumerate(NASTY)}
    miniflare.serve(render_script({**policies, **nasty}))

    for host, entry in {**policies, **nasty}.items():
        answer = miniflare.get(host, PATH)
        assert answer.status == 200, host
        assert answer.body == entry.body.encode("utf-8"), host
        assert answer.headers["content-type"] == "text/plain; charset=utf-8"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["cache-control"] == "max-age=300"

    head = miniflare.request("HEAD", "mta-sts.d01.example", PATH)
    assert head.status == 200 and head.body == b""
    assert head.headers["content-length"] == str(len(policy("d01.example")))
    assert miniflare.get("MTA-STS.D02.Example", PATH).body == policy("d02.example").encode()

    for host, path in [
        ("mta-sts.unknown.example", PATH),
        ("d01.example", PATH),
        ("www.d01.example", PATH),
        ("mta-sts.d01.example", "/"),
        ("mta-sts.d01.example", "/.well-known/mta-sts.txt/"),
        ("mta-sts.d01.example", "/.well-known/MTA-STS.TXT"),
        ("mta-sts.d01.example", "/.well-known/mta-sts.txt.bak"),
        ("mta-sts.constructor", PATH),
        ("mta-sts.__proto__", PATH),
    ]:
        answer = miniflare.get(host, path)
        assert answer.status == 404, (host, path)
        assert "location" not in answer.headers
    assert miniflare.request("POST", "mta-sts.d01.example", PATH).status == 405


def test_an_empty_map_serves_404_everywhere(miniflare):
    miniflare.serve(render_script({}))
    assert miniflare.get("mta-sts.example.com", PATH).status == 404


def _publish(world: MtaStsWorld, cf_api, miniflare, domains: list[str]) -> None:
    """What Cloudflare would serve: the fake's TXT/MX records in DNS, the fake's script in
    workerd behind HTTPS for every bound custom domain."""
    world.reset()
    url = miniflare.serve(cf_api.state.script_text())
    for record in cf_api.state.all_records():
        if record["type"] == "MX":
            world.publish_mx(record["name"], [record["content"]])
    for domain in domains:
        for name in (f"_mta-sts.{domain}", f"_smtp._tls.{domain}"):
            values = cf_api.state.txt_values(name)
            if values:
                world.publish_txt(name, values)
    for bound in cf_api.state.domains.values():
        world.publish_a(bound["hostname"])
        world.serve_upstream(bound["hostname"], url)


def test_real_senders_accept_what_the_worker_serves(
    mta_sts_world: MtaStsWorld, cf_api, miniflare, tmp_path
):
    domains = ["example.com", "example.org", "shop.example.org"]
    add_zones(cf_api, "example.com", "example.org")
    spec = cf_spec(
        tmp_path,
        {
            **domains_spec(["example.com", "shop.example.org"]),
            "example.org": {"mx": ["mx.example.org"], "mode": "enforce", "max_age": 1209600},
        },
    )
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    _publish(mta_sts_world, cf_api, miniflare, domains)

    for domain in domains:
        seen = mta_sts_world.resolve_with_postfix_client(domain)
        assert seen.status == "VALID", (domain, seen.log)
        checked = mta_sts_world.check_with_checkdmarc(domain)
        assert checked.valid, (domain, checked.errors)
        assert checked.policy_id == seen.policy_id
        assert checked.tlsrpt.get("valid") is True
    org = mta_sts_world.resolve_with_postfix_client("example.org")
    assert (org.mode, org.max_age, org.mx) == ("enforce", 1209600, ("mx.example.org",))
    hosts = {r.host for r in mta_sts_world.https_requests}
    assert {f"mta-sts.{d}" for d in domains} <= hosts

    before = mta_sts_world.resolve_with_postfix_client("example.com")
    spec = cf_spec(
        tmp_path,
        {
            "example.com": {"mx": ["mx.example.com"], "mode": "enforce", "max_age": 1209600},
            "shop.example.org": {"mx": ["mx.shop.example.org"]},
            "example.org": {"mx": ["mx.example.org"], "mode": "enforce", "max_age": 1209600},
        },
    )
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    _publish(mta_sts_world, cf_api, miniflare, domains)
    after = mta_sts_world.resolve_with_postfix_client("example.com", before.policy_id)
    assert (after.status, after.mode) == ("VALID", "enforce")
    assert after.policy_id != before.policy_id
    assert "mode: enforce" in live_map(cf_api)["mta-sts.example.com"].body
