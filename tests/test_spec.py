"""The spec file (`mtasts.yaml`): defaults resolved, names normalised, and every problem of a
broken spec reported at once as `<path>:<line>: <where>: <message>`, the way the CLI prints it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from provisioner.errors import SpecError
from provisioner.rfc8461 import Mode
from provisioner.spec import DomainSpec, ProviderSpec, Spec, load_spec

NO_TLSRPT = (
    "no tlsrpt: failures will go unreported (an existing _smtp._tls record is left as it is)"
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mtasts.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load(tmp_path: Path, text: str) -> Spec:
    return load_spec(write(tmp_path, text))


def problems(tmp_path: Path, text: str) -> list[str]:
    path = write(tmp_path, text)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    lines = [str(p) for p in info.value.problems]
    assert str(info.value) == "\n".join(lines)
    return lines


# --- a good spec ---------------------------------------------------------------------------


GOOD = """
version: 1
defaults:
  mode: enforce
  mx: [mail.example.com, "*.mx.example.net"]
  max_age: 2419200
  tlsrpt:
    rua: [mailto:tlsrpt@example.com, "https://reports.example.net/v1/tlsrpt"]
domains:
  example.com:
  example.org:
    mode: testing
    max_age: 604800
    mx: [mx.example.org]
  example.net:
    mode: none
"""


def test_good_spec_resolves_defaults(tmp_path: Path) -> None:
    spec = load(tmp_path, GOOD)
    rua = ("mailto:tlsrpt@example.com", "https://reports.example.net/v1/tlsrpt")
    assert spec.path == tmp_path / "mtasts.yaml"
    assert spec.base_dir == tmp_path
    assert spec.domains == {
        "example.com": DomainSpec(
            "example.com",
            "local",
            Mode.ENFORCE,
            2_419_200,
            ("mail.example.com", "*.mx.example.net"),
            rua,
            9,
        ),
        "example.org": DomainSpec(
            "example.org", "local", Mode.TESTING, 604_800, ("mx.example.org",), rua, 10
        ),
        "example.net": DomainSpec(
            "example.net",
            "local",
            Mode.NONE,
            2_419_200,
            ("mail.example.com", "*.mx.example.net"),
            rua,
            14,
        ),
    }
    assert spec.warnings == ()


def test_domain_order_is_kept(tmp_path: Path) -> None:
    assert list(load(tmp_path, GOOD).domains) == ["example.com", "example.org", "example.net"]


def test_domain_tlsrpt_replaces_default_as_a_whole(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        """
        version: 1
        defaults:
          mode: none
          tlsrpt:
            rua: [mailto:a@example.com, mailto:b@example.com]
        domains:
          example.com:
            tlsrpt:
              rua: ["https://reports.example.net/"]
          example.org:
        """,
    )
    assert spec.domains["example.com"].tlsrpt_rua == ("https://reports.example.net/",)
    assert spec.domains["example.org"].tlsrpt_rua == (
        "mailto:a@example.com",
        "mailto:b@example.com",
    )


def test_domain_tlsrpt_without_defaults(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        """
        version: 1
        domains:
          example.com:
            mode: none
            tlsrpt: {rua: ["mailto:tls,rpt@example.com"]}
        """,
    )
    assert spec.domains["example.com"].tlsrpt_rua == ("mailto:tls%2Crpt@example.com",)


@pytest.mark.parametrize(
    ("mode", "max_age"), [("testing", 86_400), ("enforce", 1_209_600), ("none", 86_400)]
)
def test_max_age_default_follows_mode(tmp_path: Path, mode: str, max_age: int) -> None:
    spec = load(
        tmp_path,
        f"""
        version: 1
        defaults:
          mx: [mail.example.com]
        domains:
          example.com:
            mode: {mode}
        """,
    )
    assert spec.domains["example.com"].max_age == max_age
    assert spec.warnings == (f"example.com: {NO_TLSRPT}",)


def test_max_age_default_follows_the_domains_own_mode(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        """
        version: 1
        defaults:
          mode: testing
          mx: [mail.example.com]
        domains:
          example.com:
            mode: enforce
          example.org:
        """,
    )
    assert spec.domains["example.com"].max_age == 1_209_600
    assert spec.domains["example.org"].max_age == 86_400


def test_implicit_local_provider(tmp_path: Path) -> None:
    spec = load(tmp_path, GOOD)
    assert spec.providers == {
        "local": ProviderSpec("local", "local", {"path": "./build/mta-sts"}, None)
    }
    assert {d.provider for d in spec.domains.values()} == {"local"}


def test_single_provider_picked_implicitly(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        """
        version: 1
        providers:
          web:
            type: local
            path: ./out
        domains:
          example.com: {mode: none}
        """,
    )
    assert spec.providers == {"web": ProviderSpec("web", "local", {"path": "./out"}, 3)}
    assert spec.domains["example.com"].provider == "web"


def test_provider_from_defaults_or_domain(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        """
        version: 1
        providers:
          a: {type: local}
          b: {type: local, path: ./b}
        defaults:
          provider: a
          mode: none
        domains:
          example.com:
          example.org:
            provider: b
        """,
    )
    assert spec.domains["example.com"].provider == "a"
    assert spec.domains["example.org"].provider == "b"


def test_two_providers_need_a_choice(tmp_path: Path) -> None:
    path = tmp_path / "mtasts.yaml"
    assert problems(
        tmp_path,
        """
        version: 1
        providers:
          a: {type: local}
          b: {type: local}
        domains:
          example.com: {mode: none}
        """,
    ) == [f"{path}:6: domains.example.com.provider: missing: set it here or under 'defaults'"]


def test_domain_names_normalised(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        """
        version: 1
        defaults: {mode: none}
        domains:
          Example.COM.:
          Bücher.Example:
          "xn--mnchen-3ya.de.":
        """,
    )
    assert list(spec.domains) == ["example.com", "xn--bcher-kva.example", "xn--mnchen-3ya.de"]
    assert [d.name for d in spec.domains.values()] == list(spec.domains)


def test_mx_normalised_and_deduplicated(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        """
        version: 1
        domains:
          example.com:
            mode: enforce
            mx:
              - MAIL.example.com
              - mail.example.com.
              - "*.Example.COM"
              - mx.Bücher.example
              - "*.example.com."
        """,
    )
    assert spec.domains["example.com"].mx == (
        "mail.example.com",
        "*.example.com",
        "mx.xn--bcher-kva.example",
    )


def test_report_uris_normalised(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        """
        version: 1
        defaults:
          mode: none
          tlsrpt:
            rua: ["MAILTO:tls,rpt@example.com", "https://r.example.net/a;b"]
        domains:
          example.com:
        """,
    )
    assert spec.domains["example.com"].tlsrpt_rua == (
        "mailto:tls%2Crpt@example.com",
        "https://r.example.net/a%3Bb",
    )


# --- warnings are not errors ---------------------------------------------------------------


def test_warnings_are_warnings(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        """
        version: 1
        defaults:
          mx: [mail.example.com]
          tlsrpt: {rua: [mailto:tlsrpt@example.com]}
        domains:
          short-enforce.example:
            mode: enforce
            max_age: 1209599
          short-testing.example:
            mode: testing
            max_age: 3600
          fine.example:
            mode: enforce
            max_age: 1209600
          none.example:
            mode: none
            max_age: 0
        """,
    )
    assert set(spec.domains) == {
        "short-enforce.example",
        "short-testing.example",
        "fine.example",
        "none.example",
    }
    assert spec.warnings == (
        "short-enforce.example: max_age 1209599 is short for mode enforce (advised: at least "
        "1209600, two weeks)",
        "short-testing.example: max_age 3600 is short for mode testing (advised: at least "
        "86400, one day)",
    )


def test_no_tlsrpt_is_a_warning(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        """
        version: 1
        domains:
          example.com: {mode: testing, mx: [mail.example.com], max_age: 600}
        """,
    )
    assert spec.warnings == (
        "example.com: max_age 600 is short for mode testing (advised: at least 86400, one day)",
        f"example.com: {NO_TLSRPT}",
    )


# --- a broken spec: every problem, with its line -------------------------------------------


BROKEN = """
version: 2
colour: blue
providers:
  web:
    type: local
    path: ./out
defaults:
  mode: enforce
domains:
  "not a host":
    mode: testing
  example.com:
    mx: [192.0.2.1, "mail.*.example.com"]
    max_age: 99999999
  example.org:
    mode: Enforce
    mx: [mx.example.org]
    max_age: "86400"
    colour: red
  example.net:
    mx: [mx.example.net]
    tlsrpt:
      rua: ["http://reports.example.net/"]
  example.info: {provider: nope, mx: [mx.example.info]}
  example.biz:
    mode: enforce
  good.example:
    mx: [mx.good.example]
  GOOD.example.:
    mx: [mx.good.example]
  mail.example:
    mx: ["*.com"]
    max_age: -1
  192.0.2.7:
    mode: none
"""


def test_broken_spec_reports_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "mtasts.yaml"
    assert problems(tmp_path, BROKEN) == [
        f"{path}:1: version: must be 1",
        f"{path}:2: colour: unknown key (allowed: version, defaults, providers, domains)",
        f"{path}:10: domains.not a host: not a domain name: 'not a host' is not a valid host "
        "name (' ' is not allowed)",
        f"{path}:13: domains.example.com.mx[0]: mx pattern '192.0.2.1' is an IP address; "
        "MTA-STS needs a host name",
        f"{path}:13: domains.example.com.mx[1]: mx pattern 'mail.*.example.com': a wildcard "
        "must be the whole left-most label, as in '*.example.com'",
        f"{path}:14: domains.example.com.max_age: must be between 0 and 31557600",
        f"{path}:16: domains.example.org.mode: Input should be 'enforce', 'testing' or 'none'",
        f"{path}:18: domains.example.org.max_age: must be a whole number of seconds",
        f"{path}:19: domains.example.org.colour: unknown key (allowed: provider, mode, max_age, "
        "mx, tlsrpt)",
        f"{path}:23: domains.example.net.tlsrpt.rua[0]: report URI "
        "'http://reports.example.net/' must start with 'mailto:' or 'https:'",
        f"{path}:24: domains.example.info.provider: unknown provider 'nope' (known: web)",
        f"{path}:25: domains.example.biz.mx: mode enforce needs at least one mx pattern",
        f"{path}:29: domains.GOOD.example.: the same domain as line 27 (good.example)",
        f"{path}:32: domains.mail.example.mx[0]: mx pattern '*.com' needs at least two labels",
        f"{path}:33: domains.mail.example.max_age: must be between 0 and 31557600",
        f"{path}:34: domains.192.0.2.7: not a domain name: '192.0.2.7' is an IP address; "
        "MTA-STS needs a host name",
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"86400"', "must be a whole number of seconds"),
        ("86400.0", "must be a whole number of seconds"),
        ("true", "must be a whole number of seconds"),
        ("1d", "must be a whole number of seconds"),
        ("31557601", "must be between 0 and 31557600"),
        ("-5", "must be between 0 and 31557600"),
    ],
)
def test_bad_max_age(tmp_path: Path, value: str, message: str) -> None:
    path = tmp_path / "mtasts.yaml"
    text = f"version: 1\ndomains:\n  example.com:\n    mode: none\n    max_age: {value}\n"
    assert problems(tmp_path, text) == [f"{path}:5: domains.example.com.max_age: {message}"]


def test_tlsrpt_problems(tmp_path: Path) -> None:
    path = tmp_path / "mtasts.yaml"
    assert problems(
        tmp_path,
        """
        version: 1
        domains:
          example.com:
            mode: none
            tlsrpt:
              rua:
                - mailto:tlsrpt@example.com
                - "http://reports.example.net/"
              ruf: [mailto:x@example.com]
          example.org:
            mode: none
            tlsrpt: {rua: []}
          example.net:
            mode: none
            tlsrpt: {}
        """,
    ) == [
        f"{path}:8: domains.example.com.tlsrpt.rua[1]: report URI "
        "'http://reports.example.net/' must start with 'mailto:' or 'https:'",
        f"{path}:9: domains.example.com.tlsrpt.ruf: unknown key (allowed: rua)",
        f"{path}:12: domains.example.org.tlsrpt.rua: List should have at least 1 item after "
        "validation, not 0",
        f"{path}:15: domains.example.net.tlsrpt.rua: Field required",
    ]


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "mtasts.yaml"
    assert problems(
        tmp_path,
        """
        version: 1
        domains:
          example.com:
            mode: enforce: now
            mx: [mail.example.com]
        """,
    ) == [f"{path}:4: invalid YAML: mapping values are not allowed here"]


def test_duplicate_yaml_key_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "mtasts.yaml"
    assert problems(
        tmp_path,
        """
        version: 1
        domains:
          example.com:
            mode: enforce
            mode: testing
            mx: [mail.example.com]
        """,
    ) == [f"{path}:5: domains.example.com.mode: duplicate key (first at line 4)"]


def test_duplicate_yaml_key_does_not_hide_other_problems(tmp_path: Path) -> None:
    lines = problems(
        tmp_path,
        """
        version: 2
        domains:
          example.com:
            mode: enforce
            mode: testing
            mx: [192.0.2.1]
        """,
    )
    assert len(lines) == 3
    assert any(":1: version: must be 1" in line for line in lines)
    assert any(":5: " in line and "duplicate" in line for line in lines)
    assert any(":6: domains.example.com.mx[0]: " in line for line in lines)


def test_missing_version(tmp_path: Path) -> None:
    path = tmp_path / "mtasts.yaml"
    assert problems(tmp_path, "domains:\n  example.com: {mode: none}\n") == [
        f"{path}:1: version: missing (write 'version: 1')"
    ]


@pytest.mark.parametrize("value", ["2", '"1"', "0"])
def test_wrong_version(tmp_path: Path, value: str) -> None:
    path = tmp_path / "mtasts.yaml"
    text = f"domains:\n  example.com: {{mode: none}}\nversion: {value}\n"
    assert problems(tmp_path, text) == [f"{path}:3: version: must be 1"]


@pytest.mark.parametrize("value", ["true", "1.0"])
def test_version_must_be_the_integer_one(tmp_path: Path, value: str) -> None:
    path = tmp_path / "mtasts.yaml"
    text = f"version: {value}\ndomains:\n  example.com: {{mode: none}}\n"
    assert problems(tmp_path, text) == [f"{path}:1: version: must be 1"]


def test_duplicate_domain_after_normalisation(tmp_path: Path) -> None:
    path = tmp_path / "mtasts.yaml"
    assert problems(
        tmp_path,
        """
        version: 1
        defaults: {mode: none}
        domains:
          example.com:
          Example.COM.:
          bücher.example:
          XN--BCHER-KVA.example:
        """,
    ) == [
        f"{path}:5: domains.Example.COM.: the same domain as line 4 (example.com)",
        f"{path}:7: domains.XN--BCHER-KVA.example: the same domain as line 6 "
        "(xn--bcher-kva.example)",
    ]


def test_duplicate_domain_reported_even_if_first_is_broken(tmp_path: Path) -> None:
    path = tmp_path / "mtasts.yaml"
    assert problems(
        tmp_path,
        """
        version: 1
        domains:
          example.com:
            mode: enforcee
          EXAMPLE.com:
            mode: none
        """,
    ) == [
        f"{path}:4: domains.example.com.mode: Input should be 'enforce', 'testing' or 'none'",
        f"{path}:5: domains.EXAMPLE.com: the same domain as line 3 (example.com)",
    ]


def test_bad_defaults_do_not_cascade(tmp_path: Path) -> None:
    path = tmp_path / "mtasts.yaml"
    assert problems(
        tmp_path,
        """
        version: 1
        defaults:
          mode: enforcee
          mx: [mail.example.com]
        domains:
          a.example:
          b.example:
        """,
    ) == [f"{path}:3: defaults.mode: Input should be 'enforce', 'testing' or 'none'"]


def test_unknown_provider_points_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "mtasts.yaml"
    assert problems(
        tmp_path,
        """
        version: 1
        domains:
          example.com:
            mode: none
            provider: nope
        """,
    ) == [f"{path}:5: domains.example.com.provider: unknown provider 'nope' (known: local)"]


def test_unknown_provider_from_defaults(tmp_path: Path) -> None:
    path = tmp_path / "mtasts.yaml"
    assert problems(
        tmp_path,
        """
        version: 1
        providers:
          web: {type: local}
        defaults: {provider: nope, mode: none}
        domains:
          example.com:
        """,
    ) == [f"{path}:4: defaults.provider: unknown provider 'nope' (known: web)"]


def test_enforce_without_mx(tmp_path: Path) -> None:
    path = tmp_path / "mtasts.yaml"
    assert problems(
        tmp_path,
        """
        version: 1
        domains:
          example.com:
            mode: enforce
          example.org:
            mode: testing
            mx: []
          example.net:
            mode: none
        """,
    ) == [
        f"{path}:3: domains.example.com.mx: mode enforce needs at least one mx pattern",
        f"{path}:7: domains.example.org.mx: mode testing needs at least one mx pattern",
    ]


def test_mode_missing_everywhere(tmp_path: Path) -> None:
    path = tmp_path / "mtasts.yaml"
    assert problems(
        tmp_path, "version: 1\ndomains:\n  example.com:\n    mx: [mail.example.com]\n"
    ) == [f"{path}:3: domains.example.com.mode: missing: enforce, testing or none"]


def test_shape_problems(tmp_path: Path) -> None:
    path = tmp_path / "mtasts.yaml"
    assert problems(
        tmp_path,
        """
        version: 1
        providers:
          web: {path: ./out}
          dns: local
        defaults: [mode, none]
        domains:
          example.com: [mode, none]
          example.org:
            mode: none
            mx: mail.example.org
        """,
    ) == [
        f"{path}:3: providers.web.type: missing (e.g. 'type: local')",
        f"{path}:4: providers.dns: must be a mapping with at least 'type'",
        f"{path}:5: defaults: must be a mapping of domain settings",
        f"{path}:7: domains.example.com: must be a mapping of domain settings",
        f"{path}:10: domains.example.org.mx: Input should be a valid list",
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "1: the spec must be a mapping with 'version' and 'domains'"),
        ("- example.com\n", "1: the spec must be a mapping with 'version' and 'domains'"),
        (
            "version: 1\n",
            "1: domains: must map domain names to their settings (an explicit 'domains: {}' "
            "removes every managed domain)",
        ),
        (
            "version: 1\ndomains:\n",
            "2: domains: must map domain names to their settings (an explicit 'domains: {}' "
            "removes every managed domain)",
        ),
        (
            "version: 1\nproviders: {}\ndomains:\n  example.com: {mode: none, provider: web}\n",
            "2: providers: must map names to settings",
        ),
    ],
)
def test_empty_and_shapeless_specs(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "mtasts.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value) == f"{path}:{problem}"


def test_explicitly_empty_domains_is_allowed_to_retire_the_last_domain(tmp_path: Path) -> None:
    spec = load(tmp_path, "version: 1\ndomains: {}\n")
    assert spec.domains == {}
    assert spec.warnings == ("domains is empty: every domain the providers manage will be removed",)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value) == f"{path}: no such spec file"


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "mtasts.yaml"
    path.write_bytes(b"version: 1\ndomains:\n  caf\xe9.example: {mode: none}\n")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value).startswith(f"{path}: cannot read the spec (")


def test_warnings_for_a_run_limited_to_some_domains(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        """
        version: 1
        defaults: {mode: enforce, max_age: 86400}
        domains:
          a.example: {mx: [mx.a.example]}
          b.example: {mx: [mx.b.example]}
        """,
    )
    assert spec.warnings_for(None) == spec.warnings
    assert spec.warnings_for({"b.example"}) == (
        "b.example: max_age 86400 is short for mode enforce (advised: at least 1209600, two weeks)",
        f"b.example: {NO_TLSRPT}",
    )
