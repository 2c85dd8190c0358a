#!/usr/bin/env bash
# The install check (issue 9): build the sdist and the wheel, install the wheel into a fresh
# virtualenv outside the repository, and use it as a new user would, from an empty folder with
# an empty home: `nps-tv demo --no-live` fills the demo store and serves it, `nps-tv upgrade`,
# `nps-tv import` and `nps-tv settings` work on the default store, `nps-tv serve` serves the
# demo's data, and /health and /tv answer 200. Every wait is bounded; servers are stopped on
# exit. tests/run_all.sh runs it (so CI does); alone: `bash tests/check_install.sh`.
# INSTALL_CHECK_PORT=8800 picks the two ports (8800 and 8801) instead of free ones.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/nps-tv-install-check.XXXXXX")"
SERVER_PID=""
T0=$SECONDS

say() { echo "install check: $*"; }
fail() { echo "install check FAILED: $*" >&2; exit 1; }

stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    # gunicorn's master: TERM stops its workers too (a worker whose master is gone exits).
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 75); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  if [ -n "$SERVER_PID" ]; then wait "$SERVER_PID" 2>/dev/null || true; fi
  SERVER_PID=""
}
cleanup() { stop_server; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() {
  "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# get URL: the status code and body of a GET (000 when nothing answers), via the venv's Python.
get() {
  "$VENV/bin/python" - "$1" <<'EOF'
import sys, urllib.error, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=10) as r:
        code, body = r.status, r.read()
except urllib.error.HTTPError as e:
    code, body = e.code, e.read()
except OSError:
    code, body = 0, b""
print(f"{code:03d}", body[:300].decode("utf-8", "replace").replace("\n", " "))
EOF
}

# serve_and_check NAME PORT LOG -- ARGS...: start `nps-tv ARGS` in the background, wait (at most
# 240 s) until /health answers 200, then check /tv too.
serve_and_check() {
  local name="$1" port="$2" log="$3"; shift 4
  "$VENV/bin/nps-tv" "$@" >"$log" 2>&1 &
  SERVER_PID=$!
  local deadline=$((SECONDS + 240)) answer=""
  while :; do
    answer="$(get "http://127.0.0.1:$port/health")"
    [ "${answer:0:3}" = "200" ] && break
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      cat "$log" >&2; fail "$name exited before /health answered 200"
    fi
    if [ $SECONDS -ge $deadline ]; then
      cat "$log" >&2; fail "$name: /health did not answer 200 within 240 s (last: $answer)"
    fi
    sleep 1
  done
  say "$name: /health 200"
  answer="$(get "http://127.0.0.1:$port/tv")"
  [ "${answer:0:3}" = "200" ] || { cat "$log" >&2; fail "$name: /tv answered ${answer:0:120}"; }
  say "$name: /tv 200"
  if grep -q "Traceback" "$log"; then cat "$log" >&2; fail "$name logged a traceback"; fi
}

say "building the sdist and, from it, the wheel"
"$PYTHON" -m build --outdir "$WORK/dist" "$REPO" >"$WORK/build.log" 2>&1 \
  || { cat "$WORK/build.log" >&2; fail "python -m build"; }
rm -rf "$REPO/build"  # setuptools' scratch folder; the artefacts are in $WORK/dist
WHEEL="$(ls "$WORK"/dist/*.whl)"

say "installing $(basename "$WHEEL") into a fresh virtualenv in $WORK"
VENV="$WORK/venv"
"$PYTHON" -m venv "$VENV"
CONSTRAINTS=()
[ -f "$REPO/constraints.txt" ] && CONSTRAINTS=(-c "$REPO/constraints.txt")
"$VENV/bin/pip" install --quiet --disable-pip-version-check "${CONSTRAINTS[@]}" "$WHEEL" \
  >"$WORK/pip.log" 2>&1 || { cat "$WORK/pip.log" >&2; fail "pip install of the wheel"; }

# A new user: an empty working folder and home, none of our variables, the repo out of reach.
mkdir -p "$WORK/home" "$WORK/cwd"
cd "$WORK/cwd"
for name in $(env | sed -n 's/^\(NPS_TV_[A-Z0-9_]*\)=.*/\1/p') DATABASE_URL XDG_DATA_HOME \
            PYTHONPATH; do
  unset "$name"
done
export HOME="$WORK/home" NPS_TV_DEMO_DAYS=45
DATA="$HOME/.local/share/nps-tv"
"$VENV/bin/python" -c 'import app, sys; sys.exit(0 if "site-packages" in app.__file__ else 1)' \
  || fail "the venv imports app from outside site-packages"

if [ -n "${INSTALL_CHECK_PORT:-}" ]; then
  PORT1="$INSTALL_CHECK_PORT"; PORT2=$((INSTALL_CHECK_PORT + 1))
else
  PORT1="$(free_port)"; PORT2="$(free_port)"
fi

say "nps-tv demo --no-live on 127.0.0.1:$PORT1"
serve_and_check "demo" "$PORT1" "$WORK/demo.log" -- demo --no-live --port "$PORT1" --workers 1
stop_server
[ -f "$DATA/demo.db" ] || fail "the demo store is not at $DATA/demo.db"
mode="$(stat -c %a "$DATA/demo.db")"
[ "$mode" = "600" ] || fail "$DATA/demo.db has mode $mode, not 600"
if [ -n "$(find "$VENV" -name '*.db')" ]; then fail "a store was written inside the venv"; fi
if [ -n "$(ls -A "$WORK/cwd")" ]; then fail "files were left in the working folder"; fi

say "nps-tv settings, upgrade and import on the default store"
# Into a file first: grep -q stops reading at the first match, and under pipefail the
# command's broken pipe would fail the check at random.
"$VENV/bin/nps-tv" settings >"$WORK/settings.txt"
grep -qx "NPS_TV_DATA_DIR=$DATA" "$WORK/settings.txt" \
  || fail "nps-tv settings does not show NPS_TV_DATA_DIR=$DATA"
"$VENV/bin/nps-tv" upgrade >/dev/null || fail "nps-tv upgrade"
printf 'when,score,comment\n2026-01-05T10:00:00Z,9,Fast support\n2026-01-06T11:00:00Z,3,Slow\n' \
  > "$WORK/export.csv"
"$VENV/bin/nps-tv" import "$WORK/export.csv" --score score --time when --comment comment \
  >"$WORK/import.log" 2>&1 || { cat "$WORK/import.log" >&2; fail "nps-tv import"; }
[ "$(stat -c %a "$DATA/nps_tv.db")" = "600" ] || fail "$DATA/nps_tv.db is not mode 600"

say "an unwritable data folder is one line naming the path"
mkdir -p "$WORK/not-a-folder-parent" && touch "$WORK/not-a-folder-parent/file"
status=0
NPS_TV_DATA_DIR="$WORK/not-a-folder-parent/file/data" "$VENV/bin/nps-tv" upgrade \
  >"$WORK/refused.log" 2>&1 || status=$?
if [ "$status" != 2 ] || grep -q Traceback "$WORK/refused.log" \
   || ! grep -q "not-a-folder-parent/file" "$WORK/refused.log"; then
  cat "$WORK/refused.log" >&2; fail "an uncreatable data folder gave exit $status, not one line"
fi

say "nps-tv serve on 127.0.0.1:$PORT2 against the demo's data"
NPS_TV_DATABASE_URL="sqlite:///$DATA/demo.db" \
  serve_and_check "serve" "$PORT2" "$WORK/serve.log" -- serve --port "$PORT2" --workers 1
summary="$(get "http://127.0.0.1:$PORT2/api/v1/summary?window=all")"
case "$summary" in
  200*'"n":'[1-9]*) ;;
  *) fail "serve: /api/v1/summary?window=all did not count the demo's responses: $summary" ;;
esac
stop_server

say "passed in $((SECONDS - T0)) s"
