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


def _seed_many(store, detractors: int, passives: int) -> None:
    """``detractors`` detractors and ``passives`` passives who commented this week."""
    now = datetime.now(UTC)
    store.upsert_responses(
        [make_record(i, i % 7, when=now - timedelta(hours=1 + i), comment=f"bad {i}",
                     product="Ledger") for i in range(detractors)]
        + [make_record(1000 + i, 7 + i % 2, when=now - timedelta(hours=1 + i),
                       comment=f"meh {i}", product="Ledger") for i in range(passives)])


def test_pages_of_fifty_carry_the_total_and_the_next_page(client, app_store):
    _seed_many(app_store, 120, 30)
    first = client.get(f"{URL}?window=7d", headers=ADMIN).get_json()
    assert (len(first["follow_ups"]), first["total"], first["page"], first["next_page"]) == \
        (50, 120, 1, 2)
    seen = [r["id"] for r in first["follow_ups"]]
    page = first
    while page["next_page"] is not None:
        page = client.get(f"{URL}?window=7d&page={page['next_page']}", headers=ADMIN).get_json()
        seen += [r["id"] for r in page["follow_ups"]]
    assert page["page"] == 3 and len(page["follow_ups"]) == 20
    assert len(seen) == len(set(seen)) == 120 and seen == sorted(seen, reverse=True)
    assert all(r["score"] <= 6 for r in first["follow_ups"])
    both = client.get(f"{URL}?window=7d&passives=1&page=3", headers=ADMIN).get_json()
    assert both["total"] == 150 and both["next_page"] is None
    assert sum(both["counts"].values()) == 150 and len(both["follow_ups"]) == 50
    assert any(r["score"] in (7, 8) for r in
               client.get(f"{URL}?window=7d&passives=1", headers=ADMIN).get_json()["follow_ups"]
               + both["follow_ups"])
    past = client.get(f"{URL}?window=7d&page=9", headers=ADMIN).get_json()
    assert past["follow_ups"] == [] and past["total"] == 120 and past["next_page"] is None


@pytest.mark.parametrize(("query", "field"), [
    ("passives=yes", "passives"), ("passives=2", "passives"), ("page=0", "page"),
    ("page=-1", "page"), ("page=two", "page"), ("page=100001", "page"), ("limit=501", "limit"),
    ("page=2&before_id=5", "page"), ("before_id=x", "before_id"), ("window=9x", "window"),
])
def test_a_bad_list_parameter_is_a_400_naming_it(client, app_store, query, field):
    _seed(app_store)
    reply = client.get(f"{URL}?{query}", headers=ADMIN)
    assert reply.status_code == 400, query
    assert [p["path"] for p in reply.get_json()["problems"]] == [field]
    if field == "passives":
        assert client.get(f"{URL}.csv?{query}", headers=ADMIN).status_code == 400


def test_the_export_follows_the_passives_choice(client, app_store):
    ids = _seed(app_store)
    plain = client.get(f"{URL}.csv?window=7d", headers=ADMIN).get_data(as_text=True)
    both = client.get(f"{URL}.csv?window=7d&passives=1", headers=ADMIN).get_data(as_text=True)
    assert {int(r["id"]) for r in csv.DictReader(io.StringIO(plain))} == {ids["1"], ids["2"]}
    assert {int(r["id"]) for r in csv.DictReader(io.StringIO(both))} == \
        {ids["1"], ids["2"], ids["4"]}


def test_progress_counts_the_list_and_the_mark_moves_with_a_change(store):
    ids = _seed(store)
    book = FollowUps(store)
    week = FollowUpFilter(created_from=datetime.now(UTC) - timedelta(days=7))
    assert book.progress(week) == (2, 0)
    before = book.mark()
    book.set(ids["1"], "contacted", None, "admin")
    assert book.progress(week) == (2, 1) and book.mark() != before
    moved = book.mark()
    book.set(ids["2"], "resolved", None, "admin")
    assert book.progress(week) == (2, 2) and book.mark() != moved
