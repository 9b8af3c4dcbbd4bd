"""Saved plans (`plan --out FILE`, `apply FILE`): the plan plus what it was computed from.

The file is the JSON plan (`format_version`) with three more keys: the providers'
non-secret settings (so `apply FILE` rebuilds them without the spec), the scope read from
each provider, and a fingerprint of every live domain read. `apply FILE` reads the same
scope again and refuses, naming the domains, when any fingerprint moved: applying a plan
computed from another state could undo someone's change (Terraform's "saved plan is stale").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from provisioner import __version__
from provisioner.errors import MtastsError, StalePlanError
from provisioner.plan import FORMAT_VERSION, Plan
from provisioner.provider import Provider
from provisioner.redact import redact
from provisioner.refresh import PlanResult
from provisioner.registry import build_provider


@dataclass(frozen=True)
class SavedPlan:
    plan: Plan
    providers: dict[str, dict[str, Any]]
    """provider name -> {"type": ..., "settings": {...}}"""
    scope: dict[str, tuple[str, ...]]
    fingerprints: dict[str, dict[str, str]]
    created_at: str


def save_plan(path: Path, result: PlanResult, providers: dict[str, Provider]) -> None:
    data = result.plan.to_json()
    data["warnings"] = [redact(w) for w in data["warnings"]]
    data["notes"] = [redact(n) for n in data["notes"]]
    data["mtasts_version"] = __version__
    data["created_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    data["providers"] = {
        name: {"type": p.type_name, "settings": p.plan_settings()}
        for name, p in sorted(providers.items())
    }
    data["scope"] = {name: list(domains) for name, domains in sorted(result.scope.items())}
    data["fingerprints"] = result.fingerprints()
    try:
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise MtastsError(f"{path}: cannot write the plan ({exc.strerror})") from None


def load_plan(path: Path) -> SavedPlan:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MtastsError(f"{path}: no such plan file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MtastsError(f"{path}: cannot read the plan ({exc})") from None
    except json.JSONDecodeError as exc:
        raise MtastsError(f"{path}:{exc.lineno}: not a JSON plan file ({exc.msg})") from None
    except (ValueError, RecursionError):  # a number past 4,300 digits, arrays nested deep
        raise MtastsError(
            f"{path}: not a saved mtasts plan (a value out of range, or nested too deep)"
        ) from None
    if not isinstance(data, dict) or "fingerprints" not in data:
        raise MtastsError(f"{path}: not a saved mtasts plan (make one with 'mtasts plan --out')")
    if data.get("mtasts_version") != __version__:
        raise MtastsError(
            f"{path}: plan made by mtasts {data.get('mtasts_version')!r}; this is mtasts "
            f"{__version__}: make the plan again with this release"
        )
    version = data.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise MtastsError(
            f"{path}: plan format_version {str(version)[:20]!r} is not supported "
            f"(this mtasts reads {FORMAT_VERSION})"
        )
    try:
        return SavedPlan(
            plan=Plan.from_json(data),
            providers={str(k): dict(v) for k, v in data["providers"].items()},
            scope={str(k): tuple(v) for k, v in data["scope"].items()},
            fingerprints={str(k): dict(v) for k, v in data["fingerprints"].items()},
            created_at=str(data.get("created_at", "")),
        )
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise MtastsError(f"{path}: malformed plan file ({exc})") from None


def build_saved_providers(saved: SavedPlan, path: Path) -> dict[str, Provider]:
    """The providers a saved plan names, rebuilt from the settings it recorded."""
    providers: dict[str, Provider] = {}
    for name, entry in saved.providers.items():
        where = f"{path}: malformed plan file: provider {name!r}"
        try:
            providers[name] = build_provider(name, entry["type"], entry["settings"], Path.cwd())
        except KeyError as exc:
            raise MtastsError(f"{where} has no {exc.args[0]!r}") from None
        except (TypeError, AttributeError) as exc:
            raise MtastsError(f"{where}: {exc}") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "settings"
            raise MtastsError(f"{where}: {field}: {first['msg']}") from None
    return providers


def check_fresh(saved: SavedPlan, now_fingerprints: dict[str, dict[str, str]]) -> None:
    moved = sorted(
        domain
        for provider, domains in saved.fingerprints.items()
        for domain, fingerprint in domains.items()
        if now_fingerprints.get(provider, {}).get(domain) != fingerprint
    )
    if moved:
        more = f" and {len(moved) - 3} more" if len(moved) > 3 else ""
        raise StalePlanError(
            f"saved plan is stale: the live state of {', '.join(moved[:3])}{more} changed "
            f"since the plan was made ({saved.created_at}); run 'mtasts plan' again"
        )
