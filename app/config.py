"""Every setting NPS TV reads, declared once with its default and help.

This module is the only reader of ``os.environ``. Settings come from variables prefixed
``NPS_TV_``; ``DATABASE_URL`` is honoured too, as PaaS hosts set it.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PACKAGE_ROOT = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_ROOT.parent
APP_NAME = "nps-tv"
ENV_PREFIX = "NPS_TV_"


def is_source_checkout(package_root: Path = PACKAGE_ROOT) -> bool:
    """True when the package runs from a source tree (a clone, an sdist, an editable install),
    False when it was installed from a wheel into site-packages. See docs/architecture.md."""
    root = package_root.parent
    return (root / "pyproject.toml").is_file() and (root / "assets").is_dir()


def shipped_paths(package_root: Path = PACKAGE_ROOT) -> tuple[Path, Path]:
    """The shipped assets folder and default topic taxonomy: the repo's ``assets/`` and
    ``data/topics.json`` in a source tree; in a wheel, pyproject.toml maps those same files
    into the package as ``app/_assets`` and ``app/_defaults``."""
    if is_source_checkout(package_root):
        return package_root.parent / "assets", package_root.parent / "data" / "topics.json"
    return package_root / "_assets", package_root / "_defaults" / "topics.json"


def user_data_dir(environ: Mapping[str, str], platform: str = sys.platform) -> Path:
    """The per-user data folder of NPS TV, as platformdirs would name it (XDG on Linux)."""
    home = Path(environ.get("HOME") or Path.home())
    if platform == "win32":
        base = Path(environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif platform == "darwin":
        base = home / "Library" / "Application Support"
    else:  # the XDG base directory spec: a relative XDG_DATA_HOME is ignored
        xdg = environ.get("XDG_DATA_HOME", "")
        base = Path(xdg) if os.path.isabs(xdg) else home / ".local" / "share"
    return base / APP_NAME


def default_data_dir(package_root: Path = PACKAGE_ROOT,
                     environ: Mapping[str, str] | None = None) -> Path:
    """Where the stores go without NPS_TV_DATA_DIR: ``data/`` of a source tree, as always;
    for an installed wheel the user's data folder, never the package's own folder."""
    if is_source_checkout(package_root):
        return package_root.parent / "data"
    return user_data_dir(os.environ if environ is None else environ)


ASSETS_DIR, SHIPPED_TOPICS_FILE = shipped_paths()
SHIPPED_DATA_DIR = SHIPPED_TOPICS_FILE.parent
# The files of data/ that ship with the package (the rest of data/ is a checkout's stores).
SHIPPED_DATA_FILES = ("topics.json", "profanity.txt", "topic_model.json")
# The topic model trained on the labelled corpus (python -m app.tagging.train); app/tagging.
SHIPPED_MODEL_FILE = SHIPPED_DATA_DIR / "topic_model.json"
DEFAULT_DATA_DIR = default_data_dir()


def _data_dir(value: str) -> str:
    """NPS_TV_DATA_DIR as an absolute path (``~`` expanded); empty means the default."""
    if not value.strip():
        return str(DEFAULT_DATA_DIR)
    return os.path.abspath(os.path.expanduser(value.strip()))


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true/false, got {value!r}")


def _at_least_one(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(f"must be a whole number of at least 1, got {value.strip()}")
    return number


def _positive_seconds(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError(f"must be a number of seconds above 0, got {value.strip()}")
    return number


def _non_negative(value: str) -> float:
    number = float(value)
    if not number >= 0:
        raise ValueError(f"must be a number of seconds of at least 0, got {value.strip()}")
    return number


def _factor(value: str) -> float:
    number = float(value)
    if not 1 <= number <= 10:
        raise ValueError(f"must be a number from 1 to 10, got {value.strip()}")
    return number


POWER_MODES = ("normal", "low")


def _power(value: str) -> str:
    mode = value.strip().lower() or "normal"
    if mode not in POWER_MODES:
        raise ValueError(f"expected normal or low, got {value!r}")
    return mode


COMPRESS_MODES = ("all", "files", "off")


def _compress(value: str) -> str:
    mode = value.strip().lower() or "all"
    if mode not in COMPRESS_MODES:
        raise ValueError(f"expected all, files or off, got {value!r}")
    return mode


def _optional_float(value: str) -> float | None:
    return float(value) if value.strip() else None


# The parser of each declared type; a field of another type names its own with ``parse=``.
PARSERS: dict[str, Callable[[str], Any]] = {
    "str": str, "int": int, "float": float, "bool": _bool,
    "tuple[str, ...]": _csv, "float | None": _optional_float,
}


def setting(default: Any, help: str, *, parse: Callable[[str], Any] | None = None) -> Any:
    """A ``Settings`` field: its default, a line of help, and (when its type has none in
    ``PARSERS``) how to read it from an environment variable."""
    return dataclasses.field(default=default, metadata={"help": help, "parse": parse})


@dataclass(frozen=True)
class Setting:
    """One configuration knob as the CLI and README show it, read off a ``Settings`` field."""

    name: str
    parse: Callable[[str], Any]
    default: Any
    help: str

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @classmethod
    def from_field(cls, field: dataclasses.Field) -> Setting:
        """The knob a field declares; its parser from ``parse=`` or from its type."""
        parse = field.metadata.get("parse") or PARSERS.get(str(field.type))
        if parse is None or not field.metadata.get("help"):
            raise TypeError(f"Settings.{field.name}: declare it with setting(default, help, "
                            f"parse=...) (type {field.type} has no parser in PARSERS)")
        return cls(field.name, parse, field.default, field.metadata["help"])


@dataclass(frozen=True)
class Settings:
    """The resolved configuration: pass one to ``create_app``; tests build their own."""

    # Each setting is declared here once: its type, default and help. SETTINGS, the CLI's
    # `nps-tv settings` and the README table are all read off these fields.
    database_url: str = setting("",
        "SQLAlchemy URL of the response store; empty means SQLite at DATA_DIR/nps_tv.db. "
        "DATABASE_URL is used when this is unset.")
    data_dir: str = setting(str(DEFAULT_DATA_DIR),
        "Writable folder for the embedded SQLite stores (nps_tv.db, demo.db) and an optional "
        "topics.json; by default data/ of a source checkout, else the user's data folder "
        "($XDG_DATA_HOME/nps-tv, i.e. ~/.local/share/nps-tv).", parse=_data_dir)
    topics_file: str = setting("",
        "JSON keyword taxonomy for topics; empty means DATA_DIR/topics.json, "
        "or the shipped default taxonomy when DATA_DIR has none.")
    host: str = setting("127.0.0.1",
        "Interface to listen on; use 0.0.0.0 to let a TV on the LAN reach the wall.")
    port: int = setting(8050, "TCP port to listen on (Procfile hosts set PORT instead).")
    workers: int = setting(2, "gunicorn worker processes for `nps-tv serve`.")
    threads: int = setting(8, "Threads per gunicorn worker (each wall tab polls).")
    poll_seconds: float = setting(3.0,
        "How often the poller reads new and changed responses.")
    ask_seconds: float = setting(1.0,
        "How often a wall screen asks whether its data changed (GET /api/v1/tick: about "
        "130 bytes, or a bodiless 304 when nothing did), or every NPS_TV_POLL_SECONDS when "
        "that is shorter. It fetches its panels only when the answer changed (and when it "
        "has not for 30-45 s, at a random point, so screens do not fetch together), as "
        "patches of what it shows.",
        parse=_positive_seconds)
    ask_stream: bool = setting(True,
        "Wall screens are sent their tick (GET /api/v1/tick/stream, server-sent events) when it "
        "changes and every 5 s, a changed tick with the parts that changed, instead of asking "
        "every NPS_TV_ASK_SECONDS and then fetching: a told screen makes no request per change "
        "(under nps-tv serve, 1,000 screens cost the server a tenth of the CPU of asking ones). "
        "A screen whose stream cannot open (a server other than nps-tv serve, a proxy) asks, "
        "and tries the stream again a minute later; false: every screen asks.")
    compress: str = setting("all",
        "What goes compressed to a browser that asks (Accept-Encoding): all (the front end's "
        "scripts, styles and layout, the Dash answers and the wall's poll), files (only the "
        "scripts, styles and layout: nothing that carries comments) or off. Compressed "
        "answers carry comments beside values a URL sets (filters, searches): with 'files', a "
        "site that fears BREACH (an observer of a viewer's TLS traffic who makes the viewer's "
        "browser open thousands of crafted links) gives that up for ~10x more bytes per "
        "answer.", parse=_compress)
    poll_overlap_seconds: float = setting(10.0,
        "Each poll also re-reads rows updated this long before the previous poll "
        "started, so a write committed that late is still seen.")
    window_days: int = setting(30,
        "Default rolling window in days; the delta compares with the same length before it.")
    timezone: str = setting("UTC", "IANA time zone in which days, weeks and months are cut.")
    min_sample: int = setting(5,
        "Below this many responses a score is not shown (\"not enough responses\").")
    segment_fields: tuple[str, ...] = setting(("product", "region", "plan"),
        "Comma-separated response properties that the wall and API can filter by.")
    goal: float | None = setting(None, "Optional NPS goal drawn as a line on the trend.")
    change_min_responses: int = setting(30,
        "A 'what changed' sentence about a score needs at least this many responses in "
        "each of the two windows it compares.", parse=_at_least_one)
    compare_min_responses: int = setting(30,
        "The segment comparison ranks only values with at least this many responses in the "
        "window (and never fewer than NPS_TV_MIN_SAMPLE); smaller ones are listed unranked.",
        parse=_at_least_one)
    change_min_mentions: int = setting(10,
        "A 'what changed' sentence about complaints needs at least this many detractor "
        "mentions of the topic in the busier of the two windows.", parse=_at_least_one)
    comments_keep: int = setting(60, "How many of the newest comments the comment feed keeps.")
    dwell_seconds: float = setting(15.0, "Default seconds each wall panel stays on screen.")
    stale_seconds: float = setting(60.0,
        "The wall's 'updated' label turns amber after this many seconds without fresh data "
        "and red after three times as long.")
    nightly_reload: str = setting("03:30",
        "Local time (HH:MM) at which wall screens reload to release browser memory; "
        "empty disables.")
    reload_spread_seconds: float = setting(600.0,
        "The nightly reload is spread over this many seconds after NPS_TV_NIGHTLY_RELOAD: "
        "each screen waits its own stable share, so a fleet does not reload at once.",
        parse=_non_negative)
    build_reload_spread_seconds: float = setting(60.0,
        "Screens reload for a new build within this many seconds of noticing it, each at "
        "its own stable offset.", parse=_non_negative)
    wall_power: str = setting("normal",
        "normal, or low for every wall screen (weak hardware such as TV sticks): no pixel "
        "shift, no scrolling or progress animation, asks less often. A screen's ?power= "
        "overrides it.", parse=_power)
    low_power_ask_factor: float = setting(3.0,
        "A low-power screen asks the server this many times less often (1-10).",
        parse=_factor)
    build_id: str = setting("",
        "Identifies this deployment; screens reload when it changes. "
        "Empty: version + the newest change time of the code and assets.")
    ingest_token: str = setting("",
        "Bearer token that POST /api/v1/responses and the webhooks require; empty refuses "
        "every write. Several, comma-separated, are all valid (for rotation); each at least "
        "16 characters.")
    admin_token: str = setting("",
        "Bearer token for /api/v1/events and reading /api/v1/responses; empty refuses them. "
        "Comma-separated for rotation; never equal to an ingest token.")
    max_body_bytes: int = setting(2_000_000,
        "Largest request body the API accepts; larger ones get 413.")
    max_dash_body_bytes: int = setting(200_000,
        "Largest body a screen's update request (/_dash-update-component) may send; larger "
        "ones get 413.")
    earliest_date: str = setting("2000-01-01",
        "Earliest plausible response or event date; every way in refuses older times.")
    future_hours: float = setting(24.0,
        "How far ahead of now a response or event time may lie; later ones are refused.")
    segment_values_max: int = setting(200,
        "Distinct values kept per segment field; further values are grouped as 'Other' "
        "(with a warning on /health and in the log).")
    cache_mb: float = setting(64.0,
        "Memory the caches of filtered views and screen parts may use, per worker.")
    write_concurrency: int = setting(4,
        "Writes (ingest, webhooks) a worker runs at once; more wait their turn, so writes "
        "never take every thread from the wall.")
    write_timeout_seconds: float = setting(5.0,
        "How long a write waits for its turn and for the store's locks before it answers "
        "503 with Retry-After.")
    health_failures: int = setting(3,
        "/health answers 503 after this many failed polls or writes in a row.")
    health_max_age_seconds: float = setting(60.0,
        "/health answers 503 when the newest snapshot is older than this.")
    replay_window_seconds: float = setting(300.0,
        "Webhook deliveries whose signed timestamp is older than this are refused as "
        "replays (vendors that sign a timestamp).")
    proxy_hops: int = setting(0,
        "Reverse proxies in front of NPS TV whose X-Forwarded-For is trusted "
        "(0: use the socket's address).")
    delighted_secret: str = setting("",
        "Delighted webhook signing secret; when set, "
        "X-Delighted-Webhook-Signature is checked.")
    wootric_secret: str = setting("",
        "Wootric (InMoment) webhook secret; when set, the payload signature is checked.")
    typeform_secret: str = setting("",
        "Typeform webhook secret; when set, Typeform-Signature is checked.")
    delighted_token: str = setting("",
        "Token for ?token= on the Delighted webhook URL only (instead of the ingest token), "
        "so one pasted URL can be rotated alone; comma-separated for rotation.")
    wootric_token: str = setting("",
        "Token for ?token= on the Wootric webhook URL only; comma-separated for rotation.")
    typeform_token: str = setting("",
        "Token for ?token= on the Typeform webhook URL only; comma-separated for rotation.")
    asknicely_token: str = setting("",
        "Token for the AskNicely webhook URL only; comma-separated for rotation.")
    webhook_segments: tuple[str, ...] = setting((),
        "Vendor properties mapped to segments, as segment=property pairs "
        "(e.g. product=Product,region=Region); by default each segment field takes the "
        "property of the same name.")
    access: str = setting("",
        "Who may view the pages and read APIs: open (anyone who reaches the port) or links "
        "(a share link or the admin token). Empty: open when NPS_TV_HOST is a loopback "
        "address and NPS_TV_PROXY_HOPS is 0, links otherwise.")
    allowed_hosts: tuple[str, ...] = setting((),
        "Host names the server answers to besides IP addresses, localhost and this "
        "machine's name (comma-separated; a leading dot allows subdomains). Other names "
        "get 400, which stops DNS rebinding.")
    frame_ancestors: str = setting("'self'",
        "CSP frame-ancestors: who may embed the pages in a frame (e.g. a signage player's "
        "origin); 'none' forbids framing.")
    public_url: str = setting("",
        "Base URL printed in share links (e.g. https://nps.example.com); empty: "
        "http://HOST:PORT from the settings.")
    screen_silent_seconds: float = setting(300.0,
        "`nps-tv screens` flags a share link not seen for longer than this.")
    wall_follow_ups: bool = setting(False,
        "Show the follow-up line (\"5 detractors in the last 7 days, 4 contacted\") under "
        "the score on every wall; one screen turns it on with followups=1, off with 0.")
    access_log: bool = setting(False,
        "Write gunicorn's access log to stdout (tokens and share-link paths redacted).")
    demo_seed: int = setting(7, "Random seed of `nps-tv demo`, so the demo history is repeatable.")
    demo_days: int = setting(180, "Days of history `nps-tv demo` writes.")
    demo_every_seconds: float = setting(6.0,
        "How often `nps-tv demo` adds a live response once the history is written.")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read every declared setting from the environment, then apply ``overrides``."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for knob in SETTINGS:
            raw = environ.get(knob.env)
            if raw is None:
                continue
            try:
                values[knob.name] = knob.parse(raw)
            except ValueError as exc:
                raise ValueError(f"{knob.env}: {exc}") from None
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
        return local if local.exists() else SHIPPED_TOPICS_FILE


# Read off the fields above, never written out a second time.
SETTINGS: tuple[Setting, ...] = tuple(Setting.from_field(f) for f in dataclasses.fields(Settings))


def normalise_database_url(url: str) -> str:
    """Map ``postgres://`` and ``postgresql://`` to SQLAlchemy's psycopg 3 dialect."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
