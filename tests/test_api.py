"""/health and /api/v1/summary, including the real-data figures the issue names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.services import get_services
from app.web import create_app
from tests.conftest import make_record, poll, real_data


def test_health_reports_database_snapshot_and_build(dash_app, client):
    poll(dash_app)
    body = client.get("/health").get_json()
    assert body["status"] == "ok"
    assert body["database"] == "reachable"
    assert body["build_id"] == "test-build"
    assert body["snapshot_age_seconds"] is not None and body["snapshot_age_seconds"] < 5
    assert body["last_poll_ms"] > 0 and body["last_poll_rows"] == 0
    assert body["version"]


def test_health_is_503_when_the_database_is_unreachable(dash_app, client, monkeypatch):
    monkeypatch.setattr(get_services(dash_app).store, "ping", lambda: False)
    response = client.get("/health")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"


def test_summary_reports_exact_and_displayed_score(dash_app, client):
    store = get_services(dash_app).store
    now = datetime.now(UTC)
    # 5 promoters, 2 passives, 1 detractor: NPS 50 exactly; then one more passive: 44.44
    scores = [10, 9, 9, 10, 9, 7, 8, 3, 8]
    store.upsert_responses([make_record(i, s, when=now - timedelta(days=1))
                            for i, s in enumerate(scores)])
    poll(dash_app)
    body = client.get("/api/v1/summary").get_json()
    assert body["n"] == 9
    assert body["nps"] == 44
    assert body["nps_exact"] == pytest.approx(44.4444, abs=1e-4)
    assert body["promoters"] == {"count": 5, "percent": 56}
    assert body["passives"]["count"] == 3 and body["detractors"]["count"] == 1
    pct = [body[k]["percent"] for k in ("promoters", "passives", "detractors")]
    assert sum(pct) == 100
    assert body["margin_of_error"] > 0
    assert body["window"]["end"] == now.date().isoformat()
    assert body["as_of"]


def _answers(start: int, days_ago: int, promoters: int, passives: int, detractors: int,
             **segments: str):
    when = datetime.now(UTC) - timedelta(days=days_ago)
    scores = [10] * promoters + [8] * passives + [2] * detractors
    return [make_record(start + i, s, when=when, **segments) for i, s in enumerate(scores)]


def _emea_rises_apac_holds() -> list:
    """EMEA 20/30/50 -> 50/30/20 on 100 answers, APAC 150/90/60 in both 30-day windows."""
    return (_answers(0, 2, 50, 30, 20, region="EMEA")
            + _answers(1000, 3, 150, 90, 60, region="APAC")
            + _answers(2000, 40, 20, 30, 50, region="EMEA")
            + _answers(3000, 41, 150, 90, 60, region="APAC"))


def test_summary_says_what_changed_per_segment_from_the_snapshot(dash_app, client):
    # EMEA 20/30/50 -> 50/30/20 (NPS -30 -> 30) on 100 answers: SE 11.05, noise 21.6.
    # APAC 150/90/60 in both windows. Overall 170/120/110 -> 200/120/80 on 400: NPS 15 -> 30,
    # Var 10,000 * (0.7 - 0.0225) / 400 = 16.94 and 10,000 * (0.7 - 0.09) / 400 = 15.25,
    # SE 5.67, noise 11.1: beyond it too. Effects: overall 15, EMEA 100 / 400 x 60 = 15; the
    # tie goes to the overall sentence.
    store = get_services(dash_app).store
    store.upsert_responses(_emea_rises_apac_holds())
    poll(dash_app)
    texts = [f["text"] for f in client.get("/api/v1/summary").get_json()["what_changed"]]
    assert texts == ["NPS up 15 over 30 days (± 11.1)",
                     "NPS in EMEA up 60 over 30 days (± 21.6)"]
    # Filtered to EMEA, the EMEA sentence is the overall one.
    texts = [f["text"] for f in
             client.get("/api/v1/summary?region=EMEA").get_json()["what_changed"]]
    assert texts == ["NPS up 60 over 30 days (± 21.6)"]


def test_what_changed_names_the_one_event_of_the_window(dash_app, client):
    # The figures of the test above; a price change 10 days ago is the one event in the
    # window (one from 45 days ago is not in it).
    store = get_services(dash_app).store
    now = datetime.now(UTC)
    store.add_event(now - timedelta(days=45), "Old launch", "release")
    store.add_event(now - timedelta(days=10), "Price change", "price")
    store.upsert_responses(_emea_rises_apac_holds())
    poll(dash_app)
    texts = [f["text"] for f in client.get("/api/v1/summary").get_json()["what_changed"]]
    assert texts == ["NPS up 15 since \u201cPrice change\u201d (± 11.1)",
                     "NPS in EMEA up 60 since \u201cPrice change\u201d (± 21.6)"]
    # Over 7 days no event is in the window, and there is no earlier answer to compare.
    assert client.get("/api/v1/summary?window=7d").get_json()["what_changed"] == []
    # A second event in the window: which one the change followed is unknown, none is named.
    store.add_event(now - timedelta(days=20), "Release 4.2", "release")
    poll(dash_app)
    texts = [f["text"] for f in client.get("/api/v1/summary").get_json()["what_changed"]]
    assert texts[0] == "NPS up 15 over 30 days (± 11.1)"


def test_summary_carries_the_change_with_its_standard_error(dash_app, client):
    # This window 500/300/200 (NPS 30), the 30 days before 400/300/300 (NPS 10):
    # SE = sqrt(6.1 + 6.9) = 3.6056, z = 5.547, beyond noise.
    store = get_services(dash_app).store
    store.upsert_responses(_answers(0, 2, 500, 300, 200) + _answers(5000, 40, 400, 300, 300))
    poll(dash_app)
    body = client.get("/api/v1/summary").get_json()
    assert body["delta"] == pytest.approx(20.0)
    assert body["change"] == {"delta": 20.0, "se": 3.6056, "z": 5.547, "noise": 7.0669,
                              "significant": True}


def test_summary_says_a_small_change_is_not_significant(dash_app, client):
    # 60/25/15 against 50/30/20 on 100 each: delta 15, SE 10.76, z 1.394.
    store = get_services(dash_app).store
    store.upsert_responses(_answers(0, 2, 60, 25, 15) + _answers(5000, 40, 50, 30, 20))
    poll(dash_app)
    change = client.get("/api/v1/summary").get_json()["change"]
    assert change["se"] == pytest.approx(10.7586, abs=1e-4)
    assert change["z"] == pytest.approx(1.3942, abs=1e-4) and change["significant"] is False


def test_summary_sets_a_segment_against_the_rest(dash_app, client):
    # This window: EMEA 50/30/20 (NPS 30) on 100, APAC 150/90/160 (NPS -2.5) on 400.
    # EMEA against the rest: delta 32.5, Var(EMEA) = 10,000 * (0.7 - 0.09) / 100 = 61,
    # Var(rest) = 10,000 * (0.775 - 0.025^2) / 400 = 19.359, SE = sqrt(80.359) = 8.9643,
    # z = 3.6255, noise 17.570: beyond it.
    store = get_services(dash_app).store
    store.upsert_responses(_answers(0, 2, 50, 30, 20, region="EMEA")
                           + _answers(1000, 3, 150, 90, 160, region="APAC"))
    poll(dash_app)
    body = client.get("/api/v1/summary?region=EMEA").get_json()
    assert body["nps"] == 30
    assert body["versus_rest"]["rest"]["n"] == 400
    assert body["versus_rest"]["rest"]["nps_exact"] == pytest.approx(-2.5)
    assert body["versus_rest"]["change"] == {"delta": 32.5, "se": 8.9643, "z": 3.6255,
                                             "noise": 17.5701, "significant": True}
    # Without a filter there is no rest.
    assert client.get("/api/v1/summary").get_json()["versus_rest"] is None


def test_a_segment_level_with_the_rest_is_not_significant(dash_app, client):
    # EMEA 12/5/8 (NPS 16) on 25 against APAC 40/20/40 (NPS 0) on 100: delta 16,
    # Var(EMEA) = 10,000 * (0.8 - 0.0256) / 25 = 309.76, Var(APAC) = 10,000 * 0.8 / 100 = 80,
    # SE = 19.743, z = 0.810: within noise.
    store = get_services(dash_app).store
    store.upsert_responses(_answers(0, 2, 12, 5, 8, region="EMEA")
                           + _answers(1000, 3, 40, 20, 40, region="APAC"))
    poll(dash_app)
    change = client.get("/api/v1/summary?region=EMEA").get_json()["versus_rest"]["change"]
    assert change["se"] == pytest.approx(19.743, abs=1e-3)
    assert change["z"] == pytest.approx(0.8104, abs=1e-4) and change["significant"] is False


def test_summary_has_no_change_without_a_previous_window(dash_app, client):
    get_services(dash_app).store.upsert_responses(_answers(0, 2, 6, 0, 0))
    poll(dash_app)
    body = client.get("/api/v1/summary").get_json()
    assert body["change"] is None and body["delta"] is None


def test_summary_below_minimum_sample_has_no_score(dash_app, client):
    store = get_services(dash_app).store
    store.upsert_responses([make_record(i, 10) for i in range(4)])
    poll(dash_app)
    body = client.get("/api/v1/summary").get_json()
    assert body["n"] == 4
    assert body["nps"] is None and body["enough_responses"] is False


def test_summary_windows_and_segments(dash_app, client):
    store = get_services(dash_app).store
    now = datetime.now(UTC)
    store.upsert_responses(
        [make_record(i, 10, when=now - timedelta(days=1), product="A") for i in range(6)]
        + [make_record(100 + i, 0, when=now - timedelta(days=60), product="B")
           for i in range(6)])
    poll(dash_app)
    assert client.get("/api/v1/summary?window=30d").get_json()["n"] == 6
    assert client.get("/api/v1/summary?window=90d").get_json()["n"] == 12
    assert client.get("/api/v1/summary?window=all").get_json()["n"] == 12
    only_b = client.get("/api/v1/summary?window=all&product=B").get_json()
    assert (only_b["n"], only_b["nps"]) == (6, -100)
    day = (now - timedelta(days=60)).date().isoformat()
    ranged = client.get(f"/api/v1/summary?from={day}&to={day}").get_json()
    assert ranged["n"] == 6 and ranged["window"]["start"] == day


@pytest.mark.parametrize(
    ("query", "field"),
    [("window=30x", "window"), ("window=0d", "window"), ("from=2026-13-01", "from"),
     ("from=2026-02-01&to=2026-01-01", "from"), ("window=30d&from=2026-01-01", "window"),
     ("window=%EF%BC%93%EF%BC%90d", "window"), ("window=10000d", "window"),
     ("window=range", "window")],
)
def test_bad_summary_parameters_name_the_field(client, query, field):
    response = client.get(f"/api/v1/summary?{query}")
    assert response.status_code == 400
    body = response.get_json()
    problem = body["problems"][0]
    assert problem["path"] == field and problem["message"]
    assert body["detail"].startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("file", "args", "n", "nps", "exact"),
    [
        ("r-community-survey-2018.tsv",
         ["--score", "Qrecommend", "--time", "Qtime", "--comment", "Qlike_best",
          "--comment", "Qlike_least", "--segment", "country=Qcountry"], 3018, 72, 72.13),
        ("carpentries-instructor-training-post-survey.csv",
         ["--score", "LikelyToRecommend", "--time", "Date", "--time-format", "%m/%d/%y %H:%M",
          "--segment", "site=MemberSite"], 889, 48, 48.37),
    ],
)
def test_real_exports_give_the_published_score(settings, file, args, n, nps, exact, monkeypatch,
                                               capsys):
    from app.cli import main

    path = real_data(file)
    monkeypatch.setenv("NPS_TV_DATA_DIR", settings.data_dir)
    monkeypatch.setenv("NPS_TV_TOPICS_FILE", settings.topics_file)
    assert main(["import", str(path), *args, "--no-progress"]) == 0
    dash_app = create_app(settings)
    poll(dash_app)
    body = dash_app.server.test_client().get("/api/v1/summary?window=all").get_json()
    assert body["n"] == n
    assert body["nps"] == nps
    assert round(body["nps_exact"], 2) == exact


def test_default_build_id_is_the_same_in_every_worker(make_app):
    first = get_services(make_app(build_id="")).build_id
    second = get_services(make_app(build_id="")).build_id
    assert first == second
    from app import __version__

    assert first.startswith(f"{__version__}-")


@pytest.mark.parametrize("query", ["from=0001-01-05", "to=9999-12-31"])
def test_dates_far_outside_any_data_are_refused_with_the_field(client, query):
    response = client.get(f"/api/v1/summary?{query}")
    assert response.status_code == 400
    assert response.get_json()["problems"][0]["path"] == query.split("=")[0]


def test_summary_and_wall_use_the_configured_time_range(settings):
    """NPS_TV_EARLIEST_DATE reaches every reader of from/to, not only the ingest paths."""
    from app.screen import parse_screen

    narrow = settings.replace(earliest_date="2020-01-01")
    client = create_app(narrow).server.test_client()
    response = client.get("/api/v1/summary?from=2019-06-01&to=2019-06-30")
    assert response.status_code == 400
    [problem] = response.get_json()["problems"]
    assert problem["path"] == "from" and "2020-01-01" in problem["message"]
    assert client.get("/api/v1/summary?from=2021-06-01&to=2021-06-30").status_code == 200
    screen = parse_screen({"from": "2019-06-01", "to": "2019-06-30"}, narrow)
    assert screen.request.window != "range" and any("from" in n for n in screen.notices)
    wide = parse_screen({"from": "2019-06-01", "to": "2019-06-30"}, settings)
    assert wide.request.window == "range" and wide.request.start.isoformat() == "2019-06-01"


def test_the_build_id_follows_content_not_file_times(tmp_path, monkeypatch):
    """Instances behind one load balancer install the same code at different times: the
    same content must give the same id, or screens reload each time they switch instance."""
    import os

    from app import web

    def install(where, script):
        (where / "code").mkdir(parents=True)
        (where / "assets").mkdir()
        (where / "code" / "a.py").write_text("x = 1\n")
        (where / "assets" / "wall.js").write_text(script)
        return where

    ids = []
    for name, script, mtime in (("one", "go();", 1_000), ("two", "go();", 2_000_000),
                                ("three", "stop();", 1_000)):
        root = install(tmp_path / name, script)
        for path in root.rglob("*.*"):
            os.utime(path, (mtime, mtime))
        monkeypatch.setattr(web, "PACKAGE_ROOT", root / "code")
        monkeypatch.setattr(web, "ASSETS_DIR", root / "assets")
        ids.append(web.default_build_id())
    assert ids[0] == ids[1]  # other file times, same content
    assert ids[2] != ids[0]  # a changed asset is a new build


def test_a_good_ping_stands_for_a_second_and_a_failed_one_never(dash_app, client, monkeypatch):
    store = get_services(dash_app).store
    calls = []
    monkeypatch.setattr(store, "ping", lambda: calls.append(1) or True)
    for _ in range(5):
        assert client.get("/health").status_code == 200
    assert len(calls) == 1  # a fleet's watchdogs cost one ping a second per worker
    get_services(dash_app)._good_ping_at -= 2.0  # a second later: asked again
    monkeypatch.setattr(store, "ping", lambda: calls.append(1) and False)
    for _ in range(3):
        assert client.get("/health").status_code == 503
    assert len(calls) == 4  # every failed answer is a new ping
