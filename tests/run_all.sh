#!/usr/bin/env bash
# Install what the tests need and run them all (the README's test command; CI runs it too).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

# constraints.txt: the versions CI tested with, so every run installs the same ones.
"$PYTHON" -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[test]"

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "Installing Debian's chromium and chromium-driver for the browser tests..."
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  echo "Installing Debian's nginx for the reverse-proxy tests (tests/test_front_door.py)..."
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nginx >/dev/null
fi

"$PYTHON" -m ruff check app tests benchmarks

# The wheel, installed outside the repo into a fresh virtualenv, runs the demo and serves
# (about a minute). NPS_TV_SKIP_INSTALL_CHECK=1 skips it on a developer's machine, never in CI.
if [ "${NPS_TV_SKIP_INSTALL_CHECK:-}" = "1" ] && [ "${CI:-}" != "true" ]; then
  echo "install check skipped (NPS_TV_SKIP_INSTALL_CHECK=1)"
else
  PYTHON="$PYTHON" bash tests/check_install.sh
fi
exec "$PYTHON" -m pytest --headless "$@"
