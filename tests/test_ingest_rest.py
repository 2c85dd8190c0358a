"""REST ingest and events: posting, idempotency, tokens, paging, filters, and the events API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.ingest.schema import MAX_BATCH
from app.services import get_services
from app.store import Store
from app.web import create_app
from tests.conftest import ADMIN_TOKEN, INGEST_TOKEN, make_record

RESPONSES = "/api/v1/responses"
EVENTS = "/api/v1/events"
SEEN_AT = "2026-11-20T09:30:00+01:00"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def post(client, body: Any, url: str = RESPONSES, token: str = INGEST_TOKEN):
    """POST ``body`` as JSON with a bearer token."""
    return client.post(url, data=json.dumps(body), content_type="application/json",
                       headers=bearer(token))


def get(client, url: str, token: str = ADMIN_TOKEN):
    return client.get(url, headers=bearer(token))


def answer(i: int, score: int = 9, **fields: Any) -> dict[str, Any]:
    """A valid response payload with external id ``r{i}``."""
    return {"score": score, "external_id": f"r{i}", **fields}


def stored(store: Store) -> list[dict[str, Any]]:
    return store.list_responses(limit=500)


# -- posting ------------------------------------------------------------------------------------


def test_single_response_is_stored_with_every_field(client, app_store):
    body = answer(1, 6, comment="Support took three days to answer.", source="survey-q4",
                  segments={"plan": "team", "region": "EMEA"}, created_at=SEEN_AT)
    response = post(client, body)
    assert response.status_code == 201
    assert response.get_json() == {"received": 1, "inserted": 1, "updated": 0, "unchanged": 0}
    [row] = stored(app_store)
    assert (row["source"], row["external_id"], row["score"]) == ("survey-q4", "r1", 6)
    assert row["comment"] == "Support took three days to answer."
    assert row["segments"] == {"plan": "team", "region": "EMEA"}
    assert row["created_at"] == "2026-11-20T08:30:00+00:00"  # stored in UTC
    assert row["excluded"] is False


def test_integer_external_id_is_stored_as_text(client, app_store):
    assert post(client, {"score": 10, "external_id": 12345}).status_code == 201
    assert stored(app_store)[0]["external_id"] == "12345"


@pytest.mark.parametrize("size", [2, 250, MAX_BATCH])
def test_list_of_responses_is_stored_in_one_request(client, app_store, size):
    response = post(client, [answer(i, i % 11) for i in range(size)])
    assert response.status_code == 201
    assert response.get_json()["inserted"] == size
    assert app_store.count_responses() == size


def test_list_over_the_batch_limit_is_refused_whole(client, app_store):
    response = post(client, [answer(i) for i in range(MAX_BATCH + 1)])
    assert response.status_code == 413
    assert f"{MAX_BATCH + 1} responses; the limit is {MAX_BATCH}" in response.get_json()["detail"]
    assert app_store.count_responses() == 0


@pytest.mark.parametrize("bad_index", [0, 17, 99])
def test_one_bad_item_stores_none_of_the_list(client, app_store, bad_index):
    items = [answer(i) for i in range(100)]
    items[bad_index]["score"] = 11
    response = post(client, items)
    assert response.status_code == 400
    [problem] = response.get_json()["problems"]
    assert problem["path"] == f"[{bad_index}].score"
    assert "from 0 to 10" in problem["message"]
    assert app_store.count_responses() == 0


def test_every_bad_item_of_a_list_is_reported(client):
    items = [answer(0), answer(1, 12), answer(2, comment=7), {"external_id": "r3"}]
    problems = post(client, items).get_json()["problems"]
    assert [p["path"] for p in problems] == ["[1].score", "[2].comment", "[3].score"]


def test_texts_no_store_can_hold_are_named_by_their_item_in_a_list(client, app_store):
    """A NUL or a lone surrogate was refused by the JSON parser's hook, which knows a key but
    not its item: the fourth response's comment was reported as ``comment``, and only the
    first such text of the body."""
    body = json.dumps([answer(0), answer(1), answer(2, comment="a\u0000b"),
                       answer(3, segments={"plan": "PLACEHOLDER"})])
    body = body.replace("PLACEHOLDER", "\\ud800")  # a lone surrogate, as a client sends it
    response = client.post(RESPONSES, data=body, content_type="application/json",
                           headers=bearer(INGEST_TOKEN))
    assert response.status_code == 400
    assert [(p["path"], p["message"].split(" (")[0].split(";")[0])
            for p in response.get_json()["problems"]] == [
        ("[2].comment", "contains a NUL character"),
        ("[3].segments.plan", "contains an unpaired UTF-16 surrogate escape")]
    assert app_store.count_responses() == 0


def test_response_without_external_id_is_new_every_time(client, app_store):
    for _ in range(3):
        assert post(client, {"score": 8}).status_code == 201
    rows = stored(app_store)
    assert len(rows) == 3 and len({r["external_id"] for r in rows}) == 3


# -- idempotency --------------------------------------------------------------------------------


@pytest.mark.parametrize("created_at", [SEEN_AT, None], ids=["with-time", "time-defaulted"])
def test_identical_repeat_is_unchanged_and_never_a_second_row(store_client, store, created_at):
    body = answer(1, 9, comment="Great", segments={"plan": "pro"})
    if created_at:
        body["created_at"] = created_at
    first = post(store_client, body)
    [before] = stored(store)
    second = post(store_client, body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.get_json() == {"received": 1, "inserted": 0, "updated": 0, "unchanged": 1}
    # updated_at too: an unchanged repeat must not make the poller re-read the row.
    assert stored(store) == [before]


@pytest.mark.parametrize(("change", "check"), [
    ({"comment": "Checkout was slow"}, lambda row: row["comment"] == "Checkout was slow"),
    ({"score": 3}, lambda row: row["score"] == 3),
    ({"segments": {"plan": "team"}}, lambda row: row["segments"] == {"plan": "team"}),
    ({"excluded": True}, lambda row: row["excluded"] is True),
    ({"created_at": "2026-11-21T00:00:00Z"},
     lambda row: row["created_at"] == "2026-11-21T00:00:00+00:00"),
], ids=["comment-added-later", "score", "segments", "excluded", "created_at"])
def test_repeat_with_new_content_updates_the_same_row(store_client, store, change, check):
    assert post(store_client, answer(1, 9)).status_code == 201
    [before] = stored(store)
    response = post(store_client, answer(1, 9) | change)
    assert response.status_code == 200
    assert response.get_json() == {"received": 1, "inserted": 0, "updated": 1, "unchanged": 0}
    [after] = stored(store)
    assert after["id"] == before["id"] and check(after)
    assert after["updated_at"] > before["updated_at"]
    if "created_at" not in change:  # a defaulted time is the first post's, kept on update
        assert after["created_at"] == before["created_at"]


def test_an_older_version_never_overwrites_a_newer_one(store_client, store):
    """Newest wins: a retry of an earlier version arriving after a correction changes nothing."""
    t0 = datetime.now(UTC) - timedelta(hours=2)
    first = answer(1, 2, updated_at=t0.isoformat())
    corrected = answer(1, 10, comment="Sorted in minutes",
                       updated_at=(t0 + timedelta(minutes=5)).isoformat())
    assert post(store_client, first).status_code == 201
    assert post(store_client, corrected).get_json()["updated"] == 1
    before = stored(store)
    late_retry = post(store_client, first)
    assert late_retry.status_code == 200
    assert late_retry.get_json() == {"received": 1, "inserted": 0, "updated": 0, "unchanged": 1}
    assert stored(store) == before
    assert (before[0]["score"], before[0]["comment"]) == (10, "Sorted in minutes")
    newer = answer(1, 8, updated_at=(t0 + timedelta(minutes=9)).isoformat())
    assert post(store_client, newer).get_json()["updated"] == 1
    assert stored(store)[0]["score"] == 8


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00Z", "2026-11-23T09:30:00", 17])
def test_a_bad_version_time_is_refused_naming_the_field(store_client, store, value):
    response = post(store_client, answer(1, 9, updated_at=value))
    assert response.status_code == 400
    [problem] = response.get_json()["problems"]
    assert problem["path"] == "updated_at" and problem["message"].startswith("must ")
    assert stored(store) == []


def test_comment_added_later_is_tagged_with_its_topics(client, app_store):
    post(client, answer(1, 4))
    assert stored(app_store)[0]["topics"] == []
    post(client, answer(1, 4, comment="Far too expensive since the price hike"))
    assert "Pricing" in stored(app_store)[0]["topics"]


def test_mixed_list_reports_inserted_updated_and_unchanged(client, app_store):
    post(client, [answer(1, 9), answer(2, 9)])
    response = post(client, [answer(1, 9), answer(2, 5), answer(3, 7)])
    assert response.status_code == 201  # something was new
    assert response.get_json() == {"received": 3, "inserted": 1, "updated": 1, "unchanged": 1}
    assert app_store.count_responses() == 3


def test_a_segment_name_in_another_case_is_the_configured_field(dash_app, client, app_store):
    """The webhooks match property names ignoring case; REST stored "Region" as a field of its
    own, which no screen, filter or comparison shows."""
    assert post(client, answer(1, segments={"Region": "LATAM", "PLAN": "team"})).status_code \
        == 201
    assert stored(app_store)[0]["segments"] == {"region": "LATAM", "plan": "team"}
    get_services(dash_app).poller.poll()
    shown = get(client, "/api/v1/summary?window=all&region=LATAM").get_json()
    assert shown["n"] == 1
    clash = post(client, answer(2, segments={"region": "EMEA", "Region": "LATAM"}))
    assert clash.status_code == 400
    assert clash.get_json()["problems"][0]["path"] == "[0].segments.Region"
    assert app_store.count_responses() == 1


def keyed(client, body: Any, key: str):
    return client.post(RESPONSES, data=json.dumps(body), content_type="application/json",
                       headers={**bearer(INGEST_TOKEN), "Idempotency-Key": key})


def test_an_idempotency_key_used_again_for_other_responses_overwrites_nothing(client,
                                                                             app_store):
    """The id a key derives was its hash and the item's place: a second batch under the same
    key overwrote the first batch's responses (updated 1, the earlier answer gone)."""
    first = keyed(client, [{"score": 3, "comment": "First batch"}], "reused-key")
    retry = keyed(client, [{"score": 3, "comment": "First batch"}], "reused-key")
    assert first.get_json()["inserted"] == 1 and retry.get_json()["unchanged"] == 1
    restamped = keyed(client, [{"score": 3, "comment": "First batch",
                                "updated_at": "2026-01-02T00:00:00Z"}], "reused-key")
    assert restamped.get_json()["inserted"] == 0  # a retry that stamps updated_at anew
    other = keyed(client, [{"score": 10, "comment": "Second batch"}], "reused-key")
    assert other.get_json()["inserted"] == 1
    assert sorted(r["comment"] for r in stored(app_store)) == ["First batch", "Second batch"]


def test_an_id_a_key_derives_given_again_in_the_batch_is_refused(client, app_store):
    keyed(client, [{"score": 3}], "key-7")
    derived = stored(app_store)[0]["external_id"]
    clash = keyed(client, [{"score": 3}, {"score": 9, "external_id": derived}], "key-7")
    assert clash.status_code == 400
    problem = clash.get_json()["problems"][0]
    assert problem["path"] == "[1].external_id" and "appear twice" in problem["message"]
    assert app_store.count_responses() == 1  # the batch refused whole


def test_same_external_id_in_another_source_is_another_response(client, app_store):
    post(client, answer(1, source="typeform"))
    post(client, answer(1, source="delighted"))
    assert sorted(r["source"] for r in stored(app_store)) == ["delighted", "typeform"]


# -- defaults and the excluded flag ------------------------------------------------------------


def test_created_at_defaults_to_the_time_of_the_post(client, app_store):
    start = datetime.now(UTC)
    post(client, answer(1))
    created = datetime.fromisoformat(stored(app_store)[0]["created_at"])
    assert start - timedelta(seconds=1) <= created <= datetime.now(UTC)


@pytest.mark.parametrize(("payload", "expected"), [
    ({}, False), ({"excluded": False}, False), ({"excluded": True}, True)])
def test_excluded_flag_is_stored(client, app_store, payload, expected):
    post(client, answer(1) | payload)
    assert stored(app_store)[0]["excluded"] is expected


def test_excluded_responses_are_stored_but_not_counted(dash_app, client, app_store):
    post(client, [answer(i, 10) for i in range(5)] + [answer(9, 0, excluded=True)])
    get_services(dash_app).poller.poll()
    assert app_store.count_responses() == 6
    summary = client.get("/api/v1/summary?window=all").get_json()
    assert (summary["n"], summary["nps"]) == (5, 100)


# -- tokens -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "url", "setting"), [
    ("post", RESPONSES, "NPS_TV_INGEST_TOKEN"),
    ("get", RESPONSES, "NPS_TV_ADMIN_TOKEN"),
    ("post", EVENTS, "NPS_TV_ADMIN_TOKEN"),
    ("get", EVENTS, "NPS_TV_ADMIN_TOKEN"),
    ("delete", f"{EVENTS}/1", "NPS_TV_ADMIN_TOKEN"),
])
def test_without_a_configured_token_requests_are_refused_saying_how_to_enable(
        settings, method, url, setting):
    client = create_app(settings).server.test_client()  # no tokens configured
    response = client.open(url, method=method.upper(), data=json.dumps(answer(1)),
                           content_type="application/json", headers=bearer("anything"))
    assert response.status_code == 403
    detail = response.get_json()["detail"]
    assert f"set {setting} on the server" in detail
    assert "Authorization: Bearer <token>" in detail


@pytest.mark.parametrize(("headers", "reason"), [
    ({}, "missing 'Authorization: Bearer <token>'"),
    ({"Authorization": "Bearer wrong-token"}, "token is not valid"),
    ({"Authorization": f"Bearer {INGEST_TOKEN}x"}, "token is not valid"),
    ({"Authorization": f"Basic {INGEST_TOKEN}"}, "missing 'Authorization: Bearer <token>'"),
    ({"Authorization": "Bearer"}, "missing 'Authorization: Bearer <token>'"),
    ({"Authorization": f"Bearer {ADMIN_TOKEN}"}, "token is not valid"),
], ids=["none", "wrong", "longer", "basic", "empty", "admin-token"])
def test_wrong_or_missing_ingest_token_is_401(client, app_store, headers, reason):
    response = client.post(RESPONSES, data=json.dumps(answer(1)),
                           content_type="application/json", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.get_json()["problems"] == [{"path": "authorization", "message": reason}]
    assert app_store.count_responses() == 0


@pytest.mark.parametrize(("method", "url"), [
    ("GET", RESPONSES), ("GET", EVENTS), ("POST", EVENTS), ("DELETE", f"{EVENTS}/1")])
def test_admin_endpoints_refuse_the_ingest_token(client, method, url):
    response = client.open(url, method=method, data=json.dumps({"label": "x"}),
                           content_type="application/json", headers=bearer(INGEST_TOKEN))
    assert response.status_code == 401


def test_bearer_scheme_is_case_insensitive(client):
    response = client.post(RESPONSES, data=json.dumps(answer(1)), content_type="application/json",
                           headers={"Authorization": f"bearer {INGEST_TOKEN}"})
    assert response.status_code == 201


# -- reading responses: paging and filters -----------------------------------------------------


def test_paging_walks_every_response_once_in_id_order(client, app_store):
    app_store.upsert_responses([make_record(i, i % 11) for i in range(23)])
    seen, after, pages = [], 0, 0
    while pages < 10:
        body = get(client, f"{RESPONSES}?limit=5&after_id={after}").get_json()
        seen += [r["id"] for r in body["responses"]]
        pages += 1
        if "next_after_id" not in body:
            break
        after = body["next_after_id"]
        assert after == body["responses"][-1]["id"]
    assert pages == 5
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 23


def test_full_last_page_points_to_an_empty_one(client, app_store):
    app_store.upsert_responses([make_record(i, 9) for i in range(4)])
    body = get(client, f"{RESPONSES}?limit=4").get_json()
    assert len(body["responses"]) == 4
    following = get(client, f"{RESPONSES}?limit=4&after_id={body['next_after_id']}").get_json()
    assert following == {"responses": []}


def test_default_page_is_100(client, app_store):
    app_store.upsert_responses([make_record(i, 9) for i in range(120)])
    body = get(client, RESPONSES).get_json()
    assert len(body["responses"]) == 100 and "next_after_id" in body


@pytest.fixture
def filtered_store(app_store: Store) -> Store:
    """Nine responses over three days, two sources, two plans and every category."""
    day = datetime(2026, 11, 10, 12, tzinfo=UTC)
    app_store.upsert_responses([
        make_record(1, 10, when=day, plan="team"),
        make_record(2, 9, when=day, plan="pro", source="typeform"),
        make_record(3, 8, when=day + timedelta(days=1), plan="team"),
        make_record(4, 7, when=day + timedelta(days=1), plan="pro", region="EMEA"),
        make_record(5, 6, when=day + timedelta(days=1), plan="team", source="typeform"),
        make_record(6, 0, when=day + timedelta(days=2), plan="pro"),
        make_record(7, 3, when=day + timedelta(days=2), plan="team", region="EMEA"),
        make_record(8, 10, when=day + timedelta(days=2, hours=11, minutes=59)),
        make_record(9, 5, when=day - timedelta(hours=13)),  # 2026-11-09 23:00 UTC
    ])
    return app_store


@pytest.mark.parametrize(("query", "expected"), [
    ("", ["1", "2", "3", "4", "5", "6", "7", "8", "9"]),
    ("from=2026-11-11", ["3", "4", "5", "6", "7", "8"]),
    ("to=2026-11-10", ["1", "2", "9"]),  # "to" includes the whole day
    ("from=2026-11-11&to=2026-11-11", ["3", "4", "5"]),
    ("from=2026-11-12&to=2026-11-12", ["6", "7", "8"]),
    ("source=typeform", ["2", "5"]),
    ("source=nobody", []),
    ("plan=team", ["1", "3", "5", "7"]),
    ("plan=team&region=EMEA", ["7"]),
    ("plan=enterprise", []),
    ("category=promoter", ["1", "2", "8"]),
    ("category=passive", ["3", "4"]),
    ("category=detractor", ["5", "6", "7", "9"]),
    ("category=detractor&plan=team&from=2026-11-11", ["5", "7"]),
    ("unknown_segment=x", ["1", "2", "3", "4", "5", "6", "7", "8", "9"]),  # not a segment field
])
def test_filters_select_matching_responses(client, filtered_store, query, expected):
    body = get(client, f"{RESPONSES}?{query}").get_json()
    assert sorted(r["external_id"] for r in body["responses"]) == expected


def test_filters_combine_with_paging(client, filtered_store):
    first = get(client, f"{RESPONSES}?plan=team&limit=2").get_json()
    rest = get(client, f"{RESPONSES}?plan=team&limit=2&after_id={first['next_after_id']}")
    ids = [r["external_id"] for r in first["responses"] + rest.get_json()["responses"]]
    assert ids == ["1", "3", "5", "7"]


@pytest.mark.parametrize(("query", "path"), [
    ("limit=0", "limit"), ("limit=501", "limit"), ("limit=ten", "limit"), ("limit=-5", "limit"),
    ("after_id=-1", "after_id"), ("after_id=1.5", "after_id"),
    ("from=yesterday", "from"), ("to=2026-02-30", "to"), ("category=fan", "category"),
])
def test_bad_query_parameters_are_refused_naming_them(client, query, path):
    response = get(client, f"{RESPONSES}?{query}")
    assert response.status_code == 400
    assert [p["path"] for p in response.get_json()["problems"]] == [path]


def test_every_bad_query_parameter_is_reported_at_once(client):
    problems = get(client, f"{RESPONSES}?limit=0&from=x&category=y").get_json()["problems"]
    assert {p["path"] for p in problems} == {"limit", "from", "category"}


# -- events ------------------------------------------------------------------------------------


def test_event_is_added_listed_and_deleted(client, app_store):
    created = post(client, {"label": "v2.3 released", "kind": "release",
                            "occurred_at": "2026-11-20T10:00:00+02:00", "note": "big one"},
                   url=EVENTS, token=ADMIN_TOKEN)
    assert created.status_code == 201
    event = created.get_json()
    assert event["occurred_at"] == "2026-11-20T08:00:00+00:00"
    listed = get(client, EVENTS).get_json()["events"]
    assert listed == [{"id": event["id"], "occurred_at": "2026-11-20T08:00:00+00:00",
                       "label": "v2.3 released", "kind": "release", "note": "big one"}]
    deleted = client.delete(f"{EVENTS}/{event['id']}", headers=bearer(ADMIN_TOKEN))
    assert (deleted.status_code, deleted.data) == (204, b"")
    assert get(client, EVENTS).get_json() == {"events": []}
    assert app_store.list_events() == []


def test_event_defaults_to_now_and_a_note_kind(client):
    start = datetime.now(UTC)
    body = post(client, {"label": "  Price change  "}, url=EVENTS, token=ADMIN_TOKEN).get_json()
    assert (body["label"], body["kind"], body["note"]) == ("Price change", "note", None)
    assert start - timedelta(seconds=1) <= datetime.fromisoformat(body["occurred_at"])


def test_events_are_listed_oldest_first(client):
    for label, when in (("b", "2026-11-02T00:00:00Z"), ("a", "2026-11-01T00:00:00Z"),
                        ("c", "2026-11-03T00:00:00Z")):
        post(client, {"label": label, "occurred_at": when}, url=EVENTS, token=ADMIN_TOKEN)
    assert [e["label"] for e in get(client, EVENTS).get_json()["events"]] == ["a", "b", "c"]


def patch(client, url: str, body: Any, token: str = ADMIN_TOKEN):
    return client.patch(url, data=json.dumps(body), content_type="application/json",
                        headers=bearer(token))


def test_an_event_is_edited_field_by_field(client, app_store):
    created = post(client, {"label": "v2.3", "kind": "release", "note": "n",
                            "occurred_at": "2026-11-20T08:00:00Z"},
                   url=EVENTS, token=ADMIN_TOKEN).get_json()
    url = f"{EVENTS}/{created['id']}"
    edited = patch(client, url, {"label": "  v2.3 released  ", "note": None})
    assert edited.status_code == 200
    assert edited.get_json() == {"id": created["id"], "occurred_at": "2026-11-20T08:00:00+00:00",
                                 "label": "v2.3 released", "kind": "release", "note": None}
    moved = patch(client, url, {"occurred_at": "2026-11-21T09:30:00+01:00"}).get_json()
    assert moved["occurred_at"] == "2026-11-21T08:30:00+00:00"
    [row] = app_store.list_events()
    assert (row.label, row.kind, row.note) == ("v2.3 released", "release", None)
    assert row.occurred_at.isoformat() == "2026-11-21T08:30:00+00:00"


@pytest.mark.parametrize(("body", "path", "reason"), [
    ({"label": ""}, "label", "must not be empty"),
    ({"occurred_at": "0001-01-01T00:00:00Z"}, "occurred_at", "must lie between"),
    ({"kind": "a b"}, "kind", "letters, digits"),
    ({"colour": "red"}, "colour", "is not a known field"),
    ({}, "body", "must be an object"),
    ([], "body", "must be an object"),
])
def test_a_refused_edit_changes_nothing(client, app_store, body, path, reason):
    created = post(client, {"label": "v2.3", "occurred_at": "2026-11-20T08:00:00Z"},
                   url=EVENTS, token=ADMIN_TOKEN).get_json()
    before = app_store.list_events()
    response = patch(client, f"{EVENTS}/{created['id']}", body)
    assert response.status_code == 400
    [problem] = response.get_json()["problems"]
    assert problem["path"] == path and reason in problem["message"]
    assert app_store.list_events() == before


def test_editing_needs_the_admin_token_and_an_existing_event(client):
    assert patch(client, f"{EVENTS}/1", {"label": "x"}, token="wrong").status_code == 401
    missing = patch(client, f"{EVENTS}/4242", {"label": "x"})
    assert missing.status_code == 404
    assert missing.get_json()["problems"] == [{"path": "id", "message": "no event with id 4242"}]


def test_deleting_an_unknown_event_is_404_naming_the_id(client):
    response = client.delete(f"{EVENTS}/4242", headers=bearer(ADMIN_TOKEN))
    assert response.status_code == 404
    assert response.get_json()["problems"] == [{"path": "id", "message": "no event with id 4242"}]


@pytest.mark.parametrize(("body", "path", "reason"), [
    ({}, "label", "is required"),
    ({"label": ""}, "label", "must not be empty"),
    ({"label": "x", "occurred_at": "0001-01-01T00:00:00Z"}, "occurred_at", "must lie between"),
    ({"label": "x", "kind": "a b"}, "kind", "letters, digits"),
    ({"label": "x", "occurred_at": "2026-11-20T10:00:00"}, "occurred_at", "time zone"),
    ({"label": "x", "colour": "red"}, "colour", "is not a known field"),
])
def test_invalid_event_is_refused_and_nothing_is_added(client, app_store, body, path, reason):
    response = post(client, body, url=EVENTS, token=ADMIN_TOKEN)
    assert response.status_code == 400
    [problem] = response.get_json()["problems"]
    assert problem["path"] == path and reason in problem["message"]
    assert app_store.list_events() == []


# -- the shared input rules (issue 6) ----------------------------------------------------------


def test_comment_loses_control_and_override_characters_but_keeps_its_lines(store_client, store):
    comment = "Great\x1b[31m support\u202e!\r\nSecond\tline\x07"
    response = post(store_client, answer(1, comment=comment, created_at=SEEN_AT))
    assert response.status_code == 201
    [row] = stored(store)
    assert row["comment"] == "Great[31m support!\r\nSecond\tline"


def test_comment_that_shows_nothing_is_stored_as_no_comment(store_client, store):
    """Zero-width and blank characters only: no comment, as an empty one (the import and the
    webhooks clean comments with the same rule)."""
    items = [answer(1, comment="\u200b\u200b \u2060\ufeff"), answer(2, comment=""),
             answer(3, comment="\u200bkept\u200b")]
    assert post(store_client, items).status_code == 201
    assert [row["comment"] for row in stored(store)] == [None, None, "\u200bkept\u200b"]


def test_times_at_the_ends_of_the_range_are_accepted(store_client, store):
    soon = (datetime.now(UTC) + timedelta(hours=23)).isoformat()
    response = post(store_client, [answer(1, created_at="2000-01-01T00:00:00Z"),
                                answer(2, created_at=soon)])
    assert response.status_code == 201
    assert [r["created_at"][:10] for r in stored(store)] == [
        "2000-01-01", soon[:10]]


@pytest.mark.parametrize(("when", "shown"), [
    ("2019-12-31T23:59:59Z", "got 2019-12-31T23:59:59Z"),
    ("+3h", "now + 2 h"),
])
def test_plausible_range_comes_from_the_settings(settings, store, when, shown):
    dash_app = create_app(settings.replace(
        database_url=store.url, ingest_token=INGEST_TOKEN, admin_token=ADMIN_TOKEN,
        earliest_date="2020-01-01", future_hours=2.0))
    client = dash_app.server.test_client()
    if when == "+3h":
        when = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    store.upsert_responses([make_record(1, 9)])
    before = stored(store)
    response = post(client, answer(7, created_at=when))
    assert response.status_code == 400
    [problem] = response.get_json()["problems"]
    assert problem["path"] == "created_at"
    assert problem["message"].startswith("must lie between 2020-01-01 and now + 2 h")
    assert shown in problem["message"]
    event = post(client, {"label": "launch", "occurred_at": when}, url=EVENTS,
                 token=ADMIN_TOKEN)
    assert (event.status_code, event.get_json()["problems"][0]["path"]) == (400, "occurred_at")
    assert stored(store) == before and store.list_events() == []
    get_services(dash_app).store.dispose()


def test_event_note_is_cleaned_like_a_comment(client):
    response = post(client, {"label": "v2.4 released", "note": "Fixes\x1b[0m\u202e\nand more"},
                    url=EVENTS, token=ADMIN_TOKEN)
    assert response.status_code == 201
    assert response.get_json()["note"] == "Fixes[0m\nand more"
