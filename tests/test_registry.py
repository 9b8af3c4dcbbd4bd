"""Providers are plugins found by entry point; failures name the fix in one line."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from providers.local import LocalProvider
from provisioner import registry
from provisioner.errors import MtastsError, SpecError
from provisioner.spec import parse_spec


def fake_entry_points(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    points = {
        name: EntryPoint(name=name, value=value, group=registry.ENTRY_POINT_GROUP)
        for name, value in values.items()
    }
    monkeypatch.setattr(registry, "available_types", lambda: points)


def test_local_is_found_through_its_entry_point():
    assert registry.provider_class("local") is LocalProvider


INSTALLED = ", ".join(sorted(registry.available_types()))


def test_unknown_type_names_what_is_installed():
    assert "local" in INSTALLED.split(", ")
    with pytest.raises(MtastsError) as caught:
        registry.provider_class("route66")
    assert str(caught.value) == f"unknown provider type 'route66' (installed: {INSTALLED})"


def test_missing_sdk_names_the_extra_to_install(monkeypatch):
    fake_entry_points(monkeypatch, aws="mtasts_test_missing_boto3_module:AwsProvider")
    with pytest.raises(MtastsError) as caught:
        registry.provider_class("aws")
    assert str(caught.value) == (
        "provider type 'aws' needs its SDK (mtasts_test_missing_boto3_module): "
        "pip install 'mta-sts-provisioner[aws]'"
    )


def test_an_entry_point_that_is_not_a_provider_is_refused(monkeypatch):
    fake_entry_points(monkeypatch, odd="pathlib:Path")
    with pytest.raises(MtastsError, match="is not an mtasts Provider"):
        registry.provider_class("odd")


def test_bad_provider_settings_are_spec_errors_with_lines(tmp_path: Path):
    spec = parse_spec(
        "version: 1\n"
        "providers:\n"
        "  local: {type: local, path: ./out, bucket: nope}\n"
        "  other: {type: nowhere}\n"
        "domains:\n"
        "  example.com: {provider: local, mode: testing, mx: [mx.example.com]}\n",
        tmp_path / "mtasts.yaml",
    )
    with pytest.raises(SpecError) as caught:
        registry.build_providers(spec)
    assert [str(p) for p in caught.value.problems] == [
        f"{tmp_path / 'mtasts.yaml'}:3: providers.local.bucket: unknown setting for provider "
        "type 'local'",
        f"{tmp_path / 'mtasts.yaml'}:4: providers.other.type: unknown provider type 'nowhere' "
        f"(installed: {INSTALLED})",
    ]


def test_relative_local_path_is_relative_to_the_spec_file(tmp_path: Path):
    spec = parse_spec(
        "version: 1\nproviders: {local: {type: local, path: ./out}}\n"
        "domains: {example.com: {mode: testing, mx: [mx.example.com]}}\n",
        tmp_path / "conf" / "mtasts.yaml",
    )
    provider = registry.build_providers(spec)["local"]
    assert provider.plan_settings() == {"path": str(tmp_path / "conf" / "out")}
