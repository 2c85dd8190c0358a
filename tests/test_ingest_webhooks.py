"""Survey-tool webhooks: documented payloads, upserts, signatures, tokens, segments, bad input."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from werkzeug.serving import make_server

from app.ingest.http import ApiError
from app.ingest.signatures import check_replay
from app.ingest.vendors import (
    build_segment_map,
    map_typeform,
    parse_vendor_score,
    parse_vendor_time,
)
from app.services import get_services
from app.web import create_app
from tests.conftest import INGEST_TOKEN

TOKEN = INGEST_TOKEN
SECRETS = {"delighted": "dl-api-key-123", "wootric": "wt-secret-456", "typeform": "tf-secret-789"}
SIGNED = tuple(SECRETS)
VENDORS = ("delighted", "wootric", "typeform", "asknicely")
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
T0 = 1732186844  # the Unix time in Delighted's example


# -- payloads copied in shape from each vendor's documentation (ids are fake) -----------------

def delighted_body(event: str = "survey_response.created", score=9, comment=None,
                   rid="5435", props=None, **data) -> dict:
    """app.delighted.com/docs/api/webhooks: event_type, event_id, event_data."""
    event_data = {
        "id": rid, "person": {"id": "5975", "email": "charlie@example.com",
                              "name": "Charlie Gravis", "created_at": T0 - 60},
        "survey_type": "nps", "score": score, "comment": comment,
        "permalink": "https://app.delighted.com/r/fakefakefake", "created_at": T0,
        "updated_at": T0 + 600, "person_properties": props, "notes": [], "tags": [],
        "additional_answers": [],
    }
    event_data.update(data)
    return {"event_type": event, "event_id": "b8d057c5fake", "event_data": event_data}


def sent_now(form: bool = False) -> str:
    """Wootric's delivery time (the signed ``timestamp``) for a delivery sent now."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S +0000" if form
                                      else "%Y-%m-%dT%H:%M:%S.000+00:00")


def wootric_body(event: str = "created", score=7, text=None, rid=1128, props=None,
                 mode="NPS", sent=None, **response) -> dict:
    """docs.wootric.com/webhooks: the JSON 'response created' sample, sent now."""
    body = {
        "id": rid, "email": "nps@example.com", "external_id": "123abc", "score": score,
        "text": text, "ip_address": "127.0.0.1", "origin_url": "https://wootric.com/",
        "end_user_id": 30,
        "end_user_properties": props or {"pricing_plan": "Enterprise", "product_plan": "Web App"},
        "survey_id": 1146, "created_at": "2016-08-04T13:57:26.558-07:00",
        "updated_at": "2016-08-04T13:57:26.558-07:00", "excluded_from_calculations": False,
    }
    body.update(response)
    return {"response": body, "event_name": event, "timestamp": sent or sent_now(),
            "account_token": "NPS-xxxxxxxx", "survey_mode": mode}


def wootric_form(event: str = "created", score="7", text="", rid="1128", props=None,
                 excluded="false", updated="2016-08-04 13:57:26 -0700", sent=None) -> bytes:
    """docs.wootric.com/webhooks: the URL-encoded 'response created' sample, sent now."""
    props = props or {"pricing_plan": "Enterprise", "product_plan": "Web App"}
    fields = [("response[id]", rid), ("response[email]", "nps@example.com"),
              ("response[external_id]", "123abc"), ("response[score]", score),
              ("response[text]", text), ("response[ip_address]", "127.0.0.1"),
              ("response[origin_url]", "https://wootric.com/"), ("response[end_user_id]", "30"),
              *((f"response[end_user_properties][{k}]", v) for k, v in props.items()),
              ("response[survey_id]", "1146"),
              ("response[created_at]", "2016-08-04 13:57:26 -0700"),
              ("response[updated_at]", updated),
              ("response[excluded_from_calculations]", excluded), ("event_name", event),
              ("account_token", "NPS-xxxxxxx"), ("survey_mode", "NPS"),
              ("timestamp", sent or sent_now(form=True))]
    return "&".join(f"{k}={quote(v, safe='')}" for k, v in fields).encode()


def typeform_body(event: str = "form_response", score=9, comment=None, token="a3a12ec6fake",
                  hidden=None, submitted_at="2018-01-18T18:17:02Z") -> dict:
    """typeform.com/developers/webhooks/example-payload, with an nps question."""
    answers = [
        {"type": "text", "text": "Laura",
         "field": {"id": "JwWggjAKtOkA", "type": "short_text", "ref": "readable_ref_short_text"}},
        {"type": "number", "number": score,
         "field": {"id": "Nps0fakeId01", "type": "nps", "ref": "readable_ref_nps"}},
    ]
    if comment is not None:
        answers.append({"type": "text", "text": comment,
                        "field": {"id": "DlXFaesGBpoF", "type": "long_text",
                                  "ref": "readable_ref_long_text"}})
    return {"event_id": "LtWXD3crgy", "event_type": event, "form_response": {
        "form_id": "lT4Z3j", "token": token, "submitted_at": submitted_at,
        "landed_at": "2018-01-18T18:07:02Z", "calculated": {"score": 0},
        "variables": [{"key": "score", "type": "number", "number": 4},
                      {"key": "name", "type": "text", "text": "typeform"}],
        "hidden": hidden or {"user_id": "abc123456"},
        "definition": {"id": "lT4Z3j", "title": "Webhooks example", "fields": [
            {"id": a["field"]["id"], "title": "?", "type": a["field"]["type"],
             "ref": a["field"]["ref"]} for a in answers]},
        "answers": answers}}


def asknicely_body(score="10", comment="", rid="345094", count=1, person=None,
                   question=None, responded="1714990125") -> dict:
    """AskNicely help centre, 'Triggering Webhooks in AskNicely': count, person, question."""
    return {"count": count,
            "person": {"id": "163012", "name": "Firstname Lastname", "firstname": "Firstname",
                       "lastname": "Lastname", "email": "tester@example.com",
                       "created": "1714990112", "segment": "general", **(person or {})},
            "question": {"id": rid, "score": score, "comment": comment, "sent": "1714990116",
                         "opened": "1714990122", "responded": responded, "segment": "general",
                         "deliverymethod": "email", "survey_template": "Default",
                         "review_site": None, "theme": None, "life_cycle": None,
                         **(question or {})}}


def as_json(payload) -> tuple[bytes, str]:
    return json.dumps(payload).encode(), JSON


def deliver(vendor: str, comment=None, props=None, **kw) -> tuple[bytes, str]:
    """The vendor's 'response created' delivery, or its update once a comment is added."""
    if vendor == "delighted":
        event = "survey_response.updated" if comment else "survey_response.created"
        return as_json(delighted_body(event, comment=comment, props=props, **kw))
    if vendor == "wootric":
        return as_json(wootric_body("updated" if comment else "created", text=comment,
                                    props=props, **kw))
    if vendor == "typeform":  # no update event: a redelivery of the same token
        return as_json(typeform_body(comment=comment, hidden=props, **kw))
    return as_json(asknicely_body(comment=comment or "", count=2 if comment else 1,
                                  person=props, **kw))


def signature(vendor: str, body: bytes, secret: str) -> dict[str, str]:
    if vendor == "delighted":
        mac = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return {"X-Delighted-Webhook-Signature": f"sha256={mac}"}
    if vendor == "wootric":
        return {"X-Wootric-Signature": "sha1=" + hmac.new(secret.encode(), body,
                                                         hashlib.sha1).hexdigest()}
    mac = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return {"Typeform-Signature": f"sha256={mac}"}


def post(client, vendor: str, body: bytes, content_type: str = JSON, token: str | None = TOKEN,
         headers: dict | None = None):
    query = f"?token={quote(token)}" if token is not None else ""
    return client.post(f"/api/v1/webhooks/{vendor}{query}", data=body,
                       content_type=content_type, headers=headers or {})


def snapshot(store):
    return store.list_responses(limit=500), store.count_responses()


@pytest.fixture
def make_client(make_app):
    """``make_client(store=None, **changes)``: a test client and the store its app writes to."""
    def build(store=None, **changes):
        dash_app = make_app(store=store, **changes)
        return dash_app.server.test_client(), get_services(dash_app).store
    return build


# -- documented payloads, upserts ---------------------------------------------------------------

@pytest.mark.parametrize("vendor", VENDORS)
def test_documented_payload_creates_one_response(make_client, vendor):
    client, store = make_client()
    response = post(client, vendor, *deliver(vendor))
    assert response.status_code == 201, response.json
    assert response.json == {"received": 1, "inserted": 1, "updated": 0, "unchanged": 0}
    [row] = store.list_responses(limit=500)
    expected = {"delighted": ("5435", 9), "wootric": ("1128", 7), "typeform": ("a3a12ec6fake", 9),
                "asknicely": ("345094", 10)}[vendor]
    assert (row["source"], row["external_id"], row["score"]) == (vendor, *expected)
    assert row["comment"] is None


@pytest.mark.parametrize("vendor", VENDORS)
def test_comment_added_later_updates_the_same_row(make_client, store, vendor):
    client, _ = make_client(store=store)
    assert post(client, vendor, *deliver(vendor)).status_code == 201
    later = post(client, vendor, *deliver(vendor, comment="Support was slow to answer"))
    assert later.status_code == 200 and later.json["updated"] == 1, later.json
    again = post(client, vendor, *deliver(vendor, comment="Support was slow to answer"))
    assert again.json == {"received": 1, "inserted": 0, "updated": 0, "unchanged": 1}
    [row] = store.list_responses(limit=500)
    assert row["comment"] == "Support was slow to answer" and row["source"] == vendor
    assert store.count_responses() == 1


def test_times_are_stored_in_utc(make_client):
    client, store = make_client()
    post(client, "wootric", wootric_form(), FORM)
    post(client, "delighted", *deliver("delighted"))
    rows = {r["source"]: r["created_at"] for r in store.list_responses(limit=500)}
    assert rows["wootric"] == "2016-08-04T20:57:26+00:00"
    assert rows["delighted"] == datetime.fromtimestamp(T0, UTC).isoformat()


def test_wootric_form_encoded_body_is_accepted_and_updated(make_client):
    client, store = make_client()
    created = post(client, "wootric", wootric_form(), FORM)
    assert created.status_code == 201, created.json
    updated = post(client, "wootric", wootric_form("updated", text="Great app, café ☕"), FORM)
    assert updated.json["updated"] == 1
    [row] = store.list_responses(limit=500)
    assert (row["external_id"], row["score"], row["comment"]) == ("1128", 7, "Great app, café ☕")


def test_wootric_excluded_from_calculations_is_kept(make_client):
    client, store = make_client()
    post(client, "wootric", wootric_form(excluded="true"), FORM)
    assert store.list_responses(limit=500)[0]["excluded"] is True


def test_typeform_short_text_answer_is_never_the_comment(make_client):
    client, store = make_client()
    post(client, "typeform", *deliver("typeform"))
    assert store.list_responses(limit=500)[0]["comment"] is None  # "Laura" is a name


# -- authentication -------------------------------------------------------------------------------

@pytest.mark.parametrize("vendor", SIGNED)
def test_correctly_signed_delivery_is_accepted(make_client, vendor):
    client, store = make_client(**{f"{vendor}_secret": SECRETS[vendor]})
    body, ctype = deliver(vendor)
    response = post(client, vendor, body, ctype, token=None,
                    headers=signature(vendor, body, SECRETS[vendor]))
    assert response.status_code == 201, response.json
    assert store.count_responses() == 1


def test_wootric_signature_covers_the_raw_form_body(make_client):
    client, store = make_client(wootric_secret=SECRETS["wootric"])
    body = wootric_form()
    response = post(client, "wootric", body, FORM, token=None,
                    headers=signature("wootric", body, SECRETS["wootric"]))
    assert response.status_code == 201, response.json


@pytest.mark.parametrize("vendor", SIGNED)
@pytest.mark.parametrize("variant", ["missing", "wrong", "other-body", "other-secret",
                                     "token-instead"])
def test_bad_signature_is_401_and_writes_nothing(make_client, vendor, variant):
    client, store = make_client(**{f"{vendor}_secret": SECRETS[vendor]})
    body, ctype = deliver(vendor)
    headers = {
        "missing": {},
        "wrong": {name: "sha256=bm90IGEgc2lnbmF0dXJl" for name in signature(vendor, b"", "x")},
        "other-body": signature(vendor, body + b" ", SECRETS[vendor]),
        "other-secret": signature(vendor, body, "not-the-secret"),
        "token-instead": {},
    }[variant]
    token = TOKEN if variant == "token-instead" else None
    response = post(client, vendor, body, ctype, token=token, headers=headers)
    assert response.status_code == 401
    [problem] = response.json["problems"]
    assert problem["path"] in signature(vendor, b"", "x")
    assert ("missing" if variant in {"missing", "token-instead"} else "does not match") \
        in problem["message"]
    assert store.count_responses() == 0


@pytest.mark.parametrize("vendor", VENDORS)
def test_token_in_url_works_without_a_secret(make_client, vendor):
    client, store = make_client()
    assert post(client, vendor, *deliver(vendor), token=TOKEN).status_code == 201
    assert store.count_responses() == 1


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("token", [None, "", "wrong-token", TOKEN + "x", TOKEN[:-1]])
def test_wrong_or_missing_token_is_401(make_client, vendor, token):
    client, store = make_client()
    response = post(client, vendor, *deliver(vendor), token=token)
    assert response.status_code == 401
    assert response.json["problems"][0]["path"] == "token"
    assert store.count_responses() == 0


def test_asknicely_may_send_the_token_as_a_custom_header(make_client):
    client, store = make_client()
    response = post(client, "asknicely", *deliver("asknicely"), token=None,
                    headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 201


@pytest.mark.parametrize("vendor", VENDORS)
def test_neither_secret_nor_token_refuses_and_says_what_to_set(make_client, vendor):
    client, store = make_client(ingest_token="")
    response = post(client, vendor, *deliver(vendor))
    assert response.status_code == 403
    message = response.json["problems"][0]["message"]
    assert "NPS_TV_INGEST_TOKEN" in message and "?token=" in message
    if vendor in SIGNED:
        assert f"NPS_TV_{vendor.upper()}_SECRET" in message
    assert store.count_responses() == 0


def test_unknown_vendor_is_404_naming_the_supported_ones(make_client):
    client, store = make_client()
    response = post(client, "qualtrics", *deliver("delighted"))
    assert response.status_code == 404
    assert "delighted, wootric, typeform, asknicely" in response.json["detail"]
    assert store.count_responses() == 0


# -- events we do not use -------------------------------------------------------------------------

@pytest.mark.parametrize("vendor, body, content_type, ignored", [
    ("delighted", *as_json({"event_type": "unsubscribe.created", "event_id": "x",
                            "event_data": {"person": {"id": "5975"}}}), "unsubscribe.created"),
    ("delighted", *as_json(delighted_body(survey_type="csat", score=5)),
     "survey_response.created (survey_type csat)"),
    ("wootric", *as_json({"decline": {"id": 19, "end_user_id": 31}, "event_name": "created"}),
     "decline.created"),
    ("wootric", b"decline[id]=19&decline[end_user_id]=31&event_name=created", FORM,
     "decline.created"),
    ("wootric", *as_json(wootric_body(mode="CES", score=3)),
     "response.created (survey_mode CES)"),
    ("typeform", *as_json(typeform_body(event="form_response_partial")), "form_response_partial"),
    ("typeform", *as_json({**typeform_body(), "form_response": {
        **typeform_body()["form_response"], "answers": []}}), "form_response (no nps answer)"),
], ids=["delighted-unsubscribe", "delighted-csat", "wootric-decline-json",
        "wootric-decline-form", "wootric-ces", "typeform-partial", "typeform-no-nps"])
def test_unused_event_is_acknowledged_and_ignored(make_client, vendor, body, content_type,
                                                  ignored):
    client, store = make_client()
    response = post(client, vendor, body, content_type)
    assert response.status_code == 200
    assert response.json == {"ignored": ignored}
    assert store.count_responses() == 0


# -- segments -------------------------------------------------------------------------------------

@pytest.mark.parametrize("vendor", VENDORS)
def test_segments_follow_the_configured_mapping(make_client, vendor):
    client, store = make_client(webhook_segments=("product=Product Line", "region=Country"))
    props = {"Product Line": "Mobile", "COUNTRY": "NZ", "Plan": "Pro", "product": "ignored"}
    assert post(client, vendor, *deliver(vendor, props=props)).status_code == 201
    assert store.list_responses(limit=500)[0]["segments"] == {
        "product": "Mobile", "region": "NZ", "plan": "Pro"}


@pytest.mark.parametrize("vendor", VENDORS)
def test_segments_default_to_the_property_of_the_same_name(make_client, vendor):
    client, store = make_client()
    props = {"Product": "Web", "region": 44, "colour": "blue"}
    post(client, vendor, *deliver(vendor, props=props))
    assert store.list_responses(limit=500)[0]["segments"] == {"product": "Web", "region": "44"}


def test_a_malformed_segment_mapping_fails_at_startup(settings):
    with pytest.raises(ValueError, match="NPS_TV_WEBHOOK_SEGMENTS"):
        create_app(settings.replace(webhook_segments=("product",)))
    assert build_segment_map(("a=B",), ("plan",)) == (("plan", "plan"), ("a", "b"))


# -- concurrency ----------------------------------------------------------------------------------

def test_the_same_delivery_three_times_at_once_stores_one_response(settings, store):
    dash_app = create_app(settings.replace(ingest_token=TOKEN), store=store)
    server = make_server("127.0.0.1", 0, dash_app.server, threaded=True)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    body, ctype = deliver("delighted", comment="Checkout is fast")
    url = f"http://127.0.0.1:{server.server_port}/api/v1/webhooks/delighted?token={TOKEN}"
    barrier, results = threading.Barrier(3), []

    def send():
        request = urllib.request.Request(url, data=body, headers={"Content-Type": ctype})
        barrier.wait()
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                results.append((reply.status, json.loads(reply.read())))
        except urllib.error.HTTPError as exc:
            results.append((exc.code, json.loads(exc.read())))

    threads = [threading.Thread(target=send) for _ in range(3)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(15)
    finally:
        server.shutdown()
        serving.join(5)
    assert sorted(status for status, _ in results) == [200, 200, 201], results
    assert sum(reply["inserted"] for _, reply in results) == 1
    assert store.count_responses() == 1


# -- newest wins: an older version never overwrites a newer one ----------------------------------

WOOTRIC_CREATED, WOOTRIC_UPDATED = "2016-08-04T13:57:26.558-07:00", "2016-08-04T14:05:00.000-07:00"


def versions(vendor: str) -> tuple[tuple[bytes, str], tuple[bytes, str]]:
    """The vendor's 'created' delivery (a score of 2) and its later update (10, a comment),
    each carrying the vendor's own time of that version."""
    if vendor == "delighted":  # event_data.updated_at
        return (as_json(delighted_body("survey_response.created", score=2, updated_at=T0)),
                as_json(delighted_body("survey_response.updated", score=10,
                                       comment="Fixed within the hour", updated_at=T0 + 600)))
    if vendor == "wootric":  # response.updated_at
        return (as_json(wootric_body("created", score=2, updated_at=WOOTRIC_CREATED)),
                as_json(wootric_body("updated", score=10, text="Fixed within the hour",
                                     updated_at=WOOTRIC_UPDATED)))
    # AskNicely: count increments with each webhook for the response
    return (as_json(asknicely_body(score="2", count=1)),
            as_json(asknicely_body(score="10", comment="Fixed within the hour", count=2)))


@pytest.mark.parametrize("vendor", ["delighted", "wootric"])
def test_a_replayed_signed_created_delivery_leaves_the_updated_score(make_client, store, vendor):
    secret = SECRETS[vendor]
    client, _ = make_client(store=store, **{f"{vendor}_secret": secret})
    (old, ctype), (new, _) = versions(vendor)
    for body in (old, new):
        sent = post(client, vendor, body, ctype, token=None,
                    headers=signature(vendor, body, secret))
        assert sent.status_code in (200, 201), sent.json
    before = snapshot(store)
    # An attacker (or a proxy) replays the captured, validly signed "created" delivery.
    replay = post(client, vendor, old, ctype, token=None, headers=signature(vendor, old, secret))
    assert replay.status_code == 200, replay.json
    assert replay.json == {"received": 1, "inserted": 0, "updated": 0, "unchanged": 1}
    assert snapshot(store) == before
    [row] = before[0]
    assert (row["score"], row["comment"]) == (10, "Fixed within the hour")


@pytest.mark.parametrize("vendor", ["delighted", "wootric", "asknicely"])
def test_a_late_retry_of_an_older_version_changes_nothing(make_client, store, vendor):
    client, _ = make_client(store=store)
    (old, ctype), (new, _) = versions(vendor)
    assert post(client, vendor, new, ctype).status_code == 201  # the update overtook it
    before = snapshot(store)
    late = post(client, vendor, old, ctype)
    assert late.status_code == 200, late.json
    assert late.json["unchanged"] == 1 and late.json["updated"] == 0
    assert snapshot(store) == before
    assert before[0][0]["score"] == 10


@pytest.mark.parametrize("vendor", ["delighted", "wootric", "asknicely"])
def test_a_newer_version_still_updates(make_client, store, vendor):
    client, _ = make_client(store=store)
    (old, ctype), (new, _) = versions(vendor)
    assert post(client, vendor, old, ctype).status_code == 201
    updated = post(client, vendor, new, ctype)
    assert updated.json["updated"] == 1, updated.json
    [row] = store.list_responses(limit=500)
    assert (row["score"], row["comment"]) == (10, "Fixed within the hour")


def test_a_signed_wootric_delivery_within_the_replay_window_is_accepted(make_client):
    client, store = make_client(wootric_secret=SECRETS["wootric"], replay_window_seconds=300)
    recent = datetime.now(UTC).timestamp() - 240
    body = wootric_form(sent=datetime.fromtimestamp(recent, UTC).strftime(
        "%Y-%m-%d %H:%M:%S +0000"))
    response = post(client, "wootric", body, FORM, token=None,
                    headers=signature("wootric", body, SECRETS["wootric"]))
    assert response.status_code == 201, response.json


def test_a_replay_window_of_zero_turns_the_check_off(make_client):
    client, store = make_client(wootric_secret=SECRETS["wootric"], replay_window_seconds=0)
    body = wootric_form(sent="2016-08-04 13:57:31 -0700")
    response = post(client, "wootric", body, FORM, token=None,
                    headers=signature("wootric", body, SECRETS["wootric"]))
    assert response.status_code == 201, response.json


def test_an_unsigned_delivery_time_is_not_a_replay_check(make_client):
    # With the URL token the timestamp is not signed, so it proves nothing and is not checked.
    client, store = make_client()
    response = post(client, "wootric", wootric_form(sent="2016-08-04 13:57:31 -0700"), FORM)
    assert response.status_code == 201, response.json


@pytest.mark.parametrize("vendor", VENDORS)
def test_times_follow_the_configured_plausible_range(make_client, vendor):
    client, store = make_client(earliest_date="2020-01-01", future_hours=1.0)
    body, ctype = deliver(vendor)  # Wootric's and Typeform's samples date from 2016 and 2018
    response = post(client, vendor, body, ctype)
    if vendor in ("wootric", "typeform"):
        assert response.status_code == 400, response.json
        problems = response.json["problems"]
        assert {p["path"] for p in problems} == {
            "wootric": {"response.created_at", "response.updated_at"},
            "typeform": {"form_response.submitted_at"}}[vendor]
        assert all(p["message"].startswith("must lie between 2020-01-01 and now + 1 h")
                   for p in problems)
        assert store.count_responses() == 0
    else:
        assert response.status_code == 201, response.json
    later = datetime.now(UTC).timestamp() + 2 * 3600
    response = post(client, "delighted", *as_json(delighted_body(rid="9", created_at=later)))
    assert response.status_code == 400
    assert response.json["problems"][0]["path"] == "event_data.created_at"


@pytest.mark.parametrize("vendor", VENDORS)
def test_comments_lose_control_and_direction_characters(make_client, vendor):
    client, store = make_client()
    post(client, vendor, *deliver(vendor))
    comment = "Great\u202e support\x1b[2J, \u2066thanks\u2069\x07!"
    response = post(client, vendor, *deliver(vendor, comment=comment))
    assert response.status_code == 200, response.json
    assert store.list_responses(limit=500)[0]["comment"] == "Great support[2J, thanks!"


# -- the catalogue of bad input -------------------------------------------------------------------

def _delighted(**data) -> bytes:
    return json.dumps(delighted_body(**data)).encode()


HUGE = json.dumps(delighted_body(comment="x" * 5000)).encode()
BAD = [
    # id, vendor, body, content type, signed?, status, path, reason
    ("score-fraction", "delighted", _delighted(score="9.5"), JSON, False, 400,
     "event_data.score", "integer from 0 to 10"),
    ("score-empty-string", "delighted", _delighted(score=""), JSON, False, 400,
     "event_data.score", "integer from 0 to 10"),
    ("score-boolean", "delighted", _delighted(score=True), JSON, False, 400,
     "event_data.score", "got True"),
    ("score-out-of-range", "asknicely", json.dumps(asknicely_body(score="11")).encode(), JSON,
     False, 400, "question.score", "from 0 to 10"),
    ("score-float", "wootric", json.dumps(wootric_body(score=9.0)).encode(), JSON, False, 400,
     "response.score", "integer"),
    ("score-word", "typeform", json.dumps(typeform_body(score="ten")).encode(), JSON, False,
     400, "form_response.answers[1].number", "integer"),
    ("score-nan", "delighted", _delighted().replace(b'"score": 9', b'"score": NaN'), JSON,
     False, 400, "body", "NaN"),
    ("time-infinity", "delighted", _delighted().replace(str(T0).encode(), b"Infinity"), JSON,
     False, 400, "body", "Infinity"),
    ("missing-id", "delighted", _delighted(id=None), JSON, False, 400, "event_data.id",
     "is required"),
    ("missing-event-data", "delighted", b'{"event_type": "survey_response.created"}', JSON,
     False, 400, "event_data", "is required"),
    ("missing-question", "asknicely", b'{"count": 1, "person": {"id": "1"}}', JSON, False, 400,
     "question", "is required"),
    ("id-object", "asknicely", json.dumps(asknicely_body(rid={"id": 1})).encode(), JSON, False,
     400, "question.id", "string or integer"),
    ("naive-timestamp", "typeform",
     json.dumps(typeform_body(submitted_at="2018-01-18T18:17:02")).encode(), JSON, False, 400,
     "form_response.submitted_at", "time zone"),
    ("millisecond-timestamp", "asknicely",
     json.dumps(asknicely_body(responded="1714990125000")).encode(), JSON, False, 400,
     "question.responded", "milliseconds"),
    ("future-timestamp", "delighted", _delighted(created_at=4102444800), JSON, False, 400,
     "event_data.created_at", "must lie between 2000-01-01 and now + 24 h"),
    ("comment-number", "wootric", json.dumps(wootric_body(text=42)).encode(), JSON, False, 400,
     "response.text", "text or null"),
    ("segment-list", "delighted", _delighted(props={"product": ["a", "b"]}), JSON, False, 400,
     "event_data.person_properties.product", "text or a number"),
    ("wrong-signature", "typeform", json.dumps(typeform_body()).encode(), JSON, "wrong", 401,
     "Typeform-Signature", "does not match"),
    ("missing-signature", "delighted", _delighted(), JSON, "missing", 401,
     "X-Delighted-Webhook-Signature", "is missing"),
    ("tampered-form", "wootric", wootric_form(score="0"), FORM, "tampered", 401,
     "X-Wootric-Signature", "does not match"),
    ("wrong-token", "asknicely", json.dumps(asknicely_body()).encode(), JSON, "bad-token", 401,
     "token", "not valid"),
    ("replayed-delivery", "delighted", _delighted(), JSON, False, 200, None, None),
    ("replayed-signed-delivery", "typeform", json.dumps(typeform_body()).encode(), JSON, True,
     200, None, None),
    ("content-type-text", "delighted", _delighted(), "text/plain", False, 415, "Content-Type",
     "must be application/json"),
    ("content-type-multipart", "wootric", wootric_form(), "multipart/form-data", False, 415,
     "Content-Type", "x-www-form-urlencoded"),
    ("form-for-json-vendor", "typeform", b"event_type=form_response", FORM, False, 415,
     "Content-Type", "application/json"),
    ("invalid-utf8-json", "delighted", _delighted(comment="ok").replace(b"ok", b"o\xffk"), JSON,
     False, 400, "body", "UTF-8"),
    ("invalid-utf8-form", "wootric",
     wootric_form().replace(b"response[text]=", b"response[text]=caf%E9"), FORM, False, 400,
     "body", "UTF-8"),
    ("nul-in-form", "wootric", wootric_form(text="a\x00b"), FORM, False, 400, "response[text]",
     "NUL"),
    ("duplicate-keys", "delighted", b'{"event_type": "a", "event_type": "b"}', JSON, False, 400,
     "event_type", "twice"),
    ("duplicate-form-field", "wootric", wootric_form() + b"&response[score]=10", FORM, False,
     400, "response[score]", "twice"),
    ("json-array", "asknicely", b"[1, 2]", JSON, False, 400, "body", "JSON object"),
    ("missing-event-type", "typeform", b'{"form_response": {}}', JSON, False, 400, "event_type",
     "is required"),
    ("empty-body", "delighted", b"", JSON, False, 400, "body", "empty"),
    ("whitespace-body", "wootric", b"  \n ", FORM, False, 400, "body", "empty"),
    ("huge-body", "delighted", HUGE, JSON, False, 413, "body", "limit"),
    # The shared input rules (app/ingest/rules.py), with the messages REST and import give.
    ("score-arabic-digits", "delighted", _delighted(score="\u0661\u0660"), JSON, False, 400,
     "event_data.score", "must be written with the digits 0-9"),
    ("score-fullwidth-digits", "asknicely",
     json.dumps(asknicely_body(score="\uff19")).encode(), JSON, False, 400, "question.score",
     "must be written with the digits 0-9"),
    ("unix-time-arabic-digits", "asknicely",
     json.dumps(asknicely_body(responded="\u0661\u0667\u0661\u0664\u0669\u0669\u0660"
                                         "\u0661\u0662\u0665")).encode(), JSON, False, 400,
     "question.responded", "ISO 8601"),
    ("segment-escape-codes", "delighted", _delighted(props={"product": "\x1b[31mRed"}), JSON,
     False, 400, "event_data.person_properties.product",
     "must be one line without control characters"),
    ("segment-line-break", "wootric",
     wootric_form(props={"product": "Web\nApp"}), FORM, False, 400,
     "response.end_user_properties.product", "must be one line without control characters"),
    ("segment-direction-override", "typeform",
     json.dumps(typeform_body(hidden={"product": "\u202egnitekram"})).encode(), JSON, False,
     400, "form_response.hidden.product", "text-direction override"),
    ("segment-too-long", "asknicely",
     json.dumps(asknicely_body(person={"product": "p" * 300})).encode(), JSON, False, 400,
     "person.product", "is 300 characters; the limit is 200"),
    ("id-line-break", "delighted", _delighted(rid="54\n35"), JSON, False, 400,
     "event_data.id", "must be one line without control characters"),
    ("id-direction-override", "wootric", wootric_form(rid="\u202e1128"), FORM, False, 400,
     "response.id", "text-direction override"),
    ("version-time-in-the-future", "delighted", _delighted(updated_at=4102444800), JSON,
     False, 400, "event_data.updated_at", "must lie between 2000-01-01 and now + 24 h"),
    ("asknicely-count-not-a-number", "asknicely",
     json.dumps(asknicely_body(count="two")).encode(), JSON, False, 400, "count",
     "whole number"),
    # Wootric signs its delivery time: a captured delivery replays only within the window.
    ("replay-outside-window", "wootric", wootric_form(sent="2016-08-04 13:57:31 -0700"), FORM,
     True, 401, "timestamp", "refused as replays"),
    ("signed-time-missing", "wootric",
     json.dumps({k: v for k, v in wootric_body().items() if k != "timestamp"}).encode(), JSON,
     True, 401, "timestamp", "signed delivery time"),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_input_is_refused_and_changes_nothing(make_client, case):
    _, vendor, body, ctype, signed, status, path, reason = case
    secret = SECRETS.get(vendor) if signed and signed != "bad-token" else None
    client, store = make_client(max_body_bytes=4000,
                                **({f"{vendor}_secret": secret} if secret else {}))
    seed, seed_type = {"delighted": (_delighted(), JSON), "wootric": (wootric_form(), FORM),
                       "typeform": as_json(typeform_body()),
                       "asknicely": as_json(asknicely_body())}[vendor]
    seeded = post(client, vendor, seed, seed_type, token=None if secret else TOKEN,
                  headers=signature(vendor, seed, secret) if secret else None)
    assert seeded.status_code == 201, seeded.json
    before = snapshot(store)

    headers = {True: signature(vendor, body, secret) if secret else None, False: None,
               "wrong": {"Typeform-Signature": "sha256=AAAA"}, "missing": {},
               "tampered": signature(vendor, wootric_form(score="10"), secret) if secret else None,
               "bad-token": None}[signed]
    token = "not-the-token" if signed == "bad-token" else (None if secret else TOKEN)
    response = post(client, vendor, body, ctype, token=token, headers=headers)

    assert response.status_code == status, response.json
    if path is None:  # a replay is acknowledged, and adds nothing
        assert response.json == {"received": 1, "inserted": 0, "updated": 0, "unchanged": 1}
    else:
        problems = response.json["problems"]
        assert any(p["path"] == path and reason in p["message"] for p in problems), problems
        assert path in response.json["detail"]
    assert snapshot(store) == before


# -- field parsers ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [(9, 9), ("9", 9), (" 10 ", 10), (0, 0), ("0", 0)])
def test_vendor_scores_accept_integers_and_integer_strings(value, expected):
    assert parse_vendor_score(value) == expected


@pytest.mark.parametrize("value", ["9.5", "", " ", True, False, None, 11, -1, "-1", 9.0,
                                   float("nan"), "nine", [9], {"score": 9}])
def test_vendor_scores_refuse_everything_else(value):
    with pytest.raises(ValueError):
        parse_vendor_score(value)


@pytest.mark.parametrize("value", [T0, str(T0), f"{T0}.5", "2024-11-21T11:00:44Z",
                                   "2024-11-21 12:00:44 +0100", "2024-11-21T03:00:44.000-08:00"])
def test_vendor_times_accept_unix_seconds_and_iso_with_offset(value):
    assert parse_vendor_time(value).replace(microsecond=0) == datetime.fromtimestamp(T0, UTC)


@pytest.mark.parametrize("value", ["2024-11-21T11:00:44", "yesterday", "", True, None,
                                   T0 * 1000, -5, float("inf"), 946684799, "1e9",
                                   "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
                                   [T0], {"t": T0}])
def test_vendor_times_refuse_naive_garbage_and_out_of_range(value):
    with pytest.raises(ValueError):
        parse_vendor_time(value)


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_beyond_the_calendar_in_utc_is_a_400_naming_the_field(make_client, moment):
    """Year 1 at +01:00 is before year 1 in UTC: it was an HTML 500 (OverflowError), which a
    vendor retries for ever; the signed-time replay check read it the same way."""
    client, store = make_client()
    response = post(client, "delighted", *as_json(delighted_body(rid="y1", created_at=moment)))
    assert response.status_code == 400, response.data[:200]
    problem = response.json["problems"][0]
    assert problem["path"] == "event_data.created_at"
    assert problem["message"].startswith("must lie between 2000-01-01")
    assert store.count_responses() == 0
    with pytest.raises(ApiError) as refused:
        check_replay("wootric", {"timestamp": moment}, 300)
    assert refused.value.status == 401


def test_typeform_mapping_is_pure_and_reads_hidden_then_variables():
    payload = typeform_body(comment="Fine", hidden={"Region": "EU"})
    [record] = map_typeform(payload, (("region", "region"), ("name", "name")))
    assert record.segments == {"region": "EU", "name": "typeform"}
    assert (record.external_id, record.score, record.comment) == ("a3a12ec6fake", 9, "Fine")


def test_a_refused_delivery_is_logged_by_its_fields_without_values(make_client, caplog,
                                                                    monkeypatch):
    """A signed delivery refused for one bad segment lost the whole response without a trace
    (nobody reads a vendor's delivery log); a flood of them logs one line per 10 s."""
    from app import api

    monkeypatch.setattr(api, "REFUSALS", api.RefusalLog())  # not the earlier tests' counts
    client, store = make_client()
    caplog.set_level("WARNING")
    bad = delighted_body(rid="log1", props={"Region": "EM\nEA-secret-value"})
    for _ in range(3):
        response = post(client, "delighted", *as_json(bad))
        assert response.status_code == 400
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("refused POST")]
    assert len(lines) == 1, lines
    assert "/api/v1/webhooks/delighted (400)" in lines[0] and "region" in lines[0].lower()
    assert "secret-value" not in lines[0] and "token" not in lines[0]
    assert store.count_responses() == 0
    # A path made up anew each time is one route, and cannot forge a line of its own.
    caplog.clear()
    for i in range(5):
        client.post(f"/api/v1/webhooks/x{i}%0AFAKE%20refused%20line", json={})
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("refused POST")]
    assert len(lines) == 1 and "\n" not in lines[0] and "?FAKE" in lines[0], lines
