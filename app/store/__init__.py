"""The response store: the only place in NPS TV that speaks SQL."""

from app.store.database import EventRow, ResponseRecord, Store, UpsertResult
from app.store.errors import StoreUnavailable
from app.store.opening import open_store

__all__ = ["EventRow", "ResponseRecord", "Store", "StoreUnavailable", "UpsertResult", "open_store"]
