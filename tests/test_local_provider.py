"""The embedded `local` provider: a directory of web roots and BIND zone fragments.

It is the reference every provider follows: bulk read, atomic writes, nothing touched that
mtasts did not write, and a second apply finds nothing to do.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime

import pytest
from clihelpers import (
    append_zone,
    policy_file,
    run,
    simple_domains,
    snapshot,
    write_spec,
    zone_file,
)

import providers.localtree
from provisioner.apply import apply_plan
from provisioner.errors import ProviderError
from provisioner.plan import Action, Change
from provisioner.provider import NoProgress
from provisioner.refresh import compute_plan
from provisioner.registry import build_provider, build_providers
from provisioner.spec import load_spec
from provisioner.state import Resource

POLICY = b"version: STSv1\r\nmode: testing\r\nmx: mx.a.example\r\nmax_age: 86400\r\n"


@pytest.fixture
def provider(tmp_path):
    """A local provider whose `path: out` is relative to tmp_path (the spec's directory)."""
    return build_provider("local", "local", {"path": "out"}, tmp_path)


def _plan(spec_path):
    spec = load_spec(spec_path)
    built = build_providers(spec)
    return compute_plan(spec, built).plan, built


def _apply_spec(spec_path):
    the_plan, built = _plan(spec_path)
    return apply_plan(the_plan, built)


def _write_policy(root, domain, body=POLICY):
    path = policy_file(root, domain)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return path


def _temp_files(root):
    return [p for p in root.rglob("*") if p.is_file() and p.name.endswith(".tmp")]


# --- settings and layout ---------------------------------------------------------------


def test_path_is_resolved_against_the_spec_directory(provider, tmp_path):
    assert provider.root == tmp_path / "out"
    assert provider.plan_settings() == {"path": str(tmp_path / "out")}
    assert policy_file(tmp_path / "out", "a.example") == provider.policy_file("a.example")
    assert zone_file(tmp_path / "out", "a.example") == provider.zone_file("a.example")


# --- managed_domains -------------------------------------------------------------------


def test_managed_domains_lists_only_web_roots_holding_a_policy(provider, tmp_path):
    root = tmp_path / "out"
    _write_policy(root, "a.example")
    _write_policy(root, "b.example")
    (root / "mta-sts.c.example" / ".well-known").mkdir(parents=True)
    (root / "mta-sts.c.example" / "index.html").write_text("hi", encoding="utf-8")
    (root / "mta-sts.d.example").write_text("a file, not a web root", encoding="utf-8")
    append_zone(root, "e.example", '_mta-sts.e.example. 300 IN TXT "v=STSv1; id=e"')
    (root / "static").mkdir()

    assert provider.managed_domains() == {"a.example", "b.example"}


def test_managed_domains_of_a_missing_directory_is_empty(provider):
    assert provider.managed_domains() == set()


# --- read ------------------------------------------------------------------------------


def test_read_returns_policy_text_txt_values_and_publish_time(provider, tmp_path):
    root = tmp_path / "out"
    path = _write_policy(root, "a.example")
    published = 1_700_000_000
    os.utime(path, (published, published))
    append_zone(
        root,
        "a.example",
        '_mta-sts.a.example. 300 IN TXT "v=STSv1; " "id=abc123"',
        '_mta-sts.a.example. 300 IN TXT "other=1"',
        '_smtp._tls.a.example. 300 IN TXT "v=TLSRPTv1; rua=mailto:t@example.net"',
        "www.a.example. 300 IN A 192.0.2.1",
    )

    live = provider.read(["a.example", "nothing.example"], NoProgress())

    state = live["a.example"]
    assert state.policy_text == POLICY.decode()
    assert state.policy_published_at == datetime.fromtimestamp(published, UTC)
    assert state.sts_txt == ("v=STSv1; id=abc123", "other=1"), "strings are joined"
    assert state.tlsrpt_txt == ("v=TLSRPTv1; rua=mailto:t@example.net",)
    empty = live.get("nothing.example")
    assert empty is None or (empty.policy_text is None and empty.sts_txt == ())


def test_read_of_a_malformed_zone_fragment_is_a_one_line_provider_error(provider, tmp_path):
    root = tmp_path / "out"
    append_zone(root, "a.example", "this is not a zone", '"unterminated')

    with pytest.raises(ProviderError) as caught:
        provider.read(["a.example"], NoProgress())

    message = str(caught.value)
    assert "\n" not in message
    assert "a.example" in message
    assert str(zone_file(root, "a.example")) in message


def test_malformed_zone_fragment_through_the_cli_is_one_line(tmp_path):
    spec = write_spec(tmp_path, simple_domains(["a.example"]))
    append_zone(tmp_path / "out", "a.example", "this is not a zone")

    result = run("plan", "-c", spec)

    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("error: local: a.example: ")
    assert "a.example.zone" in line
    assert "Traceback" not in result.stderr


# --- apply: atomic writes, ownership ---------------------------------------------------


def test_apply_leaves_no_temporary_files(tmp_path):
    spec = write_spec(tmp_path, simple_domains(["a.example", "b.example"]))
    root = tmp_path / "out"

    _apply_spec(spec)
    write_spec(
        tmp_path, simple_domains(["a.example", "b.example"], mode="enforce", max_age=1209600)
    )
    _apply_spec(spec)

    assert _temp_files(root) == []
    hidden = [p.name for p in root.rglob(".*") if p.name != ".well-known"]
    assert hidden == []
    mode = policy_file(root, "a.example").stat().st_mode & 0o777
    assert mode == 0o644, "a web server must be able to read the policy"


def test_failed_write_keeps_the_old_policy_and_leaves_no_temporary_file(
    provider, tmp_path, monkeypatch
):
    root = tmp_path / "out"
    path = _write_policy(root, "a.example")
    new_body = POLICY.decode().replace("testing", "enforce")
    change = Change(
        "a.example", "local", Resource.POLICY, Action.UPDATE, POLICY.decode(), new_body, "test"
    )

    def rename_fails(*args, **kwargs):
        raise OSError(5, "Input/output error")

    # Every atomic write ends in a rename: make that step fail, after the temporary file
    # has been written.
    monkeypatch.setattr(providers.localtree.os, "replace", rename_fails)
    monkeypatch.setattr(providers.localtree.os, "rename", rename_fails)

    with pytest.raises(ProviderError) as caught:
        provider.apply([change], NoProgress())

    assert "a.example" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert path.read_bytes() == POLICY
    assert _temp_files(root) == []


def test_txt_write_keeps_other_records_of_the_fragment(provider, tmp_path):
    root = tmp_path / "out"
    append_zone(
        root,
        "a.example",
        "www.a.example. 3600 IN A 192.0.2.1",
        "a.example. 3600 IN MX 10 mx.a.example.",
        '_mta-sts.a.example. 300 IN TXT "v=STSv1; id=old"',
    )
    change = Change(
        "a.example",
        "local",
        Resource.STS_RECORD,
        Action.UPDATE,
        "v=STSv1; id=old",
        "v=STSv1; id=new",
        "test",
        ("v=STSv1; id=old",),
        ("v=STSv1; id=new",),
    )

    provider.apply([change], NoProgress())

    text = zone_file(root, "a.example").read_text(encoding="utf-8")
    assert re.search(r"^www\.a\.example\.\s+3600\s+IN\s+A\s+192\.0\.2\.1$", text, re.M)
    assert re.search(r"^a\.example\.\s+3600\s+IN\s+MX\s+10 mx\.a\.example\.$", text, re.M)
    assert '"v=STSv1; id=new"' in text
    assert "id=old" not in text
    assert provider.read(["a.example"], NoProgress())["a.example"].sts_txt == ("v=STSv1; id=new",)


def test_long_txt_value_is_split_into_strings_and_reads_back_whole(provider, tmp_path):
    value = "v=TLSRPTv1; rua=" + ",".join(f"mailto:r{i}@example.net" for i in range(20))
    assert len(value) > 255
    change = Change(
        "a.example",
        "local",
        Resource.TLSRPT_RECORD,
        Action.CREATE,
        None,
        value,
        "test",
        (),
        (value,),
    )

    provider.apply([change], NoProgress())

    text = zone_file(tmp_path / "out", "a.example").read_text(encoding="utf-8")
    assert '" "' in text, "a value over 255 bytes is several character-strings"
    assert provider.read(["a.example"], NoProgress())["a.example"].tlsrpt_txt == (value,)


def test_deleting_the_last_records_and_policy_removes_the_web_root_keeps_the_fragment(
    provider, tmp_path
):
    root = tmp_path / "out"
    _write_policy(root, "a.example")
    append_zone(root, "a.example", '_mta-sts.a.example. 300 IN TXT "v=STSv1; id=x"')
    (root / "keep.txt").write_text("mine", encoding="utf-8")
    changes = [
        Change(
            "a.example",
            "local",
            Resource.STS_RECORD,
            Action.DELETE,
            "v=STSv1; id=x",
            None,
            "test",
            ("v=STSv1; id=x",),
            (),
        ),
        Change("a.example", "local", Resource.POLICY, Action.DELETE, POLICY.decode(), None, "t"),
    ]

    provider.apply(changes, NoProgress())

    fragment = zone_file(root, "a.example").read_text(encoding="utf-8")
    assert "TXT" not in fragment, "kept, holding no record, for the zones that $INCLUDE it"
    assert provider.read(["a.example"], NoProgress())["a.example"].sts_txt == ()
    assert not (root / "mta-sts.a.example").exists()
    assert root.is_dir(), "the provider's own directory stays"
    assert (root / "keep.txt").read_text(encoding="utf-8") == "mine"


# --- idempotence -----------------------------------------------------------------------


def test_apply_twice_then_the_plan_is_empty(tmp_path):
    spec = write_spec(tmp_path, simple_domains(["a.example", "b.example", "c.example"]))

    first = _apply_spec(spec)
    again, _ = _plan(spec)

    assert first == 9
    assert again.changes == ()
    assert again.unchanged_domains == 3


def test_second_apply_through_the_cli_writes_nothing(tmp_path):
    spec = write_spec(tmp_path, simple_domains(["a.example", "b.example"]))
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    before = snapshot(tmp_path / "out")

    result = run("apply", "-c", spec, "--auto-approve")

    assert result.exit_code == 0
    assert snapshot(tmp_path / "out") == before


def test_idempotent_after_a_mode_change_and_a_removal(tmp_path):
    names = ["a.example", "b.example", "c.example"]
    spec = write_spec(tmp_path, simple_domains(names))
    _apply_spec(spec)
    write_spec(tmp_path, simple_domains(names[:2], mode="enforce", max_age=1209600))

    _apply_spec(spec)
    again, _ = _plan(spec)

    assert again.changes == ()
    assert any("c.example: removal waits" in note for note in again.notes)
