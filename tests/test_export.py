"""Exports and the segment comparison: Excel-safe cells, streaming in pages, who sees what,
and a ranking that does not put a three-response segment on top."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

import app.export_api
from app.access import COOKIE
from app.export import excel_safe, stream_csv
from app.services import get_services
from tests.conftest import ADMIN_TOKEN, LINK_SECRET, make_record, poll

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.mark.parametrize(("cell", "safe"), [
    ("=HYPERLINK(\"http://x\",\"y\")", "'=HYPERLINK(\"http://x\",\"y\")"),
    ("+1+1", "'+1+1"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t'=1"), ("\r=1", "'\r'=1"), ("  =1+1", "'  =1+1"),
    # After a ";" (a separator in semicolon locales) or a line break, with blanks between.
    ("ok;=cmd|' /C calc'!A0;x", "ok;'=cmd|' /C calc'!A0;x"), ("a; -1", "a; '-1"),
    ("line1\n=2+3", "line1\n'=2+3"), ("one;two", "one;two"), ("a-b; c+d", "a-b; c+d"),
    ("Great = value", "Great = value"), ("", ""), (None, None), (-12, -12), (9, 9),
])
def test_formula_like_cells_are_neutralised(cell, safe):
    assert excel_safe(cell) == safe


def test_stream_csv_yields_chunks_and_neutralises_every_cell(monkeypatch):
    monkeypatch.setattr("app.export.FLUSH_ROWS", 2)
    chunks = list(stream_csv(["id", "=head"], ([i, f"=cmd{i}"] for i in range(5))))
    assert len(chunks) == 3  # 2 + 2 + 1 rows (the header rides with the first)
    rows = list(csv.reader(io.StringIO("".join(chunks))))
    assert rows[0] == ["id", "'=head"]
    assert rows[1:] == [[str(i), f"'=cmd{i}"] for i in range(5)]


def _csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def _seed(dash_app, n: int = 12, **segments) -> None:
    now = datetime.now(UTC)
    get_services(dash_app).store.upsert_responses([
        make_record(i, 10 if i % 2 else 3, when=now - timedelta(days=1, minutes=i),
                    comment=f"=cmd|' /C calc'!A0 call me at bob@example.com {i}",
                    **(segments or {"product": "Ledger", "region": "EMEA"}))
        for i in range(n)])
    poll(dash_app)


def test_the_responses_csv_streams_every_row_in_pages(dash_app, client, monkeypatch):
    monkeypatch.setattr(app.export_api, "EXPORT_PAGE", 5)  # 12 rows: pages of 5, 5, 2
    _seed(dash_app)
    rows = _csv(client.get("/api/v1/responses.csv", headers=ADMIN))
    assert [int(r["id"]) for r in rows] == sorted(int(r["id"]) for r in rows)
    assert len(rows) == 12
    first = rows[0]
    assert first["comment"].startswith("'=cmd")  # neutralised, and the admin sees it whole
    assert "bob@example.com" in first["comment"]
    assert (first["product"], first["region"], first["excluded"]) == ("Ledger", "EMEA", "false")
    assert {r["category"] for r in rows} == {"promoter", "detractor"}
    detractors = _csv(client.get("/api/v1/responses.csv?category=detractor", headers=ADMIN))
    assert len(detractors) == 6 and {r["score"] for r in detractors} == {"3"}


def test_the_responses_csv_needs_the_admin_token_or_a_link(dash_app, client):
    _seed(dash_app)
    assert client.get("/api/v1/responses.csv").status_code == 401
    assert client.get("/api/v1/responses.csv",
                      headers={"Authorization": "Bearer wrong"}).status_code == 401
    bad = client.get("/api/v1/responses.csv?category=fan", headers=ADMIN)
    assert bad.status_code == 400 and "category" in bad.get_data(as_text=True)


def test_a_link_exports_its_segments_masked_or_without_comments(links_app):
    from tests.test_access import make_link

    client = links_app.server.test_client()
    get_services(links_app).store.upsert_responses([make_record(
        900, 4, comment=f"{LINK_SECRET}: mail bob@example.com", product="Ledger")])
    _, token = make_link(links_app, role="manager", screen="product=Ledger")
    client.set_cookie(COOKIE, token)
    rows = _csv(client.get("/api/v1/responses.csv"))
    assert rows and {r["product"] for r in rows} == {"Ledger"}
    assert all(LINK_SECRET in r["comment"] for r in rows)
    # Personal data is masked for a link, as on the screens (the admin sees it whole).
    mailed = [r["comment"] for r in rows if "mail" in r["comment"]]
    assert mailed and "bob@example.com" not in mailed[0] and "[email]" in mailed[0]
    assert client.get("/api/v1/responses.csv?product=Pulse").status_code == 403
    _, hidden = make_link(links_app, "Hidden", role="manager", screen="product=Ledger",
                          comments="hide")
    client.set_cookie(COOKIE, hidden)
    assert {r["comment"] for r in _csv(client.get("/api/v1/responses.csv"))} == {""}


def _answers(start: int, promoters: int, passives: int, detractors: int, **segments):
    when = datetime.now(UTC) - timedelta(days=2)
    scores = [10] * promoters + [8] * passives + [2] * detractors
    return [make_record(start + i, s, when=when, **segments) for i, s in enumerate(scores)]


def test_the_comparison_ranks_by_the_lower_bound_with_a_minimum(dash_app, client):
    # APAC 3/0/0: NPS 100 on 3 answers, under the minimum of 30: listed last, unranked.
    # Lower bounds on shares smoothed by one promoter and one detractor, over n + 3:
    # EMEA 60/25/15: p = 61/103, d = 16/103, NPS 43.69, Var = (0.7476 - 0.1909) / 103,
    # 1.96 SE = 14.41, lower bound 29.28.
    # NA 30/5/5: p = 31/43, d = 6/43, NPS 58.14, Var = (0.8605 - 0.3380) / 43,
    # 1.96 SE = 21.60, lower bound 36.54: first, although EMEA has more answers.
    store = get_services(dash_app).store
    store.upsert_responses(_answers(0, 3, 0, 0, region="APAC")
                           + _answers(100, 60, 25, 15, region="EMEA")
                           + _answers(300, 30, 5, 5, region="NA"))
    poll(dash_app)
    body = client.get("/api/v1/compare?field=region").get_json()
    assert [(r["value"], r["rank"]) for r in body["rows"]] == \
        [("NA", 1), ("EMEA", 2), ("APAC", None)]
    na, emea, apac = body["rows"]
    assert na["lower_bound"] == pytest.approx(36.54, abs=0.01)
    assert emea["lower_bound"] == pytest.approx(29.28, abs=0.01)
    assert (apac["n"], apac["nps"]) == (3, None)  # under the minimum sample: no score
    assert body["min_rank"] == 30 and "lower bound" in body["ranked_by"]
    # Filters apply; a bad field names itself.
    assert [r["value"] for r in
            client.get("/api/v1/compare?field=region&region=EMEA").get_json()["rows"]] == ["EMEA"]
    bad = client.get("/api/v1/compare?field=colour")
    assert bad.status_code == 400 and "field" in bad.get_json()["detail"]
    rows = _csv(client.get("/api/v1/compare.csv?field=region"))
    assert [r["value"] for r in rows] == ["NA", "EMEA", "APAC"]


def test_a_scoped_link_compares_only_within_its_scope(links_app):
    from tests.test_access import make_link

    client = links_app.server.test_client()
    _, token = make_link(links_app, role="manager", screen="product=Ledger")
    client.set_cookie(COOKIE, token)
    body = client.get("/api/v1/compare?field=product&window=all").get_json()
    assert [r["value"] for r in body["rows"]] == ["Ledger"]
    assert client.get("/api/v1/compare?field=product&product=Pulse").status_code == 403


def test_a_small_unanimous_group_does_not_top_a_large_one(dash_app, client):
    # Tiny: 30 of 30 promoters (NPS 100, plain margin 0). Big: 950/0/50 (NPS 90 ± 2.7).
    # Smoothed: Tiny p = 31/33, d = 1/33, lower bound 78.0; Big p = 951/1003, d = 51/1003,
    # lower bound 87.0: Big ranks first.
    store = get_services(dash_app).store
    store.upsert_responses(_answers(0, 30, 0, 0, region="Tiny")
                           + _answers(100, 950, 0, 50, region="Big"))
    poll(dash_app)
    rows = client.get("/api/v1/compare?field=region").get_json()["rows"]
    assert [(r["value"], r["rank"]) for r in rows] == [("Big", 1), ("Tiny", 2)]
    assert [r["lower_bound"] for r in rows] == [pytest.approx(87.01, abs=0.01),
                                                pytest.approx(78.00, abs=0.01)]


def test_a_value_with_answers_only_before_is_listed_with_none_now(dash_app, client):
    store = get_services(dash_app).store
    old = datetime.now(UTC) - timedelta(days=40)
    store.upsert_responses(_answers(0, 40, 0, 0, region="EMEA")
                           + [make_record(500 + i, 9, when=old, region="LATAM")
                              for i in range(6)])
    poll(dash_app)
    rows = client.get("/api/v1/compare?field=region").get_json()["rows"]
    latam = next(r for r in rows if r["value"] == "LATAM")
    assert (latam["n"], latam["rank"], latam["previous_n"]) == (0, None, 6)


def test_a_semicolon_spreadsheet_never_sees_a_formula_cell(dash_app, client):
    get_services(dash_app).store.upsert_responses([make_record(
        1, 2, comment="bad;=HYPERLINK(\"http://x\",\"y\")\n@SUM(1)", product="A;=1+1")])
    poll(dash_app)
    text = client.get("/api/v1/responses.csv", headers=ADMIN).get_data(as_text=True)
    for line in text.splitlines():
        for cell in line.split(";"):
            assert not cell.strip().strip('"').startswith(("=", "+", "-", "@")), cell
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["comment"] == "bad;'=HYPERLINK(\"http://x\",\"y\")\n'@SUM(1)"


def test_a_wall_link_exports_only_its_pinned_screen(links_app):
    from tests.test_access import make_link

    client = links_app.server.test_client()
    _, token = make_link(links_app, screen="panels=score,trend&window=7d&product=Ledger")
    client.set_cookie(COOKIE, token)
    rows = _csv(client.get("/api/v1/responses.csv?window=all&product=Ledger"))
    oldest = min(datetime.fromisoformat(r["created_at"].replace("Z", "+00:00")) for r in rows)
    assert rows and datetime.now(UTC) - oldest < timedelta(days=7)  # the pinned window
    assert {r["product"] for r in rows} == {"Ledger"}


def test_a_link_gets_personal_data_masked_in_json_and_csv_alike(links_app):
    from tests.test_access import make_link

    get_services(links_app).store.upsert_responses([make_record(
        "jane.doe@acme.com", 4, comment="call +44 20 7946 0958 or jane.doe@acme.com",
        product="Ledger")])
    client = links_app.server.test_client()
    _, token = make_link(links_app, role="manager", screen="product=Ledger")
    client.set_cookie(COOKIE, token)
    page = client.get("/api/v1/responses?limit=500").get_json()["responses"]
    [row] = [r for r in page if "call" in (r["comment"] or "")]
    [line] = [r for r in _csv(client.get("/api/v1/responses.csv")) if "call" in r["comment"]]
    for comment, external in ((row["comment"], row["external_id"]),
                              (line["comment"], line["external_id"])):
        assert "jane.doe@acme.com" not in comment + external and "7946" not in comment
        assert "[email]" in comment and "[phone]" in comment


def test_an_export_reads_sets_written_while_it_runs(store, monkeypatch):
    store.upsert_responses([make_record(i, 9, product="Ledger") for i in range(3)])
    pages = store.export_rows(("product",), 2)
    first = next(pages)
    store.upsert_responses([make_record(99, 1, comment="Slow", product="Brand new")])
    rest = [row for page in pages for row in page]
    assert len(first) + len(rest) == 4
    assert rest[-1][4] == ("Brand new",)


def test_a_store_failure_before_the_first_row_is_a_503(dash_app, client, monkeypatch):
    from app.store import reading
    from app.store.errors import StoreUnavailable

    _seed(dash_app)

    def down(*_args, **_kwargs):
        raise StoreUnavailable("OperationalError")

    monkeypatch.setattr(reading, "raw_rows", down)
    reply = client.get("/api/v1/responses.csv", headers=ADMIN)
    assert reply.status_code == 503


def test_export_times_are_cut_to_the_second_on_both_databases(store):
    store.upsert_responses([make_record(1, 9, when=datetime(2026, 11, 30, 23, 59, 59, 700000,
                                                              tzinfo=UTC))])
    [[row]] = list(store.export_rows((), 10))
    assert row[1] == "2026-11-30T23:59:59Z"  # PostgreSQL rounded this to the next day


def test_an_id_filter_of_any_length_works(store):
    from sqlalchemy import func, select

    from app.store.reading import RESPONSES, in_ids

    store.upsert_responses([make_record(i, 9) for i in range(3)])
    ids = list(range(1, 70_001))  # over PostgreSQL's 65,535 parameters a statement
    with store.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(RESPONSES).where(
            in_ids(store.engine, RESPONSES.c.id, ids))).scalar_one()
    assert count == 3
