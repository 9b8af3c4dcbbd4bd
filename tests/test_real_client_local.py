"""What mtasts's local provider writes is what real senders accept.

The quickstart is applied with the real CLI; its output directory is then served by a local
DNS server and a local HTTPS server with a test CA (tests/harness), and two independent
clients fetch it: postfix-mta-sts-resolver (a sender's MTA-STS resolver) and checkdmarc.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from harness import MtaStsWorld
from typer.testing import CliRunner

from provisioner.cli import app

QUICKSTART_MX = {
    "example.com": ["mx1.example.com", "mx2.example.com"],
    "example.org": ["aspmx.l.google.com", "alt1.aspmx.l.google.com"],
    "example.net": ["in.mail.example.net"],
}


def mtasts(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def publish(world: MtaStsWorld, spec: Path) -> None:
    world.reset()
    world.load_local_tree(spec.parent / "build" / "mta-sts")
    for domain, hosts in QUICKSTART_MX.items():
        world.publish_mx(domain, hosts)


def test_quickstart_output_is_valid_for_a_real_sender(mta_sts_world: MtaStsWorld, quickstart):
    mtasts("apply", "-c", str(quickstart), "--auto-approve")
    publish(mta_sts_world, quickstart)
    for domain in QUICKSTART_MX:
        seen = mta_sts_world.resolve_with_postfix_client(domain)
        assert seen.status == "VALID", (domain, seen.log)
        checked = mta_sts_world.check_with_checkdmarc(domain)
        assert checked.valid, (domain, checked.errors)
        assert checked.policy_id == seen.policy_id
        assert not checked.mx_not_covered
    example_com = mta_sts_world.resolve_with_postfix_client("example.com")
    assert example_com.mode == "enforce"
    assert example_com.max_age == 1209600
    assert sorted(example_com.mx) == ["mx1.example.com", "mx2.example.com"]


def test_a_sender_with_the_old_id_refetches_after_a_mode_change(
    mta_sts_world: MtaStsWorld, quickstart
):
    mtasts("apply", "-c", str(quickstart), "--auto-approve")
    publish(mta_sts_world, quickstart)
    before = mta_sts_world.resolve_with_postfix_client("example.net")
    assert (before.status, before.mode) == ("VALID", "testing")

    unchanged = mta_sts_world.resolve_with_postfix_client("example.net", before.policy_id)
    assert unchanged.status == "NOT_CHANGED"

    text = quickstart.read_text().replace(
        '  example.net:\n    mx: ["*.mail.example.net"]',
        '  example.net:\n    mx: ["*.mail.example.net"]\n    mode: enforce\n    max_age: 1209600',
    )
    quickstart.write_text(text)
    mtasts("apply", "-c", str(quickstart), "--auto-approve")
    publish(mta_sts_world, quickstart)
    after = mta_sts_world.resolve_with_postfix_client("example.net", before.policy_id)
    assert after.status == "VALID"
    assert after.mode == "enforce"
    assert after.policy_id != before.policy_id


def test_removal_serves_mode_none_then_nothing(mta_sts_world: MtaStsWorld, quickstart):
    mtasts("apply", "-c", str(quickstart), "--auto-approve")
    text = quickstart.read_text().replace('  example.net:\n    mx: ["*.mail.example.net"]\n', "")
    quickstart.write_text(text)
    mtasts("apply", "-c", str(quickstart), "--auto-approve")
    publish(mta_sts_world, quickstart)
    step_one = mta_sts_world.resolve_with_postfix_client("example.net")
    assert (step_one.status, step_one.mode) == ("VALID", "none")

    policy = quickstart.parent / "build/mta-sts/mta-sts.example.net/.well-known/mta-sts.txt"
    long_ago = (datetime.now(UTC) - timedelta(days=2)).timestamp()
    os.utime(policy, (long_ago, long_ago))
    mtasts("apply", "-c", str(quickstart), "--auto-approve")
    publish(mta_sts_world, quickstart)
    assert mta_sts_world.resolve_with_postfix_client("example.net").status == "NONE"
    assert mta_sts_world.resolve_with_postfix_client("example.com").status == "VALID"


def test_a_long_tlsrpt_record_is_split_and_still_read_whole(mta_sts_world: MtaStsWorld, tmp_path):
    rua = [f"mailto:tlsrpt-{i:02d}@reports.example.net" for i in range(12)]
    spec = tmp_path / "mtasts.yaml"
    spec.write_text(
        "version: 1\n"
        "domains:\n"
        "  example.com:\n"
        "    mode: testing\n"
        "    mx: [mx1.example.com]\n"
        f"    tlsrpt: {{rua: [{', '.join(rua)}]}}\n"
    )
    mtasts("apply", "-c", str(spec), "--auto-approve")
    zone = (tmp_path / "build/mta-sts/zones/example.com.zone").read_text()
    assert '" "' in zone, "a value over 255 bytes is published as several strings"
    mta_sts_world.load_local_tree(tmp_path / "build" / "mta-sts")
    mta_sts_world.publish_mx("example.com", ["mx1.example.com"])
    checked = mta_sts_world.check_with_checkdmarc("example.com")
    assert checked.valid, checked.errors
    assert checked.tlsrpt.get("valid") is True, checked.tlsrpt
    assert checked.tlsrpt["tags"]["rua"]["value"] == rua, checked.tlsrpt


def test_mtasts_check_passes_what_mtasts_applied_and_names_a_stale_id(
    mta_sts_world: MtaStsWorld, quickstart
):
    mtasts("apply", "-c", str(quickstart), "--auto-approve")
    publish(mta_sts_world, quickstart)
    host, port = mta_sts_world.nameserver
    aim = [
        "--nameserver",
        f"{host}:{port}",
        "--connect-to",
        f"127.0.0.1:{mta_sts_world.https.port}",
        "--ca-bundle",
        str(mta_sts_world.ca_file),
        "-c",
        str(quickstart),
    ]
    passed = CliRunner().invoke(app, ["check", *QUICKSTART_MX, *aim])
    assert passed.exit_code == 0, passed.output
    assert "3 of 3 domains pass." in passed.output

    # The spec moves on but nothing is applied: the live id is now stale for the spec.
    quickstart.write_text(quickstart.read_text().replace("max_age: 1209600", "max_age: 1209601"))
    stale = CliRunner().invoke(app, ["check", "example.com", *aim])
    assert stale.exit_code == 1
    assert "sts_id" in stale.output
    assert "the served policy is not the spec's" in stale.output
