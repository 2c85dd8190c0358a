"""Real servers for tests: ``nps-tv serve`` (gunicorn, ``WallWorker``) and nginx, started on
127.0.0.1, waited for, and stopped. Used by the front-door, stream, instance, proxy and log
tests; each test module decides the settings, these only run the processes."""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import TOPICS_FILE, free_port, in_ci

ROOT = Path(__file__).resolve().parent.parent


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without any NPS TV setting, plus ``settings`` (names
    without the ``NPS_TV_`` prefix: ``ACCESS="open"`` is ``NPS_TV_ACCESS=open``)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("NPS_TV_") and k != "DATABASE_URL"}
    env.update({f"NPS_TV_{name}": str(value) for name, value in settings.items()})
    return env


def start_serve(tmp: Path, name: str = "serve", wait: bool = True,
                **settings: str) -> tuple[subprocess.Popen, int]:
    """``nps-tv serve`` on a free port with its data in ``tmp/data`` (unless ``DATA_DIR`` is
    given) and the shipped topics; its output goes to ``tmp/<name>.log``. Waits until it
    answers /health unless ``wait`` is false. (process, port)."""
    port = free_port()
    env = clean_env(**{"DATA_DIR": str(tmp / "data"), "TOPICS_FILE": str(TOPICS_FILE),
                       **settings})
    log = tmp / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "app", "serve", "--host", "127.0.0.1",
                                 "--port", str(port)], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    if wait:
        try:
            wait_until_listening(port, proc, log, f"nps-tv serve ({name})")
        except BaseException:
            stop(proc)
            raise
    return proc, port


def start_nginx(prefix: Path, conf: Path, port: int, wait: bool = True) -> subprocess.Popen:
    """nginx with the main config ``conf`` (``conftest.write_nginx_main``) listening on
    ``port``, its logs in ``prefix``; waits until it answers /health unless ``wait`` is
    false."""
    with (prefix / "stdout.log").open("wb") as out:
        proc = subprocess.Popen([find_nginx(), "-p", str(prefix), "-c", str(conf), "-e",
                                 str(prefix / "error.log")], stdout=out,
                                stderr=subprocess.STDOUT)
    if wait:
        try:
            wait_until_listening(port, proc, prefix / "error.log", "nginx")
        except BaseException:
            stop(proc)
            raise
    return proc


def find_nginx() -> str:
    """The nginx binary (tests/run_all.sh installs it), or fail (CI) / skip with the reason."""
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None)
    if found is None:
        reason = "nginx is not installed (tests/run_all.sh installs it: apt-get install nginx)"
        if in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def wait_until_listening(port: int, proc: subprocess.Popen, log: Path, what: str) -> None:
    """Poll until ``port`` answers /health (60 s at most), failing early if ``proc`` dies."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{what} exited ({proc.returncode}):\n{log.read_text()}"
        try:
            if get_health(port)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{what} did not answer /health within 60 s:\n{log.read_text()}")


def stop(proc: subprocess.Popen) -> None:
    """Stop a process we started: politely, then for sure."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def get_health(port: int) -> tuple[int, float]:
    """Status and seconds of one GET /health on a fresh connection."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/health")
        response = conn.getresponse()
        response.read()
        return response.status, time.monotonic() - started
    finally:
        conn.close()
