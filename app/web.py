"""The app factory: ``create_app(settings)`` builds the Dash app, its Flask server and the
poller; ``start_jobs`` starts polling. Nothing here runs on import."""

from __future__ import annotations

import hashlib
import logging
from functools import partial

from apscheduler.schedulers.background import BackgroundScheduler
from dash import Dash
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app import __version__, compression, poll_answer, tv
from app.access import access_mode, install_gate, open_mode_warning
from app.api import build_blueprint
from app.ask import build_blueprint as build_ask_blueprint
from app.ask_stream import build_blueprint as build_stream_blueprint
from app.config import ASSETS_DIR, PACKAGE_ROOT, Settings
from app.dash_guard import install_dash_guard
from app.export_api import build_export_blueprint
from app.follow_up_api import build_follow_up_blueprint
from app.hardening import check_frame_ancestors, install_hardening
from app.ingest.rest import build_blueprint as build_ingest_blueprint
from app.ingest.tokens import check_tokens
from app.ingest.webhooks import build_blueprint as build_webhook_blueprint
from app.limits import RequestLimits
from app.links import TOUCH_SECONDS, LinkBook
from app.pages import build_shell, register_pages
from app.part_cache import PartCache
from app.parts import prewarm
from app.poller import Poller
from app.redact import install_log_redaction
from app.scheduler import start_scheduler
from app.services import Services, attach_services, get_services
from app.share_api import build_blueprint as build_share_blueprint
from app.store import Store, open_store
from app.store.links import ShareLinks
from app.topics import load_taxonomy
from app.topics_api import build_blueprint as build_topics_blueprint

log = logging.getLogger("nps_tv")


def create_app(settings: Settings | None = None, *, store: Store | None = None) -> Dash:
    """Build the Dash app (``dash_app.server`` is the Flask app) on an upgraded store."""
    settings = settings or Settings.from_env()
    check_tokens(settings)  # a short or shared token stops the start, with the reason
    mode = access_mode(settings)  # a bad NPS_TV_ACCESS stops the start, naming it
    check_frame_ancestors(settings.frame_ancestors)
    install_log_redaction()
    taxonomy = load_taxonomy(settings.resolved_topics_file)
    store = open_store(settings, store=store, taxonomy=taxonomy)
    poller = Poller(store, settings, tuple(taxonomy.names))
    build_id = settings.build_id or default_build_id()
    # Three quarters of the cache budget; the poller's view cache has the rest.
    parts = PartCache(max_bytes=int(settings.cache_mb * 2**20 * 3 / 4))
    links = LinkBook(ShareLinks(store), refresh_seconds=settings.poll_seconds)
    services = Services(settings, store, poller, build_id, parts=parts, links=links)
    # Build the parts screens will ask for in the poll job, not on their request path.
    poller.on_publish.append(partial(prewarm, services))

    server = Flask("nps_tv")
    attach_services(server, services)
    server.register_blueprint(build_blueprint())
    server.register_blueprint(build_ask_blueprint())
    server.register_blueprint(build_stream_blueprint(tv.PAGE))
    server.register_blueprint(build_ingest_blueprint())
    server.register_blueprint(build_webhook_blueprint(settings))
    server.register_blueprint(build_share_blueprint())
    server.register_blueprint(build_export_blueprint())
    server.register_blueprint(build_follow_up_blueprint())
    server.register_blueprint(build_topics_blueprint())
    dash_app = Dash(
        "nps_tv",
        server=server,
        assets_folder=str(ASSETS_DIR),
        title="NPS TV",
        update_title=None,  # a wall tab must never say "Updating..."
        suppress_callback_exceptions=True,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    # First of the after_request hooks, so it runs last and compresses the final body.
    compression.install(dash_app, settings.compress)
    dash_app.layout = build_shell()
    register_pages(dash_app, services)
    # The gate first: a body is checked against the callbacks only for those let in (before,
    # anyone could map the callback graph from the guard's 400s and make it parse 200 KB).
    install_gate(server, settings, links)
    install_dash_guard(dash_app)
    # After every page and callback is registered: the hashes cover all inline scripts.
    install_hardening(server, settings, list(dash_app.csp_hashes()))
    # After the gate and the Dash guard: the wall's poll answered from shared bytes.
    poll_answer.install(dash_app, tv.PAGE, services)
    wrap_front_door(server, settings)
    log_access_mode(settings, mode)
    return dash_app


def log_access_mode(settings: Settings, mode: str) -> None:
    """Say who may view, loudly when anyone on the network may."""
    warning = open_mode_warning(settings)
    if warning:
        log.warning(warning)
    else:
        log.info("access: %s (NPS_TV_ACCESS)", mode)


def wrap_front_door(server: Flask, settings: Settings) -> None:
    """Bound every request body, refuse NULs, and trust X-Forwarded-For only from proxies."""
    wsgi_app = RequestLimits(server.wsgi_app, settings.max_body_bytes,
                             settings.max_dash_body_bytes)
    if settings.proxy_hops > 0:
        # remote_addr becomes the client's address as the nearest proxy saw it; a client
        # can prepend any X-Forwarded-For it likes, so only the last hops are believed.
        wsgi_app = ProxyFix(wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops,
                            x_host=0, x_port=0, x_prefix=0)
    server.wsgi_app = wsgi_app


def default_build_id() -> str:
    """Version plus a hash of the code and assets' contents.

    Every worker and every instance running the same code computes the same id, so a screen
    that moves between instances behind a load balancer does not take the other's id for a
    deploy and reload (a start time or a file's mtime differs per host and per install); a
    deploy that changes a file's content changes it.
    """
    digest = hashlib.blake2b(digest_size=6)
    for folder in (PACKAGE_ROOT, ASSETS_DIR):
        for path in sorted(p for p in folder.rglob("*") if p.suffix in {".py", ".js", ".css"}):
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return f"{__version__}-{digest.hexdigest()}"


def warm_up(dash_app: Dash) -> None:
    """Serve one page inside the process before real traffic arrives.

    Dash registers its script bundles on the first request, and marks that done before it
    has finished; under a threaded server the browser's parallel bundle requests to a fresh
    worker then fail with "dash is not a registered library" (500). One request first
    avoids the race.
    """
    with dash_app.server.test_client() as client:
        client.get("/health")


def start_jobs(dash_app: Dash) -> BackgroundScheduler:
    """Start polling for this process (first poll runs before this returns)."""
    services = get_services(dash_app)
    if services.scheduler is None:
        services.scheduler = start_scheduler(services.poller, services.settings.poll_seconds)
        # Last-seen facts of share links: gathered in memory, written at most every
        # TOUCH_SECONDS per link (app/links.py); this job only looks often enough for that.
        services.scheduler.add_job(services.links.flush, "interval",
                                   seconds=TOUCH_SECONDS / 3, id="share-link-touches",
                                   max_instances=1, coalesce=True)
        # Re-read the links beside the poll, so screens' requests find a fresh cache and
        # never wait for the query themselves (a request only refreshes when this is late).
        services.scheduler.add_job(services.links.refresh, "interval",
                                   seconds=services.links.refresh_seconds, id="share-links",
                                   kwargs={"force": True}, max_instances=1, coalesce=True)
    return services.scheduler


def stop_jobs(dash_app: Dash) -> None:
    """Stop this process's scheduler, if it runs."""
    services = get_services(dash_app)
    if services.scheduler is not None:
        services.scheduler.shutdown(wait=False)
        services.scheduler = None
        services.links.flush(force=True)
