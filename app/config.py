"""Every setting NPS TV reads, declared once with its default and help.

This module is the only reader of ``os.environ``. Settings come from variables prefixed
``NPS_TV_``; ``DATABASE_URL`` is honoured too, as PaaS hosts set it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PACKAGE_ROOT = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_ROOT.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"
ENV_PREFIX = "NPS_TV_"


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true/false, got {value!r}")


def _optional_float(value: str) -> float | None:
    return float(value) if value.strip() else None


@dataclass(frozen=True)
class Setting:
    """One configuration knob: its attribute name, parser, default and a line of help."""

    name: str
    parse: Callable[[str], Any]
    default: Any
    help: str

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("database_url", str, "",
            "SQLAlchemy URL of the response store; empty means SQLite at DATA_DIR/nps_tv.db. "
            "DATABASE_URL is used when this is unset."),
    Setting("data_dir", str, str(DEFAULT_DATA_DIR),
            "Folder for the embedded SQLite stores and shipped config such as topics.json."),
    Setting("topics_file", str, "",
            "JSON keyword taxonomy for topics; empty means DATA_DIR/topics.json, "
            "or the shipped data/topics.json when DATA_DIR has none."),
    Setting("host", str, "127.0.0.1",
            "Interface to listen on; use 0.0.0.0 to let a TV on the LAN reach the wall."),
    Setting("port", int, 8050, "TCP port to listen on (Procfile hosts set PORT instead)."),
    Setting("workers", int, 2, "gunicorn worker processes for `nps-tv serve`."),
    Setting("threads", int, 8, "Threads per gunicorn worker (each wall tab polls)."),
    Setting("poll_seconds", float, 3.0,
            "How often the poller reads new and changed responses; screens ask the server "
            "every second (or this often, when shorter)."),
    Setting("poll_overlap_seconds", float, 10.0,
            "Each poll also re-reads rows updated this long before the previous poll "
            "started, so a write committed that late is still seen."),
    Setting("window_days", int, 30,
            "Default rolling window in days; the delta compares with the same length before it."),
    Setting("timezone", str, "UTC", "IANA time zone in which days, weeks and months are cut."),
    Setting("min_sample", int, 5,
            "Below this many responses a score is not shown (\"not enough responses\")."),
    Setting("segment_fields", _csv, ("product", "region", "plan"),
            "Comma-separated response properties that the wall and API can filter by."),
    Setting("goal", _optional_float, None, "Optional NPS goal drawn as a line on the trend."),
    Setting("comments_keep", int, 60, "How many of the newest comments the comment feed keeps."),
    Setting("dwell_seconds", float, 15.0, "Default seconds each wall panel stays on screen."),
    Setting("stale_seconds", float, 60.0,
            "The wall's 'updated' label turns amber after this many seconds without fresh data "
            "and red after three times as long."),
    Setting("nightly_reload", str, "03:30",
            "Local time (HH:MM) at which wall screens reload to release browser memory; "
            "empty disables."),
    Setting("build_id", str, "",
            "Identifies this deployment; screens reload when it changes. "
            "Empty: version + the newest change time of the code and assets."),
    Setting("ingest_token", str, "",
            "Bearer token that POST /api/v1/responses and the webhooks require; empty refuses "
            "every write. Several, comma-separated, are all valid (for rotation); each at least "
            "16 characters."),
    Setting("admin_token", str, "",
            "Bearer token for /api/v1/events and reading /api/v1/responses; empty refuses them. "
            "Comma-separated for rotation; never equal to an ingest token."),
    Setting("max_body_bytes", int, 2_000_000,
            "Largest request body the API accepts; larger ones get 413."),
    Setting("max_dash_body_bytes", int, 200_000,
            "Largest body a screen's update request (/_dash-update-component) may send; larger "
            "ones get 413."),
    Setting("earliest_date", str, "2000-01-01",
            "Earliest plausible response or event date; every way in refuses older times."),
    Setting("future_hours", float, 24.0,
            "How far ahead of now a response or event time may lie; later ones are refused."),
    Setting("segment_values_max", int, 200,
            "Distinct values kept per segment field; further values are grouped as 'Other' "
            "(with a warning on /health and in the log)."),
    Setting("cache_mb", float, 64.0,
            "Memory the caches of filtered views and screen parts may use, per worker."),
    Setting("write_concurrency", int, 4,
            "Writes (ingest, webhooks) a worker runs at once; more wait their turn, so writes "
            "never take every thread from the wall."),
    Setting("write_timeout_seconds", float, 5.0,
            "How long a write waits for its turn and for the store's locks before it answers "
            "503 with Retry-After."),
    Setting("health_failures", int, 3,
            "/health answers 503 after this many failed polls or writes in a row."),
    Setting("health_max_age_seconds", float, 60.0,
            "/health answers 503 when the newest snapshot is older than this."),
    Setting("replay_window_seconds", float, 300.0,
            "Webhook deliveries whose signed timestamp is older than this are refused as "
            "replays (vendors that sign a timestamp)."),
    Setting("proxy_hops", int, 0,
            "Reverse proxies in front of NPS TV whose X-Forwarded-For is trusted "
            "(0: use the socket's address)."),
    Setting("delighted_secret", str, "",
            "Delighted webhook signing secret; when set, "
            "X-Delighted-Webhook-Signature is checked."),
    Setting("wootric_secret", str, "",
            "Wootric (InMoment) webhook secret; when set, the payload signature is checked."),
    Setting("typeform_secret", str, "",
            "Typeform webhook secret; when set, Typeform-Signature is checked."),
    Setting("delighted_token", str, "",
            "Token for ?token= on the Delighted webhook URL only (instead of the ingest token), "
            "so one pasted URL can be rotated alone; comma-separated for rotation."),
    Setting("wootric_token", str, "",
            "Token for ?token= on the Wootric webhook URL only; comma-separated for rotation."),
    Setting("typeform_token", str, "",
            "Token for ?token= on the Typeform webhook URL only; comma-separated for rotation."),
    Setting("asknicely_token", str, "",
            "Token for the AskNicely webhook URL only; comma-separated for rotation."),
    Setting("webhook_segments", _csv, (),
            "Vendor properties mapped to segments, as segment=property pairs "
            "(e.g. product=Product,region=Region); by default each segment field takes the "
            "property of the same name."),
    Setting("access", str, "",
            "Who may view the pages and read APIs: open (anyone who reaches the port) or links "
            "(a share link or the admin token). Empty: open when NPS_TV_HOST is a loopback "
            "address and NPS_TV_PROXY_HOPS is 0, links otherwise."),
    Setting("allowed_hosts", _csv, (),
            "Host names the server answers to besides IP addresses, localhost and this "
            "machine's name (comma-separated; a leading dot allows subdomains). Other names "
            "get 400, which stops DNS rebinding."),
    Setting("frame_ancestors", str, "'self'",
            "CSP frame-ancestors: who may embed the pages in a frame (e.g. a signage player's "
            "origin); 'none' forbids framing."),
    Setting("public_url", str, "",
            "Base URL printed in share links (e.g. https://nps.example.com); empty: "
            "http://HOST:PORT from the settings."),
    Setting("screen_silent_seconds", float, 300.0,
            "`nps-tv screens` flags a share link not seen for longer than this."),
    Setting("access_log", _bool, False,
            "Write gunicorn's access log to stdout (tokens and share-link paths redacted)."),
    Setting("demo_seed", int, 7,
            "Random seed of `nps-tv demo`, so the demo history is repeatable."),
    Setting("demo_days", int, 180, "Days of history `nps-tv demo` writes."),
    Setting("demo_every_seconds", float, 6.0,
            "How often `nps-tv demo` adds a live response once the history is written."),
)
SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """The resolved configuration: pass one to ``create_app``; tests build their own."""

    database_url: str = ""
    data_dir: str = str(DEFAULT_DATA_DIR)
    topics_file: str = ""
    host: str = "127.0.0.1"
    port: int = 8050
    workers: int = 2
    threads: int = 8
    poll_seconds: float = 3.0
    poll_overlap_seconds: float = 10.0
    window_days: int = 30
    timezone: str = "UTC"
    min_sample: int = 5
    segment_fields: tuple[str, ...] = ("product", "region", "plan")
    goal: float | None = None
    comments_keep: int = 60
    dwell_seconds: float = 15.0
    stale_seconds: float = 60.0
    nightly_reload: str = "03:30"
    build_id: str = ""
    ingest_token: str = ""
    admin_token: str = ""
    max_body_bytes: int = 2_000_000
    max_dash_body_bytes: int = 200_000
    earliest_date: str = "2000-01-01"
    future_hours: float = 24.0
    segment_values_max: int = 200
    cache_mb: float = 64.0
    write_concurrency: int = 4
    write_timeout_seconds: float = 5.0
    health_failures: int = 3
    health_max_age_seconds: float = 60.0
    replay_window_seconds: float = 300.0
    proxy_hops: int = 0
    delighted_secret: str = ""
    wootric_secret: str = ""
    typeform_secret: str = ""
    delighted_token: str = ""
    wootric_token: str = ""
    typeform_token: str = ""
    asknicely_token: str = ""
    webhook_segments: tuple[str, ...] = ()
    access: str = ""
    allowed_hosts: tuple[str, ...] = ()
    frame_ancestors: str = "'self'"
    public_url: str = ""
    screen_silent_seconds: float = 300.0
    access_log: bool = False
    demo_seed: int = 7
    demo_days: int = 180
    demo_every_seconds: float = 6.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read every declared setting from the environment, then apply ``overrides``."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            raw = environ.get(setting.env)
            if raw is None:
                continue
            try:
                values[setting.name] = setting.parse(raw)
            except ValueError as exc:
                raise ValueError(f"{setting.env}: {exc}") from None
        if "database_url" not in values and environ.get("DATABASE_URL"):
            values["database_url"] = environ["DATABASE_URL"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        """A copy with some settings changed."""
        return dataclasses.replace(self, **changes)

    @property
    def resolved_database_url(self) -> str:
        """The store URL, with PaaS-style ``postgres://`` mapped to the psycopg driver."""
        url = self.database_url or f"sqlite:///{Path(self.data_dir) / 'nps_tv.db'}"
        return normalise_database_url(url)

    @property
    def demo_database_url(self) -> str:
        """The demo's own store, never the user's real one."""
        return f"sqlite:///{Path(self.data_dir) / 'demo.db'}"

    @property
    def resolved_topics_file(self) -> Path:
        """The taxonomy: the configured file, else DATA_DIR/topics.json, else the shipped one."""
        if self.topics_file:
            return Path(self.topics_file)
        local = Path(self.data_dir) / "topics.json"
        return local if local.exists() else DEFAULT_DATA_DIR / "topics.json"


def normalise_database_url(url: str) -> str:
    """Map ``postgres://`` and ``postgresql://`` to SQLAlchemy's psycopg 3 dialect."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
