"""Every setting has a default, help, an environment variable and a line in the README."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

import app.config
from app.config import SETTINGS, Setting, Settings, normalise_database_url, setting

README = Path(__file__).resolve().parents[1] / "README.md"
CONFIG_SOURCE = Path(app.config.__file__)


def test_every_setting_is_documented_in_the_readme():
    text = README.read_text()
    missing = [s.env for s in SETTINGS if f"`{s.env}`" not in text]
    assert missing == []


def test_registry_and_settings_class_declare_the_same_settings():
    fields = {f.name for f in dataclasses.fields(Settings)}
    assert {s.name for s in SETTINGS} == fields
    for s in SETTINGS:
        assert s.help.strip(), s.name
        assert getattr(Settings(), s.name) == s.default, s.name


def test_each_default_is_declared_once_on_its_field():
    # SETTINGS is read off the dataclass, so a default or help written a second time
    # elsewhere (a tuple beside the class, as before) cannot drift from it.
    assert SETTINGS == tuple(Setting.from_field(f) for f in dataclasses.fields(Settings))
    for field in dataclasses.fields(Settings):
        assert field.metadata.get("help", "").strip(), f"{field.name} has no help"
        assert field.default is not dataclasses.MISSING, f"{field.name} has no default"
    assert Settings.from_env({}) == Settings()
    source = CONFIG_SOURCE.read_text()
    for s in SETTINGS:  # one field each, and no registry entry written out beside it
        assert source.count(f"    {s.name}: ") == 1, s.name
    assert re.search(r"Setting\(\s*[\"']", source) is None, "a Setting(...) written out by hand"


def test_every_declared_type_has_a_parser_that_reads_its_default_back():
    for s in SETTINGS:
        if isinstance(s.default, (int, float, str)) and not isinstance(s.default, bool):
            assert s.parse(str(s.default)) == s.default, s.name
        elif isinstance(s.default, tuple):
            assert s.parse(",".join(s.default)) == s.default, s.name


def test_a_field_without_help_or_parser_is_refused():
    @dataclasses.dataclass
    class Odd:
        untyped: bytes = setting(b"", "bytes have no parser")
        silent: int = dataclasses.field(default=1)

    odd, silent = dataclasses.fields(Odd)
    with pytest.raises(TypeError, match="untyped"):
        Setting.from_field(odd)
    with pytest.raises(TypeError, match="silent"):
        Setting.from_field(silent)
    assert Setting.from_field(dataclasses.fields(Settings)[0]).env == "NPS_TV_DATABASE_URL"


def test_settings_are_read_from_the_environment():
    env = {"NPS_TV_POLL_SECONDS": "2.5", "NPS_TV_SEGMENT_FIELDS": "plan, tier",
           "NPS_TV_GOAL": "40", "NPS_TV_PORT": "9000"}
    s = Settings.from_env(env)
    assert (s.poll_seconds, s.segment_fields, s.goal, s.port) == (2.5, ("plan", "tier"), 40.0, 9000)


def test_a_bad_value_names_the_variable():
    with pytest.raises(ValueError, match="NPS_TV_PORT"):
        Settings.from_env({"NPS_TV_PORT": "eighty"})


def test_database_url_falls_back_to_paas_variable_and_maps_the_driver():
    s = Settings.from_env({"DATABASE_URL": "postgres://u@h/db"})
    assert s.resolved_database_url == "postgresql+psycopg://u@h/db"
    own = Settings.from_env({"DATABASE_URL": "postgres://u@h/db",
                             "NPS_TV_DATABASE_URL": "sqlite:///x.db"})
    assert own.resolved_database_url == "sqlite:///x.db"
    assert normalise_database_url("postgresql://a@b/c") == "postgresql+psycopg://a@b/c"


def test_default_store_is_sqlite_in_the_data_dir(tmp_path):
    s = Settings(data_dir=str(tmp_path))
    assert s.resolved_database_url == f"sqlite:///{tmp_path / 'nps_tv.db'}"
    assert s.demo_database_url != s.resolved_database_url


def test_readme_table_is_the_generated_one():
    from app.cli import settings_table

    assert settings_table() in README.read_text()
