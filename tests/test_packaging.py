"""A wheel built from the repository works outside the checkout: templates and entry points."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        timeout=300,
    )
    (found,) = out.glob("mta_sts_provisioner-*.whl")
    return found


def test_wheel_ships_templates_and_the_local_entry_point(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        entry_text = archive.read(entry_points).decode()
    assert "provisioner/templates/mta-sts.txt.j2" in names
    assert "provisioner/templates/zone.j2" in names
    assert "provisioner/templates/plan.md.j2" in names
    assert "local = providers.local:LocalProvider" in entry_text
    assert "mtasts = provisioner.cli:main" in entry_text


def test_installed_wheel_renders_outside_the_checkout(wheel: Path, tmp_path: Path):
    env_dir = tmp_path / "venv"
    # System site-packages give the dependencies without a network; the editable checkout is
    # hidden by running from elsewhere with a clean PYTHONPATH and the wheel installed on top.
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "-q",
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    spec = tmp_path / "mtasts.yaml"
    spec.write_text(
        "version: 1\ndefaults: {mode: testing}\ndomains:\n  example.com: {mx: [mx.example.com]}\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    script = (
        "import provisioner, sys; assert 'site-packages' in provisioner.__file__, "
        "provisioner.__file__; from provisioner.cli import main; sys.argv=['mtasts'] + "
        "sys.argv[1:]; main()"
    )
    result = subprocess.run(
        [str(python), "-c", script, "render", "-c", str(spec), "--out", str(tmp_path / "out")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    policy = tmp_path / "out" / "mta-sts.example.com" / ".well-known" / "mta-sts.txt"
    assert policy.read_bytes().startswith(b"version: STSv1\r\nmode: testing\r\n")
