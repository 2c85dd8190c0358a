"""The server factory: a fresh worker answers a browser's parallel first requests."""

from __future__ import annotations

import re
import threading

import pytest

from app.web import create_app, warm_up


@pytest.mark.parametrize("trial", range(3))
def test_warm_up_lets_parallel_first_requests_load_every_bundle(settings, trial):
    # Dash marks its setup done before it has registered the bundles, so parallel first
    # requests to a fresh threaded worker used to fail with 500 ("dash is not a registered
    # library"). create_server and the CLI's gunicorn workers warm up first.
    probe = create_app(settings)
    html = probe.server.test_client().get("/").get_data(as_text=True)
    bundles = re.findall(r'src="([^"]*_dash-component-suites[^"]+)"', html)
    assert len(bundles) >= 5

    dash_app = create_app(settings)
    warm_up(dash_app)
    codes: list[int] = []

    def fetch(path: str) -> None:
        with dash_app.server.test_client() as client:
            codes.append(client.get(path).status_code)

    threads = [threading.Thread(target=fetch, args=(path,)) for path in bundles * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert codes == [200] * len(threads)


def test_create_server_starts_polling_and_serves_health(settings, monkeypatch):
    from app import server as server_module
    from app.services import get_services
    from app.web import stop_jobs

    built = {}
    original = server_module.create_app

    def spy(s):
        built["app"] = original(s)
        return built["app"]

    monkeypatch.setattr(server_module, "create_app", spy)
    flask_app = server_module.create_server(settings)
    try:
        assert get_services(built["app"]).scheduler is not None
        assert flask_app.test_client().get("/health").get_json()["status"] == "ok"
    finally:
        stop_jobs(built["app"])
