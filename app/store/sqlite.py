"""What an embedded SQLite store needs beyond SQLAlchemy: a private file and its pragmas."""

from __future__ import annotations

import os


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


def sqlite_pragmas(dbapi_connection, _record) -> None:
    """Settings every SQLite connection of the store gets."""
    # WAL lets the poller read while an import writes; busy_timeout makes writers queue
    # instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
