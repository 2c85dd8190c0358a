"""The share-link store and each worker's link book, on SQLite and PostgreSQL: tokens are
returned once and stored only as hashes, revocation and expiry are seen within one refresh,
last-seen writes are batched and rate-limited, reload stamps are kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from app.links import LinkBook
from app.store import Store
from app.store.links import LinkConflict, ShareLinks, hash_token


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def all_rows(store: Store) -> list[tuple]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT * FROM share_links ORDER BY id"))]


def test_create_returns_the_token_once_and_stores_only_its_hash(store: Store):
    links = ShareLinks(store)
    row, token = links.create("Lobby TV", "wall", "panels=score,trend&product=Ledger")
    assert len(token) >= 32  # 256 random bits in URL-safe base64
    assert row.token_hash == hash_token(token) and len(row.token_hash) == 64
    stored = all_rows(store)
    assert len(stored) == 1
    assert not any(token in str(value) for value in stored[0])
    assert links.by_hash(hash_token(token)).id == row.id
    other_row, other = links.create("Remote team", "manager")
    assert other != token and other_row.id != row.id


def test_a_taken_name_is_refused_and_changes_nothing(store: Store):
    links = ShareLinks(store)
    links.create("Lobby TV", "wall")
    before = all_rows(store)
    with pytest.raises(LinkConflict, match="name: a share link named 'Lobby TV' exists"):
        links.create("Lobby TV", "manager")
    assert all_rows(store) == before


def test_find_by_name_or_id_and_revoke_keeps_the_first_time(store: Store):
    links = ShareLinks(store)
    row, _ = links.create("Lobby TV", "wall")
    assert links.find("Lobby TV").id == row.id
    assert links.find(str(row.id)).id == row.id
    assert links.find("nobody") is None and links.find("999") is None
    first = datetime(2026, 12, 1, tzinfo=UTC)
    assert links.revoke(row.id, now=first).revoked_at == first
    assert links.revoke(row.id).revoked_at == first
    assert links.revoke(12345) is None


def test_resolve_tells_unknown_revoked_and_expired_apart(store: Store):
    links = ShareLinks(store)
    book = LinkBook(links, refresh_seconds=3.0)
    _, good = links.create("ok", "wall")
    revoked_row, revoked = links.create("gone", "wall")
    _, expired = links.create("old", "wall", expires_at=datetime.now(UTC) - timedelta(seconds=1))
    links.revoke(revoked_row.id)
    assert book.resolve(good).reason == "ok"
    assert book.resolve(revoked).reason == "revoked"
    assert book.resolve(expired).reason == "expired"
    assert book.resolve(good[:-1] + ("A" if good[-1] != "A" else "B")).reason == "unknown"
    assert book.resolve("").reason == "unknown"


def test_a_revocation_elsewhere_reaches_the_cache_at_its_next_refresh(store: Store):
    clock = Clock()
    links = ShareLinks(store)
    book = LinkBook(links, refresh_seconds=3.0, clock=clock)
    row, token = links.create("Lobby TV", "wall")
    assert book.resolve(token).ok
    ShareLinks(store).revoke(row.id)  # another process, say the CLI
    clock.now += 1.0
    assert book.resolve(token).ok  # cached for less than one poll interval
    clock.now += 2.5
    assert book.resolve(token).reason == "revoked"


def test_a_link_created_elsewhere_resolves_at_once(store: Store):
    book = LinkBook(ShareLinks(store), refresh_seconds=3.0, clock=Clock())
    book.refresh()
    _, token = ShareLinks(store).create("new", "manager")
    assert book.resolve(token, allow_lookup=False).reason == "unknown"  # not cached yet
    assert book.resolve(token).ok  # a miss is looked up in the store


def test_touches_are_written_at_most_every_30_seconds_per_link(store: Store, monkeypatch):
    clock = Clock()
    links = ShareLinks(store)
    writes: list[int] = []
    original = links.write_touches
    monkeypatch.setattr(links, "write_touches", lambda t: writes.append(len(t)) or original(t))
    book = LinkBook(links, touch_seconds=30.0, clock=clock)
    row, _ = links.create("Lobby TV", "wall")
    for _ in range(100):  # a screen polling every second
        book.touch(row.id, user_agent="Mozilla/5.0 Chrome/131.0", build="b1")
    assert book.flush() == 1
    stored = links.get(row.id)
    assert stored.last_seen_at is not None and stored.last_build == "b1"
    assert stored.last_user_agent == "Mozilla/5.0 Chrome/131.0"
    clock.now += 10
    book.touch(row.id, trouble="poll failed")
    assert book.flush() == 0  # too soon
    clock.now += 21
    assert book.flush() == 1
    assert links.get(row.id).last_trouble == "poll failed"
    assert links.get(row.id).last_build == "b1"  # kept: not given
    book.touch(row.id, trouble=None)
    clock.now += 30
    book.flush()
    assert links.get(row.id).last_trouble is None
    assert writes == [1, 1, 1]


def test_reload_stamps_per_link_and_for_every_screen(store: Store):
    links = ShareLinks(store)
    book = LinkBook(links)
    row, _ = links.create("Lobby TV", "wall")
    other, _ = links.create("Kitchen", "wall")
    assert book.reload_requested_at(row.id) is None
    t1 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    assert links.request_reload(row.id, now=t1)
    book.refresh(force=True)
    assert book.reload_requested_at(row.id) == t1
    assert book.reload_requested_at(other.id) is None
    t2 = t1 + timedelta(minutes=5)
    assert links.request_reload(None, now=t2) and links.request_reload(None, now=t2)
    book.refresh(force=True)
    assert book.reload_requested_at(row.id) == t2 == book.reload_requested_at(other.id)
    assert book.reload_requested_at(None) == t2
    assert links.request_reload(999) is False


def test_the_migration_downgrades_and_upgrades_again(store: Store):
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    from app.store.database import MIGRATIONS_DIR

    ShareLinks(store).create("Lobby TV", "wall")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")
    assert "share_links" not in inspect(store.engine).get_table_names()
    store.upgrade()
    assert store.current_revision() == "0004"
    assert ShareLinks(store).list_links() == []
