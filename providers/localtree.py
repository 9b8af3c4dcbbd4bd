"""The local provider's directory, reached only through here: no symlinks, no unchecked names.

Why one accessor: the tree is shared with a web server, a DNS server's `$INCLUDE`, other
tools and other people, and the provider turns names it reads (directory names, saved plans)
into paths it writes and deletes. Three rules make "nothing outside the tree is ever read,
written or deleted" true by construction rather than by a check in one caller:

- Every path is built from a validated host name (`normalize_hostname(d) == d`), so a
  domain like `x/../../../escaped` never becomes a path: it is refused here, whoever asks.
- Below the root, nothing is followed. Each directory is opened relative to its parent's
  descriptor with `O_NOFOLLOW` (openat-style), files are opened with `O_NOFOLLOW` and must be
  regular files (`O_NONBLOCK`, so a FIFO planted at a policy path cannot hang a plan), and
  renames and unlinks act on directory entries, never on what a link points at. A link is
  refused with a one-line error naming it: a `mta-sts.example.com -> ../elsewhere` would
  otherwise have apply write and later delete outside the tree, and plan print a secret.
  The root itself may be a symlink: users point `path` wherever their web server looks.
- Writes are atomic (a `.<name>.<8 chars>.tmp` file in the same directory, then a rename),
  so a web server never serves half a policy. A kill between the two leaves the temporary
  file behind; `sweep_temporary_files` removes files of exactly that naming on the next
  apply, under the lock, when no other mtasts can be writing one.

The lock: `lock()` takes `flock(LOCK_EX | LOCK_NB)` on the root directory itself (so no lock
file has to exist, and none can be swapped for a link) and records the holder's pid in
`<root>/.mtasts.lock` for the error message of the apply that finds it taken. Where
directories cannot be locked (NFS), that file is locked instead, and kept. The kernel
drops the lock when the process ends, however it ends; `unlock()` releases it earlier and
removes the pid file. Within one process the lock is shared by every tree on the same root
(counted), so sequential in-process runs (tests, `render` then `apply`) never lock
themselves out: the guarantee is between processes, which is how two applies race.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import secrets
import stat
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from provisioner.errors import ProviderError
from provisioner.rfc8461 import POLICY_PATH, normalize_hostname
from provisioner.state import policy_host

WELL_KNOWN = tuple(POLICY_PATH.strip("/").split("/"))
"""`.well-known`, `mta-sts.txt`: the policy's path below a host's web root."""
ZONES = "zones"
ZONE_MAX_BYTES = 16 * 1024 * 1024
"""A fragment holds one domain's records; an operator may paste more, never this much."""
PID_FILE = ".mtasts.lock"

_TEMP_RE = re.compile(r"\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp")
"""mtasts's temporary files: `.<target>.<8 chars>.tmp` (the shape `tempfile.mkstemp` gave
earlier releases, and the one `_temporary_name` gives now)."""

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class UnsafePath(ProviderError):
    """A link, a non-file or a name mtasts did not validate, where the tree needs its own."""


def is_host_name(name: str) -> bool:
    """Whether `name` is a normalised host name of two labels or more (a spec domain can be
    nothing else): the only names the tree turns into paths or counts as managed."""
    try:
        return normalize_hostname(name) == name and "." in name
    except ValueError:
        return False


@dataclass(frozen=True)
class FileContent:
    data: bytes
    mtime: float


class LocalTree:
    """Every read and write of one local provider directory (see the module notes)."""

    def __init__(self, root: Path, label: str) -> None:
        self.root = root
        self.label = label
        """Prefix of every error message (the provider's name)."""
        self._held: _HeldLock | None = None

    # --- names -> paths -----------------------------------------------------------------

    def policy_parts(self, domain: str) -> tuple[str, ...]:
        return (policy_host(self._checked(domain)), *WELL_KNOWN)

    def zone_parts(self, domain: str) -> tuple[str, ...]:
        return (ZONES, f"{self._checked(domain)}.zone")

    def path(self, parts: Sequence[str]) -> Path:
        """For messages only: every access goes through descriptors, not this path."""
        return self.root.joinpath(*parts)

    def _checked(self, domain: str) -> str:
        if not is_host_name(domain):
            raise UnsafePath(
                f"{self.label}: refusing the domain {domain!a}: not a normalised host name, "
                f"so no path under {self.root} is built from it"
            )
        return domain

    # --- reading ------------------------------------------------------------------------

    def read(self, parts: Sequence[str], limit: int) -> FileContent | None:
        """The file's bytes and mtime; None when it (or a directory above it) is missing.
        Over `limit` bytes it is refused: nothing mtasts writes is that big, and a plan
        must not load (or print) whatever was planted there."""
        with self._directory(parts[:-1], create=False) as dir_fd:
            if dir_fd is None:
                return None
            try:
                fd = os.open(parts[-1], _READ_FLAGS, dir_fd=dir_fd)
            except FileNotFoundError:
                return None
            except OSError as exc:
                self._refuse_if_unsafe(exc, dir_fd, parts)
                raise
            with os.fdopen(fd, "rb") as handle:
                info = os.fstat(handle.fileno())
                if not stat.S_ISREG(info.st_mode):
                    raise self._unsafe(parts, "is not a regular file")
                if info.st_nlink > 1:
                    raise self._unsafe(parts, "has other hard links")
                data = handle.read(limit + 1)
                if len(data) > limit:
                    raise self._unsafe(parts, f"is over {limit} bytes")
                return FileContent(data, info.st_mtime)

    def host_entries(self) -> Iterator[tuple[str, str]]:
        """`(entry name, kind)` for each `mta-sts.*` entry of the root, kind being `dir`,
        `link` or `other`: what `managed_domains` judges, without following anything."""
        with self._directory((), create=False) as root_fd:
            if root_fd is None:
                return
            for name in sorted(os.listdir(root_fd)):  # noqa: PTH208 - a descriptor, no path
                if not name.startswith(policy_host("")):
                    continue
                info = os.stat(name, dir_fd=root_fd, follow_symlinks=False)
                kind = (
                    "link"
                    if stat.S_ISLNK(info.st_mode)
                    else "dir"
                    if stat.S_ISDIR(info.st_mode)
                    else "other"
                )
                yield name, kind

    def holds_policy_file(self, entry: str) -> bool:
        """Whether the root's directory `entry` (a name listed by `host_entries`, valid host
        name or not) has an entry at the policy path; nothing is followed or read."""
        if "/" in entry or entry in ("", ".", ".."):
            return False
        try:
            with self._directory((entry, *WELL_KNOWN[:-1]), create=False) as fd:
                if fd is None:
                    return False
                os.stat(WELL_KNOWN[-1], dir_fd=fd, follow_symlinks=False)
                return True
        except (OSError, UnsafePath):
            return False

    # --- writing ------------------------------------------------------------------------

    def write(self, parts: Sequence[str], data: bytes) -> None:
        """Replace the file atomically (temporary file + rename), creating directories."""
        with self._directory(parts[:-1], create=True) as dir_fd:
            assert dir_fd is not None
            name = parts[-1]
            self._refuse_existing_link(dir_fd, parts)
            temporary = _temporary_name(name)
            fd = os.open(
                temporary,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o644,
                dir_fd=dir_fd,
            )
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    os.fchmod(handle.fileno(), 0o644)
                os.replace(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except BaseException:
                _unlink_quietly(temporary, dir_fd)
                raise

    def delete(self, parts: Sequence[str], remove_empty_dirs: bool = False) -> None:
        """Remove the file if present; then, if asked, each directory it leaves empty
        (never the root), after clearing mtasts's own stale temporary files from them."""
        with self._directories(parts[:-1]) as fds:
            if len(fds) < len(parts):
                return  # a directory on the way is missing: so is the file
            dir_fd = fds[-1]
            self._refuse_existing_link(dir_fd, parts)
            with suppress(FileNotFoundError):
                os.unlink(parts[-1], dir_fd=dir_fd)
            if not remove_empty_dirs:
                return
            for depth in range(len(parts) - 1, 0, -1):
                _remove_temporary_files(fds[depth])
                try:
                    os.rmdir(parts[depth - 1], dir_fd=fds[depth - 1])
                except OSError:
                    return

    def sweep_temporary_files(self) -> None:
        """Remove the `.<name>.<8 chars>.tmp` files a killed apply left in the web roots and
        in `zones/`. Only under the lock: then no other mtasts is writing one."""
        places = [
            (name, WELL_KNOWN[0])
            for name, kind in self.host_entries()
            if kind == "dir" and is_host_name(name[len(policy_host("")) :])
        ]
        for place in [*places, (ZONES,)]:
            # A link here is refused when (if ever) this apply writes there, not by the sweep.
            with suppress(UnsafePath), self._directory(place, create=False) as fd:
                if fd is not None:
                    _remove_temporary_files(fd)

    # --- the lock -----------------------------------------------------------------------

    def lock(self) -> bool:
        """Hold the tree for this process until `unlock()` or exit; refuse if another has it.
        True when this call took it (the first phase of an apply), False when already held."""
        if self._held is not None:
            return False
        self.root.mkdir(parents=True, exist_ok=True)
        self._held = _HeldLock.acquire(self.root, self.label)
        return True

    def unlock(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            held.release()

    # --- descriptors --------------------------------------------------------------------

    @contextmanager
    def _directory(self, parts: Sequence[str], create: bool) -> Iterator[int | None]:
        """A descriptor of root/parts, each component opened without following links; None
        when one is missing and `create` is false."""
        if create:
            self.root.mkdir(parents=True, exist_ok=True)
        with self._directories(parts, create=create) as fds:
            yield fds[-1] if len(fds) == len(parts) + 1 else None

    @contextmanager
    def _directories(self, parts: Sequence[str], create: bool = False) -> Iterator[list[int]]:
        """Descriptors of the root and of each component of `parts` that exists, in order
        (shorter than `parts` + 1 when one is missing); all closed on exit."""
        fds: list[int] = []
        try:
            try:
                fds.append(os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
            except FileNotFoundError:
                yield fds
                return
            for depth, part in enumerate(parts):
                try:
                    fds.append(self._open_child(fds[-1], part, parts[: depth + 1], create))
                except FileNotFoundError:
                    break
            yield fds
        finally:
            for fd in fds:
                os.close(fd)

    def _open_child(self, parent: int, name: str, parts: Sequence[str], create: bool) -> int:
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=parent)
        except FileNotFoundError:
            if not create:
                raise
        except OSError as exc:
            self._refuse_if_unsafe(exc, parent, parts)
            raise
        with suppress(FileExistsError):
            os.mkdir(name, 0o777, dir_fd=parent)
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=parent)
        except OSError as exc:
            self._refuse_if_unsafe(exc, parent, parts)
            raise

    def _refuse_if_unsafe(self, exc: OSError, dir_fd: int, parts: Sequence[str]) -> None:
        """Turn "a link / not what was expected" into a one-line refusal naming the path."""
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            return
        self._refuse_existing_link(dir_fd, parts)
        raise self._unsafe(parts, "is not a directory" if exc.errno == errno.ENOTDIR else "")

    def _refuse_existing_link(self, dir_fd: int, parts: Sequence[str]) -> None:
        try:
            info = os.stat(parts[-1], dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISLNK(info.st_mode):
            raise self._unsafe(parts, "is a symbolic link")

    def _unsafe(self, parts: Sequence[str], what: str) -> UnsafePath:
        path = str(self.path(parts))
        return UnsafePath(
            f"{self.label}: refusing {path!a}: {what or 'cannot be opened safely'}; mtasts "
            "follows no links and writes only its own files inside its tree"
        )


def _temporary_name(name: str) -> str:
    return f".{name}.{secrets.token_hex(4)}.tmp"


def _remove_temporary_files(dir_fd: int) -> None:
    for entry in os.listdir(dir_fd):
        if not _TEMP_RE.fullmatch(entry):
            continue
        try:
            info = os.stat(entry, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            continue
        if stat.S_ISREG(info.st_mode):
            _unlink_quietly(entry, dir_fd)


def _unlink_quietly(name: str, dir_fd: int) -> None:
    with suppress(FileNotFoundError):
        os.unlink(name, dir_fd=dir_fd)


class _HeldLock:
    """An flock on a root directory, counted within the process (see the module notes)."""

    _registry: ClassVar[dict[tuple[int, int], _HeldLock]] = {}
    _registry_guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, key: tuple[int, int], root_fd: int, file_fd: int | None) -> None:
        self.key = key
        self.root_fd = root_fd
        self.file_fd = file_fd
        """Set where the lock is on the pid file rather than on the directory."""
        self.users = 1

    @classmethod
    def acquire(cls, root: Path, label: str) -> _HeldLock:
        root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        info = os.fstat(root_fd)
        key = (info.st_dev, info.st_ino)
        with cls._registry_guard:
            held = cls._registry.get(key)
            if held is not None:
                os.close(root_fd)
                held.users += 1
                return held
            try:
                file_fd = _lock(root_fd)
            except BlockingIOError:
                holder = _read_pid(root_fd)
                os.close(root_fd)
                raise ProviderError(
                    f"{label}: another apply holds the lock on {root} (pid {holder}); "
                    "wait for it to finish, then plan again"
                ) from None
            except BaseException:
                os.close(root_fd)
                raise
            held = cls(key, root_fd, file_fd)
            cls._registry[key] = held
            held._write_pid()
            return held

    def _write_pid(self) -> None:
        """Best effort: the pid only serves the message of the apply that finds the lock."""
        line = f"{os.getpid()}\n".encode("ascii")
        try:
            if self.file_fd is not None:
                os.ftruncate(self.file_fd, 0)
                os.pwrite(self.file_fd, line, 0)
                return
            _unlink_quietly(PID_FILE, self.root_fd)
            fd = os.open(
                PID_FILE,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o644,
                dir_fd=self.root_fd,
            )
            with os.fdopen(fd, "wb") as handle:
                handle.write(line)
        except OSError:
            pass

    def release(self) -> None:
        with self._registry_guard:
            self.users -= 1
            if self.users > 0:
                return
            del self._registry[self.key]
            if self.file_fd is None:
                _unlink_quietly(PID_FILE, self.root_fd)
            else:
                # Kept, emptied: unlinking a lock file another process has open splits the lock.
                with suppress(OSError):
                    os.ftruncate(self.file_fd, 0)
                os.close(self.file_fd)
            os.close(self.root_fd)


_NO_DIRECTORY_LOCKS = (errno.EBADF, errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL)


def _lock(root_fd: int) -> int | None:
    """Lock the root directory; raises BlockingIOError when another process holds it.

    Where a directory cannot be locked (an NFS client emulates flock with POSIX locks, which
    need a file open for writing: EBADF), the pid file is locked instead and its descriptor
    returned; None means the directory itself is locked.
    """
    try:
        fcntl.flock(root_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return None
    except BlockingIOError:
        raise
    except OSError as exc:
        if exc.errno not in _NO_DIRECTORY_LOCKS:
            raise
    fd = os.open(
        PID_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=root_fd
    )
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _read_pid(root_fd: int) -> str:
    try:
        fd = os.open(PID_FILE, _READ_FLAGS, dir_fd=root_fd)
        with os.fdopen(fd, "rb") as handle:
            text = handle.read(32).decode("ascii", "replace").strip()
    except OSError:
        return "unknown"
    return text if text.isdigit() else "unknown"
