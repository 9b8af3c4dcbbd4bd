"""The local provider's tree is a trust boundary (issue 14, section 2).

Everything under the root is shared with a web server, other tools and other people: links
planted there, names mtasts did not validate and files another tool wrote must never make
mtasts read, write or delete outside the tree, print what it finds there, or take over what
it did not publish. Each test is a reproduction that failed before the tree accessor.
"""

from __future__ import annotations

import json
import os
import threading

import pytest
from clihelpers import (
    age_policy,
    policy_file,
    run,
    simple_domains,
    snapshot,
    sts_values,
    write_spec,
    zone_file,
)

from provisioner.errors import ProviderError
from provisioner.plan import Action, Change
from provisioner.provider import NoProgress
from provisioner.registry import build_provider
from provisioner.rfc8461 import Mode, Policy
from provisioner.state import Resource

SECRET = "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"


def own_policy(domain: str, mode: Mode = Mode.TESTING) -> str:
    """A body mtasts could have written for `simple_domains([domain])`."""
    return Policy(mode, 86400, (f"mx.{domain}",)).render()


@pytest.fixture
def provider(tmp_path):
    return build_provider("local", "local", {"path": "out"}, tmp_path)


def _one_line_refusal(result, *names: str) -> str:
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    for name in names:
        assert name in line
    return line


def _policy_change(domain: str, body: str) -> Change:
    return Change(domain, "local", Resource.POLICY, Action.CREATE, None, body, "test")


# --- links below the root are never followed -------------------------------------------


def test_a_web_root_symlink_is_refused_and_its_target_never_printed(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / ".well-known").mkdir(parents=True)
    (elsewhere / ".well-known" / "mta-sts.txt").write_text(SECRET, encoding="utf-8")
    root = tmp_path / "out"
    root.mkdir()
    (root / "mta-sts.a.example").symlink_to("../elsewhere")
    spec = write_spec(tmp_path, simple_domains(["a.example"]))
    before = snapshot(elsewhere)

    for command in (
        ("plan", "-c", spec, "--format", "json"),
        ("plan", "-c", spec, "--out", tmp_path / "saved.json"),
        ("apply", "-c", spec, "--auto-approve"),
    ):
        result = run(*command)
        line = _one_line_refusal(result, str(root / "mta-sts.a.example"), "symbolic link")
        assert "wJalrXUtnFEMI" not in result.stdout + line

    assert not (tmp_path / "saved.json").exists()
    assert snapshot(elsewhere) == before, "nothing outside the tree is written"


def test_a_zones_symlink_is_refused_and_nothing_is_written_through_it(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    root = tmp_path / "out"
    root.mkdir()
    (root / "zones").symlink_to("../elsewhere")
    spec = write_spec(tmp_path, simple_domains(["a.example"]))

    result = run("apply", "-c", spec, "--auto-approve")

    _one_line_refusal(result, str(root / "zones"), "symbolic link")
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_a_policy_file_symlink_is_refused_by_plan_and_apply(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")
    root = tmp_path / "out"
    path = policy_file(root, "a.example")
    path.parent.mkdir(parents=True)
    path.symlink_to(secret)
    spec = write_spec(tmp_path, simple_domains(["a.example"]))

    shown = run("plan", "-c", spec, "--format", "json")
    applied = run("apply", "-c", spec, "--auto-approve")

    for result in (shown, applied):
        line = _one_line_refusal(result, str(path), "symbolic link")
        assert "wJalrXUtnFEMI" not in result.stdout + line
    assert secret.read_text(encoding="utf-8") == SECRET
    assert path.is_symlink(), "the link is reported, not replaced"


def test_a_hard_link_to_a_secret_is_refused_like_a_symlink(provider, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")
    path = policy_file(tmp_path / "out", "a.example")
    path.parent.mkdir(parents=True)
    os.link(secret, path)

    with pytest.raises(ProviderError, match="hard links") as caught:
        provider.read(["a.example"], NoProgress())

    assert "wJalrXUtnFEMI" not in str(caught.value)


def test_a_fifo_at_the_policy_path_is_refused_instead_of_hanging_the_plan(provider, tmp_path):
    path = policy_file(tmp_path / "out", "a.example")
    path.parent.mkdir(parents=True)
    os.mkfifo(path)
    outcome: list[BaseException | None] = []

    def read() -> None:
        try:
            provider.read(["a.example"], NoProgress())
            outcome.append(None)
        except BaseException as exc:  # handed to the test's thread
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():
        with path.open("wb"):  # unblock the reader so the thread ends
            pass
        pytest.fail("reading the policy path blocked on a FIFO")
    [error] = outcome
    assert isinstance(error, ProviderError)
    assert "not a regular file" in str(error)


def test_the_root_itself_may_be_a_symlink(tmp_path):
    real = tmp_path / "served"
    real.mkdir()
    (tmp_path / "out").symlink_to(real)
    spec = write_spec(tmp_path, simple_domains(["a.example"]))

    result = run("apply", "-c", spec, "--auto-approve")

    assert result.exit_code == 0, result.stderr
    assert policy_file(real, "a.example").read_bytes().decode() == own_policy("a.example")
    assert sts_values(real, "a.example")


# --- names: paths come only from validated host names ----------------------------------


@pytest.mark.parametrize(
    "domain", ["x/../../../escaped", "../escaped", "a.example/../../escaped", "A.Example", ""]
)
def test_a_domain_that_is_not_a_normalised_host_name_is_never_made_a_path(
    provider, tmp_path, domain
):
    with pytest.raises(ProviderError) as caught:
        provider.apply([_policy_change(domain, own_policy("a.example"))], NoProgress())

    message = str(caught.value)
    assert "\n" not in message
    assert "not a normalised host name" in message
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    assert not any("escaped" in p or "well-known" in p for p in written), written


def test_reading_a_domain_that_is_not_a_host_name_is_refused(provider):
    with pytest.raises(ProviderError, match="not a normalised host name"):
        provider.read(["x/../../../escaped"], NoProgress())


# --- managed means: a valid name and a body mtasts could have written -------------------


def _web_root(root, entry: str, body: str) -> None:
    directory = root / entry / ".well-known"
    directory.mkdir(parents=True)
    (directory / "mta-sts.txt").write_text(body, encoding="utf-8", newline="")


def test_managed_domains_skip_names_and_bodies_mtasts_would_not_write(provider, tmp_path):
    root = tmp_path / "out"
    _web_root(root, "mta-sts.a.example", own_policy("a.example"))
    _web_root(root, "mta-sts.\x1b[2J\x1b]0;pwned\x07evil.example", own_policy("evil.example"))
    _web_root(root, "mta-sts.new\nline.example", own_policy("line.example"))
    _web_root(root, "mta-sts.UPPER.example", own_policy("upper.example"))
    _web_root(root, "mta-sts.other.example", "version: STSv1\nmode: testing\nmx: x\nmax_age: 1\n")
    _web_root(root, "mta-sts.junk.example", "<html>hello</html>\n")
    (tmp_path / "elsewhere" / ".well-known").mkdir(parents=True)
    (tmp_path / "elsewhere" / ".well-known" / "mta-sts.txt").write_text(
        own_policy("link.example"), encoding="utf-8", newline=""
    )
    (root / "mta-sts.link.example").symlink_to("../elsewhere")
    (root / "mta-sts.notes_2024").mkdir()  # holds no policy: nothing to say about it

    assert provider.managed_domains() == {"a.example"}

    warnings = provider.tree_warnings
    assert len(warnings) == 6, warnings
    for warning in warnings:
        assert warning.isprintable(), f"raw control characters reach the terminal: {warning!r}"
        assert "leaves it alone" in warning or "never removes it" in warning
    text = "\n".join(warnings)
    for shown in ("other.example", "junk.example", "UPPER.example", "link.example", "evil"):
        assert shown in text


def test_a_policy_another_tool_wrote_is_not_taken_over(tmp_path):
    root = tmp_path / "out"
    foreign = "version: STSv1\nmode: enforce\nmx: mail.other.example\nmax_age: 604800\n"
    _web_root(root, "mta-sts.other.example", foreign)
    spec = write_spec(tmp_path, simple_domains(["a.example"]))

    shown = run("plan", "-c", spec, "--format", "json")
    applied = run("apply", "-c", spec, "--auto-approve")

    assert shown.exit_code == 0, shown.stderr
    plan = json.loads(shown.stdout)
    assert {c["domain"] for c in plan["changes"]} == {"a.example"}
    [warning] = [w for w in plan["warnings"] if "mta-sts.other.example" in w]
    assert "holds a policy mtasts did not write" in warning
    assert applied.exit_code == 0, applied.stderr
    assert policy_file(root, "other.example").read_text(encoding="utf-8") == foreign
    assert not zone_file(root, "other.example").exists(), "no _mta-sts record for it"


def test_a_web_root_named_with_escapes_is_not_removed_or_written_into_a_zone(tmp_path):
    root = tmp_path / "out"
    hostile = "mta-sts.x.example\n$GENERATE 1-9 evil$ A 192.0.2.1\n\x1b[2J"
    _web_root(root, hostile, own_policy("x.example"))
    spec = write_spec(tmp_path, simple_domains(["a.example"]))

    result = run("apply", "-c", spec, "--auto-approve")

    assert result.exit_code == 0, result.stderr
    assert "\x1b" not in result.stdout + result.stderr
    assert not any(line.startswith("$GENERATE") for line in result.stdout.splitlines())
    assert sorted(p.name for p in (root / "zones").iterdir()) == ["a.example.zone"]
    assert (root / hostile / ".well-known" / "mta-sts.txt").is_file()


# --- removal keeps the fragment users $INCLUDE -----------------------------------------


def test_removal_leaves_an_empty_fragment_that_an_include_still_loads(tmp_path):
    import dns.zone

    no_tlsrpt = {"provider": "local", "mode": "testing", "max_age": 86400}
    both = simple_domains(["a.example", "b.example"])
    spec = write_spec(tmp_path, both, defaults=no_tlsrpt)
    root = tmp_path / "out"
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    write_spec(tmp_path, simple_domains(["a.example"]), defaults=no_tlsrpt)
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0  # mode none first
    age_policy(root, "b.example", 86400 + 60)

    result = run("apply", "-c", spec, "--auto-approve")

    assert result.exit_code == 0, result.stderr
    assert not (root / "mta-sts.b.example").exists()
    fragment = zone_file(root, "b.example")
    assert fragment.is_file(), "a zone that $INCLUDEs the fragment must still load"
    parent = f"$INCLUDE {fragment}\nb.example. 300 IN A 192.0.2.1\n"
    zone = dns.zone.from_text(
        parent, origin="b.example.", relativize=False, check_origin=False, allow_include=True
    )
    assert [n.to_text() for n in zone.nodes] == ["b.example."]


# --- stale temporary files --------------------------------------------------------------


def test_temporary_files_left_by_a_killed_apply_are_removed_by_the_next(tmp_path):
    spec = write_spec(tmp_path, simple_domains(["a.example", "b.example"]))
    root = tmp_path / "out"
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    web_root = policy_file(root, "a.example").parent
    stale = [
        web_root / ".mta-sts.txt.k1ll3d_x.tmp",
        root / "zones" / ".a.example.zone.abcd1234.tmp",
    ]
    for path in stale:
        path.write_text("half a policy", encoding="utf-8")
    theirs = [web_root / ".htaccess", web_root / ".mta-sts.txt.theirs.tmp", root / ".keep"]
    for path in theirs:
        path.write_text("not mtasts's", encoding="utf-8")
    write_spec(tmp_path, simple_domains(["a.example", "b.example"], mode="enforce"))

    result = run("apply", "-c", spec, "--auto-approve")

    assert result.exit_code == 0, result.stderr
    assert [p for p in stale if p.exists()] == []
    assert all(p.exists() for p in theirs), "only files of mtasts's own naming go"


def test_a_stale_temporary_file_does_not_keep_a_removed_web_root(tmp_path):
    spec = write_spec(tmp_path, simple_domains(["a.example", "b.example"]))
    root = tmp_path / "out"
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    write_spec(tmp_path, simple_domains(["a.example"]))
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    age_policy(root, "b.example", 86400 + 60)
    (policy_file(root, "b.example").parent / ".mta-sts.txt.zz9plura.tmp").write_text(
        "killed", encoding="utf-8"
    )

    result = run("apply", "-c", spec, "--auto-approve")

    assert result.exit_code == 0, result.stderr
    assert not (root / "mta-sts.b.example").exists()


def test_the_sweep_follows_no_link_and_an_unrelated_link_does_not_stop_the_apply(tmp_path):
    root = tmp_path / "out"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    looks_stale = elsewhere / ".mta-sts.txt.abcd1234.tmp"
    looks_stale.write_text("someone else's file", encoding="utf-8")
    (root / "mta-sts.other.example").mkdir(parents=True)
    (root / "mta-sts.other.example" / ".well-known").symlink_to(elsewhere)
    spec = write_spec(tmp_path, simple_domains(["a.example"]))

    result = run("apply", "-c", spec, "--auto-approve")

    assert result.exit_code == 0, result.stderr
    assert looks_stale.exists(), "nothing is deleted through a link"
    assert policy_file(root, "a.example").is_file()


def test_a_huge_file_at_the_policy_path_is_refused_without_being_loaded(tmp_path):
    path = policy_file(tmp_path / "out", "a.example")
    path.parent.mkdir(parents=True)
    with path.open("wb") as handle:
        handle.truncate(2**30)  # sparse: a gigabyte a plan must not load or print
    spec = write_spec(tmp_path, simple_domains(["a.example"]))

    result = run("plan", "-c", spec, "--format", "json")

    line = _one_line_refusal(result, str(path), "is over 65536 bytes")
    assert len(line) < 1000


def test_a_single_label_web_root_is_not_a_managed_domain(tmp_path):
    """`mta-sts.com` with a valid policy: no spec can name `com`, so it is left alone."""
    from clihelpers import run, simple_domains, write_spec

    spec = write_spec(tmp_path, simple_domains(["a.example"]))
    stray = tmp_path / "out" / "mta-sts.com" / ".well-known"
    stray.mkdir(parents=True)
    policy = "version: STSv1\r\nmode: testing\r\nmx: mx.a.example\r\nmax_age: 86400\r\n"
    (stray / "mta-sts.txt").write_bytes(policy.encode())
    result = run("apply", "-c", spec, "--auto-approve")
    assert result.exit_code == 0, result.stderr
    assert not (tmp_path / "out" / "zones" / "com.zone").exists()
    assert (stray / "mta-sts.txt").read_bytes() == policy.encode()
