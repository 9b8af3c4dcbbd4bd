"""The spec's JSON Schema: shipped, printed by `mtasts schema`, true to the loader.

An editor that checks `mtasts.yaml` against the schema must never flag a spec mtasts
accepts (every example validates), and a spec mtasts refuses is refused by the schema or,
where the schema cannot see the problem (normalisation, YAML itself, the 64 KB policy), by
the loader with a located error (file:line).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from clihelpers import run
from jsonschema import Draft202012Validator
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from test_packaging import installed, run_installed, wheel  # noqa: F401 (fixtures)

from provisioner import workflow
from provisioner.errors import SpecError
from provisioner.schema import main as schema_main
from provisioner.schema import schema_text, shipped_schema_text, spec_schema

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
BAD_SPECS = sorted((REPO / "tests" / "fixtures" / "bad_specs").glob("*.yaml"))


def validator() -> Draft202012Validator:
    schema = json.loads(shipped_schema_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def yaml_data(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)


def schema_errors(text: str) -> list[str]:
    """Every message an editor could show, the reasons inside an `anyOf` included."""
    messages = []
    stack = list(validator().iter_errors(yaml_data(text)))
    while stack:
        error = stack.pop()
        messages.append(error.message)
        stack.extend(error.context or ())
    return messages


def test_the_shipped_schema_is_the_one_the_models_generate() -> None:
    assert shipped_schema_text() == schema_text(spec_schema()), (
        "provisioner/spec.schema.json is out of date: python -m provisioner.schema --write"
    )


def test_mtasts_schema_prints_the_shipped_schema_as_valid_json_schema() -> None:
    result = run("schema")
    assert result.exit_code == 0
    assert result.stdout == shipped_schema_text()
    schema = json.loads(result.stdout)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["properties"]) == {"version", "defaults", "providers", "domains"}


def test_the_generator_prints_or_writes_and_refuses_other_arguments(capsys) -> None:
    assert schema_main([]) == 0
    assert capsys.readouterr().out == shipped_schema_text()
    assert schema_main(["--bogus"]) == 1
    assert "usage" in capsys.readouterr().err


def test_the_installed_wheel_prints_the_schema_without_the_checkout(installed, tmp_path):  # noqa: F811
    result = run_installed(installed, tmp_path, "schema")
    assert result.returncode == 0, result.stderr
    assert result.stdout == shipped_schema_text()


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_every_example_validates_against_the_schema(example: Path) -> None:
    assert schema_errors(example.read_text(encoding="utf-8")) == []
    workflow.load(example)  # and the loader agrees


def test_a_spec_with_every_setting_validates() -> None:
    text = """
version: 1
defaults: {provider: aws, mode: testing, max_age: 86400, tlsrpt: {rua: ["mailto:a@example.net"]}}
providers:
  local: {type: local, path: ./out}
  aws: {type: aws, region: eu-west-1, bucket: my-bucket, zone_ids: {example.com: Z123}}
  cf: {type: cloudflare, account_id: 0123abcd, worker: mtasts, zone_ids: {}}
  gcp: {type: gcp, project: my-project, dns_project: dns-project, name_prefix: mtasts}
  third: {type: someone-elses-plugin, anything: [1, 2]}
domains:
  example.com: {mx: [mx1.example.com, "*.mail.example.net"], mode: enforce, max_age: 604800}
  bücher.example:
  example.org: {provider: cf, tlsrpt: {rua: ["HTTPS://r.example.org/v1/tlsrpt"]}}
"""
    assert schema_errors(text) == []


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("version: 1\ndomains:\n  example.com: {mode: enforced}\n", "'enforced' is not one of"),
        ("version: 1\ndomains:\n  example.com: {max_age: 31557601}\n", "greater than the maximum"),
        ("version: 1\ndomains:\n  example.com: {max_age: -1}\n", "less than the minimum"),
        ("version: 1\ndomains:\n  example.com: {colour: red}\n", "'colour' was unexpected"),
        ("version: 1\ndomains:\n  com: {mode: none}\n", "does not match"),
        ("version: 2\ndomains: {}\n", "1 was expected"),
        ("domains: {}\n", "'version' is a required property"),
        ("version: 1\n", "'domains' is a required property"),
        (
            "version: 1\ndomains:\n  a.example: {tlsrpt: {rua: ['http://r.example/']}}\n",
            "does not match",
        ),
        ("version: 1\nproviders:\n  x: {path: ./out}\ndomains: {}\n", "'type' is a required"),
        (
            "version: 1\nproviders:\n  x: {type: aws, region: Mars}\ndomains: {}\n",
            "does not match",
        ),
        (
            "version: 1\nproviders:\n  x: {type: local, bucket: b}\ndomains: {}\n",
            "'bucket' was unexpected",
        ),
    ],
)
def test_the_schema_refuses_what_an_editor_can_flag(text: str, fragment: str) -> None:
    errors = schema_errors(text)
    assert any(fragment in error for error in errors), errors


def loader_problems(path: Path) -> list[Any]:
    """Every problem mtasts reports for a spec, as `validate` does (spec and providers)."""
    try:
        workflow.validate(workflow.load(path))
    except SpecError as exc:
        return list(exc.problems)
    return []


@pytest.mark.parametrize("bad", BAD_SPECS, ids=lambda p: p.stem)
def test_every_bad_spec_is_refused_by_the_schema_or_located_by_the_loader(bad: Path) -> None:
    problems = loader_problems(bad)
    assert problems, f"{bad.name}: the loader accepts it; it is not a bad spec"
    try:
        refused_by_schema = bool(schema_errors(bad.read_text(encoding="utf-8")))
    except (YAMLError, RecursionError, ValueError):
        refused_by_schema = False  # not YAML an editor could check
    located = all(problem.line is not None for problem in problems)
    assert refused_by_schema or located, [str(p) for p in problems]


def test_most_bad_specs_are_caught_in_the_editor_already() -> None:
    """The schema is worth shipping: it flags most fixtures before mtasts runs."""
    caught = []
    for bad in BAD_SPECS:
        try:
            caught.append(bool(schema_errors(bad.read_text(encoding="utf-8"))))
        except (YAMLError, RecursionError, ValueError):
            caught.append(False)
    assert len(BAD_SPECS) >= 40
    assert sum(caught) >= len(BAD_SPECS) // 2, f"{sum(caught)} of {len(BAD_SPECS)}"
