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


# --- encodings -------------------------------------------------------------------------------

EXAMPLE = """version = 1
[iiq]
url = "https://yourdistrict.incidentiq.com"
site_id = "00000000-0000-0000-0000-000000000000"
[station]
name = "Bibliothèque – desk 1"
"""


def write_bytes(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "config.toml"
    path.write_bytes(data)
    return path


def config_error(path: Path, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(config=path, env=env or {})
    message = str(caught.value)
    assert "\n" not in message  # one line
    assert str(path) in message
    return message


@pytest.mark.parametrize(
    ("encoding", "looks_like"),
    [
        ("utf-16", "it looks like UTF-16, as Notepad's 'Unicode' saves it"),  # LE with BOM
        ("utf-16-be", "it looks like UTF-16"),  # no BOM
        ("utf-16-le", "it looks like UTF-16"),
        ("utf-32", "it looks like UTF-32"),
    ],
)
def test_a_utf16_file_is_named_as_such(tmp_path: Path, encoding: str, looks_like: str) -> None:
    path = write_bytes(tmp_path, EXAMPLE.encode(encoding))
    message = config_error(path)
    assert f"is not UTF-8 ({looks_like}" in message
    assert message.endswith("save it as UTF-8.")


def test_utf16_big_endian_with_a_bom(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, b"\xfe\xff" + EXAMPLE.encode("utf-16-be"))
    assert "Notepad's 'Unicode big endian'" in config_error(path)


def test_a_windows_code_page_file_is_named(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, EXAMPLE.replace("– ", "").encode("cp1252"))
    message = config_error(path)
    assert "is not UTF-8 (byte 0xE8 on line 6" in message
    assert "'ANSI'" in message and message.endswith("save it as UTF-8.")


def test_utf8_with_a_bom_is_read(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, EXAMPLE.encode("utf-8-sig"))
    settings = load_settings(config=path, env={})
    assert settings.station.name == "Bibliothèque – desk 1"
    assert settings.iiq.url == "https://yourdistrict.incidentiq.com"


# --- malformed tables and versions -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "env", "section"),
    [
        ('iiq = "x"\n', {"IIQ_URL": "https://d.incidentiq.com"}, "iiq"),
        ("station = 3\n", {"IIQ_KIOSK_STATION": "desk"}, "station"),
        ('iiq = "x"\n', {}, "iiq"),
    ],
)
def test_a_section_given_as_a_plain_value_is_named(
    tmp_path: Path, text: str, env: dict[str, str], section: str
) -> None:
    message = config_error(write(tmp_path, text), env)
    assert f"Setting '{section}'" in message


def test_a_section_given_as_a_plain_value_names_the_table_to_write(tmp_path: Path) -> None:
    message = config_error(write(tmp_path, 'iiq = "x"\n'), {"IIQ_URL": "https://d.incidentiq.com"})
    assert 'must be a table ([iiq] followed by its settings), not the text "x"' in message


@pytest.mark.parametrize(
    ("value", "described"),
    [('"1"', 'the text "1"'), ("true", "true (true/false)"), ("1.0", "1.0"), ("[1]", "a list")],
)
def test_version_must_be_the_number_one(tmp_path: Path, value: str, described: str) -> None:
    message = config_error(write(tmp_path, f"version = {value}\n"))
    assert f"version must be the number 1 (version = 1), not {described}." in message


@pytest.mark.parametrize("version", [0, 2])
def test_a_wrong_version_number_names_both(tmp_path: Path, version: int) -> None:
    message = config_error(write(tmp_path, f"version = {version}\n"))
    assert f"has version {version}; this kiosk reads version 1" in message


def test_the_readme_example_still_loads(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    settings = load_settings(config=write(tmp_path, example), env={})
    assert settings.station.name == "Library desk 1"
    assert settings.checkin.status_name == "Available"


# --- station, outbox -------------------------------------------------------------------------


def test_new_settings_have_defaults() -> None:
    settings = load_settings(env={})
    assert settings.station.default_mode == "checkout"
    assert settings.station.undo_minutes == 5
    assert settings.outbox.verify_after_s == 30.0
    assert settings.journal.min_interval_s == 0.2
    assert settings.checkin.ask_charger is True
    assert settings.checkin.cart_pattern == r"^CART-[A-Z0-9-]+$"
    assert settings.checkin.carts == {}
    assert settings.accessories == ()


def test_station_modes_undo_and_outbox(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[station]
default_mode = "batch"
mode_lock = "line"
undo_minutes = 0
[journal]
min_interval_s = 1.5
[outbox]
verify_after_s = 120
""",
    )
    settings = load_settings(config=path, env={})
    assert (settings.station.default_mode, settings.station.mode_lock) == ("batch", "line")
    assert settings.station.undo_minutes == 0
    assert settings.journal.min_interval_s == 1.5
    assert settings.outbox.verify_after_s == 120


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("[station]\ndefault_mode = 'audit'\n", "station.default_mode"),
        ("[station]\nundo_minutes = -1\n", "station.undo_minutes"),
        ("[station]\nundo_minutes = 121\n", "station.undo_minutes"),
        ("[outbox]\nverify_after_s = -0.5\n", "outbox.verify_after_s"),
        ("[outbox]\nverify_after_s = 3601\n", "outbox.verify_after_s"),
        ("[outbox]\nmin_interval_s = 1\n", "outbox.min_interval_s"),  # it is [journal]'s
        ("[checkin]\nask_charger = 'sometimes'\n", "checkin.ask_charger"),
    ],
)
def test_new_settings_are_checked(tmp_path: Path, text: str, name: str) -> None:
    assert f"Setting '{name}' is invalid" in config_error(write(tmp_path, text))


# --- carts and accessories -------------------------------------------------------------------


def test_carts(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[checkin]
ask_charger = false
[checkin.carts."CART-LIB-1"]
location_id = "loc-library"
room_id = "room-12"
storage_unit = "Cart 1"
[checkin.carts.CART-GYM]
location_id = "loc-gym"
""",
    )
    checkin = load_settings(config=path, env={}).checkin
    assert checkin.ask_charger is False
    assert sorted(checkin.carts) == ["CART-GYM", "CART-LIB-1"]
    lib = checkin.carts["CART-LIB-1"]
    assert (lib.location_id, lib.room_id, lib.storage_unit) == ("loc-library", "room-12", "Cart 1")
    gym = checkin.carts["CART-GYM"]
    assert (gym.location_id, gym.room_id, gym.storage_unit) == ("loc-gym", None, None)


def test_a_bad_cart_pattern_is_one_line_naming_it(tmp_path: Path) -> None:
    message = config_error(write(tmp_path, "[checkin]\ncart_pattern = '^CART-('\n"))
    assert "[checkin] cart_pattern '^CART-(' is not a valid regular expression" in message
    assert "Value error" not in message


def test_an_empty_cart_pattern_means_no_carts(tmp_path: Path) -> None:
    settings = load_settings(config=write(tmp_path, "[checkin]\ncart_pattern = ''\n"), env={})
    assert settings.checkin.cart_pattern is None


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[checkin.carts."Cart 1"]\nlocation_id = "x"\n', "label 'Cart 1' does not match"),
        ('[checkin.carts.CART-1]\nroom_id = "x"\n', "checkin.carts.CART-1.location_id"),
        ('[checkin.carts.CART-1]\nlocation_id = "x"\nshelf = 2\n', "checkin.carts.CART-1.shelf"),
    ],
)
def test_bad_carts_are_named(tmp_path: Path, text: str, named: str) -> None:
    assert named in config_error(write(tmp_path, text))


def test_accessories_inline_or_as_tables(tmp_path: Path) -> None:
    inline = write(
        tmp_path,
        'version = 1\naccessories = [{model = "Chromebook", tag_pattern = "^CHG-"}]\n'
        "[station]\nname = 'x'\n",
        name="inline.toml",
    )
    tables = write(
        tmp_path,
        "[station]\nname = 'x'\n"
        '[[accessories]]\nmodel = "Chromebook"\ntag_pattern = "^CHG-"\n'
        '[[accessories]]\nmodel = "iPad"\ntag_pattern = "^USBC-"\n',
        name="tables.toml",
    )
    for path, count in ((inline, 1), (tables, 2)):
        settings = load_settings(config=path, env={})
        assert len(settings.accessories) == count
        rule = settings.accessory_rule("Dell CHROMEBOOK 3100")
        assert rule is not None and rule.tag_pattern == "^CHG-"
        assert rule.matches_tag("CHG-0042") and not rule.matches_tag("CB-0042")
        assert settings.accessory_rule("MacBook Air") is None
        assert settings.accessory_rule(None) is None


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('accessories = [{model = "Chromebook", tag_pattern = "^CHG-("}]\n', "tag_pattern"),
        ('accessories = [{tag_pattern = "^CHG-"}]\n', "accessories.0.model"),
        ('accessories = [{model = "", tag_pattern = "^CHG-"}]\n', "accessories.0.model"),
        ('accessories = {model = "Chromebook"}\n', "accessories"),
    ],
)
def test_bad_accessory_rules_are_named(tmp_path: Path, text: str, named: str) -> None:
    assert named in config_error(write(tmp_path, text))


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_ascii_utf16_without_a_bom_is_named(tmp_path: Path, encoding: str) -> None:
    path = write_bytes(tmp_path, "[station]\nname = 'desk'\n".encode(encoding))
    assert "is not UTF-8 (it looks like UTF-16)" in config_error(path)
