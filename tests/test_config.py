"""Settings: file discovery, precedence, and one-line errors that name the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.config import Settings, load_settings
from podium.errors import ConfigError


def test_defaults_without_file_live_under_dot_podium(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={})
    assert settings.home == (tmp_path / ".podium").resolve()
    assert settings.metadata_url == f"sqlite:///{settings.home / 'podium.db'}"
    assert settings.lake_url == str(settings.home / "lake")
    assert settings.config_file is None


def test_file_found_from_a_subdirectory_and_home_beside_it(tmp_path: Path) -> None:
    (tmp_path / "podium.toml").write_text('[podium]\nlog_level = "debug"\n')
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    settings = load_settings(nested, environ={})
    assert settings.config_file == tmp_path / "podium.toml"
    assert settings.home == (tmp_path / ".podium").resolve()
    assert settings.log_level == "DEBUG"


def test_environment_overrides_file(tmp_path: Path) -> None:
    (tmp_path / "podium.toml").write_text('[podium]\nexecutor = "local"\nserver_port = 9000\n')
    settings = load_settings(
        tmp_path,
        environ={"PODIUM_SERVER_PORT": "9100", "PODIUM_HOME": str(tmp_path / "elsewhere")},
    )
    assert settings.server_port == 9100
    assert settings.home == (tmp_path / "elsewhere").resolve()


def test_functions_table_is_read(tmp_path: Path) -> None:
    (tmp_path / "podium.toml").write_text('[functions]\nscore = "mypkg.jobs:score"\n')
    assert load_settings(tmp_path, environ={}).functions == {"score": "mypkg.jobs:score"}


def test_unknown_key_names_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "podium.toml").write_text('[podium]\nmetadata_uri = "sqlite:///x.db"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, environ={})
    message = str(caught.value)
    assert str(tmp_path / "podium.toml") in message
    assert "metadata_uri" in message and "\n" not in message


def test_unknown_environment_key_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PODIUM_NO_SUCH_THING"):
        load_settings(tmp_path, environ={"PODIUM_NO_SUCH_THING": "1"})


def test_bad_url_names_key(tmp_path: Path) -> None:
    (tmp_path / "podium.toml").write_text('[podium]\nmetadata_url = "mysql://x"\n')
    with pytest.raises(ConfigError, match="metadata_url"):
        load_settings(tmp_path, environ={})


def test_malformed_toml_names_file(tmp_path: Path) -> None:
    (tmp_path / "podium.toml").write_text("[podium\nlog_level = 'x'\n")
    with pytest.raises(ConfigError, match="malformed TOML"):
        load_settings(tmp_path, environ={})


def test_bad_function_reference_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "podium.toml").write_text('[functions]\nscore = "no_colon_here"\n')
    with pytest.raises(ConfigError, match="score"):
        load_settings(tmp_path, environ={})


def test_for_home_places_everything_under_home(tmp_path: Path) -> None:
    settings = Settings.for_home(tmp_path)
    assert settings.path("streams") == tmp_path.resolve() / "streams"
    assert settings.online_store_url.endswith("features/online.db")
    assert settings.public_dict()["api_token"] is None
    assert Settings.for_home(tmp_path, api_token="s3cret").public_dict()["api_token"] == "***"


def test_streams_url_accepts_embedded_options(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={"PODIUM_STREAMS_URL": "embedded?fsync=always"})
    assert settings.streams_url == "embedded?fsync=always"
    with pytest.raises(ConfigError, match="streams_url"):
        load_settings(tmp_path, environ={"PODIUM_STREAMS_URL": "kafka://broker:9092"})


def test_serving_lease_and_sync_intervals_are_settings(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={})
    assert (settings.serving_lease_seconds, settings.serving_lease_renew_seconds,
            settings.serving_sync_seconds) == (10.0, 2.5, 0.5)
    (tmp_path / "podium.toml").write_text(
        "[podium]\nserving_lease_seconds = 30\nserving_lease_renew_seconds = 5\n")
    settings = load_settings(tmp_path, environ={"PODIUM_SERVING_SYNC_SECONDS": "1.5"})
    assert (settings.serving_lease_seconds, settings.serving_lease_renew_seconds,
            settings.serving_sync_seconds) == (30.0, 5.0, 1.5)


def test_serving_intervals_that_would_lose_live_leases_are_refused(tmp_path: Path) -> None:
    (tmp_path / "podium.toml").write_text("[podium]\nserving_lease_seconds = 2\n")
    with pytest.raises(ConfigError) as caught:  # the default renewal (2.5 s) is not shorter
        load_settings(tmp_path, environ={})
    assert "setting 'serving_lease_renew_seconds' must be shorter than serving_lease_seconds (2 s; got 2.5 s)" \
        in str(caught.value)
    (tmp_path / "podium.toml").unlink()
    with pytest.raises(ConfigError, match="PODIUM_SERVING_SYNC_SECONDS: setting 'serving_sync_seconds' "
                                          r"must be at most serving_lease_renew_seconds \(2.5 s"):
        load_settings(tmp_path, environ={"PODIUM_SERVING_SYNC_SECONDS": "3"})
    with pytest.raises(ConfigError, match="serving_lease_seconds"):
        Settings.for_home(tmp_path, serving_lease_seconds=0)
