"""The follow-up list: detractors (and passives when asked) who commented, their status and
owner, admin only, refusals that change nothing, and the Excel-safe export."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from app.store.follow_ups import FollowUpFilter, FollowUps
from tests.conftest import ADMIN_TOKEN, make_record

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
URL = "/api/v1/follow-ups"


def _seed(store) -> dict[str, int]:
    """Two detractors with comments this week (one in EMEA), one without a comment, a passive
    and a promoter with comments, and a detractor 40 days ago; returns ids by name."""
    now = datetime.now(UTC)
    store.upsert_responses([
        make_record(1, 2, when=now - timedelta(days=1), comment="=Too slow, call me",
                    product="Ledger", region="EMEA"),
        make_record(2, 5, when=now - timedelta(days=2), comment="Support never answered",
                    product="Pulse", region="NA"),
        make_record(3, 0, when=now - timedelta(days=1), comment=None, product="Ledger"),
        make_record(4, 8, when=now - timedelta(days=1), comment="Fine, a bit pricey",
                    product="Ledger"),
        make_record(5, 10, when=now - timedelta(days=1), comment="Love it", product="Ledger"),
        make_record(6, 1, when=now - timedelta(days=40), comment="Old complaint",
                    product="Ledger"),
    ])
    rows = store.list_responses(limit=100)
    return {r["external_id"]: r["id"] for r in rows}


def put(client, response_id: int, body, headers=ADMIN):
    return client.put(f"{URL}/{response_id}", data=json.dumps(body),
                      content_type="application/json", headers=headers)


def test_the_list_holds_commented_detractors_of_the_window_newest_first(client, app_store):
    ids = _seed(app_store)
    body = client.get(f"{URL}?window=7d", headers=ADMIN).get_json()
    assert [r["id"] for r in body["follow_ups"]] == [ids["2"], ids["1"]]  # newest id first
    assert {r["status"] for r in body["follow_ups"]} == {"new"}
    assert body["counts"] == {"new": 2, "contacted": 0, "resolved": 0}
    with_passives = client.get(f"{URL}?window=7d&passives=true", headers=ADMIN).get_json()
    assert {r["id"] for r in with_passives["follow_ups"]} == {ids["1"], ids["2"], ids["4"]}
    emea = client.get(f"{URL}?window=7d&region=EMEA", headers=ADMIN).get_json()
    assert [r["id"] for r in emea["follow_ups"]] == [ids["1"]]
    all_time = client.get(f"{URL}?window=all", headers=ADMIN).get_json()
    assert ids["6"] in {r["id"] for r in all_time["follow_ups"]}


def test_setting_a_status_and_owner_shows_in_the_list_and_counts(client, app_store):
    ids = _seed(app_store)
    reply = put(client, ids["1"], {"status": "contacted", "owner": "  Ana  "})
    assert reply.status_code == 200
    assert reply.get_json() == {"id": ids["1"], "status": "contacted", "owner": "Ana"}
    body = client.get(f"{URL}?window=7d", headers=ADMIN).get_json()
    row = next(r for r in body["follow_ups"] if r["id"] == ids["1"])
    assert (row["status"], row["owner"], row["updated_by"]) == ("contacted", "Ana", "admin")
    assert body["counts"] == {"new": 1, "contacted": 1, "resolved": 0}
    put(client, ids["1"], {"status": "resolved"})  # the later write wins; owner cleared
    only = client.get(f"{URL}?window=7d&status=resolved", headers=ADMIN).get_json()
    assert [(r["id"], r["owner"]) for r in only["follow_ups"]] == [(ids["1"], None)]
    new = client.get(f"{URL}?window=7d&status=new", headers=ADMIN).get_json()
    assert [r["id"] for r in new["follow_ups"]] == [ids["2"]]


@pytest.mark.parametrize(("body", "path", "reason"), [
    ({"status": "called"}, "status", "must be one of new, contacted, resolved"),
    ({}, "status", "is required"),
    ({"status": "new", "owner": "a\nb"}, "owner", "one line"),
    ({"status": "new", "owner": "x" * 101}, "owner", "the limit is 100"),
    ({"status": "new", "colour": "red"}, "colour", "is not a known field"),
    (["new"], "body", "must be an object"),
])
def test_a_refused_change_names_the_field_and_changes_nothing(client, app_store, body, path,
                                                               reason):
    ids = _seed(app_store)
    put(client, ids["1"], {"status": "contacted", "owner": "Ana"})
    before = FollowUps(app_store).list(FollowUpFilter())
    reply = put(client, ids["1"], body)
    assert reply.status_code == 400
    [problem] = reply.get_json()["problems"]
    assert problem["path"] == path and reason in problem["message"]
    assert FollowUps(app_store).list(FollowUpFilter()) == before


def test_follow_ups_are_for_admins_only_and_unknown_ids_are_404(client, app_store):
    ids = _seed(app_store)
    assert client.get(URL).status_code == 401
    assert put(client, ids["1"], {"status": "contacted"}, headers={}).status_code == 401
    assert client.get(f"{URL}.csv").status_code == 401
    missing = put(client, 987654, {"status": "contacted"})
    assert missing.status_code == 404
    assert missing.get_json()["problems"] == [{"path": "id",
                                               "message": "no response with id 987654"}]
    bad = client.get(f"{URL}?status=called", headers=ADMIN)
    assert bad.status_code == 400 and "status" in bad.get_data(as_text=True)
    assert client.get(f"{URL}?limit=0", headers=ADMIN).status_code == 400


def test_the_follow_up_export_is_excel_safe_with_segment_columns(client, app_store):
    ids = _seed(app_store)
    put(client, ids["2"], {"status": "contacted", "owner": "+Bob"})
    reply = client.get(f"{URL}.csv?window=7d", headers=ADMIN)
    assert reply.status_code == 200 and reply.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(reply.get_data(as_text=True))))
    assert [int(r["id"]) for r in rows] == [ids["2"], ids["1"]]
    first, second = rows
    assert (first["status"], first["owner"], first["product"]) == ("contacted", "'+Bob", "Pulse")
    assert second["comment"] == "'=Too slow, call me" and second["region"] == "EMEA"


def test_statuses_upsert_on_both_databases(store):
    ids = _seed(store)
    book = FollowUps(store)
    assert book.set(ids["1"], "contacted", "Ana", "admin")
    assert book.set(ids["1"], "resolved", "Ana", "admin")  # one row, the later write wins
    assert not book.set(987654, "contacted", None, "admin")
    week = FollowUpFilter(created_from=datetime.now(UTC) - timedelta(days=7))
    assert book.counts(week) == {"new": 1, "contacted": 0, "resolved": 1}
    assert [(r["id"], r["status"]) for r in book.list(week)] == \
        [(ids["2"], "new"), (ids["1"], "resolved")]
    with pytest.raises(ValueError, match="status: must be one of"):
        book.set(ids["1"], "called", None, "admin")
