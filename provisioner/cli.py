"""The `mtasts` command line: validate, render, plan, apply.

Exit codes are Terraform's: 0 success (and, with --detailed-exitcode, nothing to change),
1 error, 2 a plan with changes under --detailed-exitcode. Every error a user can cause is
one line per problem on stderr, never a traceback (MTASTS_DEBUG=1 shows one).
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from typer.core import TyperCommand, TyperGroup

from provisioner import __version__, apicalls, workflow
from provisioner.errors import MtastsError, SpecError
from provisioner.output.markdown import GITHUB_COMMENT_LIMIT, render_markdown
from provisioner.output.text import print_plan, print_summary, styled
from provisioner.output.verbose import (
    report_api_calls,
    report_reads,
    report_results,
    verbose_from_env,
)
from provisioner.plan import GUARDED_RISKS, Plan
from provisioner.provider import NoProgress, Provider
from provisioner.provider import Progress as ProgressSink
from provisioner.redact import redact
from provisioner.refresh import PlanResult
from provisioner.render import normalize_domain_filter, render_spec
from provisioner.risk import Risk
from provisioner.spec import load_spec

if TYPE_CHECKING:
    from provisioner.checks.verdict import CheckOptions

# The probes (dnspython's resolver, httpx) and the lifecycle commands are imported by the
# commands that use them, so validate/plan/apply start without loading them.

PROGRESS_THRESHOLD = 50
"""Show a progress bar on stderr (when it is a terminal) above this many domains."""


class _MtastsGroup(TyperGroup):
    """Usage errors exit 1, not click's 2: under --detailed-exitcode, 2 means "changes".

    Typer vendors click in recent releases and uses the real one in older ones, so usage
    errors are recognised by class name rather than by importing either.
    """

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().make_context(*args, **kwargs)
        except Exception as exc:
            _usage_error_exits_1(exc)
            raise

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            _usage_error_exits_1(exc)
            raise


def _usage_error_exits_1(exc: Exception) -> None:
    if any(cls.__name__ == "UsageError" for cls in type(exc).__mro__):
        exc.exit_code = 1  # type: ignore[attr-defined]


app = typer.Typer(
    cls=_MtastsGroup,
    name="mtasts",
    help="Declarative MTA-STS (RFC 8461) and TLS reporting (RFC 8460): plan, then apply.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


class _Options:
    """Options of the whole command (`mtasts -v plan`), set by the callback."""

    verbose = False


_options = _Options()


class OutputFormat(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


ConfigOption = Annotated[
    Path,
    typer.Option(
        "--config",
        "-c",
        envvar="MTASTS_CONFIG",
        metavar="FILE",
        help="The spec file.",
        show_default=True,
    ),
]
DomainOption = Annotated[
    list[str] | None,
    typer.Option(
        "--domain", "-d", metavar="DOMAIN", help="Limit the run to this domain (repeatable)."
    ),
]


def _version(value: bool) -> None:
    if value:
        stdout.print(f"mtasts {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Say what is read and written, and count API calls (also MTASTS_LOG=debug).",
        ),
    ] = False,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="No colour in the output (also NO_COLOR).")
    ] = False,
) -> None:
    """Declarative MTA-STS (RFC 8461) and TLS reporting (RFC 8460): plan, then apply."""
    _options.verbose = verbose or verbose_from_env()
    apicalls.reset()  # -v counts this command's calls (one process may run many: a bot, tests)
    for console in (stdout, stderr):
        console.no_color = no_color or os.environ.get("NO_COLOR", "") != ""


@app.command()
def validate(config: ConfigOption = Path("mtasts.yaml")) -> None:
    """Check the spec and the provider settings, touching no provider.

    \b
    Example:
      mtasts validate -c examples/quickstart.yaml
    """
    with _errors_as_exit():
        spec = workflow.load(config)
        workflow.validate(spec)
        _print_warnings(spec.warnings)
        domains = _count(len(spec.domains), "domain")
        providers = _count(len(spec.providers), "provider")
        stdout.print(styled(f"{config}: valid: {domains} on {providers}"))


@app.command()
def schema() -> None:
    """Print the spec's JSON Schema, for editors to complete and check mtasts.yaml.

    \b
    Example (then add to the spec's first line):
      mtasts schema > mtasts.schema.json
      # yaml-language-server: $schema=./mtasts.schema.json
    """
    from provisioner.schema import shipped_schema_text

    sys.stdout.write(shipped_schema_text())


@app.command()
def render(
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Directory to write into.")],
    config: ConfigOption = Path("mtasts.yaml"),
    domain: DomainOption = None,
) -> None:
    """Write each domain's policy file and TXT records to a directory; no provider is read.

    The layout is the `local` provider's: `mta-sts.<domain>/.well-known/mta-sts.txt` and
    `zones/<domain>.zone`.

    \b
    Example:
      mtasts render -c mtasts.yaml --out ./rendered
    """
    with _errors_as_exit():
        spec = workflow.load(config)
        written = workflow.render_to(spec, out, domain or [])
        _print_warnings(spec.warnings)
        stdout.print(styled(f"wrote {_count(written, 'domain')} to {out}"))


@app.command()
def plan(
    config: ConfigOption = Path("mtasts.yaml"),
    domain: DomainOption = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="text, markdown (PR comment) or json.")
    ] = OutputFormat.text,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", metavar="PLANFILE", help="Save the plan for 'mtasts apply PLANFILE'."
        ),
    ] = None,
    detailed_exitcode: Annotated[
        bool, typer.Option("--detailed-exitcode", help="Exit 2 when the plan has changes.")
    ] = False,
    markdown_header: Annotated[
        str | None,
        typer.Option(
            "--markdown-header",
            metavar="TEXT",
            help="With --format markdown: a first line, e.g. the commit the plan was made "
            "from, so a stale comment shows it.",
        ),
    ] = None,
    markdown_limit: Annotated[
        int,
        typer.Option(
            "--markdown-limit",
            metavar="CHARS",
            help="With --format markdown: the most characters the comment may have; "
            "routine rows are cut first, risky rows never.",
        ),
    ] = GITHUB_COMMENT_LIMIT - 512,
) -> None:
    """Show what apply would change: live state (read from each provider) against the spec.

    \b
    Examples:
      mtasts plan -c examples/quickstart.yaml
      mtasts plan --format markdown --detailed-exitcode > plan.md
      mtasts plan --out plan.json && mtasts apply plan.json
    """
    with _errors_as_exit():
        if markdown_limit < 1000:
            raise MtastsError(f"--markdown-limit: at least 1000 characters, got {markdown_limit}")
        providers, result = _plan_from_spec(config, domain)
        if out is not None:
            workflow.save(out, result, providers)
        _show(result.plan, output_format, header=markdown_header or "", limit=markdown_limit)
        if out is not None:
            stderr.print(styled(f"saved the plan to {out}; apply it with: mtasts apply {out}"))
    if detailed_exitcode and result.plan.has_changes:
        raise typer.Exit(2)


@app.command()
def apply(
    ctx: typer.Context,
    plan_file: Annotated[
        Path | None, typer.Argument(metavar="PLANFILE", help="A plan saved by 'mtasts plan --out'.")
    ] = None,
    config: ConfigOption = Path("mtasts.yaml"),
    domain: DomainOption = None,
    auto_approve: Annotated[
        bool, typer.Option("--auto-approve", help="Apply without asking.")
    ] = False,
    allow_destroy: Annotated[
        bool,
        typer.Option("--allow-destroy", help="Allow removing or downgrading many domains."),
    ] = False,
    allow_risk: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-risk",
            metavar="CLASS",
            help="Apply a plan holding this risk class (repeatable): blocks-mail.",
        ),
    ] = None,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="After publishing policies, fetch each from its HTTPS endpoint until the new "
            "one is served; only then change the _mta-sts ids.",
        ),
    ] = False,
    verify_timeout: Annotated[
        float,
        typer.Option(
            metavar="SECONDS", help="With --verify: how long each policy may take to be served."
        ),
    ] = 120.0,
    ca_bundle: Annotated[
        Path | None, typer.Option(metavar="PEM", help="With --verify: trust these CA certificates.")
    ] = None,
    connect_to: Annotated[
        str | None,
        typer.Option(
            metavar="HOST:PORT", help="With --verify: fetch from there, keeping the name for SNI."
        ),
    ] = None,
) -> None:
    """Make the live state match the spec (or apply exactly a saved plan).

    \b
    Examples:
      mtasts apply -c examples/quickstart.yaml --auto-approve
      mtasts apply plan.json       (asks; refused if the live state moved since the plan)
      mtasts apply plan.json --auto-approve   (CI: apply the reviewed plan as it is)
      mtasts apply --auto-approve --verify   (ids change once new policies are served)
    """
    with _errors_as_exit():
        allowed = _risk_option(allow_risk or [])
        if not auto_approve and not _stdin_is_terminal():
            # Before any provider is read (a saved plan's too): a CI job without
            # --auto-approve fails at once, not after minutes of reading live state.
            raise MtastsError(_NO_TERMINAL)
        if plan_file is not None:
            if domain:
                raise MtastsError("--domain cannot narrow a saved plan; plan again with -d")
            explicit = _given_on_command_line(ctx, "config")
            # The plan's providers are checked against the spec when there is one (-c,
            # $MTASTS_CONFIG or ./mtasts.yaml): an edited setting must not redirect writes.
            spec = workflow.load(config) if explicit or config.is_file() else None
            the_plan, providers = workflow.load_saved(plan_file, spec=spec)
        else:
            providers, result = _plan_from_spec(config, domain)
            the_plan = result.plan
            print_plan(the_plan, stdout)
        if not the_plan.has_changes:
            if plan_file is not None:
                stdout.print("No changes in the saved plan.")
            return
        if plan_file is not None and not auto_approve:
            # The saved plan is what would be approved: shown whole, as `mtasts show` does.
            print_plan(the_plan, stdout)
        if plan_file is not None and auto_approve:
            print_summary(the_plan, stdout)
        workflow.refuse_risky(the_plan, allow_destroy=allow_destroy, allow_risk=allowed)
        if not auto_approve:
            # The summary and risk block right above the prompt, not a screen further up.
            stdout.print()
            print_summary(the_plan, stdout)
            _confirm(the_plan)
        options = None
        if verify:
            from provisioner.verify import VerifyOptions

            options = VerifyOptions(
                timeout=verify_timeout,
                ca_bundle=str(ca_bundle) if ca_bundle else None,
                connect_to=_address_option("--connect-to", connect_to),
            )
        with _progress("applying", len(the_plan.changes)) as sink:
            applied = workflow.apply(
                the_plan,
                providers,
                progress=sink,
                verify=options,
                allow_destroy=allow_destroy,
                allow_risk=allowed,
            )
        counts = the_plan.counts()
        if _options.verbose:
            report_results(stderr, the_plan, applied)
            report_api_calls(stderr)
        stdout.print(
            f"Apply complete: {_count(applied, 'change')} ({counts['create']} added, "
            f"{counts['update']} changed, {counts['delete']} destroyed)."
        )


@app.command()
def show(
    plan_file: Annotated[
        Path, typer.Argument(metavar="PLANFILE", help="A plan saved by 'mtasts plan --out'.")
    ],
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="text, markdown (PR comment) or json.")
    ] = OutputFormat.text,
    markdown_header: Annotated[
        str | None,
        typer.Option(
            "--markdown-header", metavar="TEXT", help="With --format markdown: a first line."
        ),
    ] = None,
) -> None:
    """Print a saved plan as it was saved, touching no provider.

    Shows the risk classes the plan was saved with; 'mtasts apply PLANFILE' recomputes them
    against the live state and refuses a stale or edited plan. Markdown is not cut to a
    comment's size here: this is where a cut comment sends readers for the whole plan.

    \b
    Examples:
      mtasts show plan.json
      mtasts show plan.json --format markdown > plan.md
    """
    with _errors_as_exit():
        saved = workflow.show_saved(plan_file)
        _show(saved, output_format, header=markdown_header or "", limit=None)


class _CheckCommand(TyperCommand):
    """`mtasts check`'s help: its DOMAIN argument shown as `DOMAIN...`, as users type it.

    Typer draws an optional variadic argument as `[DOMAIN...]...` (a required one as
    `{DOMAIN...}...`) on the usage line and adds the Python type (`<list[str]>`) in the
    Arguments section; here every argument shows its metavar alone.
    """

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument" and param.metavar:
                pieces.append(param.metavar)
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments = [
            (param.metavar, getattr(param, "help", None) or "")
            for param in self.get_params(ctx)
            if param.param_type_name == "argument" and param.metavar
        ]
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        options = [
            record
            for param in self.get_params(ctx)
            if param.param_type_name == "option"
            and (record := param.get_help_record(ctx)) is not None
        ]
        if options:
            with formatter.section("Options"):
                formatter.write_dl(options)


@app.command(cls=_CheckCommand)
def check(
    ctx: typer.Context,
    domains: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="DOMAIN...",
            help="Domains to check; none: every domain of the spec (-c).",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = Path("mtasts.yaml"),
    nameserver: Annotated[
        str | None,
        typer.Option(
            metavar="IP[:PORT]",
            help="Ask this DNS server, not the system's, for every record and address.",
        ),
    ] = None,
    ca_bundle: Annotated[
        Path | None,
        typer.Option(metavar="PEM", help="Trust these CA certificates for HTTPS and SMTP."),
    ] = None,
    connect_to: Annotated[
        str | None,
        typer.Option(
            metavar="[HOST]:PORT",
            help="Fetch policies from there, keeping the name for SNI and the certificate "
            "check (like curl's --connect-to); ':PORT' keeps the resolved address.",
        ),
    ] = None,
    smtp: Annotated[
        bool, typer.Option("--smtp", help="Also check STARTTLS on each host senders deliver to.")
    ] = False,
    smtp_connect_to: Annotated[
        str | None,
        typer.Option(
            metavar="[HOST]:PORT",
            help="With --smtp: connect there for every MX; ':PORT' keeps the resolved address.",
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(metavar="SECONDS", help="Time allowed per DNS look-up, fetch or SMTP probe."),
    ] = 10.0,
    cert_days: Annotated[
        int,
        typer.Option(metavar="DAYS", help="Warn when a certificate expires within this many days."),
    ] = 14,
    output_format: Annotated[
        OutputFormat,
        typer.Option("--format", metavar="text|markdown|json", help="The report's format."),
    ] = OutputFormat.text,
) -> None:
    """Check what sending servers see: TXT records, the policy over HTTPS, MX coverage.

    Exit 0 when every domain passes, 1 otherwise. With no DOMAIN, every domain of the spec
    is checked (a drift and health check for CI). When the spec names a domain, the served
    policy is compared with the spec's, and the TXT id must announce it.

    \b
    Examples:
      mtasts check example.com example.org
      mtasts check -c mtasts.yaml
      mtasts check example.com --smtp --format json
      mtasts check example.com --nameserver 127.0.0.1:5353 \\
          --connect-to :8443 --ca-bundle test-ca.pem
    """
    with _errors_as_exit():
        from provisioner.checks.verdict import CheckOptions, check_domains
        from provisioner.output.check import print_reports, reports_json, reports_markdown

        if timeout <= 0:
            raise MtastsError(f"--timeout: must be more than 0 seconds, got {timeout:g}")
        options = CheckOptions(
            nameserver=_nameserver_option(nameserver),
            ca_bundle=str(ca_bundle) if ca_bundle else None,
            connect_to=_connect_to_option("--connect-to", connect_to),
            smtp=smtp,
            smtp_connect_to=_connect_to_option("--smtp-connect-to", smtp_connect_to),
            timeout=timeout,
            cert_days=cert_days,
        )
        if ca_bundle is not None and not ca_bundle.is_file():
            raise MtastsError(f"--ca-bundle {ca_bundle}: no such file")
        names = sorted(normalize_domain_filter(domains or [], source="DOMAIN") or set())
        expected = _expected_policies(config, explicit=_given_on_command_line(ctx, "config"))
        if not names:
            if expected is None:
                raise MtastsError(
                    f"nothing to check: name a DOMAIN, or a spec with -c FILE "
                    f"({config} does not exist)"
                )
            names = sorted(expected)
        reports = check_domains(names, options, expected)
        if output_format is OutputFormat.json:
            sys.stdout.write(reports_json(reports))
        elif output_format is OutputFormat.markdown:
            sys.stdout.write(reports_markdown(reports))
        else:
            print_reports(reports, stdout)
    if not all(r.ok for r in reports):
        raise typer.Exit(1)


@app.command("reports")
def reports_command(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="PATH...",
            help="TLS-RPT reports: .json, .json.gz, .gz/.zip archives, mails (.eml), mboxes, "
            "or folders (Maildir too), read recursively.",
            show_default=False,
        ),
    ],
    domains: DomainOption = None,
    since: Annotated[
        str | None, typer.Option(metavar="YYYY-MM-DD", help="Only days from this one on.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(metavar="YYYY-MM-DD", help="Only days up to this one.")
    ] = None,
    output_format: Annotated[
        OutputFormat,
        typer.Option("--format", metavar="text|markdown|json", help="The summary's format."),
    ] = OutputFormat.text,
    plot_file: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            metavar="FILE.png|FILE.svg",
            help="Also draw the failure rate per domain per day (needs the 'plot' extra).",
        ),
    ] = None,
) -> None:
    """Summarise TLS-RPT reports (RFC 8460): sessions and failures per domain and day.

    Failing domains come first, with failures by result type, receiving MX and reporter,
    and the policy modes senders evaluated. The same report delivered twice counts once.
    A file that holds no readable report is listed with the reason and the rest is read.
    Exit 0 when reports were read (or there was nothing to read), 1 when every input was
    unreadable or on a usage error.

    \b
    Examples:
      mtasts reports ~/Maildir/.tlsrpt
      mtasts reports reports/ --domain example.com --since 2026-11-01 --format json
      mtasts reports reports/ --plot failures.svg
    """
    from datetime import date

    from provisioner.output.reports import print_summary, summary_json, summary_markdown
    from provisioner.reports import read_reports
    from provisioner.reports.plot import check_plot_target, plot_failure_rates

    with _errors_as_exit():
        missing = [path for path in paths if not path.exists() and not path.is_symlink()]
        if missing:
            raise MtastsError(f"{missing[0]}: no such file or directory")
        days: dict[str, date | None] = {}
        for option, value in (("--since", since), ("--until", until)):
            try:
                days[option] = date.fromisoformat(value) if value is not None else None
            except ValueError:
                raise MtastsError(f"{option}: {value!r} is not a date (YYYY-MM-DD)") from None
        first, last = days["--since"], days["--until"]
        if first and last and first > last:
            raise MtastsError(f"--since {first} is after --until {last}")
        if plot_file is not None:
            check_plot_target(plot_file)
        wanted = normalize_domain_filter(domains or [])
        report_set = read_reports(paths)
        summaries = report_set.summary(wanted, first, last)
        if output_format is OutputFormat.json:
            sys.stdout.write(summary_json(report_set, summaries))
        elif output_format is OutputFormat.markdown:
            sys.stdout.write(summary_markdown(report_set, summaries))
        else:
            print_summary(report_set, summaries, stdout)
        if plot_file is not None:
            drawn = plot_failure_rates(summaries, plot_file)
            stderr.print(styled(f"Plot of {_count(drawn, 'domain')} written to ", str(plot_file)))
    if report_set.reports == 0 and report_set.unreadable:
        raise typer.Exit(1)


class LifecycleFormat(StrEnum):
    text = "text"
    json = "json"


NameserverOption = Annotated[
    str | None,
    typer.Option(
        metavar="IP[:PORT]", help="Ask this DNS server, not the system's, for every record."
    ),
]
CaBundleOption = Annotated[
    Path | None, typer.Option(metavar="PEM", help="Trust these CA certificates for HTTPS and SMTP.")
]
ConnectToOption = Annotated[
    str | None,
    typer.Option(
        metavar="[HOST]:PORT",
        help="Fetch policies from there, keeping the name for SNI (as check's --connect-to).",
    ),
]
TimeoutOption = Annotated[
    float, typer.Option(metavar="SECONDS", help="Time allowed per DNS look-up, fetch or probe.")
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Print the spec's diff; change nothing.")
]
LifecycleFormatOption = Annotated[
    LifecycleFormat, typer.Option("--format", metavar="text|json", help="Output format.")
]


def _lifecycle_check_options(
    nameserver: str | None,
    ca_bundle: Path | None,
    connect_to: str | None,
    timeout: float,
    smtp: bool = False,
    smtp_connect_to: str | None = None,
) -> CheckOptions:
    """`check`'s options, validated as `check` validates them."""
    if timeout <= 0:
        raise MtastsError(f"--timeout: must be more than 0 seconds, got {timeout:g}")
    if ca_bundle is not None and not ca_bundle.is_file():
        raise MtastsError(f"--ca-bundle {ca_bundle}: no such file")
    from provisioner.checks.verdict import CheckOptions

    return CheckOptions(
        nameserver=_nameserver_option(nameserver),
        ca_bundle=str(ca_bundle) if ca_bundle else None,
        connect_to=_connect_to_option("--connect-to", connect_to),
        smtp=smtp,
        smtp_connect_to=_connect_to_option("--smtp-connect-to", smtp_connect_to),
        timeout=timeout,
    )


@app.command(cls=_CheckCommand)
def promote(
    domains: Annotated[
        list[str], typer.Argument(metavar="DOMAIN...", help="Domains to move one step up.")
    ],
    config: ConfigOption = Path("mtasts.yaml"),
    reports: Annotated[
        list[Path] | None,
        typer.Option(
            "--reports",
            metavar="PATH",
            help="TLS-RPT reports (files or folders, as 'mtasts reports' reads them).",
        ),
    ] = None,
    min_days: Annotated[
        int, typer.Option(metavar="DAYS", help="With --reports: days of reports needed.")
    ] = 14,
    max_failure_rate: Annotated[
        str,
        typer.Option(
            metavar="PERCENT", help="With --reports: highest failure rate allowed, e.g. 0.1%."
        ),
    ] = "0.1%",
    steps: Annotated[
        str,
        typer.Option(metavar="SECONDS,...", help="max_age of each enforce step, lowest first."),
    ] = "604800,1209600,31557600",
    smtp: Annotated[
        bool, typer.Option("--smtp", help="Also require STARTTLS with a valid certificate.")
    ] = False,
    smtp_connect_to: Annotated[
        str | None,
        typer.Option(metavar="[HOST]:PORT", help="With --smtp: connect there for every MX."),
    ] = None,
    nameserver: NameserverOption = None,
    ca_bundle: CaBundleOption = None,
    connect_to: ConnectToOption = None,
    timeout: TimeoutOption = 10.0,
    dry_run: DryRunOption = False,
    demote: Annotated[
        bool,
        typer.Option("--demote", help="Emergency brake: enforce -> testing now, no gates."),
    ] = False,
    output_format: LifecycleFormatOption = LifecycleFormat.text,
) -> None:
    """Move domains one step up the ladder (testing -> enforce, then a longer max_age),
    only when the evidence says it is safe, by editing the spec in place.

    Gates: in the spec and not at the top; 'check' passes from the outside; every live MX
    is covered; with --smtp, STARTTLS on every MX; with --reports, enough days of reports
    in the current mode and a failure rate at or under the maximum. Exit 0 only when every
    named domain moved. No provider is touched: review the edit, then plan and apply.

    \b
    Examples:
      mtasts promote example.com example.org -c mtasts.yaml --reports ./tlsrpt/
      mtasts promote example.com --dry-run --format json
      mtasts promote example.com --demote
    """
    from provisioner.lifecycle import ladder
    from provisioner.lifecycle import output as lifecycle_output
    from provisioner.lifecycle import promote as promotion

    with _errors_as_exit():
        if demote:
            result = promotion.demote(config, domains, dry_run=dry_run)
        else:
            if min_days < 0:
                raise MtastsError(f"--min-days: must be 0 or more, got {min_days}")
            options = promotion.PromoteOptions(
                check=_lifecycle_check_options(
                    nameserver, ca_bundle, connect_to, timeout, smtp, smtp_connect_to
                ),
                report_paths=tuple(reports or ()),
                min_days=min_days,
                max_failure_rate=_percent_option("--max-failure-rate", max_failure_rate),
                steps=ladder.parse_steps(steps),
                dry_run=dry_run,
            )
            result = promotion.promote(config, domains, options)
        if output_format is LifecycleFormat.json:
            sys.stdout.write(lifecycle_output.to_json(result))
        else:
            lifecycle_output.print_promote(result, stdout)
    if not result.ok:
        raise typer.Exit(1)


@app.command("import", cls=_CheckCommand)
def import_(
    domains: Annotated[
        list[str] | None,
        typer.Argument(metavar="DOMAIN...", help="Domains that publish MTA-STS already."),
    ] = None,
    config: ConfigOption = Path("mtasts.yaml"),
    provider: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="The spec's provider to give the imported domains."),
    ] = None,
    from_provider: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="Import every domain this provider of the spec manages."),
    ] = None,
    nameserver: NameserverOption = None,
    ca_bundle: CaBundleOption = None,
    connect_to: ConnectToOption = None,
    timeout: TimeoutOption = 10.0,
    dry_run: DryRunOption = False,
    output_format: LifecycleFormatOption = LifecycleFormat.text,
) -> None:
    """Write spec entries (mode, mx, max_age, tlsrpt) for domains that already publish
    MTA-STS, read from the outside as 'check' reads them; the next plan changes none of
    them (at most it re-publishes the policy in canonical form under a new id).

    The spec is edited in place (comments kept), or created with the embedded 'local'
    provider. A domain that publishes nothing valid is named and not imported (exit 1).

    \b
    Examples:
      mtasts import example.com example.org -c mtasts.yaml --provider aws
      mtasts import --from-provider local -c mtasts.yaml
    """
    from provisioner.lifecycle import importer
    from provisioner.lifecycle import output as lifecycle_output

    with _errors_as_exit():
        if from_provider is not None:
            if domains or provider:
                raise MtastsError(
                    "--from-provider imports every domain it manages: name no DOMAIN and no "
                    "--provider"
                )
            result = importer.import_from_provider(config, from_provider, dry_run=dry_run)
        else:
            options = _lifecycle_check_options(nameserver, ca_bundle, connect_to, timeout)
            result = importer.import_domains(
                config, domains or [], options, provider=provider, dry_run=dry_run
            )
        if output_format is LifecycleFormat.json:
            sys.stdout.write(lifecycle_output.to_json(result))
        else:
            lifecycle_output.print_import(result, stdout)
    if not result.ok:
        raise typer.Exit(1)


def _percent_option(option: str, value: str) -> float:
    """`0.1%` or `0.1 %` as a fraction between 0 and 1 (0.001).

    The `%` is required: a bare `0.1` could mean 0.1 % or a fraction (10 %), a hundredfold
    difference in how much failure the gate lets through, so it is refused, not guessed.
    """
    text = value.strip()
    number = text.removesuffix("%").strip()
    if number and not text.endswith("%"):
        raise MtastsError(
            f"{option}: {value[:20]!r} needs a % sign (write {number[:15]}% for that percent): "
            "a bare number could be a percent or a fraction"
        )
    try:
        fraction = float(number) / 100
    except ValueError:
        fraction = -1.0
    if not (0 <= fraction <= 1) or number.lower() in ("nan", "inf"):
        raise MtastsError(f"{option}: {value[:20]!r} is not a rate such as 0.1% (0 to 100%)")
    return fraction


def _expected_policies(config: Path, explicit: bool) -> dict[str, str] | None:
    """Policy bodies the spec would publish, by domain; None when there is no spec.

    The default spec path is optional for `check` (it also checks domains no spec
    manages), a path given with -c is not: a missing one is an error.
    """
    if not explicit and not config.is_file():
        return None
    spec = load_spec(config)
    return {name: want.policy_text for name, want in render_spec(spec).items()}


def _connect_to_option(option: str, value: str | None) -> tuple[str | None, int] | None:
    """`HOST:PORT`, or `:PORT` to keep the address the check's resolver gives (curl's
    `--connect-to` with an empty host): a test server or tunnel on another port, while
    every address still comes from `--nameserver`."""
    from provisioner.checks.dnsprobe import split_host_port

    if value is None:
        return None
    if value.startswith(":"):
        port = value[1:]
        if port.isdigit() and 0 < int(port) < 65536:
            return None, int(port)
    else:
        try:
            return split_host_port(value, 0)
        except ValueError:
            pass
    raise MtastsError(f"{option}: {value!r} is not HOST:PORT or :PORT")


def _nameserver_option(value: str | None) -> str | None:
    """`IP[:PORT]`: a resolver needs an address, not a name it would have to resolve first."""
    from provisioner.checks.dnsprobe import split_host_port

    if value is None:
        return None
    try:
        host, port = split_host_port(value, 53)
        ipaddress.ip_address(host)
    except ValueError:
        raise MtastsError(
            f"--nameserver: {value!r} is not an IP address with an optional port (IP[:PORT])"
        ) from None
    return f"{host}:{port}"


def _address_option(option: str, value: str | None) -> tuple[str, int] | None:
    from provisioner.checks.dnsprobe import split_host_port

    if value is None:
        return None
    try:
        host, port = split_host_port(value, 0)
    except ValueError:
        raise MtastsError(f"{option}: {value!r} is not HOST:PORT") from None
    return host, port


def _plan_from_spec(
    config: Path, domain: list[str] | None
) -> tuple[dict[str, Provider], PlanResult]:
    spec = workflow.load(config)
    with _progress("reading live state", workflow.planned_domains(spec, domain or [])) as sink:
        providers, result = workflow.plan(spec, domain or [], progress=sink)
    if _options.verbose:
        report_reads(stderr, result.scope)
        report_api_calls(stderr)
    return providers, result


def _show(
    the_plan: Plan, output_format: OutputFormat, *, header: str = "", limit: int | None = None
) -> None:
    if output_format is OutputFormat.json:
        sys.stdout.write(json.dumps(the_plan.to_json(), indent=2) + "\n")
    elif output_format is OutputFormat.markdown:
        if limit is None:
            sys.stdout.write(render_markdown(the_plan, limit=sys.maxsize, header=header))
        else:
            sys.stdout.write(render_markdown(the_plan, limit=limit, header=header))
    else:
        print_plan(the_plan, stdout)


def _risk_option(values: list[str]) -> tuple[str, ...]:
    """`--allow-risk CLASS` values, each a class apply refuses (one line naming a bad one).

    A class apply never refuses (`routine`, `enforce`) or guards otherwise (`downgrade`,
    `retire`: `--allow-destroy`) is refused too: accepted, it would look like a permission.
    """
    names = [r.value for r in GUARDED_RISKS]
    for value in values:
        if value in names:
            continue
        if value in {r.value for r in Risk}:
            raise MtastsError(
                f"--allow-risk: apply never refuses {value!r} for its class (only "
                f"{', '.join(names)}); many downgrades or removals at once need --allow-destroy"
            )
        raise MtastsError(
            f"--allow-risk: {value!r} is not a risk class apply refuses (one of {', '.join(names)})"
        )
    return tuple(values)


def _stdin_is_terminal() -> bool:
    """Whether a person can answer the prompt (one seam, so tests can be that person)."""
    return sys.stdin.isatty()


_NO_TERMINAL = (
    "apply asks for confirmation, but stdin is not a terminal: pass --auto-approve "
    "(a saved plan is still refused when the live state moved since it was made)"
)


def _confirm(the_plan: Plan) -> None:
    if not _stdin_is_terminal():
        raise MtastsError(_NO_TERMINAL)
    answer = typer.prompt(
        f"\nApply {'this' if len(the_plan.changes) == 1 else 'these'} "
        f"{_count(len(the_plan.changes), 'change')}? Only 'yes' will be accepted",
        default="",
        show_default=False,
    )
    if answer.strip() != "yes":
        raise MtastsError("apply cancelled; nothing was changed")


def _given_on_command_line(ctx: typer.Context, parameter: str) -> bool:
    source = ctx.get_parameter_source(parameter)
    return getattr(source, "name", "") == "COMMANDLINE"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _print_warnings(warnings: tuple[str, ...]) -> None:
    """Warnings quote the spec and live state: shown literally (no rich markup), printable
    and with credentials scrubbed, like every other message (see output/text.py)."""
    for warning in warnings:
        stderr.print(styled(("warning:", "yellow"), " ", redact(warning)))


@contextmanager
def _progress(label: str, total: int) -> Iterator[ProgressSink]:
    if total <= PROGRESS_THRESHOLD or not stderr.is_terminal:
        yield NoProgress()
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
    )
    task = bar.add_task(label, total=total)
    with bar:
        yield _BarSink(
            lambda amount: bar.advance(task, amount),
            lambda phase: bar.update(task, description=f"{label}: {phase}"),
        )


class _BarSink:
    """The bar as a provider's `Progress` and apply's `PhaseProgress` (names the phase)."""

    def __init__(self, advance: Callable[[int], None], phase: Callable[[str], None]) -> None:
        self._advance = advance
        self._phase = phase

    def advance(self, amount: int = 1) -> None:
        self._advance(amount)

    def start_phase(self, name: str) -> None:
        self._phase(name)


@contextmanager
def _errors_as_exit() -> Iterator[None]:
    """Errors as one line each on stderr, exit 1. Messages quote SDK exceptions (which may
    hold a credential) and outside text (which may hold escape sequences), so each line is
    scrubbed by `redact` and made printable by `styled`."""
    try:
        yield
        return
    except SpecError as exc:
        lines = [str(problem) for problem in exc.problems]
    except MtastsError as exc:
        lines = [str(exc)]
    except KeyboardInterrupt:
        lines = ["interrupted"]
    except Exception as exc:
        if os.environ.get("MTASTS_DEBUG"):
            raise
        lines = [
            f"internal error: {type(exc).__name__}: {exc} "
            "(set MTASTS_DEBUG=1 for a traceback, and please report it)"
        ]
    for line in lines:
        stderr.print(styled("error: ", redact(line)))
    _fail()


def _fail() -> NoReturn:
    raise typer.Exit(1)


def main() -> None:
    app()
