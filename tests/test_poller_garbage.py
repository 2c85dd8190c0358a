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
    before its next read, not at the publish whose pushes it would hold up."""
    import gc
    import weakref

    from app import poller as poller_module

    class Cycle:
        pass

    monkeypatch.setattr(poller_module, "FULL_COLLECT_EVERY", 3)
    monkeypatch.setattr(poller_module, "_publishes", 0)
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
        for i in (1, 2):
            sqlite_store.upsert_responses([make_record(i, 9)])
            poller.poll()  # publishes 2 and 3: after the third a full collection is due
        # Not at the publish (it would hold up the pushes of that change), and not in a
        # catch-up's poll (a screen's request waits for that one).
        assert dead() is not None
        poller.poll(catching=True)
        assert dead() is not None
        read_when_collected: list[bool] = []
        clock = sqlite_store.clock_micros
        monkeypatch.setattr(sqlite_store, "clock_micros", lambda: (
            read_when_collected.append(dead() is None), clock())[1])
        assert not poller.poll()  # the poll job's next poll: nothing new, collected first
        assert dead() is None and read_when_collected == [True]
        assert gc.get_freeze_count() > 0  # and freezes again
    finally:
        gc.enable()
        gc.unfreeze()
