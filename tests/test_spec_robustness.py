"""Whatever a spec file holds, loading it ends in a Spec or a SpecError: never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provisioner.errors import SpecError
from provisioner.spec import parse_spec

SPEC_PATH = Path("/nonexistent/mtasts.yaml")

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(
        [
            "enforce",
            "testing",
            "none",
            "local",
            "mx.example.com",
            "*.example.com",
            "mailto:t@example.com",
            "https://r.example.com/",
            "1.2.3.4",
            "*.com",
        ]
    ),
)
keys = st.one_of(
    st.sampled_from(
        [
            "version",
            "defaults",
            "providers",
            "domains",
            "mode",
            "max_age",
            "mx",
            "tlsrpt",
            "rua",
            "provider",
            "type",
            "path",
            "example.com",
            "Example.COM.",
            "bücher.example",
        ]
    ),
    st.text(min_size=1, max_size=12),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=5)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_any_structure_loads_or_fails_with_located_problems(document):
    text = json.dumps(document)  # JSON is YAML: any structure, any types, in any place
    try:
        spec = parse_spec(text, SPEC_PATH)
    except SpecError as error:
        assert error.problems
        for problem in error.problems:
            assert str(problem).startswith(f"{SPEC_PATH}")
            assert "\n" not in str(problem)
    else:
        assert spec.path == SPEC_PATH


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_loads_or_fails_with_located_problems(text):
    try:
        parse_spec(text, SPEC_PATH)
    except SpecError as error:
        assert error.problems


@settings(max_examples=200, deadline=None)
@given(
    st.fixed_dictionaries(
        {"version": st.just(1), "domains": st.dictionaries(keys, documents, max_size=4)},
        optional={"defaults": documents, "providers": documents},
    )
)
def test_spec_shaped_documents_load_or_fail_with_located_problems(document):
    try:
        parse_spec(json.dumps(document), SPEC_PATH)
    except SpecError as error:
        assert error.problems


def test_a_control_character_is_named_with_its_line():
    try:
        parse_spec("version: 1\ndomains:\n  a.example: {mode: \x08}\n", SPEC_PATH)
    except SpecError as error:
        assert str(error) == f"{SPEC_PATH}:3: invalid YAML: control character U+0008 is not allowed"
    else:
        raise AssertionError("a control character must be refused")


def test_a_key_with_a_newline_stays_on_one_line():
    try:
        parse_spec('{"version": 1, "domains": {"a\\nb": null}}', SPEC_PATH)
    except SpecError as error:
        assert len(str(error).splitlines()) == 1
        assert "domains.a\\nb: not a domain name" in str(error)
    else:
        raise AssertionError("'a<newline>b' is not a domain name")


# --- aliases and nesting: bounded work, located problems (issue 14.6, 14.7) ---------------


@st.composite
def aliased_documents(draw: st.DrawFn) -> str:
    """Anchored values that alias earlier ones (two or more each: 2^n values once expanded),
    used as domains, settings, merge keys or provider settings."""
    count = draw(st.integers(min_value=1, max_value=40))
    lines = ["version: 1"]
    for index in range(count):
        if index:
            refs = draw(st.lists(st.integers(0, index - 1), min_size=2, max_size=4))
            items = [f"*a{ref}" for ref in refs]
        else:
            items = [draw(st.sampled_from(["x", "mx.example.com", "none"]))]
        if draw(st.booleans()):
            value = "[" + ", ".join(items) + "]"
        else:
            value = "{" + ", ".join(f"k{j}: {item}" for j, item in enumerate(items)) + "}"
        lines.append(f"a{index}: &a{index} {value}")
    last = f"*a{count - 1}"
    lines.append(
        draw(
            st.sampled_from(
                [
                    f"domains: {last}",
                    f"domains: {{example.com: {last}}}",
                    f"domains: {{example.com: {{mode: enforce, mx: {last}}}}}",
                    f"defaults: {{<<: {last}}}\ndomains: {{}}",
                    f"providers: {{web: {{type: local, path: {last}}}}}\ndomains: {{}}",
                ]
            )
        )
    )
    return "\n".join(lines) + "\n"


@settings(max_examples=100, deadline=5000, suppress_health_check=[HealthCheck.too_slow])
@given(aliased_documents())
def test_aliases_load_or_fail_with_located_problems_quickly(text):
    try:
        parse_spec(text, SPEC_PATH)
    except SpecError as error:
        assert error.problems
        for problem in error.problems:
            assert str(problem).startswith(f"{SPEC_PATH}")
            assert "\n" not in str(problem)


@settings(max_examples=40, deadline=5000)
@given(
    st.integers(min_value=1, max_value=400).flatmap(
        lambda depth: st.lists(st.sampled_from(["[", "{k: "]), min_size=depth, max_size=depth)
    )
)
def test_any_nesting_loads_or_fails_with_located_problems(openers):
    closers = "".join("]" if o == "[" else "}" for o in reversed(openers))
    text = "version: 1\ndomains:\n  example.com: " + "".join(openers) + "x" + closers + "\n"
    try:
        parse_spec(text, SPEC_PATH)
    except SpecError as error:
        assert all(str(p).startswith(f"{SPEC_PATH}:") for p in error.problems)
    else:
        raise AssertionError("a nested value is not domain settings")
