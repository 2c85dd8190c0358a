"""What pages, callbacks and endpoints share, and the one way to reach it.

``create_app`` builds one ``Services`` and attaches it to the Flask app; everything else gets
it from :func:`get_services`, so nothing below the factory imports the factory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask, current_app

from app.config import Settings
from app.links import LinkBook
from app.part_cache import ActiveScreens, AnswerBook, PartCache
from app.patch_book import PatchBook
from app.poller import Poller
from app.store import Store

EXTENSION = "nps_tv"


@dataclass
class Services:
    """Settings, the store, the poller and the caches screens share."""

    settings: Settings
    store: Store
    poller: Poller
    build_id: str
    parts: PartCache = field(default_factory=PartCache)
    screens: ActiveScreens = field(default_factory=ActiveScreens)
    patches: PatchBook = field(default_factory=PatchBook)  # diffs between sent parts
    answers: AnswerBook = field(default_factory=AnswerBook)  # the wall's encoded poll answers
    scheduler: BackgroundScheduler | None = field(default=None)
    links: LinkBook | None = field(default=None)  # create_app always sets it


def attach_services(server: Flask, services: Services) -> None:
    """Make ``services`` the ones :func:`get_services` returns for this app."""
    server.extensions[EXTENSION] = services


def get_services(app=None) -> Services:
    """The Services of ``app`` (a Dash app or its Flask server), or of the request's app."""
    if app is None:
        app = current_app
    server = getattr(app, "server", app)  # a Dash app holds its Flask app as .server
    return server.extensions[EXTENSION]
