"""A wheel built from the repository works outside the checkout: templates and entry points.

The installed wheel runs with `python -S` and an explicit path (the wheel's files first,
then the dependencies' site-packages), so the editable install of this checkout (a `.pth`
finder in site-packages) cannot quietly supply a module the wheel forgot.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


SOURCES = ("pyproject.toml", "README.md", "provisioner", "providers", "templates")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a clean copy of the sources: no `build/` left over from before."""
    source = tmp_path_factory.mktemp("source")
    skip = shutil.ignore_patterns("__pycache__", "node_modules")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=skip)
        else:
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    subprocess.run([*command, "-q", "-w", str(out), str(source)], check=True, timeout=300)
    (found,) = out.glob("mta_sts_provisioner-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-compile",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    return target


def source_packages() -> set[str]:
    packages = {"provisioner.templates"}
    for top in ("provisioner", "providers"):
        for init in (ROOT / top).rglob("__init__.py"):
            packages.add(".".join(init.parent.relative_to(ROOT).parts))
    return packages


def test_wheel_ships_every_package_templates_and_entry_points(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        entry_text = archive.read(entry_points).decode()
    shipped = {n.rsplit("/", 1)[0].replace("/", ".") for n in names if n.endswith("__init__.py")}
    assert source_packages() <= shipped
    for template in (ROOT / "templates").glob("*.j2"):
        assert f"provisioner/templates/{template.name}" in names
    assert "local = providers.local:LocalProvider" in entry_text
    assert "mtasts = provisioner.cli:main" in entry_text


def run_installed(installed: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MTASTS_CONFIG")}
    env["PYTHONPATH"] = os.pathsep.join([str(installed), sysconfig.get_paths()["purelib"]])
    script = (
        "import sys, provisioner; "
        f"assert provisioner.__file__.startswith({str(installed)!r}), provisioner.__file__; "
        "from provisioner.cli import main; sys.argv = ['mtasts'] + sys.argv[1:]; main()"
    )
    return subprocess.run(
        [sys.executable, "-S", "-c", script, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_installed_wheel_plans_applies_and_renders_outside_the_checkout(installed, tmp_path):
    spec = tmp_path / "mtasts.yaml"
    spec.write_text(
        "version: 1\ndefaults: {mode: testing}\ndomains:\n  example.com: {mx: [mx.example.com]}\n"
    )
    for args in (
        ("apply", "--auto-approve"),
        ("plan", "--format", "markdown"),
        ("render", "--out", str(tmp_path / "out")),
    ):
        result = run_installed(installed, tmp_path, *args)
        assert result.returncode == 0, result.stderr
    policy = tmp_path / "out" / "mta-sts.example.com" / ".well-known" / "mta-sts.txt"
    assert policy.read_bytes().startswith(b"version: STSv1\r\nmode: testing\r\n")
    assert (tmp_path / "build" / "mta-sts" / "zones" / "example.com.zone").is_file()
