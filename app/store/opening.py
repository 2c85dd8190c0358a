"""The one way NPS TV opens its store from settings: the CLI, the factory and the demo all
call ``open_store``, so every process tags, limits and migrates the same way."""

from __future__ import annotations

from functools import partial

from app.config import Settings
from app.store.database import Store
from app.topics import Taxonomy, load_taxonomy, tag_topics


def open_store(settings: Settings, url: str | None = None, *, store: Store | None = None,
               taxonomy: Taxonomy | None = None) -> Store:
    """The store on ``url`` (default: the configured one), ready for use.

    Topics are tagged with ``taxonomy`` (default: the configured file), writes are limited
    by ``NPS_TV_WRITE_CONCURRENCY`` and ``NPS_TV_WRITE_TIMEOUT_SECONDS``, and the schema is
    migrated to the newest revision. A ``store`` built elsewhere (a test's) is made ready
    the same way instead of opening a new one.
    """
    if store is None:
        if taxonomy is None:
            taxonomy = load_taxonomy(settings.resolved_topics_file)
        store = Store(url or settings.resolved_database_url,
                      tagger=partial(tag_topics, taxonomy=taxonomy))
    store.limit_writes(settings.write_concurrency, settings.write_timeout_seconds)
    store.upgrade()
    return store
