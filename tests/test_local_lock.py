"""Two applies on one local tree at once: the second is refused (issue 14, section 2).

Without a lock both report success and interleave their phases, leaving ids that announce a
policy other than the one served. The lock is an flock held by the applying process from its
first phase to its end, so these tests use a second real process to hold it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clihelpers import (
    REPO,
    mtasts_executable,
    policy_file,
    run,
    run_console_script,
    simple_domains,
    sts_values,
    write_spec,
)

from provisioner.errors import ProviderError
from provisioner.provider import NoProgress
from provisioner.registry import build_provider

HOLDER = textwrap.dedent(
    """
    import errno, fcntl, os, stat, sys
    from pathlib import Path
    from provisioner.provider import NoProgress
    from provisioner.registry import build_provider

    if sys.argv[2:] == ["nfs"]:  # directories cannot be locked there
        real_flock = fcntl.flock

        def flock(fd, operation):
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                raise OSError(errno.EBADF, "Bad file descriptor")
            return real_flock(fd, operation)

        fcntl.flock = flock
    provider = build_provider("local", "local", {"path": sys.argv[1]}, Path.cwd())
    provider.apply([], NoProgress())  # the first phase of an apply takes the lock
    print("locked", flush=True)
    sys.stdin.read()  # hold it until the test closes our stdin
    """
)


class Holder:
    """Another process in the middle of an apply on `root`."""

    def __init__(self, root: Path, *flags: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(root), *flags],
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


def test_where_directories_cannot_be_locked_the_pid_file_is(tmp_path, monkeypatch):
    """An NFS client emulates flock with POSIX locks: EBADF on a directory."""
    root = tmp_path / "out"
    holder = Holder(root, "nfs")
    real_flock = fcntl.flock

    def flock(fd: int, operation: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(errno.EBADF, "Bad file descriptor")
        real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock)
    provider = build_provider("local", "local", {"path": "out"}, tmp_path)
    try:
        with pytest.raises(ProviderError, match=rf"holds the lock on .* \(pid {holder.pid}\)"):
            provider.apply([], NoProgress())
    finally:
        holder.finish()

    provider.apply([], NoProgress())
    provider.close()
    assert (root / ".mtasts.lock").read_bytes() == b"", "kept (emptied), never unlinked"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_two_mtasts_applies_at_once_the_second_is_refused(tmp_path):
    """The first apply is held between its policy phase and its TXT phase (by --verify,
    waiting for an endpoint that never answers): the second must not run at all."""
    spec = write_spec(tmp_path, simple_domains(["a.example"]))
    root = tmp_path / "out"
    first = subprocess.Popen(
        [
            mtasts_executable(),
            *("apply", "-c", str(spec), "--auto-approve", "--verify"),
            *("--verify-timeout", "120", "--connect-to", f"127.0.0.1:{_closed_port()}"),
        ],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not policy_file(root, "a.example").exists():
            assert first.poll() is None, "the first apply ended before its policy phase"
            assert time.monotonic() < deadline, "the first apply never wrote its policy"
            time.sleep(0.1)
        write_spec(tmp_path, simple_domains(["a.example"], mode="enforce"))

        second = run_console_script("apply", "-c", spec, "--auto-approve", cwd=tmp_path)

        assert first.poll() is None, "the first apply was still running"
        assert second.returncode == 1
        [line] = second.stderr.splitlines()
        assert f"another apply holds the lock on {root} (pid {first.pid})" in line
        assert b"mode: testing" in policy_file(root, "a.example").read_bytes()
    finally:
        first.terminate()
        first.wait(timeout=30)

    assert sts_values(root, "a.example") == [], "the first never reached its TXT phase"
    third = run_console_script("apply", "-c", spec, "--auto-approve", cwd=tmp_path)
    assert third.returncode == 0, third.stderr
    assert b"mode: enforce" in policy_file(root, "a.example").read_bytes()
