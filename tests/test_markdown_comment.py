"""The plan as a pull-request comment (issue 11): risk first, rows per domain, cut fairly.

What a reviewer sees on GitHub: the alerts naming what can break mail, one row per domain
with risky domains first, record-level detail collapsed, a cut that never drops a risky
row, IDN names readable and never wrapped at a hyphen, and nothing from live state obeyed.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from clihelpers import append_zone, run, write_spec
from riskplans import NOW, desired, live, mixed_plan

from provisioner.output.markdown import (
    GITHUB_COMMENT_LIMIT,
    NON_BREAKING_HYPHEN,
    display_name,
    render_markdown,
)
from provisioner.plan import diff
from provisioner.rfc8461 import Mode
from provisioner.risk import Risk

NBH = NON_BREAKING_HYPHEN
DOMAIN_HEADER = "| Domain | Risk | Provider | MTA-STS |"


def _domain_rows(markdown: str) -> list[str]:
    table = markdown.split(DOMAIN_HEADER)[1].split("\n\n")[0]
    return [line for line in table.splitlines() if line.startswith("| ")]


def test_alerts_name_the_domains_and_why_before_any_table():
    markdown = render_markdown(mixed_plan(routine=3))

    caution, rest = markdown.split("> [!CAUTION]\n", 1)[1].split("\n\n", 1)
    assert "> **Blocks mail: apply refuses this without --allow-risk blocks-mail**" in caution
    assert (
        "> - blocks.example: enforce would refuse mail to live MX backup.mail-host.example: "
        "no mx pattern covers it" in caution
    )
    warning = rest.split("> [!WARNING]\n", 1)[1].split("\n\n", 1)[0]
    assert "> - down.example: mode enforce -&gt; testing" in warning
    assert "> - gone.example: removal step 1 of 2: mode enforce -&gt; none" in warning
    assert markdown.index("[!CAUTION]") < markdown.index(DOMAIN_HEADER)
    assert markdown.index("[!WARNING]") < markdown.index(DOMAIN_HEADER)


def test_rows_are_per_domain_risky_first_with_the_mta_sts_story():
    markdown = render_markdown(mixed_plan(routine=2))

    rows = _domain_rows(markdown)
    assert [row.split(" | ")[1] for row in rows] == [
        "blocks-mail",
        "downgrade",
        "retire",
        "enforce",
        "routine",
        "routine",
    ]
    assert rows[4].startswith(
        "| r0000.example | routine | `local` | max_age 86400 -&gt; 604800, id "
    )
    assert f"| new{NBH}enforce.example | enforce |" in rows[3]
    assert "**1 domain to enforce, 1 downgrade, 1 retiring (step 1 of 2), 2 routine; " in markdown
    assert "<details><summary>Record-level changes on provider local (12 changes)</summary>" in (
        markdown
    )


def test_a_400_domain_plan_cut_to_the_budget_keeps_every_risky_row():
    plan = mixed_plan(routine=400)
    budget = 20_000

    markdown = render_markdown(plan, limit=budget)

    assert len(markdown) <= budget
    assert "<summary>Record-level changes on provider local (6 changes)</summary>" in markdown
    assert "| blocks.example | sts_record | update |" in markdown, "risky details kept"
    assert "| r0000.example | policy |" not in markdown, "routine details go before rows"
    rows = _domain_rows(markdown)
    kinds = [row.split(" | ")[1] for row in rows]
    assert kinds[:3] == ["blocks-mail", "downgrade", "retire"], "risky rows are never cut"
    assert kinds[3] == "enforce", "enforce is cut only after every routine row"
    shown_routine = kinds.count("routine")
    assert 0 < shown_routine < 400
    match = re.search(
        r"_(\d+) domains \((\d+) routine; (\d+) changes\) not shown here, to fit one comment: "
        r"see the saved plan \(the workflow's plan artifact\), shown in full with "
        r"`mtasts show PLANFILE`, or `mtasts plan`\._",
        markdown,
    )
    assert match, markdown[-500:]
    assert int(match[1]) == int(match[2]) == 400 - shown_routine
    assert int(match[3]) == 2 * (400 - shown_routine)


def test_risky_rows_stay_in_a_budget_too_small_for_their_stories():
    markdown = render_markdown(mixed_plan(routine=50), limit=1800)

    assert len(markdown) <= 1800
    kinds = [row.split(" | ")[1] for row in _domain_rows(markdown)]
    assert kinds[:3] == ["blocks-mail", "downgrade", "retire"]
    assert "Record-level changes" not in markdown.replace(
        f"Record-level changes of {len(kinds)} domains above are left out, to fit one comment.",
        "",
    ), "past the budget, even risky details go; risky rows stay"
    assert "- blocks.example: enforce would refuse mail to live MX backup.mail-host.example" in (
        markdown
    ), "a shortened alert still names the blocked host"
    assert "50 routine" in markdown and "not shown here" in markdown


def _mass_retirement(count: int):
    lives = {}
    for i in range(count):
        name = f"some-long-customer-domain-{i:04d}.example"
        lives[name] = live(desired(name, Mode.ENFORCE))
    return diff({}, lives, NOW, removals={name: "local" for name in lives})


def test_a_400_domain_retirement_fits_one_comment_with_every_row():
    """100,000 characters in full: GitHub refuses such a comment whole, so the rows are
    shortened (not cut) and the comment is posted."""
    markdown = render_markdown(_mass_retirement(400))

    assert len(markdown) <= GITHUB_COMMENT_LIMIT - 512
    rows = _domain_rows(markdown)
    assert len(rows) == 400
    assert rows[0] == (
        f"| some{NBH}long{NBH}customer{NBH}domain{NBH}0000.example | retire | `local` | "
        "removal step 1 of 2: mode enforce -&gt; none, records deleted … |"
    )
    assert "**400 retiring (step 1 of 2); 0 blocking mail**" in markdown
    assert "not shown here" not in markdown


def test_risky_rows_past_githubs_limit_are_counted_not_posted_over_it():
    markdown = render_markdown(_mass_retirement(3000))

    assert len(markdown) <= GITHUB_COMMENT_LIMIT - 512
    shown = len(_domain_rows(markdown))
    assert 0 < shown < 3000
    assert f"_{3000 - shown} domains ({3000 - shown} retire; " in markdown
    assert "more, counted below_" in markdown, "alerts do not promise the table"


@pytest.mark.parametrize("limit", [1000, 1500, 3000])
@pytest.mark.parametrize("plan", ["mixed", "retirement"])
def test_the_markdown_limit_holds_however_small(limit, plan):
    """`--markdown-limit` is the most characters the comment may have, risky rows or not."""
    the_plan = mixed_plan(routine=50) if plan == "mixed" else _mass_retirement(3000)

    markdown = render_markdown(the_plan, limit=limit)

    assert len(markdown) <= limit
    assert "blocking mail**" in markdown and "not shown here" in markdown


def test_long_warnings_and_a_long_header_do_not_push_the_comment_past_the_limit():
    plan = replace(
        mixed_plan(routine=400),
        warnings=tuple(f"w{i} " + "x" * 3000 for i in range(60)),
        notes=tuple(f"n{i} " + "y" * 3000 for i in range(60)),
    )

    markdown = render_markdown(plan, header="commit " + "h" * 100_000)

    assert len(markdown) <= GITHUB_COMMENT_LIMIT - 512
    assert markdown.startswith("commit hhh")
    assert len(markdown.split("\n", 1)[0]) <= 200
    assert len(_domain_rows(markdown)) == 404, "warnings are counted before rows are cut"
    assert (
        "- _60 warnings, not listed to fit one comment: run `mtasts plan` for all of them_"
        in markdown
    )
    assert "- _60 notes, not listed to fit one comment: run `mtasts plan`" in markdown


def test_the_default_budget_is_githubs_limit_less_headroom():
    markdown = render_markdown(mixed_plan(routine=1500))

    assert len(markdown) <= GITHUB_COMMENT_LIMIT - 512
    assert "not shown here" in markdown


def test_markdown_header_names_the_commit_first_and_is_escaped(tmp_path):
    spec = write_spec(tmp_path, {"a.example": {"mx": ["mx.a.example"]}})

    result = run(
        "plan",
        "-c",
        spec,
        "--format",
        "markdown",
        "--markdown-header",
        "Plan of 1a2b3c4 (main) <!-- @octocat",
    )

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("Plan of 1a2b3c4 (main) &lt;!-- @&#8203;octocat\n\n### mtasts")


def test_markdown_limit_option_cuts_routine_rows(tmp_path):
    spec = write_spec(tmp_path, {f"d{i:03d}.example": {"mx": ["mx.example"]} for i in range(60)})

    result = run("plan", "-c", spec, "--format", "markdown", "--markdown-limit", "3000")

    assert result.exit_code == 0, result.stderr
    assert len(result.stdout) <= 3000
    assert "routine; " in result.stdout and "not shown here" in result.stdout


def test_markdown_limit_below_a_usable_size_is_one_line(tmp_path):
    spec = write_spec(tmp_path, {"a.example": {"mx": ["mx.a.example"]}})

    result = run("plan", "-c", spec, "--format", "markdown", "--markdown-limit", "10")

    assert result.exit_code == 1
    assert result.stderr == "error: --markdown-limit: at least 1000 characters, got 10\n"


# --- names ------------------------------------------------------------------------------


def test_an_idn_domain_shows_its_u_label_with_the_a_label_beside():
    want = desired("xn--bcher-kva.example", Mode.ENFORCE)
    plan = diff({want.domain: want}, {want.domain: live(want, Mode.TESTING)}, NOW)

    markdown = render_markdown(plan)

    [row] = _domain_rows(markdown)
    assert row.startswith(f"| bücher.example (`xn{NBH}{NBH}bcher{NBH}kva.example`) | enforce |")


def test_names_never_break_at_a_hyphen():
    assert display_name("mta-sts-staging.my-company.example") == (
        f"mta{NBH}sts{NBH}staging.my{NBH}company.example"
    )
    assert display_name("xn--zz-invalid.example") == f"xn{NBH}{NBH}zz{NBH}invalid.example"


# --- hostile live values ----------------------------------------------------------------


def test_a_hostile_foreign_txt_value_is_inert_in_rows_details_and_alerts(tmp_path):
    """A foreign TXT value at _mta-sts (someone else's) that tries to close the table, open a
    comment, mention a user, start math and plant a link."""
    hostile = "x| <!-- @octocat $x$ [click](https://evil.example) `code` :smile:"
    spec = write_spec(tmp_path, {"a.example": {"mx": ["mx.a.example"]}})
    append_zone(
        tmp_path / "out",
        "a.example",
        f'_mta-sts.a.example. 300 IN TXT "{hostile}"',
        '_mta-sts.a.example. 300 IN TXT "v=STSv1; id=old|<b>*"',
    )

    result = run("plan", "-c", spec, "--format", "markdown")

    assert result.exit_code == 0, result.stderr
    markdown = result.stdout
    assert "<!--" not in markdown
    assert "@octocat" not in markdown
    assert "$x$" not in markdown
    assert "](https://evil.example)" not in markdown
    assert "<b>" not in markdown
    for line in markdown.splitlines():
        if line.startswith("| ") and "a.example" in line:
            assert len(re.split(r"(?<!\\)\|", line)) == 6, f"a cell was split: {line!r}"


def test_risk_block_in_the_comment_counts_only_real_risk_classes():
    plan = mixed_plan(routine=0)

    assert {d.risk for d in plan.domains} == {
        Risk.BLOCKS_MAIL,
        Risk.DOWNGRADE,
        Risk.RETIRE,
        Risk.ENFORCE,
    }
    assert "1 blocking mail" in render_markdown(plan)


def test_a_long_header_is_scrubbed_before_it_is_cut(monkeypatch):
    """Cut first, a token straddling the cut would no longer match and leak its head."""
    token = "cf-token-0123456789abcdefghijklmnopqrstuv"
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", token)

    markdown = render_markdown(mixed_plan(routine=1), header="x" * 190 + token)

    first = markdown.split("\n", 1)[0]
    assert token[:6] not in markdown
    assert first == "x" * 190 + "\\*\\*\\*"


def test_a_pipe_in_a_provider_name_does_not_split_the_row(tmp_path):
    """GitHub splits a table row at every unescaped `|`, inside code spans too."""
    spec = write_spec(
        tmp_path,
        {"a.example": {"mx": ["mx.a.example"], "provider": "lo|cal"}},
        defaults={"provider": "lo|cal", "mode": "testing", "max_age": 86400},
        providers={"lo|cal": {"type": "local", "path": str(tmp_path / "out")}},
    )

    result = run("plan", "-c", spec, "--format", "markdown")

    assert result.exit_code == 0, result.stderr
    [row] = _domain_rows(result.stdout)
    assert row == (
        "| a.example | routine | `lo\\|cal` | new policy: mode testing, max_age 86400, id "
        + row.split(" id ")[1]
    )
    cells = re.split(r"(?<!\\)\|", row.strip())[1:-1]
    assert len(cells) == 4
