"""Tokens done right: the rules checked at start, constant-time matching against every token
configured for rotation, the client's address behind proxies, and failed attempts counted.

Pure: no Flask here; ``app.ingest.http`` applies these to requests.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping

MIN_TOKEN_LENGTH = 16
TOKEN_SETTINGS = ("ingest_token", "admin_token", "delighted_token", "wootric_token",
                  "typeform_token", "asknicely_token")
FAILURE_LIMIT = 5  # failed attempts from one address ...
FAILURE_WINDOW_SECONDS = 60.0  # ... within this long, then 429 until the oldest one expires
MAX_TRACKED_CLIENTS = 10_000  # bounded memory whatever addresses an attacker uses
GENERATE_HINT = "python -c \"import secrets; print(secrets.token_urlsafe(24))\""


def split_tokens(value: str) -> tuple[str, ...]:
    """The tokens of a comma-separated setting (several are valid at once, for rotation)."""
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def check_tokens(settings) -> None:
    """ValueError with a one-line reason when a token is too short or the admin token is also
    an ingest or webhook token; the message names the setting, never the token."""
    tokens = {name: split_tokens(getattr(settings, name)) for name in TOKEN_SETTINGS}
    for name, values in tokens.items():
        for index, token in enumerate(values, 1):
            if len(token) < MIN_TOKEN_LENGTH:
                which = f"token {index} of {len(values)}" if len(values) > 1 else "the token"
                raise ValueError(
                    f"{_env(name)}: {which} is {len(token)} characters; each token must be at "
                    f"least {MIN_TOKEN_LENGTH} (make one with {GENERATE_HINT})")
    admin = set(tokens["admin_token"])
    for name, values in tokens.items():
        if name != "admin_token" and admin.intersection(values):
            raise ValueError(f"NPS_TV_ADMIN_TOKEN and {_env(name)} share a token; the admin "
                             "token must differ from every ingest and webhook token")


def _env(name: str) -> str:
    return f"NPS_TV_{name.upper()}"


def token_valid(given: str, configured: str) -> bool:
    """Whether ``given`` equals one of the configured tokens, each compared in constant time
    (all of them, so the time does not tell which one matched)."""
    if not given:
        return False
    given_bytes = given.encode("utf-8")
    matched = False
    for token in split_tokens(configured):
        matched |= hmac.compare_digest(given_bytes, token.encode("utf-8"))
    return matched


def client_address(remote_addr: str | None, headers: Mapping[str, str], proxy_hops: int) -> str:
    """The client's address: the socket's, or with ``proxy_hops`` trusted proxies the entry
    they appended to X-Forwarded-For (werkzeug ProxyFix's rule: the Nth value from the end)."""
    if proxy_hops > 0:
        hops = [part.strip() for part in headers.get("X-Forwarded-For", "").split(",")]
        if len(hops) >= proxy_hops and hops[-proxy_hops]:
            return hops[-proxy_hops][:100]
    return remote_addr or "unknown"


class FailedAttempts:
    """Failed token attempts per client address in a sliding window, bounded in memory.

    A client past the limit is answered 429 without its token being checked, until its oldest
    failure leaves the window; nobody sleeps, so no worker thread is held.
    """

    def __init__(self, limit: int = FAILURE_LIMIT, window: float = FAILURE_WINDOW_SECONDS,
                 max_clients: int = MAX_TRACKED_CLIENTS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.max_clients, self.clock = limit, window, max_clients, clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """Seconds until ``client`` may try again (0: it may try now)."""
        now = self.clock()
        with self._lock:
            times = self._failures.get(client)
            if times is None:
                return 0
            while times and times[0] <= now - self.window:
                times.popleft()
            if not times:
                del self._failures[client]
                return 0
            if len(times) < self.limit:
                return 0
            return max(1, int(times[0] + self.window - now + 0.999))

    def record(self, client: str) -> None:
        """Count one failed attempt from ``client``."""
        now = self.clock()
        with self._lock:
            times = self._failures.pop(client, None) or deque(maxlen=self.limit)
            times.append(now)
            self._failures[client] = times  # most recent last, so the oldest client goes first
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)
