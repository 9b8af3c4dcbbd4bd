"""What is printed is not controlled by the party being checked (issue 14.4 and 14.7).

Live TXT values, a policy server's `Location` and `Content-Type`, provider names from the
spec, paths on the command line: each reaches the terminal, the PR comment or the error line.
These tests put escape sequences (clear screen, retitle the terminal, a cursor move and a
fake "No changes" or "PASS" line), bidi overrides, rich markup and emoji codes, and GitHub
Markdown (a closing backtick, `<!--`, `@mentions`, `$math$`) in those values, and assert
exactly what the user sees: every character either itself or a visible escape, and no markup
obeyed. JSON keeps the exact value (json.dumps escapes control characters itself).
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from clihelpers import DEFAULTS, append_zone, run, simple_domains, write_spec
from harness import MtaStsWorld
from rich.console import Console

from provisioner import cli
from provisioner.checks.verdict import DomainReport, Status
from provisioner.output.check import print_reports, reports_markdown
from provisioner.output.markdown import code_span, escape_markdown
from provisioner.sanitize import printable

ESC = "\x1b"
HOSTILE_ID = "x\x1b]0;pwned\x07\x1b[2J\x1b[1A\rNo changes. The live state matches the spec.\n"
"""An STS id that retitles the terminal, clears it, and overwrites the line with a verdict."""
SHOWN_ID = r"x\x1b]0;pwned\x07\x1b[2J\x1b[1A\rNo changes. The live state matches the spec.\n"
# The zone-file form of HOSTILE_ID: decimal escapes, as BIND writes non-printable bytes.
ZONE_ID = r"x\027]0;pwned\007\027[2J\027[1A\013No changes. The live state matches the spec.\010"
POLICY_PATH = "/.well-known/mta-sts.txt"


def _no_control_characters(text: str) -> None:
    """Only newlines end lines; nothing else a terminal would obey is left."""
    assert all(c == "\n" or c.isprintable() for c in text), repr(text)


# --- the one sanitiser --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain v=STSv1; id=abc", "plain v=STSv1; id=abc"),
        ("ünïcödé 例え", "ünïcödé 例え"),
        ("\x1b[2J", r"\x1b[2J"),
        ("\x1b]0;title\x07", r"\x1b]0;title\x07"),
        ("a\rb\nc\td", r"a\rb\nc\td"),
        ("\x00\x7f", r"\x00\x7f"),
        ("\x9b2J", r"\x9b2J"),  # C1 CSI: one byte in 8-bit terminals
        ("abc\u202efdp.exe", r"abc\u202efdp.exe"),  # right-to-left override
        ("\u2066\u2067\u2068\u2069", r"\u2066\u2067\u2068\u2069"),
        ("a\u200bb\u200dc\ufeff", r"a\u200bb\u200dc\ufeff"),
        ("line\u2028sep", r"line\u2028sep"),
        ("\ud800", r"\ud800"),  # a lone surrogate would crash the encoder
        ("\U000e0041", r"\U000e0041"),  # a tag character: invisible
    ],
)
def test_printable_shows_every_character_or_a_visible_escape(raw: str, shown: str) -> None:
    assert printable(raw) == shown


# --- plan, text ---------------------------------------------------------------------------


@pytest.fixture
def hostile_txt(tmp_path: Path) -> Path:
    """A spec for a.example whose live `_mta-sts` TXT value carries HOSTILE_ID, markup and
    an emoji code."""
    spec = write_spec(tmp_path, simple_domains(["a.example"]))
    append_zone(
        tmp_path / "out",
        "a.example",
        f'_mta-sts.a.example. 300 IN TXT "v=STSv1; id={ZONE_ID} [red]:warning:"',
    )
    return spec


def test_plan_text_shows_a_hostile_txt_value_without_obeying_it(hostile_txt: Path) -> None:
    result = run("plan", "-c", hostile_txt)

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    [sts] = [line for line in lines if "sts_record" in line]
    new_id = re.search(r'-> "v=STSv1; id=([A-Za-z0-9]+)"$', sts)
    assert new_id, sts
    assert sts == (
        f'  ~ sts_record    "v=STSv1; id={SHOWN_ID} [red]:warning:" -> "v=STSv1; id={new_id[1]}"'
    )
    assert not any(line.startswith("No changes") for line in lines)
    _no_control_characters(result.stdout)


def test_plan_json_keeps_the_hostile_value_exact(hostile_txt: Path) -> None:
    result = run("plan", "-c", hostile_txt, "--format", "json")

    assert ESC not in result.stdout  # JSON escapes it as \u001b
    [sts] = [c for c in json.loads(result.stdout)["changes"] if c["resource"] == "sts_record"]
    assert sts["before"] == f"v=STSv1; id={HOSTILE_ID} [red]:warning:"


def test_plan_markdown_shows_a_hostile_txt_value_in_its_cell(hostile_txt: Path) -> None:
    result = run("plan", "-c", hostile_txt, "--format", "markdown")

    [row] = [line for line in result.stdout.splitlines() if "| sts_record |" in line]
    shown = SHOWN_ID.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
    assert row.startswith(
        f'| a.example | sts_record | update | "v=STSv1; id={shown} \\[red\\]:&#8203;warning:"'
        " -&gt; "
    ), row
    assert not any(line.startswith("No changes") for line in result.stdout.splitlines())
    _no_control_characters(result.stdout)


# --- plan, Markdown: every interpolated value escaped ----------------------------------------


def test_markdown_txt_value_cannot_hide_the_table_mention_or_typeset(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, simple_domains(["a.example"]))
    append_zone(
        tmp_path / "out",
        "a.example",
        '_mta-sts.a.example. 300 IN TXT "v=STSv1; id=1 <!-- @octocat $x^2$ `code` #1 _e_"',
    )

    result = run("plan", "-c", spec, "--format", "markdown")

    [row] = [line for line in result.stdout.splitlines() if "| sts_record |" in line]
    assert row.startswith(
        '| a.example | sts_record | update | "v=STSv1; id=1 &lt;!-- @&#8203;octocat '
        '&#36;x^2&#36; \\`code\\` #&#8203;1 \\_e\\_" -&gt; "v=STSv1; id='
    ), row
    assert "<!--" not in result.stdout
    assert "$" not in result.stdout
    assert "@octocat" not in result.stdout


def test_markdown_provider_name_cannot_break_out_of_its_cell_or_summary(tmp_path: Path) -> None:
    name = "evil` @octocat $x$ <!-- \n\nNo changes"
    spec = write_spec(
        tmp_path,
        simple_domains(["a.example"]),
        defaults={**DEFAULTS, "provider": name},
        providers={name: {"type": "local", "path": "./out"}},
    )

    result = run("plan", "-c", spec, "--format", "markdown")

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    row = next(line for line in lines if line.startswith("| a.example | routine |"))
    assert r"| ``evil` @octocat $x$ <!-- \n\nNo changes`` |" in row
    summary = (
        "<details><summary>Record-level changes on provider evil` @&#8203;octocat "
        r"&#36;x&#36; &lt;!-- \n\nNo changes (3 changes)</summary>"
    )
    assert summary in lines
    assert not any(line.startswith("No changes") for line in lines)


def test_markdown_warnings_keep_intraword_underscores_readable(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path, {"a.example": {"mx": ["mx.a.example"], "mode": "enforce", "max_age": 86400}}
    )

    result = run("plan", "-c", spec, "--format", "markdown")

    [warning] = [line for line in result.stdout.splitlines() if line.startswith("- a.example")]
    assert warning.startswith("- a.example: max_age 86400"), warning


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("max_age sts_record", "max_age sts_record"),
        ("_smtp._tls.a.example", r"\_smtp.\_tls.a.example"),
        ("a|b*c~d[e]f", r"a\|b\*c\~d\[e\]f"),
        ("back\\slash", r"back\\slash"),
        ("<b>&amp;</b>", "&lt;b&gt;&amp;amp;&lt;/b&gt;"),
        ("cc @octocat and team@example.net", "cc @&#8203;octocat and team@&#8203;example.net"),
        ("$5 and $x$", "&#36;5 and &#36;x&#36;"),
        ("see #12", "see #&#8203;12"),
        ("# heading", "#&#8203; heading"),
        ("- item", r"\- item"),
        ("1. item", r"1\. item"),
        ("+1", r"\+1"),
        (":rocket: mailto:a@b https://x:443/", ":&#8203;rocket: mailto:a@&#8203;b https://x:443/"),
        ("two\nlines\r\nand  spaces", r"two\\nlines\\r\\nand spaces"),
        ("rtl\u202eoverride", r"rtl\\u202eoverride"),
    ],
)
def test_escape_markdown(raw: str, escaped: str) -> None:
    assert escape_markdown(raw) == escaped


@pytest.mark.parametrize(
    ("raw", "span"),
    [
        ("local", "`local`"),
        ("a`b", "``a`b``"),
        ("``x", "``` ``x ```"),
        ("x`", "`` x` ``"),
        ("two\nlines", r"`two\nlines`"),
    ],
)
def test_code_span_cannot_be_closed_from_inside(raw: str, span: str) -> None:
    assert code_span(raw) == span


# --- check ----------------------------------------------------------------------------


@pytest.fixture
def hostile_world(mta_sts_world: MtaStsWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Three domains whose servers answer with escape sequences: in the TXT id (dns.example),
    in `Location` (redirect.example) and in `Content-Type` (type.example)."""
    monkeypatch.chdir(tmp_path)
    world = mta_sts_world
    for domain in ("dns.example", "redirect.example", "type.example"):
        world.deploy(
            domain,
            "version: STSv1\r\nmode: testing\r\nmx: mx.example\r\nmax_age: 86400\r\n",
            "good1",
            tlsrpt_rua="mailto:tlsrpt@example.net",
            mx=["mx.example"],
        )
    world.publish_txt("_mta-sts.dns.example", [f"v=STSv1; id=bad{HOSTILE_ID}"])
    world.serve_redirect(
        "mta-sts.redirect.example", POLICY_PATH, "https://x.example/\x1b[2J\x1b]0;pwned\x07"
    )
    world.serve("mta-sts.type.example", POLICY_PATH, "x", content_type="text/html\x1b[1APASS")
    return world


def _check(world: MtaStsWorld, fmt: str) -> tuple[int, str]:
    host, port = world.nameserver
    result = run(
        "check",
        "dns.example",
        "redirect.example",
        "type.example",
        "--nameserver",
        f"{host}:{port}",
        "--connect-to",
        f"127.0.0.1:{world.https.port}",
        "--ca-bundle",
        world.ca_file,
        "--timeout",
        "5",
        "--format",
        fmt,
    )
    return result.exit_code, result.stdout


def test_check_text_shows_hostile_answers_without_obeying_them(hostile_world: MtaStsWorld):
    code, stdout = _check(hostile_world, "text")

    assert code == 1
    lines = stdout.splitlines()
    assert (
        "  FAIL sts_record         invalid record: malformed field "
        r"'pwned\x07\x1b[2J\x1b[1A\rNo changes. The live state matches the spec.\n' in "
        r"'v=STSv1; id=badx\x1b]0;pwned\x07\x1b[2J\x1b[1A\rNo changes. The live state "
        r"matches the spec.\n'"
    ) in lines
    assert (
        "  FAIL policy_fetch       https://mta-sts.redirect.example/.well-known/mta-sts.txt "
        r"redirects (301) to https://x.example/\x1b[2J\x1b]0;pwned\x07: "
        "senders do not follow redirects"
    ) in lines
    assert (
        "  FAIL policy_fetch       https://mta-sts.type.example/.well-known/mta-sts.txt "
        r"is served as text/html\x1b[1APASS; senders need text/plain"
    ) in lines
    assert not any(line.startswith(("No changes", "PASS")) for line in lines)
    _no_control_characters(stdout)


def test_check_markdown_shows_hostile_answers_escaped(hostile_world: MtaStsWorld):
    code, stdout = _check(hostile_world, "markdown")

    assert code == 1
    rows = stdout.splitlines()
    assert (
        "| redirect.example | **fail** | policy_fetch | FAIL: "
        "https://mta-sts.redirect.example/.well-known/mta-sts.txt redirects (301) to "
        r"https://x.example/\\x1b\[2J\\x1b\]0;pwned\\x07: senders do not follow redirects |"
    ) in rows
    assert (
        "| type.example | **fail** | policy_fetch | FAIL: "
        "https://mta-sts.type.example/.well-known/mta-sts.txt is served as "
        r"text/html\\x1b\[1APASS; senders need text/plain |"
    ) in rows
    _no_control_characters(stdout)


def test_check_json_keeps_hostile_answers_exact(hostile_world: MtaStsWorld):
    code, stdout = _check(hostile_world, "json")

    assert code == 1
    assert ESC not in stdout
    reports = {r["domain"]: r for r in json.loads(stdout)["domains"]}
    [finding] = reports["type.example"]["findings"][:1]
    assert "text/html\x1b[1APASS" in finding["message"]


def test_check_text_renderer_shows_a_forged_status_line_on_one_line() -> None:
    """What httpsprobe reports for a status line of `HTTP/1.1 200 OK\\r\\n\\x1b[1APASS`."""
    report = DomainReport("a.example")
    report.add("policy_fetch", Status.FAIL, "HTTP failed: 'HTTP/1.1 200 OK\r\n\x1b[1APASS'")
    out = io.StringIO()

    print_reports([report], Console(file=out, highlight=False, soft_wrap=True, width=200))

    assert out.getvalue().splitlines() == [
        "a.example: FAIL",
        r"  FAIL policy_fetch       HTTP failed: 'HTTP/1.1 200 OK\r\n\x1b[1APASS'",
        "",
        "0 of 1 domains pass.",
    ]
    markdown = reports_markdown([report])
    assert (
        "| a.example | **fail** | policy_fetch | FAIL: HTTP failed: 'HTTP/1.1 200 OK"
        r"\\r\\n\\x1b\[1APASS' |"
    ) in markdown.splitlines()


# --- CLI messages: warnings and errors ------------------------------------------------------


def test_warnings_are_printed_literally(capsys: pytest.CaptureFixture[str]) -> None:
    cli._print_warnings(("a.example: [red]x[/red] [link=https://evil.example]y[/link] \x1b[2J",))

    assert capsys.readouterr().err == (
        r"warning: a.example: [red]x[/red] [link=https://evil.example]y[/link] \x1b[2J" + "\n"
    )


def test_errors_show_outside_text_printably(tmp_path: Path) -> None:
    result = run("validate", "-c", tmp_path / "\x1b]0;pwned\x07:warning:[red]\nPASS.yaml")

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {tmp_path}/" r"\x1b]0;pwned\x07:warning:[red]\nPASS.yaml: no such spec file" "\n"
    )


# --- the risk block and rows of a saved plan (issue 11) -------------------------------------


def test_a_saved_plans_hostile_story_is_inert_in_the_alerts_and_rows(tmp_path: Path) -> None:
    """A saved plan is a file anyone with the artifact can edit: its domain story reaches the
    CAUTION/WARNING alerts and the per-domain rows of `mtasts show --format markdown`."""
    spec = write_spec(tmp_path, simple_domains(["a.example"]))
    plan_path = tmp_path / "p.json"
    assert run("plan", "-c", spec, "--out", plan_path).exit_code == 0
    data = json.loads(plan_path.read_text(encoding="utf-8"))
    hostile = "x |\n\n> [!NOTE]\n<!-- @octocat $x$ [a](https://evil.example) :smile: \x1b[2J"
    data["domains"][0].update(summary=hostile, risk="retire")
    plan_path.write_text(json.dumps(data), encoding="utf-8")

    result = run("show", plan_path, "--format", "markdown", "--markdown-header", hostile)

    assert result.exit_code == 0, result.stderr
    markdown = result.stdout
    _no_control_characters(markdown)
    shown = escape_markdown(hostile)
    assert shown.startswith(r"x \|\\n\\n&gt; \[!NOTE\]\\n&lt;!-- @&#8203;octocat &#36;x&#36; \[a\]")
    assert markdown.startswith(shown + "\n\n### mtasts plan:")
    assert f"> - a.example: {shown}" in markdown.splitlines()
    assert f"| a.example | retire | `local` | {shown} |" in markdown.splitlines()
    assert "<!--" not in markdown and "@octocat" not in markdown
    assert not any(line.startswith("> [!NOTE]") for line in markdown.splitlines())
