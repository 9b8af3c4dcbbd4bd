"""The `mtasts` command line as a user meets it: the words on stdout and stderr, the exit
codes, and the files the `local` provider leaves on disk.

Saved plans are in test_planfile.py, the plan's text/markdown/JSON shapes in test_output.py.
"""

from __future__ import annotations

import os
import re
import textwrap
from datetime import UTC, datetime, timedelta

import pytest
from clihelpers import (
    DEFAULTS,
    QUICKSTART,
    QUICKSTART_DOMAINS,
    RUA,
    age_policy,
    append_zone,
    plan_json,
    policy_fields,
    policy_file,
    run,
    run_console_script,
    simple_domains,
    snapshot,
    sts_values,
    tlsrpt_values,
    write_spec,
    zone_file,
)

from provisioner import __version__
from provisioner.rfc8461 import id_names_body


def assert_no_traceback(result):
    assert "Traceback" not in result.stdout
    assert "Traceback" not in result.stderr


def stderr_lines(result):
    return result.stderr.splitlines()


# --- 1. quickstart ---------------------------------------------------------------------


def test_quickstart_plan_before_apply_has_nine_additions_and_exits_2(quickstart, tmp_path):
    result = run("plan", "-c", quickstart, "--detailed-exitcode")

    assert result.exit_code == 2
    assert "Plan: 9 to add, 0 to change, 0 to destroy." in result.stdout
    for domain in QUICKSTART_DOMAINS:
        assert f"{domain} (local)" in result.stdout
    assert result.stderr == ""
    assert not (tmp_path / "build").exists(), "plan must not write anything"


def test_quickstart_plan_without_detailed_exitcode_exits_0(quickstart):
    result = run("plan", "-c", quickstart)

    assert result.exit_code == 0
    assert "Plan: 9 to add" in result.stdout


def test_quickstart_apply_writes_web_roots_and_zone_files(quickstart, tmp_path):
    root = tmp_path / "build" / "mta-sts"

    result = run("apply", "-c", quickstart, "--auto-approve")

    assert result.exit_code == 0, result.stderr
    assert "Apply complete: 9 changes (9 added, 0 changed, 0 destroyed)." in result.stdout
    for domain in QUICKSTART_DOMAINS:
        assert policy_file(root, domain).is_file()
        assert zone_file(root, domain).is_file()
    body = policy_file(root, "example.com").read_bytes()
    assert body == (
        b"version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: mx2.example.com\r\n"
        b"max_age: 1209600\r\n"
    )
    assert policy_fields(root, "example.org")["mx"] == [
        "*.aspmx.l.google.com",
        "aspmx.l.google.com",
    ]
    [sts] = sts_values(root, "example.com")
    assert re.fullmatch(r"v=STSv1; id=[A-Za-z0-9]{1,32}", sts)
    assert tlsrpt_values(root, "example.com") == ["v=TLSRPTv1; rua=mailto:tlsrpt@example.net"]
    assert tlsrpt_values(root, "example.org") == [
        "v=TLSRPTv1; rua=mailto:tls@example.org,https://reports.example.org/v1/tlsrpt"
    ]
    assert not (QUICKSTART.parent / "build").exists(), "the repository must stay untouched"


def test_quickstart_plan_after_apply_says_no_changes_and_exits_0(quickstart):
    assert run("apply", "-c", quickstart, "--auto-approve").exit_code == 0

    result = run("plan", "-c", quickstart, "--detailed-exitcode")

    assert result.exit_code == 0
    assert "No changes" in result.stdout
    assert "Plan:" not in result.stdout


def test_apply_with_nothing_to_do_exits_0_and_writes_nothing(quickstart, tmp_path):
    assert run("apply", "-c", quickstart, "--auto-approve").exit_code == 0
    before = snapshot(tmp_path / "build")

    result = run("apply", "-c", quickstart, "--auto-approve")

    assert result.exit_code == 0
    assert "No changes" in result.stdout
    assert "Apply complete" not in result.stdout
    assert snapshot(tmp_path / "build") == before


# --- 2. validate -----------------------------------------------------------------------


def test_validate_good_spec_exits_0(quickstart):
    result = run("validate", "-c", quickstart)

    assert result.exit_code == 0
    assert "valid" in result.stdout
    assert "3 domains" in result.stdout
    assert result.stderr == ""


BROKEN_SPEC = textwrap.dedent(
    """\
    version: 2
    defaults:
      mode: testing
      tlsrpt: {rua: ["mailto:tls@example.net"]}
    providers:
      local: {type: local, path: ./out}
    domains:
      good.example:
        mx: [mx.good.example]
      bad-age.example:
        mx: [mx.bad.example]
        max_age: -1
      bad-mode.example:
        mode: sometimes
        mx: [mx.example]
      typo.example:
        mx: [mx.typo.example]
        colour: blue
      no-mx.example:
        mode: enforce
      "bad..name":
        mx: [mx.example]
      elsewhere.example:
        provider: nope
        mx: [mx.elsewhere.example]
    surprise: true
    """
)


def test_validate_reports_every_error_with_file_line_and_where(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broken.yaml").write_text(BROKEN_SPEC, encoding="utf-8")

    result = run("validate", "-c", "broken.yaml")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert_no_traceback(result)
    lines = stderr_lines(result)
    pattern = re.compile(r"error: broken\.yaml:(\d+): (\S+): (.+)")
    found = {}
    for line in lines:
        match = pattern.fullmatch(line)
        assert match, f"not 'error: <file>:<line>: <where>: <message>': {line!r}"
        found[(int(match[1]), match[2])] = match[3]
    assert set(found) == {
        (1, "version"),
        (12, "domains.bad-age.example.max_age"),
        (14, "domains.bad-mode.example.mode"),
        (18, "domains.typo.example.colour"),
        (19, "domains.no-mx.example.mx"),
        (21, "domains.bad..name"),
        (24, "domains.elsewhere.example.provider"),
        (26, "surprise"),
    }
    assert "1" in found[(1, "version")]
    assert "31557600" in found[(12, "domains.bad-age.example.max_age")]
    assert "enforce" in found[(14, "domains.bad-mode.example.mode")]
    assert "unknown key" in found[(18, "domains.typo.example.colour")]
    assert "nope" in found[(24, "domains.elsewhere.example.provider")]


def test_plan_and_apply_report_spec_errors_like_validate(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broken.yaml").write_text(BROKEN_SPEC, encoding="utf-8")
    expected = run("validate", "-c", "broken.yaml").stderr

    for command in (["plan"], ["apply", "--auto-approve"]):
        result = run(*command, "-c", "broken.yaml")
        assert result.exit_code == 1
        assert result.stderr == expected
    assert not (tmp_path / "out").exists()


def test_validate_unknown_provider_type_is_one_line_naming_installed_types(tmp_path):
    spec = write_spec(
        tmp_path,
        simple_domains(["a.example"]),
        providers={"cloud": {"type": "nosuch"}},
        defaults={**DEFAULTS, "provider": "cloud"},
    )

    result = run("validate", "-c", spec)

    assert result.exit_code == 1
    assert_no_traceback(result)
    [line] = stderr_lines(result)
    assert line.startswith(f"error: {spec}:")
    assert "providers.cloud" in line
    assert "'nosuch'" in line
    assert "installed: " in line and "local" in line


def test_validate_missing_spec_file_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    result = run("validate", "-c", "missing.yaml")

    assert result.exit_code == 1
    assert_no_traceback(result)
    assert stderr_lines(result) == ["error: missing.yaml: no such spec file"]


def test_validate_invalid_yaml_is_one_line_with_its_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_text(
        "version: 1\ndomains:\n  a.example: {mx: [mx.a.example]\n", encoding="utf-8"
    )

    result = run("validate", "-c", "bad.yaml")

    assert result.exit_code == 1
    [line] = stderr_lines(result)
    assert re.fullmatch(r"error: bad\.yaml:\d+: invalid YAML: .+", line)


def test_validate_unknown_provider_setting_names_it(tmp_path):
    spec = write_spec(
        tmp_path,
        simple_domains(["a.example"]),
        providers={"local": {"type": "local", "path": "./out", "bucket": "x"}},
    )

    result = run("validate", "-c", spec)

    assert result.exit_code == 1
    [line] = stderr_lines(result)
    assert "providers.local.bucket" in line


def test_validate_prints_spec_warnings_on_stderr_and_still_exits_0(tmp_path):
    spec = write_spec(
        tmp_path,
        {"a.example": {"mx": ["mx.a.example"], "mode": "enforce"}},
        defaults={"provider": "local", "max_age": 86400},
    )

    result = run("validate", "-c", spec)

    assert result.exit_code == 0
    assert "warning: a.example: max_age 86400" in result.stderr
    assert "warning: a.example: no tlsrpt" in result.stderr
    assert "valid" in result.stdout


# --- 6. confirmation -------------------------------------------------------------------


def test_apply_without_auto_approve_and_without_a_terminal_refuses(quickstart, tmp_path):
    result = run("apply", "-c", quickstart, input="yes\n")

    assert result.exit_code == 1
    assert_no_traceback(result)
    [line] = stderr_lines(result)
    assert line.startswith("error: ")
    assert "not a terminal" in line
    assert "--auto-approve" in line
    assert result.stdout == "", "refused before any provider was read (no plan to show)"
    assert not (tmp_path / "build").exists(), "nothing may be written"


# --- 7. ownership ----------------------------------------------------------------------


OWN = "own.example"
FOREIGN_STS = "google-site-verification=abc123"
FOREIGN_TLS = "note=not-a-tlsrpt-record"


def _publish_with_neighbours(tmp_path):
    """own.example (and keep.example, so the spec stays non-empty) published, then a
    neighbour adds their own TXT values, an A record and files beside mtasts's."""
    spec = write_spec(tmp_path, simple_domains([OWN, "keep.example"]))
    root = tmp_path / "out"
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    append_zone(
        root,
        OWN,
        f'_mta-sts.{OWN}. 300 IN TXT "{FOREIGN_STS}"',
        f'_smtp._tls.{OWN}. 300 IN TXT "{FOREIGN_TLS}"',
        f"www.{OWN}. 300 IN A 192.0.2.10",
    )
    (root / f"mta-sts.{OWN}" / "index.html").write_text("hello\n", encoding="utf-8")
    (root / "README.txt").write_text("served by nginx\n", encoding="utf-8")
    return spec, root


def _assert_neighbours_intact(root):
    assert FOREIGN_STS in sts_values(root, OWN)
    assert FOREIGN_TLS in tlsrpt_values(root, OWN)
    assert re.search(
        rf"^www\.{re.escape(OWN)}\.\s+\d+\s+IN\s+A\s+192\.0\.2\.10$",
        zone_file(root, OWN).read_text(encoding="utf-8"),
        re.MULTILINE,
    )
    assert (root / f"mta-sts.{OWN}" / "index.html").read_text(encoding="utf-8") == "hello\n"
    assert (root / "README.txt").read_text(encoding="utf-8") == "served by nginx\n"


def test_foreign_values_and_files_plan_no_change(tmp_path):
    spec, _root = _publish_with_neighbours(tmp_path)

    result = run("plan", "-c", spec, "--detailed-exitcode")

    assert result.exit_code == 0, result.stdout
    assert "No changes" in result.stdout


def test_foreign_values_and_files_survive_a_mode_change(tmp_path):
    spec, root = _publish_with_neighbours(tmp_path)
    write_spec(
        tmp_path,
        {
            OWN: {"mx": [f"mx.{OWN}"], "mode": "enforce", "max_age": 1209600},
            "keep.example": {"mx": ["mx.keep.example"]},
        },
    )

    result = run("apply", "-c", spec, "--auto-approve")

    assert result.exit_code == 0, result.stderr
    assert policy_fields(root, OWN)["mode"] == "enforce"
    assert len([v for v in sts_values(root, OWN) if v.startswith("v=STSv1")]) == 1
    _assert_neighbours_intact(root)


def test_foreign_values_and_files_survive_removal(tmp_path):
    spec, root = _publish_with_neighbours(tmp_path)
    write_spec(tmp_path, simple_domains(["keep.example"]))

    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    assert policy_fields(root, OWN)["mode"] == "none"
    _assert_neighbours_intact(root)

    age_policy(root, OWN, 86400 + 3600)
    result = run("apply", "-c", spec, "--auto-approve")

    assert result.exit_code == 0, result.stderr
    assert not policy_file(root, OWN).exists()
    assert sts_values(root, OWN) == [FOREIGN_STS]
    tlsrpt = tlsrpt_values(root, OWN)
    assert FOREIGN_TLS in tlsrpt
    assert any(v.startswith("v=TLSRPTv1") for v in tlsrpt), "TLS reporting is not removed"
    assert "the _smtp._tls record is left as it is" in result.stdout
    _assert_neighbours_intact(root)
    assert (root / f"mta-sts.{OWN}").is_dir(), "the web root still holds index.html"
    assert not (root / f"mta-sts.{OWN}" / ".well-known").exists()
    assert run("plan", "-c", spec, "--detailed-exitcode").exit_code == 0


def test_two_sts_values_are_replaced_by_exactly_one(tmp_path):
    spec, root = _publish_with_neighbours(tmp_path)
    [mine] = [v for v in sts_values(root, OWN) if v.startswith("v=STSv1")]
    append_zone(root, OWN, f'_mta-sts.{OWN}. 300 IN TXT "v=STSv1; id=stale1"')

    shown = run("plan", "-c", spec)
    assert "senders ignore them" in shown.stdout
    [change] = [c for c in plan_json("-c", spec)["changes"] if c["domain"] == OWN]
    assert change["resource"] == "sts_record"
    assert change["action"] == "update"
    assert "senders ignore them" in change["reason"]

    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0

    values = sts_values(root, OWN)
    assert [v for v in values if v.startswith("v=STSv1")] == [mine]
    _assert_neighbours_intact(root)
    assert run("plan", "-c", spec, "--detailed-exitcode").exit_code == 0


# --- 8. removal (RFC 8461 section 8.3) -------------------------------------------------


REMOVAL_DOMAINS = ("a.example", "b.example", "c.example")


def _published_three(tmp_path, **settings):
    spec = write_spec(tmp_path, simple_domains(REMOVAL_DOMAINS, **settings))
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    return spec, tmp_path / "out"


def test_removal_first_publishes_mode_none_with_a_new_id_and_keeps_records(tmp_path):
    spec, root = _published_three(tmp_path, mode="enforce", max_age=1209600)
    before = policy_fields(root, "b.example")
    [old_sts] = sts_values(root, "b.example")
    write_spec(
        tmp_path, simple_domains(["a.example", "c.example"], mode="enforce", max_age=1209600)
    )

    shown = run("plan", "-c", spec, "--detailed-exitcode")
    assert shown.exit_code == 2
    assert "b.example" in shown.stdout
    assert "mode enforce -> none" in shown.stdout
    assert "0 to destroy" in shown.stdout

    result = run("apply", "-c", spec, "--auto-approve")

    assert result.exit_code == 0, result.stderr
    after = policy_fields(root, "b.example")
    assert after == {**before, "mode": "none"}
    [new_sts] = sts_values(root, "b.example")
    assert new_sts.startswith("v=STSv1; id=")
    assert new_sts != old_sts
    assert tlsrpt_values(root, "b.example") == [f"v=TLSRPTv1; rua={RUA}"]


def test_removal_then_waits_with_a_note_and_no_changes(tmp_path):
    spec, root = _published_three(tmp_path)
    write_spec(tmp_path, simple_domains(["a.example", "c.example"]))
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0

    result = run("plan", "-c", spec, "--detailed-exitcode")

    assert result.exit_code == 0
    assert "No changes" in result.stdout
    assert re.search(r"note: b\.example: removal waits until \d{4}-\d\d-\d\dT", result.stdout)
    data = plan_json("-c", spec)
    assert data["changes"] == []
    assert any("b.example: removal waits until" in note for note in data["notes"])

    age_policy(root, "b.example", 86400 - 600)
    snap = snapshot(root)
    waiting = run("apply", "-c", spec, "--auto-approve")
    assert waiting.exit_code == 0
    assert "removal waits until" in waiting.stdout
    assert snapshot(root) == snap, "nothing is deleted before max_age has passed"


def test_removal_after_max_age_deletes_policy_sts_record_and_web_root(tmp_path):
    spec, root = _published_three(tmp_path)
    write_spec(tmp_path, simple_domains(["a.example", "c.example"]))
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    age_policy(root, "b.example", 86400 + 60)

    shown = run("plan", "-c", spec, "--detailed-exitcode")
    assert shown.exit_code == 2
    assert "Plan: 0 to add, 0 to change, 2 to destroy." in shown.stdout

    result = run("apply", "-c", spec, "--auto-approve")

    assert result.exit_code == 0, result.stderr
    assert "2 destroyed" in result.stdout
    assert not policy_file(root, "b.example").exists()
    assert not (root / "mta-sts.b.example").exists(), "the empty web root is removed"
    assert sts_values(root, "b.example") == []
    assert [v[:10] for v in tlsrpt_values(root, "b.example")] == ["v=TLSRPTv1"]
    for kept in ("a.example", "c.example"):
        assert policy_file(root, kept).is_file()
        assert zone_file(root, kept).is_file()
    after = run("plan", "-c", spec, "--detailed-exitcode")
    assert after.exit_code == 0
    assert "b.example" not in after.stdout


def test_domain_put_back_during_the_wait_returns_to_its_policy(tmp_path):
    spec, root = _published_three(tmp_path, mode="enforce", max_age=1209600)
    original_policy = policy_file(root, "b.example").read_bytes()
    original_sts = sts_values(root, "b.example")
    write_spec(
        tmp_path, simple_domains(["a.example", "c.example"], mode="enforce", max_age=1209600)
    )
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    assert policy_fields(root, "b.example")["mode"] == "none"

    write_spec(tmp_path, simple_domains(REMOVAL_DOMAINS, mode="enforce", max_age=1209600))
    shown = run("plan", "-c", spec)
    assert "mode none -> enforce" in shown.stdout
    assert "removal waits" not in shown.stdout
    result = run("apply", "-c", spec, "--auto-approve")

    assert result.exit_code == 0, result.stderr
    assert policy_file(root, "b.example").read_bytes() == original_policy
    [sts] = sts_values(root, "b.example")
    assert sts.startswith("v=STSv1; id=") and original_sts
    assert id_names_body(sts.removeprefix("v=STSv1; id="), original_policy.decode())
    after = run("plan", "-c", spec, "--detailed-exitcode")
    assert after.exit_code == 0
    assert "note:" not in after.stdout


# --- 9. the destructive threshold ------------------------------------------------------


TEN = tuple(f"d{i}.example" for i in range(10))


def _published_ten(tmp_path, **settings):
    spec = write_spec(tmp_path, simple_domains(TEN, **settings))
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    return spec, tmp_path / "out"


def test_removing_4_of_10_domains_needs_allow_destroy(tmp_path):
    spec, root = _published_ten(tmp_path)
    write_spec(tmp_path, simple_domains(TEN[4:]))
    snap = snapshot(root)

    shown = run("plan", "-c", spec)
    assert "unsafe:" in shown.stdout
    assert "--allow-destroy" in shown.stdout

    refused = run("apply", "-c", spec, "--auto-approve")

    assert refused.exit_code == 1
    assert_no_traceback(refused)
    [line] = stderr_lines(refused)
    assert line.startswith("error: refusing to apply")
    assert "--allow-destroy" in line
    assert "4 of 10" in line
    assert snapshot(root) == snap, "nothing may change"

    allowed = run("apply", "-c", spec, "--auto-approve", "--allow-destroy")

    assert allowed.exit_code == 0, allowed.stderr
    for domain in TEN[:4]:
        assert policy_fields(root, domain)["mode"] == "none"
    for domain in TEN[4:]:
        assert policy_fields(root, domain)["mode"] == "testing"


def test_removing_3_of_10_domains_is_below_the_threshold(tmp_path):
    spec, root = _published_ten(tmp_path)
    write_spec(tmp_path, simple_domains(TEN[3:]))

    result = run("apply", "-c", spec, "--auto-approve")

    assert result.exit_code == 0, result.stderr
    assert "unsafe" not in result.stdout
    for domain in TEN[:3]:
        assert policy_fields(root, domain)["mode"] == "none"


def test_downgrading_4_of_10_from_enforce_to_testing_needs_allow_destroy(tmp_path):
    spec, root = _published_ten(tmp_path, mode="enforce", max_age=1209600)
    domains = simple_domains(TEN, mode="enforce", max_age=1209600)
    for name in TEN[:4]:
        domains[name].update(mode="testing", max_age=86400)
    write_spec(tmp_path, domains)
    snap = snapshot(root)

    refused = run("apply", "-c", spec, "--auto-approve")

    assert refused.exit_code == 1
    assert "--allow-destroy" in refused.stderr
    assert snapshot(root) == snap

    allowed = run("apply", "-c", spec, "--auto-approve", "--allow-destroy")

    assert allowed.exit_code == 0, allowed.stderr
    assert [policy_fields(root, d)["mode"] for d in TEN[:5]] == ["testing"] * 4 + ["enforce"]


def test_domain_option_does_not_change_the_threshold_verdict(tmp_path):
    spec, root = _published_ten(tmp_path)
    write_spec(tmp_path, simple_domains(TEN[2:]))
    assert "unsafe" not in run("plan", "-c", spec).stdout

    result = run("apply", "-c", spec, "-d", TEN[0], "-d", TEN[1], "--auto-approve")

    assert result.exit_code == 0, result.stderr
    assert policy_fields(root, TEN[0])["mode"] == "none"


# --- a failing apply -------------------------------------------------------------------


def test_a_failed_policy_write_stops_before_any_sts_record_changes(tmp_path, monkeypatch):
    spec = write_spec(tmp_path, simple_domains(["a.example", "b.example"]))
    root = tmp_path / "out"
    real_replace = os.replace
    policy_writes = []

    def replace(src, dst, *args, **kwargs):
        """The disk fills up on the second policy written (b.example's: domains go in order)."""
        if str(dst).endswith("mta-sts.txt"):
            policy_writes.append(dst)
            if len(policy_writes) == 2:
                raise OSError(28, "No space left on device")
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)

    result = run("apply", "-c", spec, "--auto-approve")

    assert result.exit_code == 1
    assert_no_traceback(result)
    [line] = stderr_lines(result)
    assert "b.example" in line
    assert "No space left on device" in line
    assert "mtasts plan" in line
    assert not (root / "zones").exists(), "no id may point at a policy that is not served"
    monkeypatch.setattr(os, "replace", real_replace)
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    assert sts_values(root, "b.example")


# --- 10. -d/--domain -------------------------------------------------------------------


def test_domain_option_limits_plan_and_apply(tmp_path):
    spec = write_spec(tmp_path, simple_domains(REMOVAL_DOMAINS))
    root = tmp_path / "out"

    shown = run("plan", "-c", spec, "-d", "b.example")
    assert "b.example" in shown.stdout
    assert "a.example" not in shown.stdout
    assert "c.example" not in shown.stdout
    assert "Plan: 3 to add" in shown.stdout

    result = run("apply", "-c", spec, "-d", "B.Example.", "--auto-approve")

    assert result.exit_code == 0, result.stderr
    assert policy_file(root, "b.example").is_file()
    assert not policy_file(root, "a.example").exists()
    assert not zone_file(root, "c.example").exists()
    assert "Plan: 6 to add" in run("plan", "-c", spec).stdout


def test_domain_option_repeats(tmp_path):
    spec = write_spec(tmp_path, simple_domains(REMOVAL_DOMAINS))

    result = run("apply", "-c", spec, "-d", "a.example", "--domain", "c.example", "--auto-approve")

    assert result.exit_code == 0
    root = tmp_path / "out"
    assert policy_file(root, "a.example").is_file()
    assert policy_file(root, "c.example").is_file()
    assert not policy_file(root, "b.example").exists()


def test_domain_option_accepts_unicode_names(tmp_path):
    spec = write_spec(tmp_path, simple_domains(["bücher.example", "other.example"]))

    result = run("apply", "-c", spec, "-d", "BÜCHER.example.", "--auto-approve")

    assert result.exit_code == 0, result.stderr
    assert "xn--bcher-kva.example" in result.stdout
    assert policy_file(tmp_path / "out", "xn--bcher-kva.example").is_file()
    assert not policy_file(tmp_path / "out", "other.example").exists()


@pytest.mark.parametrize("command", [["plan"], ["apply", "--auto-approve"]])
def test_domain_option_unknown_domain_is_a_clear_error(tmp_path, command):
    spec = write_spec(tmp_path, simple_domains(["a.example"]))

    result = run(*command, "-c", spec, "-d", "nosuch.example")

    assert result.exit_code == 1
    assert_no_traceback(result)
    [line] = stderr_lines(result)
    assert "nosuch.example" in line
    assert "not in the spec" in line
    assert not (tmp_path / "out").exists()


def test_domain_option_invalid_name_is_a_clear_error(tmp_path):
    spec = write_spec(tmp_path, simple_domains(["a.example"]))

    result = run("plan", "-c", spec, "-d", "bad..name")

    assert result.exit_code == 1
    [line] = stderr_lines(result)
    assert line.startswith("error: --domain")


def test_domain_option_reaches_a_managed_domain_that_left_the_spec(tmp_path):
    spec, root = _published_three(tmp_path)
    write_spec(tmp_path, simple_domains(["c.example"]))

    result = run("apply", "-c", spec, "-d", "b.example", "--auto-approve")

    assert result.exit_code == 0, result.stderr
    assert policy_fields(root, "b.example")["mode"] == "none"
    assert policy_fields(root, "a.example")["mode"] == "testing", "-d left a.example alone"


# --- 11. render ------------------------------------------------------------------------


def test_render_writes_the_local_provider_layout_and_touches_no_provider(quickstart, tmp_path):
    rendered = tmp_path / "rendered"
    same_clock = {"MTASTS_NOW": "2026-11-30T12:00:00Z"}  # ids carry the time they were minted

    result = run("render", "-c", quickstart, "--out", rendered, env=same_clock)

    assert result.exit_code == 0, result.stderr
    assert "3 domains" in result.stdout
    assert not (tmp_path / "build").exists(), "render must not touch the provider's path"
    assert run("apply", "-c", quickstart, "--auto-approve", env=same_clock).exit_code == 0
    provider_tree = {
        path: content for path, content in _contents(tmp_path / "build" / "mta-sts").items()
    }
    assert _contents(rendered) == provider_tree
    assert sorted(provider_tree) == sorted(
        [f"mta-sts.{d}/.well-known/mta-sts.txt" for d in QUICKSTART_DOMAINS]
        + [f"zones/{d}.zone" for d in QUICKSTART_DOMAINS]
    )


def test_render_domain_option_limits_the_files(quickstart, tmp_path):
    rendered = tmp_path / "rendered"

    result = run("render", "-c", quickstart, "-d", "example.org", "--out", rendered)

    assert result.exit_code == 0
    assert sorted(_contents(rendered)) == [
        "mta-sts.example.org/.well-known/mta-sts.txt",
        "zones/example.org.zone",
    ]


def test_render_domain_option_unknown_domain_is_an_error(quickstart, tmp_path):
    result = run("render", "-c", quickstart, "-d", "nosuch.example", "--out", tmp_path / "r")

    assert result.exit_code == 1
    assert "nosuch.example" in result.stderr


def _contents(root):
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file()
    }


# --- 13. -c default, MTASTS_CONFIG, relative paths -------------------------------------


def test_config_defaults_to_mtasts_yaml_in_the_cwd(tmp_path, monkeypatch):
    write_spec(tmp_path, simple_domains(["cwd.example"]))
    monkeypatch.chdir(tmp_path)

    result = run("plan")

    assert result.exit_code == 0, result.stderr
    assert "cwd.example" in result.stdout


def test_config_default_missing_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    result = run("plan")

    assert result.exit_code == 1
    assert stderr_lines(result) == ["error: mtasts.yaml: no such spec file"]


def test_config_honours_mtasts_config_and_c_wins_over_it(tmp_path, monkeypatch):
    write_spec(tmp_path, simple_domains(["cwd.example"]))
    write_spec(tmp_path / "conf", simple_domains(["env.example"]), name="other.yaml")
    monkeypatch.chdir(tmp_path)

    from_env = run("plan", env={"MTASTS_CONFIG": "conf/other.yaml"})
    explicit = run("plan", "-c", "mtasts.yaml", env={"MTASTS_CONFIG": "conf/other.yaml"})

    assert from_env.exit_code == 0, from_env.stderr
    assert "env.example" in from_env.stdout
    assert "cwd.example" not in from_env.stdout
    assert "cwd.example" in explicit.stdout
    assert "env.example" not in explicit.stdout


def test_provider_paths_are_relative_to_the_spec_file_not_the_cwd(tmp_path, monkeypatch):
    write_spec(tmp_path / "conf", simple_domains(["rel.example"]))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    result = run("apply", "-c", "../conf/mtasts.yaml", "--auto-approve")

    assert result.exit_code == 0, result.stderr
    assert policy_file(tmp_path / "conf" / "out", "rel.example").is_file()
    assert list(elsewhere.iterdir()) == []


def test_env_config_with_relative_provider_path(tmp_path, monkeypatch):
    write_spec(tmp_path / "conf", simple_domains(["rel.example"]))
    monkeypatch.chdir(tmp_path)

    result = run("apply", "--auto-approve", env={"MTASTS_CONFIG": "conf/mtasts.yaml"})

    assert result.exit_code == 0, result.stderr
    assert policy_file(tmp_path / "conf" / "out", "rel.example").is_file()
    assert not (tmp_path / "out").exists()


# --- the real console script -----------------------------------------------------------


def test_console_script_version(tmp_path):
    result = run_console_script("--version", cwd=tmp_path)

    assert result.returncode == 0
    assert result.stdout.strip() == f"mtasts {__version__}"


@pytest.mark.parametrize("command", ["validate", "render", "plan", "apply"])
def test_console_script_help_of_each_command_shows_an_example(tmp_path, command):
    result = run_console_script(command, "--help", cwd=tmp_path, env={"COLUMNS": "120"})

    assert result.returncode == 0
    assert "Example" in result.stdout
    assert f"mtasts {command} " in result.stdout


def test_console_script_errors_are_lines_not_tracebacks(tmp_path):
    (tmp_path / "broken.yaml").write_text(BROKEN_SPEC, encoding="utf-8")
    (tmp_path / "garbage.json").write_text("this is not a plan\n", encoding="utf-8")
    write_spec(tmp_path, simple_domains(["a.example"]))

    broken = run_console_script("plan", "-c", "broken.yaml", cwd=tmp_path)
    garbage = run_console_script("apply", "garbage.json", cwd=tmp_path)
    no_tty = run_console_script("apply", cwd=tmp_path)

    for result in (broken, garbage, no_tty):
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr + result.stdout
        assert all(line.startswith("error: ") for line in result.stderr.splitlines())
    assert len(broken.stderr.splitlines()) == 8
    assert "--auto-approve" in no_tty.stderr
    assert not (tmp_path / "out").exists()


def test_console_script_detailed_exitcode_and_plain_output(tmp_path):
    write_spec(tmp_path, simple_domains(["a.example"]))

    changes = run_console_script("plan", "--detailed-exitcode", cwd=tmp_path)
    applied = run_console_script("apply", "--auto-approve", cwd=tmp_path)
    clean = run_console_script("plan", "--detailed-exitcode", cwd=tmp_path)

    assert (changes.returncode, applied.returncode, clean.returncode) == (2, 0, 0)
    assert "\x1b[" not in changes.stdout, "no colour codes when stdout is not a terminal"
    assert "Plan: 3 to add, 0 to change, 0 to destroy." in changes.stdout
    assert "No changes" in clean.stdout


def test_usage_error_exits_1_not_the_changes_code(tmp_path):
    write_spec(tmp_path, simple_domains(["a.example"]))

    result = run_console_script("plan", "--detailed-exitcode", "--format", "yaml", cwd=tmp_path)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr


def test_no_arguments_shows_the_commands(tmp_path):
    result = run_console_script(cwd=tmp_path)

    assert "validate" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


# --- the clock seam --------------------------------------------------------------------


def test_mtasts_now_moves_the_removal_wait_without_patching_code(tmp_path):
    spec = write_spec(tmp_path, simple_domains(["a.example", "b.example"]))
    root = tmp_path / "out"
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    write_spec(tmp_path, simple_domains(["a.example"]))
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    assert "removal waits until" in run("plan", "-c", spec).stdout

    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    shown = run("plan", "-c", spec, env={"MTASTS_NOW": later})

    assert "removal step 2 of 2" in shown.stdout
    assert policy_fields(root, "b.example")["mode"] == "none"


@pytest.mark.parametrize("value", ["tomorrow", "2026-12-24T00:00:00"])
def test_a_bad_mtasts_now_is_a_one_line_error(tmp_path, value):
    spec = write_spec(tmp_path, simple_domains(["a.example"]))
    result = run("plan", "-c", spec, env={"MTASTS_NOW": value})
    assert result.exit_code == 1
    [line] = stderr_lines(result)
    assert line.startswith(f"error: MTASTS_NOW: {value!r}")


@pytest.mark.parametrize("value", ["0999-01-01T00:00:00Z", "9999-12-31T23:00:00Z"])
def test_mtasts_now_outside_four_digit_years_is_refused(tmp_path, value):
    spec = write_spec(tmp_path, simple_domains(["a.example"]))
    result = run("plan", "-c", spec, env={"MTASTS_NOW": value})
    assert result.exit_code == 1
    [line] = stderr_lines(result)
    assert "is outside 2000..9999" in line
