"""What an embedded SQLite store needs beyond SQLAlchemy: a private file and its pragmas."""

from __future__ import annotations

import os
from pathlib import Path

try:
    import pwd
except ImportError:  # Windows
    pwd = None


class StorePathError(Exception):
    """The SQLite store's file or folder cannot be created or written; the message names the
    path and the reason (the CLI prints it as one line, with no traceback)."""


def prepare_sqlite_file(database: str | None) -> None:
    """Make sure a file store can live at ``database``: its folder exists (created if need be),
    both are writable, and a new file is private (see ``create_private_file``).
    ``StorePathError`` names the path and the reason when it cannot."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorePathError(_refusal(path, f"cannot create the folder {folder}", exc)) from None
    if not folder.is_dir():
        raise StorePathError(f"cannot use {path} for the store: {folder} is not a folder")
    if not _may(folder, os.W_OK | os.X_OK):  # SQLite writes -wal and -shm beside the file
        raise StorePathError(f"cannot use {path} for the store: the folder {folder} is not "
                             f"writable{_by_whom()}")
    if path.exists() and not _may(path, os.R_OK | os.W_OK):
        raise StorePathError(f"cannot use {path} for the store: the file is not "
                             f"writable{_by_whom()}")
    try:
        create_private_file(database)
    except OSError as exc:
        raise StorePathError(_refusal(path, "cannot create the file", exc)) from None


def _may(path: Path, mode: int) -> bool:
    """``os.access`` for the effective user (the one that will open the file), where the
    platform can tell."""
    effective = os.access in os.supports_effective_ids
    return os.access(path, mode, effective_ids=effective)


def _refusal(path: Path, what: str, exc: OSError) -> str:
    reason = exc.strerror or type(exc).__name__
    return f"cannot use {path} for the store: {what}: {reason}{_by_whom()}"


def _by_whom() -> str:
    """`` (as user nps, uid 998)``: who could not write, the usual cause being another user."""
    if pwd is None:
        return ""
    uid = os.geteuid()
    try:
        return f" (as user {pwd.getpwuid(uid).pw_name}, uid {uid})"
    except KeyError:
        return f" (as uid {uid})"


def create_private_file(database: str | None) -> None:
    """Create a new SQLite file readable by its owner only: responses are personal data.

    SQLite creates the -wal and -shm files with the database file's mode (findCreateFileMode in
    https://www.sqlite.org/src/file?name=src/os_unix.c), so they follow. An existing file
    keeps the mode its owner gave it.
    """
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    try:
        os.close(os.open(database, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass


def _lower(value):
    return value.lower() if isinstance(value, str) else value


BUSY_TIMEOUT_MS = 30_000  # how long a connection waits for another's write lock
SHORTENED = "busy_timeout_shortened"  # in a pooled connection's info: set by a write's deadline


def restore_busy_timeout(dbapi_connection, record) -> None:
    """Pool checkin: a write that shortened the busy timeout to its deadline (WriteGate.limit)
    gives the connection back with the store's own, so the next user (an import, a wall query)
    does not give up on a lock after the few milliseconds that write had left."""
    if dbapi_connection is not None and record.info.pop(SHORTENED, False):
        dbapi_connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


def sqlite_pragmas(dbapi_connection, _record) -> None:
    """Settings every SQLite connection of the store gets."""
    # WAL lets the poller read while an import writes; busy_timeout makes writers queue
    # instead of failing with "database is locked".
    # lower() that folds every script, not only ASCII: the comment search's LIKE uses it, so
    # "écran" finds "ÉCRAN" as the trigram index and PostgreSQL do.
    dbapi_connection.create_function("nps_lower", 1, _lower, deterministic=True)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
