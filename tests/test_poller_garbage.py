"""The poll job freezes what a publish leaves alive, so the garbage collector stops scanning
long-lived snapshots, views and parts (app/poller.py, ``settle_garbage``; issue 13, item 3)."""

from __future__ import annotations

from app.poller import Poller
from tests.conftest import make_record


def test_a_publish_freezes_what_lives_and_a_full_collection_comes_every_so_often(
        sqlite_store, settings, monkeypatch):
    """After a publish the collector no longer scans what is alive (``gc.freeze``); garbage in
    reference cycles made meanwhile is freed by the full collection every
    ``FULL_COLLECT_EVERY`` publishes (issue 13, item 3: the collector's scans of long-lived
    parts were a tenth of a change's CPU with 100 distinct screens), which the poll job runs
    a while after a publish: not during it, whose pushes it would hold up, nor before a read."""
    import gc
    import weakref

    from app import poller as poller_module

    class Cycle:
        pass

    monkeypatch.setattr(poller_module, "FULL_COLLECT_EVERY", 3)
    monkeypatch.setattr(poller_module, "_publishes", 0)
    monkeypatch.setattr(poller_module, "_collect_due", False)
    monkeypatch.setattr(poller_module, "COLLECT_AFTER", 0.05)
    poller = Poller(sqlite_store, settings)
    sqlite_store.upsert_responses([make_record(0, 9)])
    gc.disable()  # only the publishes' freezes and collections, not the automatic ones
    cycle = Cycle()
    cycle.me = cycle
    dead = weakref.ref(cycle)
    del cycle
    try:
        assert poller.poll()  # publish 1: the cycle is frozen with everything else
        assert gc.get_freeze_count() > 0
        gc.collect()
        assert dead() is not None  # frozen: not scanned
        alive_at_publish: list[bool] = []
        poller.on_publish.append(lambda: alive_at_publish.append(dead() is not None))
        sqlite_store.upsert_responses([make_record(1, 9)])
        poller.poll()  # publish 2
        # Publish 3, a catch-up's: the collection is due, but a screen's request waits for
        # a catch-up, so not there.
        sqlite_store.upsert_responses([make_record(2, 9)])
        assert poller.poll(catching=True)
        assert dead() is not None
        # The poll job's next poll runs it, a while after its publish (the stream hub's
        # round pushes the change meanwhile), not before its read nor during the listeners.
        sqlite_store.upsert_responses([make_record(3, 9)])
        read_alive: list[bool] = []
        clock = sqlite_store.clock_micros
        monkeypatch.setattr(sqlite_store, "clock_micros", lambda: (
            read_alive.append(dead() is not None), clock())[1])
        assert poller.poll()
        assert read_alive == [True] and alive_at_publish == [True, True, True]
        assert dead() is None
        assert gc.get_freeze_count() > 0  # and freezes again
    finally:
        gc.enable()
        gc.unfreeze()
