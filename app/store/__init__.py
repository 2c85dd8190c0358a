"""The response store: the only place in NPS TV that speaks SQL."""

from app.store.database import EventRow, ResponseRecord, Store, UpsertResult
from app.store.errors import StoreUnavailable
from app.store.opening import open_store
from app.store.sqlite import StorePathError

__all__ = ["EventRow", "ResponseRecord", "Store", "StorePathError", "StoreUnavailable",
           "UpsertResult", "open_store"]
