"""Where an instance's stream homes (``app.stream_homes``) keep their sockets: a directory of
the instance that only this user may enter, one socket file per worker, named by its pid; and
the sweep of the directories killed instances left behind.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import stat
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)

# Drawn when the module is imported: in gunicorn's arbiter (it loads the worker class) before
# it forks, so every worker of one instance has it, and no other instance.
INSTANCE = secrets.token_hex(6)
SUFFIX = ".sock"
FULL_SUFFIX = ".full"  # a worker's socket while it has no room for more streams
NEW_SUFFIX = ".new"  # bound, not yet listening: never connected to
# An instance's directory left this long with no worker listening in it is a killed server's
# (``sweep``); a starting worker makes its file within milliseconds of the directory.
STALE_SECONDS = 60.0


def pid_space() -> int:
    """The inode of this process's PID namespace (0 where it cannot be read): containers that
    share /tmp but not their pids have different ones, so a pid in a directory's name is
    looked up only in the namespace it was taken in (``sweep``)."""
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0


def instance_dir(parent: int | None = None, instance: str = INSTANCE) -> Path:
    """Where the workers of this instance (children of one gunicorn arbiter) keep their
    sockets: named by this user, the PID namespace (in hex), the arbiter's pid and the
    instance. With /tmp, a worker's socket path is some 70 bytes of the 107 a Unix socket's
    may have (a longer ``TMPDIR`` past that: no homes, ``Homes.open``)."""
    parent = os.getppid() if parent is None else parent
    return Path(tempfile.gettempdir()) / \
        f"nps-tv-streams-{os.getuid()}-{pid_space():x}-{parent}-{instance}"


def private_dir(path: Path) -> bool:
    """Make ``path`` (or take it as it is) a directory only this user can enter: False when
    it is someone else's or open to others (then no homes: streams stay where they land)."""
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        info = path.lstat()
    except OSError:
        return False
    return (stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
            and not info.st_mode & 0o077)


def sweep(parent: Path | None = None, keep: Path | None = None) -> int:
    """Remove the directories that killed instances of this user left in ``parent`` (a
    stopped server removes its own: ``Homes.close``): one made in this PID namespace whose
    arbiter no longer runs (none of its workers can be starting: the arbiter forks them),
    unchanged for ``STALE_SECONDS``, private, holding only workers' sockets, none of which a
    worker listens on (a connection to each is refused). Returns how many went. Anything else
    (another user's, another namespace's, a running instance's, a file not of ours) is left;
    where the namespace cannot be read, everything is."""
    parent = Path(tempfile.gettempdir()) if parent is None else parent
    space = pid_space()
    if not space:
        return 0
    prefix = f"nps-tv-streams-{os.getuid()}-{space:x}-"
    gone = 0
    with os.scandir(parent) as entries:
        names = [e.name for e in entries if e.name.startswith(prefix)]
    for name in names:
        directory = parent / name
        arbiter = name[len(prefix):].split("-")[0]
        if directory == keep or not (arbiter.isascii() and arbiter.isdigit()) or \
                len(arbiter) > 10 or alive(int(arbiter)):
            continue
        try:
            info = directory.lstat()
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or \
                    info.st_mode & 0o077 or time.time() - info.st_mtime < STALE_SECONDS:
                continue
            files = os.listdir(directory)
            if not all(_dead_socket(directory / f) for f in files):
                continue
            for f in files:
                (directory / f).unlink(missing_ok=True)
            directory.rmdir()
        except OSError:
            continue  # changed meanwhile: left for the next instance that starts
        gone += 1
        log.info("removed %s: a stopped server's stream homes", directory)
    return gone


def _dead_socket(path: Path) -> bool:
    """Whether ``path`` is a worker's socket file (by its name) that nothing listens on (one
    killed between bind and rename left a ``NEW_SUFFIX`` file)."""
    stem, _, suffix = path.name.partition(".")
    if not (stem.isascii() and stem.isdigit()) or \
            f".{suffix}" not in (SUFFIX, FULL_SUFFIX, NEW_SUFFIX):
        return False  # not a worker's file
    if not stat.S_ISSOCK(path.lstat().st_mode):
        return False  # a connection to a plain file is refused too
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        probe.setblocking(False)
        probe.connect(str(path))
    except ConnectionRefusedError:
        return True
    except OSError:
        return False  # listening (busy), or not a socket of this kind
    finally:
        probe.close()
    return False


def parent_of(pid: int) -> int | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(text[text.rindex(")") + 2:].split()[1])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # another user's process took the pid: not one of these workers
    except (OverflowError, ValueError):
        return False  # no such pid
    return True
