"""A spec that loads can be published, and any input ends in located problems, fast.

Issue 8.4/8.5 and 14.6/14.7: what `validate` used to accept and `plan` then crashed on
("internal error: GrammarError") or published broken (one rua URI holding two), and what
hung or crashed the loader itself (an alias bomb, deep nesting, a mapping as a key, a NUL
in a path). Each example is asserted as the user sees it: `path:line: where: message`.
"""

from __future__ import annotations

import json
import signal
import subprocess
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from clihelpers import mtasts_executable, run, write_spec

from provisioner import spec as spec_module
from provisioner.errors import SpecError
from provisioner.rfc8461 import GrammarError, Mode, Policy
from provisioner.spec import YAML_MAX_NESTING, load_spec

RUA = "mailto:tlsrpt@example.net"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mtasts.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_spec(path)
    lines = [str(p) for p in info.value.problems]
    assert all("\n" not in line for line in lines)
    return lines


def problems(tmp_path: Path, text: str) -> list[str]:
    return problems_of(write(tmp_path, text))


def one_domain(tmp_path: Path, settings: str) -> list[str]:
    """Problems of a spec whose line 3 is `example.com: <settings>` (flow YAML)."""
    return problems(tmp_path, f"version: 1\ndomains:\n  example.com: {settings}\n")


# --- 8.4: the policy must fit in 64 KB --------------------------------------------------

MANY_MX = [f"mx{i}.mail-servers-of-example.example.com" for i in range(1800)]


def test_a_policy_over_64_kb_is_refused_at_the_domains_mx_line(tmp_path: Path) -> None:
    path = tmp_path / "mtasts.yaml"
    mx = "\n".join(f"      - {host}" for host in MANY_MX)
    text = "version: 1\ndomains:\n  ok.example: {mode: none}\n  example.com:\n"
    text += f"    mode: enforce\n    mx:\n{mx}\n"
    assert problems(tmp_path, text) == [
        f"{path}:6: domains.example.com.mx: 1,800 mx patterns make the policy over the "
        "65,536 bytes senders accept (RFC 8461 section 3.3): list fewer, or cover a group of "
        "hosts with one wildcard, as '*.mx.example.net'"
    ]


def test_mx_from_defaults_is_reported_for_each_domain_that_uses_them(tmp_path: Path) -> None:
    path = tmp_path / "mtasts.yaml"
    text = (
        f"version: 1\ndefaults: {{mode: testing, mx: {json.dumps(MANY_MX)}}}\n"
        "domains:\n  example.com:\n  example.org: {mx: [mx.example.org]}\n  example.net:\n"
    )
    lines = problems(tmp_path, text)
    assert [line.split(": 1,800 mx patterns")[0] for line in lines] == [
        f"{path}:4: domains.example.com.mx",
        f"{path}:6: domains.example.net.mx",
    ]


def test_the_largest_policy_that_fits_still_loads(tmp_path: Path) -> None:
    """The limit is the renderer's own: the most patterns that render are accepted."""
    fits = _largest_fitting(MANY_MX)
    assert 1000 < len(fits) < len(MANY_MX)
    for mx, loads in ((fits, True), (MANY_MX[: len(fits) + 1], False)):
        settings = {"mode": "enforce", "max_age": 1209600, "mx": mx}
        path = write(tmp_path, f"version: 1\ndomains:\n  example.com: {json.dumps(settings)}\n")
        if loads:
            assert load_spec(path).domains["example.com"].mx == tuple(mx)
        else:
            assert problems_of(path)[0].startswith(f"{path}:3: domains.example.com.mx: ")


def _largest_fitting(mx: list[str]) -> list[str]:
    """The longest prefix of `mx` whose enforce policy the RFC 8461 renderer accepts."""

    def renders(count: int) -> bool:
        try:
            Policy(mode=Mode.ENFORCE, max_age=1209600, mx=tuple(mx[:count])).render()
        except GrammarError:
            return False
        return True

    low, high = 1, len(mx)
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if renders(middle) else (low, middle - 1)
    return mx[:low]


def test_plan_reports_a_too_large_policy_as_a_spec_error_not_an_internal_error(
    tmp_path: Path,
) -> None:
    spec = write_spec(tmp_path, {"example.com": {"mode": "enforce", "mx": MANY_MX}})
    for command in ("validate", "plan"):
        result = run(command, "-c", spec)
        assert result.exit_code == 1
        assert "internal error" not in result.stderr
        assert result.stderr.startswith(f"error: {spec}:5: domains.example.com.mx: 1,800 mx ")
        assert len(result.stderr.splitlines()) == 1


# --- 8.5 and 14.7: one publishable URI per rua item, a record that fits ----------------


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (
            "mailto:a@example.com,mailto:b@example.net",
            "holds 2 URIs: write each URI as its own list item: "
            'rua: ["mailto:a@example.com", "mailto:b@example.net"]',
        ),
        (
            "mailto:a@example.com, https://r.example.net/v1",
            "holds 2 URIs: write each URI as its own list item: "
            'rua: ["mailto:a@example.com", "https://r.example.net/v1"]',
        ),
        (
            "mailto:a@example.com%2Cmailto:b@example.net",
            "holds 2 URIs: write each URI as its own list item: "
            'rua: ["mailto:a@example.com", "mailto:b@example.net"]',
        ),
        (
            "mailto:a@example.com,b@example.net",
            "holds 2 addresses: write each URI as its own list item: "
            'rua: ["mailto:a@example.com", "mailto:b@example.net"]',
        ),
        (
            "mailto:a@b@example.net",
            "holds more than one '@': one address per URI, as mailto:tlsrpt@example.net",
        ),
        (
            "https://r.example.net:99999/",
            "has port '99999': a port is a number from 1 to 65535",
        ),
        (
            "https://user:pw@r.example.net/",
            "holds a user name or password before '@': an https report URI carries none (it "
            "would be published in DNS); authorise by the path instead",
        ),
    ],
)
def test_a_rua_item_that_would_publish_garbage_is_refused_at_its_line(
    tmp_path: Path, uri: str, message: str
) -> None:
    path = tmp_path / "mtasts.yaml"
    assert problems(
        tmp_path,
        f"""
        version: 1
        domains:
          example.com:
            mode: none
            tlsrpt:
              rua:
                - {RUA}
                - {json.dumps(uri)}
        """,
    ) == [f"{path}:8: domains.example.com.tlsrpt.rua[1]: report URI {uri!r} {message}"]


def test_a_comma_inside_one_address_is_still_one_encoded_uri(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "version: 1\ndomains:\n"
        '  example.com: {mode: none, tlsrpt: {rua: ["mailto:a,b@x.example"]}}\n',
    )
    assert load_spec(path).domains["example.com"].tlsrpt_rua == ("mailto:a%2Cb@x.example",)


def test_20000_report_uris_are_refused_at_the_rua_line(tmp_path: Path) -> None:
    path = tmp_path / "mtasts.yaml"
    rua = json.dumps([f"mailto:tlsrpt{i}@example.com" for i in range(20000)])
    lines = problems(
        tmp_path,
        f"version: 1\ndefaults:\n  mode: none\n  tlsrpt:\n    rua: {rua}\n"
        "domains:\n  example.com:\n  example.org:\n",
    )
    assert lines == [
        f"{path}:5: defaults.tlsrpt.rua: the _smtp._tls record would be 608,905 bytes "
        "(20,000 report URIs), over the 2,048 bytes mtasts publishes: list fewer report URIs "
        "(one mailbox or endpoint that collects every report is the usual setup)"
    ]


@pytest.mark.parametrize(("padding", "loads"), [(8, True), (9, False)])
def test_the_record_limit_is_2048_bytes(tmp_path: Path, padding: int, loads: bool) -> None:
    """81 URIs of 24 characters make a 2,040-byte record; padding the last one tips it."""
    rua = [f"mailto:t{i:04}@example.com" for i in range(81)]
    rua[-1] = rua[-1].replace("@", "x" * padding + "@")
    settings = {"mode": "none", "tlsrpt": {"rua": rua}}
    path = write(tmp_path, f"version: 1\ndomains:\n  example.com: {json.dumps(settings)}\n")
    if loads:
        assert load_spec(path).domains["example.com"].tlsrpt_rua == tuple(rua)
    else:
        assert problems_of(path) == [
            f"{path}:3: domains.example.com.tlsrpt.rua: the _smtp._tls record would be 2,049 "
            "bytes (81 report URIs), over the 2,048 bytes mtasts publishes: list fewer report "
            "URIs (one mailbox or endpoint that collects every report is the usual setup)"
        ]


def test_validate_refuses_a_pasted_rua_list_on_the_command_line(tmp_path: Path) -> None:
    rua = ["mailto:a@example.com,mailto:b@example.net"]
    spec = write_spec(
        tmp_path,
        {"example.com": {"mx": ["mx.example.com"]}},
        defaults={"mode": "testing", "max_age": 86400, "tlsrpt": {"rua": rua}},
    )
    result = run("validate", "-c", spec)
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {spec}:2: defaults.tlsrpt.rua[0]: report URI "
        "'mailto:a@example.com,mailto:b@example.net' holds 2 URIs: write each URI as its own "
        'list item: rua: ["mailto:a@example.com", "mailto:b@example.net"]\n'
    )


# --- 14.7: names the spec cannot mean -----------------------------------------------------


def test_a_null_key_is_not_the_domain_none(tmp_path: Path) -> None:
    path = tmp_path / "mtasts.yaml"
    assert one_domain(tmp_path, "{mode: none}\n  ~: {mode: none}") == [
        f"{path}:4: domains.null: not a domain name: YAML reads this key as null (write the "
        "domain's name, as 'example.com:')"
    ]


@pytest.mark.parametrize(
    ("key", "where", "kind"),
    [("null", "null", "null"), ("true", "true", "a boolean"), ("2024", "2024", "a number")],
)
def test_keys_yaml_reads_as_other_types_are_not_domains(
    tmp_path: Path, key: str, where: str, kind: str
) -> None:
    path = tmp_path / "mtasts.yaml"
    assert problems(tmp_path, f"version: 1\ndomains:\n  {key}: {{mode: none}}\n") == [
        f"{path}:3: domains.{where}: not a domain name: YAML reads this key as {kind} (write "
        "the domain's name, as 'example.com:')"
    ]


@pytest.mark.parametrize("name", ["com", "COM.", "localhost"])
def test_a_single_label_is_not_a_domain(tmp_path: Path, name: str) -> None:
    path = tmp_path / "mtasts.yaml"
    label = name.rstrip(".").lower()
    assert problems(tmp_path, f"version: 1\ndomains:\n  {name}: {{mode: none}}\n") == [
        f"{path}:3: domains.{name}: not a domain name: {label!r} is a single label; MTA-STS is "
        "published for a domain of at least two labels, as 'example.com'"
    ]


@pytest.mark.parametrize(("length", "loads"), [(242, True), (243, False), (253, False)])
def test_a_domain_too_long_for_its_tlsrpt_name_is_refused(
    tmp_path: Path, length: int, loads: bool
) -> None:
    """A name of up to 253 characters is legal, but `_smtp._tls.<it>` must be too."""
    path = tmp_path / "mtasts.yaml"
    name = ".".join(["a" * 61, "b" * 61, "c" * 61, "d" * (length - 194), "example"])
    assert len(name) == length
    path = write(tmp_path, f"version: 1\ndomains:\n  {name}: {{mode: none}}\n")
    if loads:
        assert name in load_spec(path).domains
        return
    owned = f"_smtp._tls.{name}"
    assert problems_of(path) == [
        f"{path}:3: domains.{name}: too long: mtasts publishes at {owned!r}, {length + 11} "
        "characters, over the 253 a DNS name may have"
    ]


# --- 14.6 and 14.7: reading costs no more than the file's size ----------------------------


class TooSlow(BaseException):
    """Raised by `deadline`; a BaseException, so no `except Exception` in the code swallows it."""


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging the suite) when the block runs longer than `seconds`."""

    def expire(signum: int, frame: object) -> None:
        raise TooSlow(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def alias_bomb(depth: int) -> str:
    """Billion laughs: each level is a list of two aliases of the one before (2^depth)."""
    lines = ["version: 1", "l0: &l0 [lol, lol]"]
    lines += [f"l{i}: &l{i} [*l{i - 1}, *l{i - 1}]" for i in range(1, depth + 1)]
    lines += ["domains:", "  example.com: {mode: none}"]
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_at_the_alias_that_crosses_the_budget(tmp_path: Path) -> None:
    path = write(tmp_path, alias_bomb(40))
    assert len(path.read_text()) < 1000
    with deadline(10):
        lines = problems_of(path)
    # l0..l10 (line 12) expand to about 8,190 values; l11's first alias of l10 (4,095
    # values) takes the total past 10,000, on line 13
    assert lines == [
        f"{path}:13: invalid YAML: aliases expand the document past 10,000 values, 10 per "
        "character of the file (an alias bomb?): write the values out, or alias fewer nested "
        "values"
    ]


def test_an_alias_bomb_does_not_hang_the_cli(tmp_path: Path) -> None:
    """A real process with a deadline, so a regression fails instead of hanging the suite."""
    path = write(tmp_path, alias_bomb(40))
    for command in ("validate", "plan"):
        result = subprocess.run(
            [mtasts_executable(), command, "-c", str(path)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 1
        assert result.stderr.startswith(f"error: {path}:13: invalid YAML: aliases expand ")


def test_aliases_a_spec_really_uses_still_load(tmp_path: Path) -> None:
    """Anchors for shared settings and merge keys: 500 domains sharing one mx list."""
    mx = ["mx1.example.net", "mx2.example.net", "*.mx.example.org"]
    domains = "\n".join(f"  d{i}.example: {{<<: *base, mx: *mx}}" for i in range(500))
    path = write(
        tmp_path,
        f"version: 1\ndefaults: &base {{mode: testing, max_age: 86400, mx: &mx {mx}, "
        "tlsrpt: {rua: [mailto:t@example.net]}}\n"
        f"domains:\n{domains}\n",
    )
    spec = load_spec(path)
    assert len(spec.domains) == 500
    assert {d.mx for d in spec.domains.values()} == {tuple(mx)}


def test_a_recursive_alias_is_refused_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "mtasts.yaml"
    assert problems(tmp_path, "version: 1\ndomains: &d\n  example.com:\n    mx: *d\n") == [
        f"{path}:4: invalid YAML: the alias *d is inside the value it names (a cycle)"
    ]


def test_500_levels_of_nesting_are_refused_at_their_line(tmp_path: Path) -> None:
    path = tmp_path / "mtasts.yaml"
    deep = "[" * 500 + "]" * 500
    assert one_domain(tmp_path, f"{{mode: none, mx: {deep}}}") == [
        f"{path}:3: invalid YAML: nested deeper than {YAML_MAX_NESTING} levels"
    ]
    # k0 on line 3 is in the root mapping (level 1): k49, line 52, is in level 51
    block = "".join(f"{'  ' * i}k{i}:\n" for i in range(500)) + "  " * 500 + "v: 1\n"
    assert problems(tmp_path, f"version: 1\ndomains: {{}}\n{block}") == [
        f"{path}:{YAML_MAX_NESTING + 2}: invalid YAML: nested deeper than {YAML_MAX_NESTING} levels"
    ]


def test_aliases_cannot_nest_past_the_limit_either(tmp_path: Path) -> None:
    """A chain of aliases, each one level deeper, stays under the node budget."""
    path = tmp_path / "mtasts.yaml"
    chain = ["version: 1", "c0: &c0 [x]"]
    chain += [f"c{i}: &c{i} [*c{i - 1}]" for i in range(1, 60)]
    lines = problems(tmp_path, "\n".join([*chain, "domains: {}"]) + "\n")
    # c{n} (line n + 2) reaches level n + 3 from the root; c48's alias of c47 reaches 51
    assert lines == [
        f"{path}:50: invalid YAML: the alias *c47 nests the document deeper than "
        f"{YAML_MAX_NESTING} levels"
    ]


def test_just_under_the_nesting_limit_loads_or_fails_on_meaning(tmp_path: Path) -> None:
    path = tmp_path / "mtasts.yaml"
    deep = "[" * (YAML_MAX_NESTING - 4) + "]" * (YAML_MAX_NESTING - 4)
    assert one_domain(tmp_path, f"{{mode: none, tlsrpt: {{rua: {deep}}}}}") == [
        f"{path}:3: domains.example.com.tlsrpt.rua[0]: Input should be a valid string"
    ]


@pytest.mark.parametrize(
    ("text", "line", "where", "kind"),
    [
        ("version: 1\ndomains:\n  ? {a: 1}\n  : {mode: none}\n", 3, "domains: ", "a mapping"),
        ("version: 1\n? [a, b]\n: 1\ndomains: {}\n", 2, "", "a list"),
        (
            "version: 1\ndomains:\n  example.com: {mode: none, ? [x] : y}\n",
            3,
            "domains.example.com: ",
            "a list",
        ),
    ],
)
def test_a_mapping_or_list_as_a_key_is_refused_at_its_line(
    tmp_path: Path, text: str, line: int, where: str, kind: str
) -> None:
    path = write(tmp_path, text)
    assert problems_of(path) == [f"{path}:{line}: {where}a key must be a plain name, not {kind}"]


# --- 14.7: a NUL in a path, a file that never ends -----------------------------------------


def test_a_nul_in_a_provider_path_is_a_located_spec_error(tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        'version: 1\nproviders:\n  web:\n    type: local\n    path: "./out\\0/x"\n'
        "domains:\n  example.com: {mode: none}\n",
    )
    message = (
        f"{spec}:5: providers.web.path: holds a NUL character (\\x00), which no path, name or "
        "setting can hold"
    )
    assert problems_of(spec) == [message]
    for command in ("validate", "plan"):
        result = run(command, "-c", spec)
        assert result.exit_code == 1
        assert result.stderr == f"error: {message}\n"


def test_a_nul_in_the_spec_path_is_a_located_problem(tmp_path: Path) -> None:
    path = tmp_path / "mt\x00asts.yaml"
    assert problems_of(path) == [
        f"{tmp_path}/mt\\x00asts.yaml: cannot read the spec (a path cannot hold a NUL character)"
    ]


def test_a_spec_that_never_ends_is_refused_after_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spec_module, "SPEC_MAX_BYTES", 1000)
    path = write(tmp_path, "version: 1\ndomains: {}\n" + "#" * 1000 + "\n")
    assert problems_of(path) == [f"{path}: cannot read the spec (larger than 1,000 bytes)"]
    assert problems_of(Path("/dev/zero")) == [
        "/dev/zero: cannot read the spec (larger than 1,000 bytes)"
    ]


def test_a_directory_is_not_a_spec(tmp_path: Path) -> None:
    assert problems_of(tmp_path) == [f"{tmp_path}: cannot read the spec (Is a directory)"]


# --- the CLI: one located line per problem, exit 1, never "internal error" ---------------


@pytest.mark.parametrize(
    ("body", "line", "where"),
    [
        ("  ~: {mode: none}\n", 3, "domains.null: not a domain name: YAML reads this key"),
        ("  com: {mode: none}\n", 3, "domains.com: not a domain name: 'com' is a single label"),
        ("  ? {a: 1}\n  : {mode: none}\n", 3, "domains: a key must be a plain name"),
        (f"  example.com: {{mode: none, mx: {'[' * 500}{']' * 500}}}\n", 3, "invalid YAML: "),
        (
            '  example.com: {mode: none, tlsrpt: {rua: ["https://r.example.net:99999/"]}}\n',
            3,
            "domains.example.com.tlsrpt.rua[0]: report URI 'https://r.example.net:99999/' has",
        ),
        (
            '  example.com: {mode: none, tlsrpt: {rua: ["mailto:a@b@example.net"]}}\n',
            3,
            "domains.example.com.tlsrpt.rua[0]: report URI 'mailto:a@b@example.net' holds",
        ),
    ],
)
def test_plan_names_the_line_of_each_refused_input(
    tmp_path: Path, body: str, line: int, where: str
) -> None:
    spec = tmp_path / "mtasts.yaml"
    spec.write_text(f"version: 1\ndomains:\n{body}", encoding="utf-8")
    for command in ("validate", "plan"):
        result = run(command, "-c", spec)
        assert result.exit_code == 1
        assert result.stdout == ""
        assert result.stderr.startswith(f"error: {spec}:{line}: {where}")
        assert len(result.stderr.splitlines()) == 1
        assert "internal error" not in result.stderr


def test_a_number_past_any_setting_is_a_located_error(tmp_path):
    from provisioner.errors import SpecError
    from provisioner.spec import load_spec

    path = tmp_path / "mtasts.yaml"
    path.write_text(
        "version: 1\ndefaults: {max_age: "
        + "9" * 5000
        + "}\ndomains:\n  a.example: {mx: [mx.a.example]}\n"
    )
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:2: a number of 5000 characters; no setting takes more than 100"
    ]
