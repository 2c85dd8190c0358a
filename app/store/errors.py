"""What a store failure looks like to the rest of NPS TV: one exception, named by class."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc

# Errors about the data itself (a bug, not an outage): retrying cannot help, so they stay 500s.
DATA_ERRORS = (sa_exc.IntegrityError, sa_exc.DataError)
MAX_DETAIL = 200


class StoreUnavailable(Exception):
    """The store could not do its work now (unreachable, read-only, full, locked or busy).

    ``error`` is a class name, safe to show anyone; ``detail`` is the driver's first line,
    for the server's log and the CLI only (it can name hosts and users).
    """

    def __init__(self, error: str, detail: str = ""):
        super().__init__(error)
        self.error = error
        self.detail = detail

    def one_line(self) -> str:
        """``Class: first line of the driver's message`` for a log line or a terminal."""
        return f"{self.error}: {self.detail}" if self.detail else self.error


def is_store_failure(exc: BaseException) -> bool:
    """True for outages worth a retry: driver and pool errors, not bad data or our bugs."""
    return (isinstance(exc, sa_exc.DBAPIError | sa_exc.TimeoutError)
            and not isinstance(exc, DATA_ERRORS))


def error_class(exc: BaseException) -> str:
    """The most telling class name: the driver's (``LockNotAvailable``) over SQLAlchemy's."""
    if isinstance(exc, StoreUnavailable):
        return exc.error
    orig = getattr(exc, "orig", None)
    return type(orig).__name__ if orig is not None else type(exc).__name__


def first_line(exc: BaseException) -> str:
    """The driver's message without SQL, parameters (customer text) or later lines."""
    if isinstance(exc, StoreUnavailable):
        return exc.detail
    orig = getattr(exc, "orig", None)
    lines = str(orig if orig is not None else exc).strip().splitlines()
    return lines[0][:MAX_DETAIL] if lines else ""


def unavailable(exc: BaseException) -> StoreUnavailable:
    """``exc`` as a StoreUnavailable carrying its class and first line."""
    return StoreUnavailable(error_class(exc), first_line(exc))


@contextmanager
def translated() -> Iterator[None]:
    """Raise StoreUnavailable instead of a driver or pool error inside the block."""
    try:
        yield
    except StoreUnavailable:
        raise
    except Exception as exc:
        if is_store_failure(exc):
            raise unavailable(exc) from None
        raise
