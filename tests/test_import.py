"""`mtasts import` against hand-made deployments served on 127.0.0.1 (issue 12).

A deployment made by hand (a local provider tree written without mtasts: LF line ends,
fields in another order, an id no tool derived) is served through the harness's DNS and
HTTPS servers; `mtasts import` reads it from the outside, as `check` does, and writes the
spec; the next `mtasts plan` must then change no mode, mx, max_age or rua, only re-publish
the policy in canonical form, and say so in one note.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from clihelpers import plan_json, run, write_spec
from harness import MtaStsWorld

from provisioner.rfc8461 import parse_policy
from provisioner.spec import load_spec

HAND_POLICY = (
    "version: STSv1\nmode: testing\nmx: mx2.hand.example\nmx: *.mx.hand.example\nmax_age: 604800\n"
)
HAND_ZONE = (
    "; made by hand, long before mtasts\n"
    '_mta-sts.hand.example. 3600 IN TXT "v=STSv1; id=handmade2024"\n'
    '_smtp._tls.hand.example. 3600 IN TXT "v=TLSRPTv1; rua=mailto:tls@hand.example,'
    'https://r.hand.example/tlsrpt"\n'
)
SPEC = """\
# Our MTA-STS spec. Keep this comment.
version: 1
providers:
  local: {type: local, path: ./tree}   # the hand-made deployment lives here

domains:
  kept.example:            # already managed
    mx: [mx.kept.example]
    mode: testing
"""


@pytest.fixture
def world(mta_sts_world: MtaStsWorld) -> MtaStsWorld:
    return mta_sts_world


def hand_made(root: Path) -> Path:
    """A deployment written without mtasts, in the local provider's layout."""
    (root / "mta-sts.hand.example" / ".well-known").mkdir(parents=True)
    (root / "mta-sts.hand.example" / ".well-known" / "mta-sts.txt").write_text(HAND_POLICY)
    (root / "zones").mkdir()
    (root / "zones" / "hand.example.zone").write_text(HAND_ZONE)
    return root


def serve(world: MtaStsWorld, root: Path) -> None:
    world.load_local_tree(root)
    world.publish_mx("hand.example", ["mx2.hand.example", "a.mx.hand.example"])


def import_(world: MtaStsWorld, *args: str | Path) -> Any:
    host, port = world.nameserver
    return run(
        "import",
        *args,
        "--nameserver",
        f"{host}:{port}",
        "--connect-to",
        f"127.0.0.1:{world.https.port}",
        "--ca-bundle",
        world.ca_file,
        "--timeout",
        "5",
    )


def test_import_then_plan_changes_no_field(world: MtaStsWorld, tmp_path: Path):
    spec = tmp_path / "mtasts.yaml"
    spec.write_text(SPEC)
    serve(world, hand_made(tmp_path / "tree"))

    result = import_(world, "hand.example", "-c", spec)

    assert result.exit_code == 0, result.stderr
    assert (
        "hand.example: imported: mode testing, max_age 604800, mx mx2.hand.example, "
        "*.mx.hand.example, tlsrpt mailto:tls@hand.example, https://r.hand.example/tlsrpt"
    ) in result.stdout
    # The spec keeps every byte it had; the entry is appended under domains.
    text = spec.read_text()
    assert text.startswith(SPEC)
    assert text[len(SPEC) :] == (
        "  hand.example:\n"
        "    mode: testing\n"
        '    mx: ["mx2.hand.example", "*.mx.hand.example"]\n'
        "    max_age: 604800\n"
        '    tlsrpt: {rua: ["mailto:tls@hand.example", "https://r.hand.example/tlsrpt"]}\n'
    )

    plan = plan_json("-c", spec, "-d", "hand.example")
    changes = {(c["resource"], c["action"]) for c in plan["changes"]}
    assert changes == {("policy", "update"), ("sts_record", "update")}
    (policy,) = [c for c in plan["changes"] if c["resource"] == "policy"]
    assert parse_policy(policy["before"]).policy == parse_policy(policy["after"]).policy
    assert policy["after"].endswith("\r\n")
    assert plan["notes"] == [
        "hand.example: mode, mx and max_age unchanged; the live policy is re-published in "
        "mtasts's canonical form under a new id"
    ]
    text_plan = run("plan", "-c", spec, "-d", "hand.example")
    assert "note: hand.example: mode, mx and max_age unchanged" in text_plan.stdout

    assert run("apply", "-c", spec, "-d", "hand.example", "--auto-approve").exit_code == 0
    assert plan_json("-c", spec, "-d", "hand.example")["changes"] == []


def test_a_canonical_policy_under_a_foreign_id_only_changes_the_id(
    world: MtaStsWorld, tmp_path: Path
):
    root = hand_made(tmp_path / "tree")
    canonical = HAND_POLICY.replace("\n", "\r\n")
    (root / "mta-sts.hand.example" / ".well-known" / "mta-sts.txt").write_text(
        canonical, newline=""
    )
    serve(world, root)
    spec = tmp_path / "mtasts.yaml"
    assert import_(world, "hand.example", "-c", spec).exit_code == 0
    spec.write_text(spec.read_text().replace("./build/mta-sts", "./tree"))

    plan = plan_json("-c", spec)
    assert [(c["resource"], c["action"]) for c in plan["changes"]] == [("sts_record", "update")]
    assert plan["notes"] == [
        "hand.example: the policy is unchanged; its id handmade2024 is replaced by one mtasts "
        "derives from the policy (senders refetch the same policy once)"
    ]


def test_garbage_and_nothing_are_named_and_not_imported(world: MtaStsWorld, tmp_path: Path):
    spec = tmp_path / "mtasts.yaml"
    spec.write_text(SPEC)
    serve(world, hand_made(tmp_path / "tree"))
    world.publish_txt("_mta-sts.badid.example", ["v=STSv1; id=not-an-id!"])
    world.deploy("badpolicy.example", "<html>It works!</html>", "abc123")
    world.deploy("toolong.example", "version: STSv1\r\nmode: enforce\r\n" + "x" * 70_000, "a1")
    world.deploy(
        "badmode.example", "version: STSv1\r\nmode: sometimes\r\nmx: mx\r\nmax_age: 1\r\n", "a1"
    )

    result = import_(
        world,
        "nothing.example",
        "badid.example",
        "badpolicy.example",
        "toolong.example",
        "badmode.example",
        "hand.example",
        "-c",
        spec,
        "--format",
        "json",
    )

    assert result.exit_code == 1
    data = json.loads(result.stdout)
    found = {d["domain"]: d for d in data["domains"]}
    assert [n for n, d in found.items() if d["imported"]] == ["hand.example"]
    assert "no v=STSv1 TXT record at _mta-sts.nothing.example" in found["nothing.example"]["reason"]
    assert "invalid record" in found["badid.example"]["reason"]
    assert "invalid policy" in found["badpolicy.example"]["reason"]
    assert "larger than 64 KB" in found["toolong.example"]["reason"]
    assert "invalid policy" in found["badmode.example"]["reason"]
    assert set(load_spec(spec).domains) == {"kept.example", "hand.example"}

    text = import_(world, "nothing.example", "-c", spec)
    assert text.exit_code == 1
    assert text.stdout.startswith("nothing.example: not imported: no v=STSv1 TXT record")
    assert f"{spec} is unchanged." in text.stdout


def test_nothing_importable_and_no_spec_says_none_is_created(world: MtaStsWorld, tmp_path: Path):
    spec = tmp_path / "new.yaml"
    result = import_(world, "nothing.example", "-c", spec)
    assert result.exit_code == 1
    assert f"{spec} is not created (no domain to write)." in result.stdout
    assert "unchanged" not in result.stdout
    assert not spec.exists()


def test_a_missing_spec_is_created_with_the_local_provider(world: MtaStsWorld, tmp_path: Path):
    serve(world, hand_made(tmp_path / "tree"))
    spec = tmp_path / "new" / "mtasts.yaml"
    spec.parent.mkdir()

    refused = import_(world, "hand.example", "-c", spec, "--provider", "aws")
    assert refused.exit_code == 1
    assert "--provider aws: " in refused.stderr and "does not exist" in refused.stderr
    assert not spec.exists()

    dry = import_(world, "hand.example", "-c", spec, "--dry-run", "--format", "json")
    assert dry.exit_code == 0, dry.stderr
    assert json.loads(dry.stdout)["written"] is False
    assert "+  hand.example:\n" in json.loads(dry.stdout)["diff"]
    assert not spec.exists()

    result = import_(world, "hand.example", "-c", spec)
    assert result.exit_code == 0, result.stderr
    assert f"wrote {spec}" in result.stdout
    loaded = load_spec(spec)
    assert loaded.providers["local"].settings == {"path": "./build/mta-sts"}
    hand = loaded.domains["hand.example"]
    assert (hand.mode, hand.max_age, hand.mx) == (
        "testing",
        604800,
        ("mx2.hand.example", "*.mx.hand.example"),
    )
    assert spec.read_text().startswith("# Written by mtasts import")


def test_an_existing_entry_is_merged_keeping_its_comments(world: MtaStsWorld, tmp_path: Path):
    spec = tmp_path / "mtasts.yaml"
    spec.write_text(
        "version: 1\n"
        "providers:\n  local: {type: local, path: ./tree}\n  other: {type: local, path: ./o}\n"
        "domains:\n"
        "  hand.example:   # adopted from the old setup\n"
        "    provider: local\n"
        "    mode: enforce          # wrong: live says testing\n"
        "    mx:\n      - old.hand.example   # gone\n"
        "    max_age: 86400\n"
    )
    serve(world, hand_made(tmp_path / "tree"))
    result = import_(world, "hand.example", "-c", spec, "--provider", "other")
    assert result.exit_code == 0, result.stderr
    assert spec.read_text() == (
        "version: 1\n"
        "providers:\n  local: {type: local, path: ./tree}\n  other: {type: local, path: ./o}\n"
        "domains:\n"
        "  hand.example:   # adopted from the old setup\n"
        "    provider: other\n"
        "    mode: testing          # wrong: live says testing\n"
        '    mx: ["mx2.hand.example", "*.mx.hand.example"]   # gone\n'
        "    max_age: 604800\n"
        '    tlsrpt: {rua: ["mailto:tls@hand.example", "https://r.hand.example/tlsrpt"]}\n'
    )

    unknown = import_(world, "hand.example", "-c", spec, "--provider", "nope")
    assert unknown.exit_code == 1
    assert unknown.stderr.strip() == (
        f"error: --provider nope: not a provider of {spec} (known: local, other)"
    )


def test_several_providers_and_no_default_needs_provider(world: MtaStsWorld, tmp_path: Path):
    spec = tmp_path / "mtasts.yaml"
    spec.write_text(
        "version: 1\nproviders:\n  a: {type: local, path: ./a}\n  b: {type: local, path: ./b}\n"
        "domains: {}\n"
    )
    before = spec.read_bytes()
    serve(world, hand_made(tmp_path / "tree"))
    result = import_(world, "hand.example", "-c", spec)
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"error: refusing to edit {spec}: the edited spec would not load"
    )
    assert "provider: missing" in result.stderr
    assert spec.read_bytes() == before
    assert import_(world, "hand.example", "-c", spec, "--provider", "b").exit_code == 0
    assert load_spec(spec).domains["hand.example"].provider == "b"


# --- --from-provider --------------------------------------------------------------------


def test_from_provider_local_rebuilds_a_lost_spec(tmp_path: Path):
    names = {
        "a.example": {"mx": ["mx.a.example"], "mode": "enforce", "max_age": 1209600},
        "b.example": {"mx": ["*.mx.b.example", "mx.b.example"]},
        "c.example": {"mx": ["mx.c.example"], "tlsrpt": {"rua": ["https://r.c.example/v1"]}},
    }
    spec = write_spec(
        tmp_path, names, providers={"local": {"type": "local", "path": "./build/mta-sts"}}
    )
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    original = load_spec(spec).domains
    spec.unlink()

    result = run("import", "--from-provider", "local", "-c", spec)

    assert result.exit_code == 0, result.stderr
    rebuilt = load_spec(spec).domains
    for name, domain in original.items():
        assert (rebuilt[name].mode, rebuilt[name].max_age, rebuilt[name].mx) == (
            domain.mode,
            domain.max_age,
            domain.mx,
        )
        assert rebuilt[name].tlsrpt_rua == domain.tlsrpt_rua
    assert run("plan", "-c", spec).stdout.startswith("No changes.")


def test_from_provider_needs_the_providers_settings(tmp_path: Path):
    result = run("import", "--from-provider", "aws", "-c", tmp_path / "missing.yaml")
    assert result.exit_code == 1
    assert "only the embedded 'local' provider can be read without a spec" in result.stderr
    spec = write_spec(tmp_path, {"x.example": {"mx": ["mx.x.example"]}})
    both = run("import", "x.example", "--from-provider", "local", "-c", spec)
    assert both.exit_code == 1
    assert "name no DOMAIN" in both.stderr
    empty = run("import", "--from-provider", "local", "-c", spec)
    assert empty.exit_code == 0
    assert "0 of 0 domains imported." in empty.stdout
    assert f"{spec} is unchanged." in empty.stdout


# --- careless and hostile input ----------------------------------------------------------


def test_no_live_tlsrpt_under_a_default_rua_is_said(world: MtaStsWorld, tmp_path: Path):
    spec = write_spec(
        tmp_path,
        {"kept.example": {"mx": ["mx.kept.example"]}},
        providers={"local": {"type": "local", "path": "./tree"}},
    )
    serve(world, hand_made(tmp_path / "tree"))
    world.unpublish("_smtp._tls.hand.example")
    result = import_(world, "hand.example", "-c", spec)
    assert result.exit_code == 0, result.stderr
    assert "note: tlsrpt: no TLSRPT record is live; none imported" in result.stdout
    assert (
        "note: tlsrpt: the spec's default rua (mailto:tlsrpt@example.net) applies to it, so the "
        "next plan publishes a TLSRPT record"
    ) in result.stdout
    assert "tlsrpt" not in spec.read_text().split("hand.example")[-1]


def test_careless_invocations_are_one_line_each(world: MtaStsWorld, tmp_path: Path):
    spec = tmp_path / "mtasts.yaml"
    spec.write_text(SPEC)
    cases = {
        ("-c", spec): "error: name at least one DOMAIN (or --from-provider NAME)",
        ("bad..example", "-c", spec): "error: DOMAIN: ",
        ("localhost", "-c", spec): "error: DOMAIN: 'localhost' is a single label, not a domain",
        ("x.example", "-c", tmp_path): "error: ",
        ("x.example", "-c", spec, "--ca-bundle", tmp_path / "none.pem"): "error: --ca-bundle",
        ("x.example", "-c", spec, "--nameserver", "dns.example"): "error: --nameserver:",
    }
    for args, start in cases.items():
        result = run("import", *args)
        assert result.exit_code == 1, args
        assert result.stderr.startswith(start), (args, result.stderr)
        assert len(result.stderr.splitlines()) == 1, result.stderr
    assert spec.read_text() == SPEC


def test_a_spec_that_does_not_load_is_not_touched(world: MtaStsWorld, tmp_path: Path):
    spec = tmp_path / "mtasts.yaml"
    spec.write_text("version: 1\ndomains:\n  a.example: {mode: sometimes}\n")
    serve(world, hand_made(tmp_path / "tree"))
    result = import_(world, "hand.example", "-c", spec)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {spec}:3: domains.a.example.mode:")
    assert spec.read_text() == "version: 1\ndomains:\n  a.example: {mode: sometimes}\n"


def test_a_hostile_policy_is_not_copied_into_the_spec(world: MtaStsWorld, tmp_path: Path):
    spec = tmp_path / "mtasts.yaml"
    spec.write_text(SPEC)
    # mx values that would inject YAML, or a terminal escape, if copied as text
    world.deploy(
        "inject.example",
        'version: STSv1\r\nmode: testing\r\nmx: mx.inject.example\r\nmx: "]}\r\nmax_age: 86400\r\n',
        "a1",
    )
    world.deploy(
        "escape.example",
        "version: STSv1\r\nmode: testing\r\nmx: \x1b[2Jmx.escape.example\r\nmax_age: 86400\r\n",
        "a1",
    )
    result = import_(world, "inject.example", "escape.example", "-c", spec)
    assert result.exit_code == 1
    assert "inject.example: not imported: invalid policy" in result.stdout
    assert "escape.example: not imported: invalid policy" in result.stdout
    assert "\x1b" not in result.stdout
    assert spec.read_text() == SPEC


def test_repeated_mx_and_a_non_canonical_tlsrpt_record_are_imported_and_said(
    world: MtaStsWorld, tmp_path: Path
):
    """A hand-written policy listing an mx twice is imported with the pattern once (the
    spec keeps one of each), not refused; a TLSRPT record the next plan will rewrite (no
    blank after `;`, an extension mtasts does not publish) is said, rua unchanged."""
    spec = tmp_path / "mtasts.yaml"
    spec.write_text(SPEC)
    world.deploy(
        "twice.example",
        "version: STSv1\nmode: testing\nmx: mx.twice.example\nmx: mx.twice.example\n"
        "max_age: 86400\n",
        "t1",
        mx=["mx.twice.example"],
    )
    world.publish_txt("_smtp._tls.twice.example", ["v=TLSRPTv1;rua=mailto:tls@twice.example"])

    result = import_(world, "twice.example", "-c", spec)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert "twice.example: imported: mode testing, max_age 86400, mx mx.twice.example, " in (
        result.stdout
    )
    repeated = "note: mx: mx.twice.example listed more than once live; imported once"
    assert repeated in result.stdout
    assert (
        "note: tlsrpt: rua unchanged; the next plan re-publishes the record as "
        "'v=TLSRPTv1; rua=mailto:tls@twice.example' "
        "(live: 'v=TLSRPTv1;rua=mailto:tls@twice.example')"
    ) in result.stdout
    assert '    mx: ["mx.twice.example"]\n' in spec.read_text()
    plan = plan_json("-c", spec, "-d", "twice.example")
    (tlsrpt,) = [c for c in plan["changes"] if c["resource"] == "tlsrpt_record"]
    assert tlsrpt["after"] == "v=TLSRPTv1; rua=mailto:tls@twice.example"
