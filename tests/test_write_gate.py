"""The write gate tells a busy store from a stuck one, and a write's tagging takes no lock.

Writers that find every write slot taken give up early when nothing moves (a stuck store:
app/store/writes.py). On a busy machine a healthy write can outlast that patience: these
tests hold one write open for three times ``STALL_SECONDS`` and check what the next does.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from app.store import Store, StoreUnavailable
from app.store.writes import STALL_SECONDS
from tests.conftest import make_record

HELD = 3 * STALL_SECONDS  # seconds the first write keeps its slot


def hold_a_write(store: Store, opened: threading.Event, statements: bool) -> None:
    """Keep the store's only write slot for HELD seconds, running statements or not."""
    with store._writing() as conn:  # noqa: SLF001 - the gate under test
        opened.set()
        ends = time.monotonic() + HELD
        while time.monotonic() < ends:
            if statements:
                conn.execute(text("SELECT 1"))
            time.sleep(STALL_SECONDS / 5)


def write_behind(store: Store, statements: bool) -> tuple[str, float]:
    """Upsert one response while another write holds the only slot; (outcome, seconds)."""
    store.limit_writes(1, 10 * HELD)
    opened = threading.Event()
    holder = threading.Thread(target=hold_a_write, args=(store, opened, statements))
    holder.start()
    assert opened.wait(10)
    started = time.monotonic()
    try:
        store.upsert_responses([make_record(1, 9, comment="fine")])
        outcome = "stored"
    except StoreUnavailable as exc:
        outcome = exc.error
    finally:
        seconds = time.monotonic() - started
        holder.join(timeout=30)
    return outcome, seconds


def test_a_long_write_whose_statements_finish_is_waited_for(store: Store):
    """Its statements show the store moving: the next write waits its turn (it used to 503)."""
    outcome, seconds = write_behind(store, statements=True)
    assert outcome == "stored"
    assert seconds >= HELD * 0.8  # it did wait for the slot
    assert store.count_responses() == 1


def test_a_write_stuck_in_one_statement_still_sends_the_next_away_early(store: Store):
    """Nothing finishes for longer than the stall: the store is stuck, and the waiting write
    answers at once instead of holding a server thread until its deadline."""
    outcome, seconds = write_behind(store, statements=False)
    assert outcome == "WriteTimeout"
    assert seconds < HELD
    assert store.count_responses() == 0


@pytest.mark.parametrize("corrected", [False, True])
def test_comments_are_tagged_before_the_write_takes_its_locks(store: Store, corrected):
    if corrected:  # an admin's correction is read inside the write, so it is tagged there
        store.upsert_responses([make_record(1, 3, comment="Way too expensive, answer 1")])
        store.set_topics(store.list_responses()[0]["id"], ["Pricing", "Support"])
    tagged_holding_lock: list[bool] = []
    plain = store.tagger

    def tagger(comment):
        tagged_holding_lock.append(store._write_lock.locked())  # noqa: SLF001
        return plain(comment)

    store.tagger = tagger
    records = [make_record(i, 3, comment=f"Way too expensive, answer {i}") for i in range(1, 6)]
    store.upsert_responses(records)
    assert all("Pricing" in r["topics"] for r in store.list_responses())
    # Five distinct comments tagged once each ahead; a corrected one once more inside.
    assert tagged_holding_lock.count(False) == 5
    assert tagged_holding_lock.count(True) == (1 if corrected else 0)
