"""The JSON Schema of the spec (`mtasts.yaml`), for editors: completion and checks as you type.

Editors read it through a modeline on the spec's first line (the YAML language server's
convention, used by VS Code, Neovim, JetBrains):

    # yaml-language-server: $schema=https://.../spec.schema.json   (or a local path)

One source of truth: the domain settings and each built-in provider's settings come from
their pydantic models (`provisioner.spec.DomainSettings`, `TlsRptSettings`, each provider
class's `Settings`); the top level, which the loader walks by hand to report every problem
with its line, is described here once, and the limits that live in validators (max_age's
range from RFC 8461 section 3.2, the report URI schemes of RFC 8460 section 3) are added
from the same constants the validators use.

The shipped copy (`provisioner/spec.schema.json`, package data) is what `mtasts schema`
prints, so printing it needs no cloud SDK; `python -m provisioner.schema --write`
regenerates it, and a test fails when the shipped copy differs from a fresh generation.

The schema is a help, not the judge: the loader still decides (normalisation, IDNA, the
64 KB policy limit, duplicate domains after normalisation), and says where with file:line.
"""

from __future__ import annotations

import json
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from provisioner.registry import provider_class
from provisioner.rfc8461 import MAX_AGE_LIMIT, Mode
from provisioner.spec import SPEC_VERSION, DomainSettings, TlsRptSettings

SCHEMA_FILE = "spec.schema.json"
"""The shipped schema's name inside the `provisioner` package."""

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

BUILTIN_PROVIDER_TYPES = ("local", "aws", "cloudflare", "gcp")
"""Provider types described in the shipped schema. A third-party type still validates
(its `type` is any name); only its settings go unchecked by the schema."""

_RUA_PATTERN = r"^\s*([Mm][Aa][Ii][Ll][Tt][Oo]|[Hh][Tt][Tt][Pp][Ss]):\S"
"""RFC 8460 section 3: `rua` URIs are `mailto:` or `https:` (scheme in any case)."""

_DOMAIN_KEY_PATTERN = r"^[^\s.]+(\.[^\s.]+)+\.?$"
"""At least two labels, no blanks: the loader does the IDNA and length checks."""

_FIELD_DOCS = {
    "provider": "Name of a provider under 'providers:' (default: the only one declared).",
    "mode": "RFC 8461 policy mode: enforce, testing or none (none retires the policy).",
    "max_age": (
        f"Seconds senders cache the policy, 0..{MAX_AGE_LIMIT} (RFC 8461 section 3.2). "
        "Default: 86400 for testing and none, 1209600 for enforce."
    ),
    "mx": "MX host patterns the policy allows: 'mx1.example.com' or '*.mail.example.net'.",
    "tlsrpt": "Where senders send TLS reports (RFC 8460); unset leaves _smtp._tls alone.",
    "rua": "Report URIs: 'mailto:...' or 'https:...' (RFC 8460 section 3).",
}


def spec_schema() -> dict[str, Any]:
    """Build the spec's JSON Schema (draft 2020-12) from the models, as a plain dict.

    Imports each built-in provider class through the registry, so the cloud SDKs must be
    installed (the dev extra has them); `shipped_schema()` needs none.
    """
    providers: dict[str, type[BaseModel]] = {
        name: provider_class(name).Settings for name in BUILTIN_PROVIDER_TYPES
    }
    models: list[tuple[type[BaseModel], Any]] = [
        (DomainSettings, "validation"),
        (TlsRptSettings, "validation"),
        *((model, "validation") for model in providers.values()),
    ]
    keys, top = models_json_schema(models, ref_template="#/$defs/{model}")
    defs: dict[str, Any] = top["$defs"]
    _document_domain_settings(defs)
    provider_refs = {}
    for name, model in providers.items():
        definition = defs[keys[(model, "validation")]["$ref"].rsplit("/", 1)[-1]]
        definition.setdefault("properties", {})["type"] = {"const": name}
        definition["required"] = sorted({"type", *definition.get("required", [])})
        provider_refs[name] = keys[(model, "validation")]["$ref"]
    defs["Provider"] = {
        "description": "A provider instance: 'type' picks the plugin, the rest are its settings.",
        "type": "object",
        "required": ["type"],
        "properties": {
            "type": {
                "type": "string",
                "minLength": 1,
                "description": "The provider plugin: " + ", ".join(BUILTIN_PROVIDER_TYPES) + ".",
                "examples": list(BUILTIN_PROVIDER_TYPES),
            }
        },
        "allOf": [
            {
                "if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                "then": {"$ref": ref},
            }
            for name, ref in provider_refs.items()
        ],
    }
    # A domain may be written bare (`example.com:`, null: all from the defaults). The
    # object type sits beside the $ref, not in an anyOf, so editors name the bad field.
    defs["DomainSettings"].pop("type", None)
    settings_ref = {
        "$ref": keys[(DomainSettings, "validation")]["$ref"],
        "type": ["object", "null"],
    }
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "mtasts spec (mtasts.yaml)",
        "description": (
            "Declarative MTA-STS (RFC 8461) and TLS reporting (RFC 8460) for many domains. "
            "Generated from mtasts's models by `python -m provisioner.schema --write`."
        ),
        "type": "object",
        "additionalProperties": False,
        "required": ["version", "domains"],
        "properties": {
            "version": {"type": "integer", "const": SPEC_VERSION},
            "defaults": {
                "description": "Settings every domain inherits; a domain's own value wins.",
                **settings_ref,
            },
            "providers": {
                "description": "Provider instances by name (default: local at ./build/mta-sts).",
                "type": "object",
                "minProperties": 1,
                "additionalProperties": {"$ref": "#/$defs/Provider"},
            },
            "domains": {
                "description": "Domains by name (U-labels allowed); '{}' retires them all.",
                "type": "object",
                "propertyNames": {"pattern": _DOMAIN_KEY_PATTERN},
                "additionalProperties": settings_ref,
            },
        },
        "$defs": dict(sorted(defs.items())),
    }


def _document_domain_settings(defs: dict[str, Any]) -> None:
    """Add what the validators check and the models cannot say: ranges, schemes, docs."""
    domain = defs["DomainSettings"]["properties"]
    for name, prop in domain.items():
        prop["description"] = _FIELD_DOCS[name]
    domain["max_age"]["anyOf"] = [
        {"type": "integer", "minimum": 0, "maximum": MAX_AGE_LIMIT},
        {"type": "null"},
    ]
    domain["mode"]["examples"] = [mode.value for mode in Mode]
    mx = domain["mx"]["anyOf"][0]
    mx["items"]["minLength"] = 1
    rua = defs["TlsRptSettings"]["properties"]["rua"]
    rua["description"] = _FIELD_DOCS["rua"]
    rua["items"]["pattern"] = _RUA_PATTERN


def schema_text(schema: dict[str, Any]) -> str:
    """The schema as the shipped file holds it: 2-space JSON, sorted as built, a final newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def shipped_schema_text() -> str:
    """The schema shipped in the package (what `mtasts schema` prints); no SDK needed."""
    return files("provisioner").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


def main(argv: list[str]) -> int:
    """`python -m provisioner.schema [--write]`: print (or rewrite) the generated schema."""
    text = schema_text(spec_schema())
    if argv == ["--write"]:
        Path(__file__).with_name(SCHEMA_FILE).write_text(text, encoding="utf-8")
        return 0
    if argv:
        sys.stderr.write("usage: python -m provisioner.schema [--write]\n")
        return 1
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
