"""The one way NPS TV opens its store from settings: the CLI, the factory and the demo all
call ``open_store``, so every process tags, limits and migrates the same way."""

from __future__ import annotations

from app.config import Settings
from app.store.database import Store
from app.tagging import load_tagger
from app.topics import Taxonomy


def open_store(settings: Settings, url: str | None = None, *, store: Store | None = None,
               taxonomy: Taxonomy | None = None) -> Store:
    """The store on ``url`` (default: the configured one), ready for use.

    Topics are tagged by ``app.tagging.load_tagger``: the topics of ``taxonomy`` (default: the
    configured file), decided by the shipped model and the installation's own, or by their
    keywords for topics no model knows. Writes are limited
    by ``NPS_TV_WRITE_CONCURRENCY`` and ``NPS_TV_WRITE_TIMEOUT_SECONDS``, and the schema is
    migrated to the newest revision. A ``store`` built elsewhere (a test's) is made ready
    the same way instead of opening a new one.
    """
    if store is None:
        store = Store(url or settings.resolved_database_url,
                      tagger=load_tagger(settings, taxonomy).tag)
    store.limit_writes(settings.write_concurrency, settings.write_timeout_seconds)
    store.upgrade()
    return store
