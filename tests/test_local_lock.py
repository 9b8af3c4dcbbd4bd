"""Two applies on one local tree at once: the second is refused (issue 14, section 2).

Without a lock both report success and interleave their phases, leaving ids that announce a
policy other than the one served. The lock is an flock held by the applying process from its
first phase to its end, so these tests use a second real process to hold it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from clihelpers import REPO, policy_file, run, run_console_script, simple_domains, write_spec

from provisioner.errors import ProviderError
from provisioner.provider import NoProgress
from provisioner.registry import build_provider

HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from provisioner.provider import NoProgress
    from provisioner.registry import build_provider

    provider = build_provider("local", "local", {"path": sys.argv[1]}, Path.cwd())
    provider.apply([], NoProgress())  # the first phase of an apply takes the lock
    print("locked", flush=True)
    sys.stdin.read()  # hold it until the test closes our stdin
    """
)


class Holder:
    """Another process in the middle of an apply on `root`."""

    def __init__(self, root: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(root)],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "locked"

    @property
    def pid(self) -> int:
        return self.process.pid

    def finish(self) -> None:
        if self.process.poll() is None:
            self.process.communicate(timeout=30)


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[Holder]:
    held = Holder(tmp_path / "out")
    try:
        yield held
    finally:
        held.finish()


def test_a_second_apply_is_refused_while_another_holds_the_tree(tmp_path, holder):
    spec = write_spec(tmp_path, simple_domains(["a.example"]))
    root = tmp_path / "out"

    result = run_console_script("apply", "-c", spec, "--auto-approve", cwd=tmp_path)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert f"another apply holds the lock on {root} (pid {holder.pid})" in line
    assert not policy_file(root, "a.example").exists(), "nothing is written"
    assert not (root / "zones").exists()

    holder.finish()
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    assert policy_file(root, "a.example").is_file()


def test_the_lock_is_kept_across_phases_and_released_by_close(tmp_path):
    root = tmp_path / "out"
    provider = build_provider("local", "local", {"path": "out"}, tmp_path)
    provider.apply([], NoProgress())
    provider.apply([], NoProgress())  # a later phase of the same apply

    refused = subprocess.run(
        [sys.executable, "-c", HOLDER, str(root)],
        cwd=REPO,
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode != 0
    assert "another apply holds the lock" in refused.stderr
    assert (root / ".mtasts.lock").read_text(encoding="ascii").strip().isdigit()

    provider.close()

    assert not (root / ".mtasts.lock").exists(), "a finished apply leaves no lock file"
    Holder(root).finish()


def test_in_process_the_apply_sees_the_lock_error_as_a_provider_error(tmp_path, holder):
    provider = build_provider("local", "local", {"path": "out"}, tmp_path)

    with pytest.raises(ProviderError) as caught:
        provider.apply([], NoProgress())

    message = str(caught.value)
    assert "\n" not in message
    assert f"(pid {holder.pid})" in message
