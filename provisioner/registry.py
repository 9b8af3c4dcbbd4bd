"""Finding provider plugins by type name and building them from the spec.

Providers register under the entry-point group `mtasts.providers` (the embedded `local`
one too), so the core never imports a provider module by name. A cloud provider whose SDK
extra is missing fails to import; that becomes a one-line error naming the extra.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from provisioner.errors import MtastsError, Problem, SpecError
from provisioner.provider import Provider
from provisioner.spec import ProviderSpec, Spec

ENTRY_POINT_GROUP = "mtasts.providers"
SDK_EXTRAS = {"aws": "aws", "gcp": "gcp", "cloudflare": "cloudflare"}


def available_types() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def provider_class(type_name: str) -> type[Provider]:
    found = available_types()
    entry = found.get(type_name)
    if entry is None:
        installed = ", ".join(sorted(found)) or "none"
        raise MtastsError(f"unknown provider type {type_name!r} (installed: {installed})")
    try:
        cls = entry.load()
    except ImportError as exc:
        extra = SDK_EXTRAS.get(type_name, type_name)
        raise MtastsError(
            f"provider type {type_name!r} needs its SDK ({exc.name or exc}): "
            f"pip install 'mta-sts-provisioner[{extra}]'"
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise MtastsError(f"entry point {entry.value!r} is not an mtasts Provider")
    return cls


def build_provider(name: str, type_name: str, settings: dict[str, Any], base_dir: Path) -> Provider:
    cls = provider_class(type_name)
    model = cls.Settings.model_validate(settings)
    return cls(name, model, base_dir)


def build_providers(spec: Spec, names: set[str] | None = None) -> dict[str, Provider]:
    """Every provider the spec declares (or only `names`), with all problems reported."""
    problems: list[Problem] = []
    providers: dict[str, Provider] = {}
    for name, entry in spec.providers.items():
        if names is not None and name not in names:
            continue
        try:
            providers[name] = build_provider(name, entry.type, entry.settings, spec.base_dir)
        except MtastsError as exc:
            problems.append(spec.problem(entry.line, f"providers.{name}.type", str(exc)))
        except ValidationError as exc:
            problems.extend(_settings_problems(spec, entry, exc))
    if problems:
        raise SpecError(problems)
    return providers


def _settings_problems(spec: Spec, entry: ProviderSpec, exc: ValidationError) -> list[Problem]:
    problems = []
    for error in exc.errors():
        where = ".".join(["providers", entry.name, *(str(p) for p in error["loc"])])
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown setting for provider type " + repr(entry.type)
        problems.append(spec.problem(entry.line, where, message))
    return problems
