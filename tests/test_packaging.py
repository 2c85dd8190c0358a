"""Installs like a real Python application (issue 9): where the data folder is, what the wheel
carries, and how an unusable store path is refused. The wheel itself is built, installed and
run outside the repo by tests/check_install.sh (tests/run_all.sh runs it)."""

from __future__ import annotations

import os
import stat
import tempfile
import tomllib
from contextlib import contextmanager
from pathlib import Path

import pytest

from app.cli import main
from app.config import (
    ASSETS_DIR,
    DEFAULT_DATA_DIR,
    PACKAGE_ROOT,
    PROJECT_ROOT,
    SHIPPED_DATA_FILES,
    SHIPPED_TOPICS_FILE,
    Settings,
    default_data_dir,
    is_source_checkout,
    shipped_paths,
    user_data_dir,
)
from app.store import Store, StorePathError

PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())


def installed_layout(root: Path) -> Path:
    """A package laid out as the wheel installs it: site-packages/app with its shipped data."""
    package = root / "site-packages" / "app"
    (package / "_assets").mkdir(parents=True)
    (package / "_defaults").mkdir()
    (package / "__init__.py").write_text("")
    (package / "_defaults" / "topics.json").write_text('{"topics": []}')
    return package


def test_a_source_checkout_keeps_its_stores_in_the_repos_data_folder():
    assert is_source_checkout()
    assert DEFAULT_DATA_DIR == default_data_dir() == PROJECT_ROOT / "data"
    assert (ASSETS_DIR, SHIPPED_TOPICS_FILE) == (PROJECT_ROOT / "assets",
                                                 PROJECT_ROOT / "data" / "topics.json")
    assert SHIPPED_TOPICS_FILE.is_file() and (ASSETS_DIR / "nps_tv.js").is_file()
    assert Settings().data_dir == str(PROJECT_ROOT / "data")


def test_an_installed_package_keeps_its_stores_in_the_users_data_folder(tmp_path):
    package = installed_layout(tmp_path)
    home = tmp_path / "home"
    assert not is_source_checkout(package)
    data = default_data_dir(package, {"HOME": str(home)})
    assert data == home / ".local" / "share" / "nps-tv"
    assert package not in data.parents  # never inside site-packages
    xdg = tmp_path / "xdg"
    assert default_data_dir(package, {"HOME": str(home), "XDG_DATA_HOME": str(xdg)}) == \
        xdg / "nps-tv"
    # The XDG spec ignores a relative XDG_DATA_HOME.
    assert default_data_dir(package, {"HOME": str(home), "XDG_DATA_HOME": "rel"}) == data
    assert shipped_paths(package) == (package / "_assets",
                                      package / "_defaults" / "topics.json")


def test_the_users_data_folder_on_other_systems(tmp_path):
    env = {"HOME": str(tmp_path), "LOCALAPPDATA": str(tmp_path / "Local")}
    assert user_data_dir(env, "win32") == tmp_path / "Local" / "nps-tv"
    assert user_data_dir(env, "darwin") == tmp_path / "Library" / "Application Support" / "nps-tv"


def test_nps_tv_data_dir_overrides_the_default_as_an_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert Settings.from_env({"NPS_TV_DATA_DIR": "stores"}).data_dir == str(tmp_path / "stores")
    assert Settings.from_env({"NPS_TV_DATA_DIR": "~/nps"}).data_dir == \
        str(tmp_path / "home" / "nps")
    assert Settings.from_env({"NPS_TV_DATA_DIR": " "}).data_dir == str(DEFAULT_DATA_DIR)
    settings = Settings.from_env({"NPS_TV_DATA_DIR": str(tmp_path / "d")})
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'd' / 'nps_tv.db'}"
    assert settings.resolved_topics_file == SHIPPED_TOPICS_FILE  # none in the folder


def test_nps_tv_settings_shows_the_resolved_data_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NPS_TV_DATA_DIR", "./here/../stores")
    assert main(["settings"]) == 0
    assert f"NPS_TV_DATA_DIR={tmp_path / 'stores'}" in capsys.readouterr().out.splitlines()


def test_a_new_store_in_a_new_data_folder_is_created_for_its_owner_only(tmp_path, monkeypatch,
                                                                         capsys):
    data = tmp_path / "new" / "nested"
    monkeypatch.setenv("NPS_TV_DATA_DIR", str(data))
    monkeypatch.delenv("NPS_TV_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    old_umask = os.umask(0o022)
    try:
        assert main(["upgrade"]) == 0
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((data / "nps_tv.db").stat().st_mode) == 0o600
    assert "database at revision" in capsys.readouterr().out


def test_an_uncreatable_data_folder_is_one_line_naming_the_path(tmp_path, monkeypatch, capsys):
    (tmp_path / "file").write_text("a file, not a folder")
    data = tmp_path / "file" / "data"
    with pytest.raises(StorePathError, match="cannot create the folder .*: Not a directory"):
        Store(f"sqlite:///{data / 'nps_tv.db'}")
    monkeypatch.setenv("NPS_TV_DATA_DIR", str(data))
    monkeypatch.delenv("NPS_TV_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert main(["upgrade"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"cannot use {data / 'nps_tv.db'} for the store" in err
    assert "Not a directory" in err and "NPS_TV_DATA_DIR" in err


@contextmanager
def as_another_user():
    """Run the block as a user who is not the folder's owner: as root (CI), the effective user
    becomes nobody, since root may write anywhere; otherwise the current user already is."""
    if os.geteuid() != 0:
        yield
        return
    try:
        os.seteuid(65534)
    except PermissionError:
        pytest.skip("running as root without the right to change the effective user")
    try:
        yield
    finally:
        os.seteuid(0)


def test_an_unwritable_data_folder_or_file_is_refused_with_the_reason(tmp_path):
    Store(f"sqlite:///{tmp_path / 'warm.db'}").dispose()  # the driver loaded before seteuid
    base = Path(tempfile.mkdtemp(prefix="nps-tv-unwritable-"))
    try:
        os.chmod(base, 0o755)
        folder = base / "read-only"
        folder.mkdir(mode=0o555)
        private = base / "private"
        private.mkdir(mode=0o755)
        (private / "nps_tv.db").write_bytes(b"")
        os.chmod(private / "nps_tv.db", 0o400)
        with as_another_user():
            with pytest.raises(StorePathError, match="the folder .* is not writable"):
                Store(f"sqlite:///{folder / 'nps_tv.db'}")
            with pytest.raises(StorePathError, match="the folder .* is not writable|the file "
                                                     "is not writable"):
                Store(f"sqlite:///{private / 'nps_tv.db'}")
    finally:
        os.chmod(base / "read-only", 0o755)
        for path in sorted(base.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        base.rmdir()


def test_every_package_and_shipped_file_goes_into_the_wheel():
    setuptools = PYPROJECT["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    found = {".".join(p.parent.relative_to(PROJECT_ROOT).parts)
             for p in PACKAGE_ROOT.rglob("__init__.py")}
    assert found <= listed, f"add to pyproject's packages: {sorted(found - listed)}"
    mapped = setuptools["package-dir"]
    assert mapped == {"app._assets": "assets", "app._defaults": "data"}
    globs = setuptools["package-data"]
    for package, folder in mapped.items():
        shipped = {p.name for pattern in globs[package]
                   for p in (PROJECT_ROOT / folder).glob(pattern)}
        if folder == "assets":  # every asset Dash serves, whatever its kind
            assert shipped == {p.name for p in ASSETS_DIR.iterdir() if p.is_file()}
        else:  # the shipped defaults only: never a store or the demo token of a checkout
            assert shipped == set(SHIPPED_DATA_FILES)


def test_the_sdist_carries_every_shipped_data_file():
    # The wheel is built from the sdist (tests/check_install.sh, and pip from PyPI), so a
    # shipped file missing from MANIFEST.in is missing from every installed package.
    included = set()
    for line in (PROJECT_ROOT / "MANIFEST.in").read_text().splitlines():
        words = line.split()
        if words[:1] == ["include"]:
            included.update(words[1:])
    assert {f"data/{name}" for name in SHIPPED_DATA_FILES} <= included


def test_a_logged_traceback_stays_on_one_line():
    import logging

    from app.logs import FORMAT, OneLineFormatter

    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError:
        import sys

        record = logging.LogRecord("nps_tv", logging.ERROR, __file__, 1, "failed %s", ("x",),
                                   sys.exc_info())
    line = OneLineFormatter(FORMAT).format(record)
    assert "\n" not in line and "failed x" in line and "RuntimeError: boom | second line" in line


def test_the_servers_log_one_line_per_event_unless_logging_is_configured(monkeypatch, capsys):
    import logging

    from app.logs import configure_logging

    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", logging.WARNING)
    configure_logging()
    try:
        assert len(root.handlers) == 1 and root.level == logging.INFO
        configure_logging()  # a second call (the Procfile's workers) adds nothing
        assert len(root.handlers) == 1
        try:
            raise ValueError("bad\nworse")
        except ValueError:
            logging.getLogger("nps_tv.test").exception("it failed")
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "[ERROR] nps_tv.test: it failed | Traceback" in err
    finally:
        logging.getLogger("apscheduler").setLevel(logging.NOTSET)
        logging.getLogger("alembic").setLevel(logging.NOTSET)
