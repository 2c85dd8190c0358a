"""What every write endpoint shares: strict body reading, token checks, problem responses."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Request, current_app, jsonify

from app.ingest.tokens import FailedAttempts, client_address, token_valid
from app.services import get_services

LOG = logging.getLogger("nps_tv.auth")


@dataclass
class ApiError(Exception):
    """A refused request: the status and every problem, each naming its field and reason."""

    status: int
    problems: list[dict[str, str]] = field(default_factory=list)
    error: str = "invalid request"
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def single(cls, status: int, path: str, message: str, error: str = "invalid request",
               **headers: str) -> ApiError:
        return cls(status, [{"path": path, "message": message}], error, headers)

    def to_response(self):
        """A Flask JSON response for this error."""
        detail = "; ".join(f"{p['path']}: {p['message']}" for p in self.problems)
        response = jsonify({"error": self.error, "detail": detail, "problems": self.problems})
        response.status_code = self.status
        response.headers.update(self.headers)
        return response


# Refused texts listed at most in one answer (a body may hold thousands).
MAX_TEXT_PROBLEMS = 100
# The largest row id a store holds (a signed 64-bit integer: SQLite INTEGER, PostgreSQL BIGINT).
MAX_ROW_ID = 2**63 - 1


def check_row_id(row_id: int, what: str) -> None:
    """404 naming ``what`` for an id no row can have: Flask's ``<int:...>`` takes any length
    of digits, and one past 64 bits made the driver raise OverflowError (a 500)."""
    if not 0 < row_id <= MAX_ROW_ID:
        raise ApiError.single(404, "id", f"no {what} with id {row_id}", error="not found")


def show_value(value: Any) -> str:
    """A short repr of a refused value for an error message (at most 60 characters)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_bearer(request: Request, expected: str, setting: str) -> None:
    """Require ``Authorization: Bearer <token>`` matching one of ``expected`` (comma-separated
    for rotation), in constant time; failures are logged and slowed per client."""
    if not expected:
        raise ApiError.single(
            403, "authorization",
            f"writes are disabled: set {setting} on the server and send it as "
            "'Authorization: Bearer <token>'", error="forbidden")
    client = refuse_if_throttled(request, "authorization")
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        missing = ApiError.single(401, "authorization", "missing 'Authorization: Bearer <token>'",
                                  error="unauthorized", **{"WWW-Authenticate": "Bearer"})
        # No header at all guesses nothing, so it is not counted: on a shared address (an
        # office NAT) a colleague's browser opening an API URL must not throttle the admin.
        raise failed_attempt(request, client, missing) if header.strip() else missing
    if not token_valid(given.strip(), expected):
        raise failed_attempt(request, client, ApiError.single(
            401, "authorization", "token is not valid", error="unauthorized",
            **{"WWW-Authenticate": "Bearer"}))


def failed_attempts() -> FailedAttempts:
    """This app's count of failed token attempts per client (one per worker process)."""
    return current_app.extensions.setdefault("nps_tv_failed_attempts", FailedAttempts())


def refuse_if_throttled(request: Request, path: str) -> str:
    """429 with Retry-After, without checking anything, for a client with too many recent
    failures; otherwise the client's address (honouring NPS_TV_PROXY_HOPS)."""
    client = client_address(request.remote_addr, request.headers,
                            get_services().settings.proxy_hops)
    wait = failed_attempts().retry_after(client)
    if wait:
        raise ApiError.single(429, path, f"too many failed attempts from this address; try "
                                         f"again in {wait} s", error="too many requests",
                              **{"Retry-After": str(wait)})
    return client


def failed_attempt(request: Request, client: str, error: ApiError) -> ApiError:
    """Count and log a refused credential (address, route and reason; never the token, so the
    path is logged without its query string), and return ``error`` to raise."""
    failed_attempts().record(client)
    reason = "; ".join(f"{p['path']}: {p['message']}" for p in error.problems)
    LOG.warning("refused %s %s from %r: %s", request.method, request.path, client, reason)
    return error


def read_body(request: Request, max_bytes: int) -> bytes:
    """The raw body, refusing empty (400) and oversized (413) ones without reading them whole."""
    length = request.content_length
    if length is not None and length > max_bytes:
        raise ApiError.single(413, "body", f"is {length} bytes; the limit is {max_bytes}",
                              error="payload too large")
    body = request.stream.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise ApiError.single(413, "body", f"is larger than the limit of {max_bytes} bytes",
                              error="payload too large")
    if not body.strip():
        raise ApiError.single(400, "body", "is empty; send a JSON object or list")
    return body


def require_json_type(request: Request) -> None:
    """415 unless the body is declared as JSON."""
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise ApiError.single(415, "Content-Type",
                              f"must be application/json, got {mimetype or 'none'!r}",
                              error="unsupported media type")


def parse_json(body: bytes) -> Any:
    """Strict JSON: valid UTF-8, no duplicate keys, no NaN or Infinity, no NUL in text."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError.single(400, "body", f"is not valid UTF-8 (byte {exc.start})") from None
    try:
        try:
            payload = json.loads(text, object_pairs_hook=_no_duplicates,
                                 parse_constant=_no_constants)
        except ValueError as exc:
            if isinstance(exc, json.JSONDecodeError | _JsonProblem):
                raise
            # An integer longer than sys.get_int_max_str_digits() (4,300) digits: read again,
            # such numbers kept as _LongNumber, so the refusal names where it is ([3].score).
            payload = json.loads(text, object_pairs_hook=_no_duplicates,
                                 parse_constant=_no_constants, parse_int=_parse_int)
    except _JsonProblem as exc:
        raise ApiError.single(400, exc.path, exc.message) from None
    except json.JSONDecodeError as exc:
        raise ApiError.single(400, "body", f"is not valid JSON: {exc.msg} at line {exc.lineno} "
                                           f"column {exc.colno}") from None
    except RecursionError:  # json's C scanner recurses once per [ or {
        raise ApiError.single(400, "body", "is nested too deeply") from None
    problems = _payload_problems(payload)
    if problems:
        raise ApiError(400, problems)
    return payload


class _JsonProblem(ValueError):
    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path, self.message = path, message


class _Repeated(dict):
    """An object in which ``keys`` appeared more than once (the last value of each kept)."""

    keys: list[str]


class _LongNumber(int):
    """An integer of more digits than Python reads (its value is 0; ``digits`` says how many)."""

    digits: int


def _parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        number = _LongNumber(0)
        number.digits = len(text.lstrip("-"))
        return number


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            # Marked, not raised: this hook knows the key but not where its object sits, and
            # "score" did not say which item of a batch; _payload_problems gives "[3].score".
            repeated, keys = _Repeated(), []
            for name, item in pairs:
                if name in repeated and name not in keys:
                    keys.append(name)
                repeated[name] = item
            repeated.keys = keys
            return repeated
        seen[key] = value
    return seen


def _payload_problems(payload: Any) -> list[dict[str, str]]:
    """Every text that no store can hold, key given twice and number too long to read, with
    its path as pydantic's refusals name it (``[3].comment``, ``segments.plan``). Checked
    after parsing, not in the parser's hooks, which know a key but not where its object sits:
    a NUL in the fourth response of a batch was reported as ``comment``, and only the first."""
    problems: list[dict[str, str]] = []
    stack: list[tuple[str, Any]] = [("", payload)]  # no recursion: any depth json.loads took
    while stack and len(problems) < MAX_TEXT_PROBLEMS:
        path, value = stack.pop()
        if isinstance(value, str):
            if (message := _text_problem(value)) is not None:
                problems.append({"path": path or "body", "message": message})
        elif isinstance(value, _LongNumber):
            problems.append({"path": path or "body", "message": f"is a number of "
                             f"{value.digits:,} digits, out of range"})
        elif isinstance(value, dict):
            if isinstance(value, _Repeated):
                problems.extend({"path": f"{path}.{key}" if path else key,
                                 "message": "appears twice in the same object"}
                                for key in value.keys)
            stack.extend((f"{path}.{key}" if path else key, item)
                         for key, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((f"{path}[{index}]", item)
                         for index, item in reversed(list(enumerate(value))))
    return problems


def _text_problem(value: str) -> str | None:
    # "\ud800" escapes decode to lone surrogates that no database can encode, and PostgreSQL
    # text cannot hold NUL: refused here, they would otherwise fail the insert with a 500.
    if "\x00" in value:
        return "contains a NUL character (\\u0000), which cannot be stored"
    if value.isascii():
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired UTF-16 surrogate escape; send valid Unicode text"
    return None


def _no_constants(name: str) -> float:
    raise _JsonProblem("body", f"contains {name}, which is not valid JSON")
