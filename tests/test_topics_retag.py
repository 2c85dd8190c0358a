"""``nps-tv topics retag``: every stored response re-tagged exactly once per taxonomy and model
across processes (two real processes on SQLite and PostgreSQL), a waiting process writing
nothing, a crashed run taken over and resumed after its last finished batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from app.cli import main
from app.store import Store
from app.store.retag import RUNS, LeaseLost, claim, get_run, retag, retag_batch
from app.topics import build_taxonomy, tag_topics
from tests.conftest import make_record

ROOT = Path(__file__).resolve().parents[1]
NEW_TAXONOMY = {"topics": [{"name": "Support", "keywords": ["people", "support"]},
                           {"name": "Pricing", "keywords": ["price"]}]}


def seed(store: Store, n: int) -> None:
    """``n`` responses, half of them about "people" (Support only in the new taxonomy); each
    comment is its own, so counting the tagger's calls counts the rows it tagged."""
    store.upsert_many([[make_record(i, 9, comment=f"lovely people, {i}" if i % 2
                                    else f"fair price, {i}")
                        for i in range(start, min(n, start + 2000))]
                       for start in range(0, n, 2000)])


def use_new_taxonomy(store: Store) -> None:
    store.tagger = partial(tag_topics, taxonomy=build_taxonomy(NEW_TAXONOMY))


def no_wait(_seconds: float) -> None:
    return None


def test_a_retag_changes_only_the_rows_whose_topics_change(store):
    seed(store, 10)
    use_new_taxonomy(store)
    outcome = retag(store, "fp", batch=3, wait=no_wait)
    assert (outcome.ran, outcome.run.state, outcome.run.scanned, outcome.run.changed) == (
        True, "done", 10, 5)
    assert {tuple(r["topics"]) for r in store.list_responses()} == {("Support",), ("Pricing",)}
    again = retag(store, "fp", batch=3, wait=no_wait)
    assert not again.ran and again.run == outcome.run  # once per fingerprint


def test_a_second_caller_waits_for_the_owner_and_writes_nothing(store):
    seed(store, 10)
    use_new_taxonomy(store)
    run, claimed = claim(store, "fp", "owner-a")
    assert claimed

    def owner_finishes(_seconds: float) -> None:
        while get_run(store, "fp").state == "running":
            retag_batch(store, run.id, "owner-a", 4)

    outcome = retag(store, "fp", owner="owner-b", wait=owner_finishes)
    assert not outcome.ran and outcome.run.owner == "owner-a"
    assert outcome.run.state == "done" and outcome.run.changed == 5


def test_a_crashed_run_is_taken_over_and_resumes_after_its_last_batch(store):
    seed(store, 10)
    use_new_taxonomy(store)
    run, _ = claim(store, "fp", "crashed")
    first = retag_batch(store, run.id, "crashed", 4)  # then the process died
    with store.engine.begin() as conn:
        conn.execute(update(RUNS).values(heartbeat_at=datetime.now(UTC) - timedelta(hours=1)))
    tagged: list[str | None] = []
    tagger = store.tagger
    store.tagger = lambda text: (tagged.append(text), tagger(text))[1]
    outcome = retag(store, "fp", owner="rescuer", batch=4, wait=no_wait)
    assert outcome.ran and outcome.resumed_from == first.last_id
    assert outcome.run.scanned == 10 and outcome.run.changed == 5 and len(tagged) == 6
    with pytest.raises(LeaseLost):  # the old owner, back from the dead, writes nothing more
        retag_batch(store, run.id, "crashed", 4)


def test_a_live_lease_is_not_taken_over(store):
    seed(store, 4)
    claim(store, "fp", "alive")
    run, claimed = claim(store, "fp", "other")
    assert not claimed and run.owner == "alive"


def run_retag(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "app", "topics", "retag", "--batch", "25",
                             "--no-progress"], env=env, cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_two_processes_retag_exactly_once(store, settings, tmp_path):
    seed(store, 3000)
    topics = tmp_path / "new-topics.json"
    topics.write_text(json.dumps(NEW_TAXONOMY))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NPS_TV_DATA_DIR": settings.data_dir,
           "NPS_TV_TOPICS_FILE": str(topics), "NPS_TV_DATABASE_URL": store.url}
    env.pop("DATABASE_URL", None)
    first, second = run_retag(env), run_retag(env)
    outs = [p.communicate(timeout=240) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outs
    said = sorted(out for out, _ in outs)
    assert said[0].startswith("Already re-tagged"), said
    assert "Nothing written" in said[0]
    assert said[1].startswith("Re-tagged 3000 responses: 1500 changed"), said
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(RUNS)).scalar_one() == 1
    assert sum(r["topics"] == ["Support"] for r in store.list_responses(limit=5000)) == 1500


def test_nps_tv_topics_retag_refuses_a_bad_batch(env, capsys):
    assert main(["topics", "retag", "--batch", "0"]) == 2
    assert "--batch: must be a positive number" in capsys.readouterr().err


def test_an_owner_that_loses_its_lease_waits_for_the_new_owner(store):
    seed(store, 10)
    use_new_taxonomy(store)
    calls = []

    def stall_then_finish(_seconds: float) -> None:
        calls.append(_seconds)
        if len(calls) == 1:  # after the first batch another process takes the run over
            with store.engine.begin() as conn:
                conn.execute(update(RUNS).values(owner="rescuer"))
            return
        run = get_run(store, "fp")
        while run.state == "running":
            run = retag_batch(store, run.id, "rescuer", 4)

    outcome = retag(store, "fp", owner="slow", batch=4, wait=stall_then_finish)
    assert not outcome.ran and outcome.run.owner == "rescuer"
    assert outcome.run.scanned == 10 and outcome.run.changed == 5
