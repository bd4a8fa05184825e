"""Settings: defaults < TOML file < environment < command line, and errors that name the setting."""

from __future__ import annotations

import re
from pathlib import Path

import keyring
import pytest
from keyring.errors import KeyringError, NoKeyringError

from kiosk.config import (
    CONFIG_VERSION,
    KEYRING_SERVICE,
    ConfigError,
    Settings,
    load_settings,
    resolve_token,
)
from kiosk.iiq.client import api_base

SECRET = "eyJhbGciOi.secret-token-value.Zz9"
SITE = "6c5d0f5e-1111-4a2b-9c3d-000000000001"


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def settings_for(
    url: str | None = "https://district.incidentiq.com", site: str | None = SITE
) -> Settings:
    return load_settings(config=None, env={}, overrides={"iiq": {"url": url, "site_id": site}})


@pytest.fixture(autouse=True)
def _no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Whatever config file the person running the tests has is never read.
    monkeypatch.setattr("kiosk.config.default_config_path", lambda: tmp_path / "none.toml")
    monkeypatch.setattr(
        "kiosk.config.platformdirs.site_config_path", lambda *a, **k: tmp_path / "no-site"
    )


# --- precedence ----------------------------------------------------------------------------


def test_defaults_without_file_or_environment() -> None:
    settings = load_settings(env={})
    assert settings.source == "defaults"
    assert settings.version == CONFIG_VERSION
    assert settings.iiq.url is None and settings.iiq.site_id is None
    assert settings.iiq.transfer_api == "checkout"
    assert settings.checkin.status_name == "Available"
    assert settings.checkin.repair_status_name == "In Repair"
    assert settings.station.fullscreen is True


def test_file_then_environment_then_overrides(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
version = 1
[iiq]
url = "https://file.incidentiq.com"
site_id = "site-from-file"
transfer_api = "owner"
[station]
name = "file-station"
idle_seconds = 90
[checkin]
location_id = "loc-file"
[tickets]
issue_id = "issue-file"
""",
    )
    env = {
        "IIQ_URL": "https://env.incidentiq.com",
        "IIQ_KIOSK_STATION": "env-station",
        "IIQ_PRODUCT_ID": "",  # empty means unset, not "empty product"
        "IIQ_KIOSK_DATA": str(tmp_path / "data"),
    }
    settings = load_settings(config=path, env=env, overrides={"station": {"name": "cli-station"}})
    assert settings.source == str(path)
    assert settings.iiq.url == "https://env.incidentiq.com"  # env beats file
    assert settings.iiq.site_id == "site-from-file"  # file beats defaults
    assert settings.iiq.transfer_api == "owner"
    assert settings.iiq.product_id is None
    assert settings.station.name == "cli-station"  # overrides beat env
    assert settings.station.idle_seconds == 90
    assert settings.data_dir == tmp_path / "data"
    policy = settings.checkin_policy()
    assert policy.location_id == "loc-file"
    assert policy.ticket_issue_id == "issue-file"
    assert policy.status_name == "Available"


def test_environment_alone_beats_defaults() -> None:
    settings = load_settings(
        env={
            "IIQ_URL": "https://env.incidentiq.com",
            "IIQ_SITE_ID": SITE,
            "IIQ_TRANSFER_API": "owner",
        }
    )
    assert settings.iiq.url == "https://env.incidentiq.com"
    assert settings.iiq.site_id == SITE
    assert settings.iiq.transfer_api == "owner"


def test_config_file_from_iiq_kiosk_config(tmp_path: Path) -> None:
    path = write(tmp_path, '[station]\nname = "from-env-path"\n')
    settings = load_settings(env={"IIQ_KIOSK_CONFIG": str(path)})
    assert settings.station.name == "from-env-path"
    assert settings.source == str(path)


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="Config file not found") as caught:
        load_settings(config=missing, env={})
    assert str(missing) in str(caught.value)


def test_site_url_with_api_suffix_is_accepted() -> None:
    settings = load_settings(
        env={"IIQ_URL": "https://district.incidentiq.com/api/v1.0/", "IIQ_SITE_ID": SITE}
    )
    connection = settings.connection(SECRET)
    assert api_base(connection.site_url) == "https://district.incidentiq.com/api/v1.0"
    assert connection.site_id == SITE


# --- errors that name the setting ----------------------------------------------------------


def test_malformed_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[iiq\nurl = 'x'\n", name="broken.toml")
    with pytest.raises(ConfigError, match="not valid TOML") as caught:
        load_settings(config=path, env={})
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ('[iiq]\nurll = "https://x.incidentiq.com"\n', "iiq.urll"),
        ("[stations]\nname = 'x'\n", "stations"),
        ("[iiq]\nconnect_timeout = -1\n", "iiq.connect_timeout"),
        ("[station]\nmode_lock = 'everything'\n", "station.mode_lock"),
    ],
)
def test_unknown_or_bad_setting_is_named(tmp_path: Path, text: str, name: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=re.escape(f"Setting '{name}' is invalid")) as caught:
        load_settings(config=path, env={})
    assert str(path) in str(caught.value)


def test_bad_environment_value_is_named() -> None:
    with pytest.raises(ConfigError, match=r"'iiq\.transfer_api'"):
        load_settings(env={"IIQ_TRANSFER_API": "teleport"})


@pytest.mark.parametrize(
    "text",
    [f'token = "{SECRET}"\n', f'[iiq]\nurl = "https://x.incidentiq.com"\ntoken = "{SECRET}"\n'],
)
def test_token_in_the_file_is_refused(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match="contains an API token") as caught:
        load_settings(config=path, env={})
    message = str(caught.value)
    assert str(path) in message and "IIQ_TOKEN" in message
    assert SECRET not in message


@pytest.mark.parametrize("version", [0, 2])
def test_other_config_version_is_refused(tmp_path: Path, version: int) -> None:
    path = write(tmp_path, f"version = {version}\n")
    with pytest.raises(ConfigError, match=f"has version {version}"):
        load_settings(config=path, env={})


# --- connection() --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "site", "token", "named"),
    [
        (None, SITE, SECRET, "IIQ_URL"),
        ("https://district.incidentiq.com", None, SECRET, "IIQ_SITE_ID"),
        ("https://district.incidentiq.com", SITE, None, "IIQ_TOKEN"),
        ("https://district.incidentiq.com", SITE, "", "IIQ_TOKEN"),
    ],
)
def test_connection_names_what_is_missing(
    url: str | None, site: str | None, token: str | None, named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        settings_for(url, site).connection(token)


def test_plain_http_to_a_remote_host_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"IIQ_URL.*https://") as caught:
        settings_for("http://district.incidentiq.com").connection(SECRET)
    assert "simulator" in str(caught.value)


def test_plain_http_to_loopback_is_allowed() -> None:
    connection = settings_for("http://127.0.0.1:8123").connection(SECRET)
    assert connection.site_url == "http://127.0.0.1:8123"
    assert connection.token == SECRET


def test_connection_carries_timeouts_and_product() -> None:
    settings = load_settings(
        env={},
        overrides={
            "iiq": {
                "url": "https://district.incidentiq.com",
                "site_id": SITE,
                "product_id": "prod",
                "read_timeout": 30,
            }
        },
    )
    connection = settings.connection(SECRET)
    assert connection.product_id == "prod"
    assert connection.read_timeout == 30
    assert connection.connect_timeout == 5.0


def test_token_never_shows_in_a_repr() -> None:
    settings = settings_for()
    connection = settings.connection(SECRET)
    for text in (repr(settings), str(settings), repr(connection), str(connection)):
        assert SECRET not in text
    assert "district.incidentiq.com" in repr(connection)


# --- the token ------------------------------------------------------------------------------


def test_resolve_token_prefers_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []

    def fake_get(service: str, account: str) -> str:
        calls.append((service, account))
        return "from-keyring"

    monkeypatch.setattr(keyring, "get_password", fake_get)
    settings = settings_for()
    assert resolve_token(settings, env={"IIQ_TOKEN": f"  {SECRET}\n"}) == SECRET
    assert calls == []
    assert resolve_token(settings, env={}) == "from-keyring"
    assert calls == [(KEYRING_SERVICE, "https://district.incidentiq.com")]


@pytest.mark.parametrize("error", [KeyringError("locked"), NoKeyringError("none")])
def test_keyring_failure_means_no_token(monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    def broken(service: str, account: str) -> str:
        raise error

    monkeypatch.setattr(keyring, "get_password", broken)
    assert resolve_token(settings_for(), env={}) is None
