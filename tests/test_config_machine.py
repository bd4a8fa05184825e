"""The machine-wide file below the user's, locked settings, paths in files, where each value
came from, the new settings, and the settings writer."""

from __future__ import annotations

import logging
import os
import tomllib
from pathlib import Path

import pytest

import kiosk.config as config
from kiosk.config import (
    MACHINE_CONFIG_ENV,
    USER_FILE_HEADER,
    ConfigError,
    Settings,
    load_settings,
    machine_locks,
    setting_names,
    user_settings_path,
    write_user_settings,
)

# Taken at import, before conftest's fixture replaces it for every test.
REAL_DEFAULT_MACHINE_PATH = config.default_machine_config_path

SECRET = "eyJhbGciOi.secret-token-value.Zz9"
PIN_HASH = "scrypt$16384$8$1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA=="


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The per-user data folder a file's paths must stay in."""
    home = tmp_path / "home-data"
    monkeypatch.setattr("kiosk.config.default_data_dir", lambda: home)
    return home


@pytest.fixture(autouse=True)
def _no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kiosk.config.default_config_path", lambda: tmp_path / "none.toml")


def load(machine: Path | None, user: Path | None, **env: str) -> Settings:
    environment = dict(env)
    if machine is not None:
        environment[MACHINE_CONFIG_ENV] = str(machine)
    return load_settings(config=user, env=environment)


def message_of(machine: Path | None, user: Path | None, **env: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(machine, user, **env)
    text = str(caught.value)
    assert "\n" not in text
    return text


# --- where the machine-wide file is ----------------------------------------------------------


def test_the_machine_file_lives_in_programdata_on_windows_and_etc_elsewhere(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(config.sys, "platform", "linux")
    assert REAL_DEFAULT_MACHINE_PATH() == Path("/etc/iiq-kiosk/config.toml")
    monkeypatch.setattr(config.sys, "platform", "win32")
    calls: list[tuple[object, ...]] = []

    def site_config_path(*args: object, **kwargs: object) -> Path:
        calls.append((*args, *kwargs.items()))
        return tmp_path / "ProgramData" / "iiq-kiosk"

    monkeypatch.setattr(config.platformdirs, "site_config_path", site_config_path)
    assert REAL_DEFAULT_MACHINE_PATH() == tmp_path / "ProgramData" / "iiq-kiosk" / "config.toml"
    assert calls == [("iiq-kiosk", ("appauthor", False))]


def test_the_default_machine_file_is_read_when_it_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    machine = write(tmp_path / "etc" / "config.toml", '[station]\nname = "from-machine"\n')
    monkeypatch.setattr("kiosk.config.default_machine_config_path", lambda: machine)
    settings = load_settings(env={})
    assert settings.station.name == "from-machine"
    assert settings.machine_file == machine and settings.user_file is None
    assert settings.source == str(machine)


def test_no_machine_file_where_the_variable_points_means_none(tmp_path: Path) -> None:
    settings = load(tmp_path / "absent.toml", None)
    assert settings.machine_file is None
    assert settings.source == "defaults"


# --- below the user's file, per key -------------------------------------------------------------


def test_machine_file_below_user_file_merged_per_key(tmp_path: Path) -> None:
    machine = write(
        tmp_path / "machine.toml",
        """
[station]
name = "machine-station"
sound = false
idle_seconds = 90
[checkin]
status_name = "Ready"
[checkin.carts.CART-A]
location_id = "loc-a"
""",
    )
    user = write(
        tmp_path / "user.toml",
        """
[station]
name = "user-station"
[checkin.carts.CART-B]
location_id = "loc-b"
""",
    )
    settings = load(machine, user)
    assert settings.station.name == "user-station"  # the user's file wins
    assert settings.station.sound is False  # the machine file's, kept beside it
    assert settings.station.idle_seconds == 90
    assert settings.checkin.status_name == "Ready"
    assert sorted(settings.checkin.carts) == ["CART-A", "CART-B"]
    assert settings.source == f"{machine} and {user}"
    assert (settings.machine_file, settings.user_file) == (machine, user)


def test_where_each_value_came_from(tmp_path: Path) -> None:
    machine = write(tmp_path / "machine.toml", '[station]\nname = "m"\nsound = false\n')
    user = write(tmp_path / "user.toml", '[station]\nname = "u"\nprivacy = true\n')
    settings = load_settings(
        config=user,
        env={
            MACHINE_CONFIG_ENV: str(machine),
            "IIQ_URL": "https://env.incidentiq.com",
            "IIQ_KIOSK_DATA": str(tmp_path / "data"),
        },
        overrides={"station": {"fullscreen": False}},
    )
    assert settings.origin("station.sound") == "machine"
    assert settings.origin("station.name") == "user"
    assert settings.origin("station.privacy") == "user"
    assert settings.origin("iiq.url") == "environment"
    assert settings.origin("data_dir") == "environment"
    assert settings.origin("station.fullscreen") == "command line"
    assert settings.origin("station.idle_seconds") == "default"
    assert settings.origin("tickets.issue_id") == "default"
    assert settings.describe_origin("station.sound") == f"the machine-wide file {machine}"
    assert settings.describe_origin("station.name") == f"the user's file {user}"
    assert settings.describe_origin("iiq.url") == "the environment"
    assert settings.describe_origin("scanner.prefix") == "the default"


def test_environment_and_command_line_still_win_over_both_files(tmp_path: Path) -> None:
    machine = write(tmp_path / "machine.toml", '[station]\nname = "m"\n')
    user = write(tmp_path / "user.toml", '[station]\nname = "u"\n')
    assert load(machine, user, IIQ_KIOSK_STATION="env").station.name == "env"


def test_a_bad_value_names_the_file_it_came_from(tmp_path: Path) -> None:
    machine = write(tmp_path / "machine.toml", "[station]\nidle_seconds = 1\n")
    user = write(tmp_path / "user.toml", "[station]\nundo_minutes = -1\n")
    text = message_of(machine, None)
    assert "Setting 'station.idle_seconds' is invalid" in text and str(machine) in text
    text = message_of(write(tmp_path / "ok.toml", "[station]\nsound = true\n"), user)
    assert "Setting 'station.undo_minutes' is invalid" in text and f"(in {user})" in text


def test_a_table_given_as_a_plain_value_in_the_machine_file_is_named(tmp_path: Path) -> None:
    machine = write(tmp_path / "machine.toml", 'station = "desk"\n')
    text = message_of(machine, None)
    assert f"Setting 'station' in {machine} must be a table" in text


@pytest.mark.parametrize("name", ["origins", "source", "locked_keys"])
def test_names_the_kiosk_fills_in_are_not_settings(tmp_path: Path, name: str) -> None:
    user = write(tmp_path / "user.toml", f'{name} = "x"\n')
    text = message_of(None, user)
    assert str(user) in text
    assert name in text


# --- locked settings ----------------------------------------------------------------------------


def test_locked_settings_in_the_user_file_are_ignored_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    machine = write(
        tmp_path / "machine.toml",
        """locked = ["station.mode_lock", "iiq.url", "tickets"]
[station]
mode_lock = "checkin"
[iiq]
url = "https://district.incidentiq.com"
[tickets]
issue_id = "issue-machine"
""",
    )
    user = write(
        tmp_path / "user.toml",
        """
[station]
mode_lock = "lookup"
name = "desk 2"
[iiq]
url = "https://elsewhere.example.com"
site_id = "site-user"
[tickets]
issue_id = "issue-user"
""",
    )
    with caplog.at_level(logging.WARNING, logger="kiosk.config"):
        settings = load(machine, user)
    assert settings.station.mode_lock == "checkin"
    assert settings.iiq.url == "https://district.incidentiq.com"
    assert settings.tickets.issue_id == "issue-machine"
    assert settings.station.name == "desk 2"  # not locked: the user's
    assert settings.iiq.site_id == "site-user"
    assert settings.locked == {"station.mode_lock", "iiq.url", "tickets"}
    assert set(settings.ignored_locked) == {"station.mode_lock", "iiq.url", "tickets"}
    assert settings.is_locked("station.mode_lock") and settings.is_locked("iiq.url")
    assert settings.is_locked("tickets.issue_type_id")  # a locked table locks its settings
    assert not settings.is_locked("station.name") and not settings.is_locked("iiq.site_id")
    assert settings.origin("station.mode_lock") == "machine"
    warned = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    for name in ("station.mode_lock", "iiq.url", "tickets"):
        assert name in warned
    assert str(user) in warned
    assert machine_locks({MACHINE_CONFIG_ENV: str(machine)}) == settings.locked


def test_a_lock_without_a_user_value_ignores_nothing(tmp_path: Path) -> None:
    machine = write(tmp_path / "machine.toml", 'locked = ["station.sound"]\n')
    settings = load(machine, write(tmp_path / "user.toml", '[station]\nname = "x"\n'))
    assert settings.ignored_locked == ()
    assert settings.is_locked("station.sound")
    assert settings.origin("station.sound") == "default"


def test_the_environment_still_wins_over_a_lock(tmp_path: Path) -> None:
    machine = write(tmp_path / "machine.toml", 'locked = ["station.name"]\n[station]\nname = "m"\n')
    settings = load(machine, None, IIQ_KIOSK_STATION="env-station")
    assert settings.station.name == "env-station"
    assert settings.origin("station.name") == "environment"


@pytest.mark.parametrize(
    ("locked", "named", "hint"),
    [
        ('["station.mode_lok"]', "station.mode_lok", "Did you mean 'station.mode_lock'?"),
        ('["stations"]', "stations", "Did you mean 'station'?"),
        ('["token"]', "token", ""),
        ('["source"]', "source", ""),
    ],
)
def test_an_unknown_locked_name_is_an_error_naming_it(
    tmp_path: Path, locked: str, named: str, hint: str
) -> None:
    machine = write(tmp_path / "machine.toml", f"locked = {locked}\n")
    text = message_of(machine, None)
    assert f"locked names '{named}', which is not a setting" in text
    assert str(machine) in text
    assert hint in text


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('locked = "station.mode_lock"\n', "locked must be a list of setting names"),
        ("locked = [1]\n", "locked must be a list of setting names"),
        ('[station]\nlocked = ["station.sound"]\n', "must come at the top of the file"),
    ],
)
def test_a_malformed_lock_list_is_named(tmp_path: Path, text: str, says: str) -> None:
    machine = write(tmp_path / "machine.toml", text)
    message = message_of(machine, None)
    assert says in message and str(machine) in message


def test_only_the_machine_file_can_lock(tmp_path: Path) -> None:
    user = write(tmp_path / "user.toml", 'locked = ["station.sound"]\n')
    text = message_of(None, user)
    assert "only the machine-wide file can lock settings" in text and str(user) in text


def test_every_setting_name_can_be_locked() -> None:
    names = setting_names()
    for name in ("iiq.url", "station.mode_lock", "scanner.end_pause_ms", "accessories"):
        assert name in names
    assert "data_dir" in names and "checkin.carts" in names and "admin.pin_hash" in names
    assert not {"source", "origins", "locked", "version"} & names


# --- paths in a file ----------------------------------------------------------------------------


def test_a_relative_data_dir_is_taken_inside_the_data_folder(
    tmp_path: Path, data_home: Path
) -> None:
    user = write(tmp_path / "user.toml", 'data_dir = "station-2"\n')
    settings = load(None, user)
    assert settings.data_dir == (data_home / "station-2").resolve()
    assert settings.journal_path.parent == settings.data_dir


@pytest.mark.parametrize("value", ["../elsewhere", "station/../../elsewhere", "ABSOLUTE"])
def test_a_data_dir_outside_the_data_folder_is_refused(
    tmp_path: Path, data_home: Path, value: str
) -> None:
    folder = str(tmp_path / "elsewhere") if value == "ABSOLUTE" else value
    user = write(tmp_path / "user.toml", f"data_dir = '{folder}'\n")
    text = message_of(None, user)
    assert f"Setting 'data_dir' in {user} points outside the data folder" in text
    assert str(data_home.resolve()) in text
    assert "IIQ_KIOSK_DATA" in text


def test_a_full_path_inside_the_data_folder_is_fine(tmp_path: Path, data_home: Path) -> None:
    inside = data_home / "desk-1"
    user = write(tmp_path / "user.toml", f"data_dir = '{inside}'\n")
    assert load(None, user).data_dir == inside.resolve()


def test_the_machine_file_chooses_the_data_folder(tmp_path: Path, data_home: Path) -> None:
    shared = tmp_path / "D-drive" / "iiq-kiosk"
    machine = write(tmp_path / "machine.toml", f"data_dir = '{shared}'\n")
    assert load(machine, None).data_dir == shared
    user = write(tmp_path / "user.toml", 'data_dir = "desk-2"\n')
    assert load(machine, user).data_dir == (shared / "desk-2").resolve()
    escaping = write(tmp_path / "escaping.toml", f"data_dir = '{data_home}'\n")
    assert "points outside the data folder" in message_of(machine, escaping)
    # ... but a relative one in the machine file stays inside the default, like any file's.
    climbing = write(tmp_path / "climbing.toml", 'data_dir = "../../up"\n')
    assert "points outside the data folder" in message_of(climbing, None)


def test_the_environment_may_put_the_data_folder_anywhere(tmp_path: Path, data_home: Path) -> None:
    settings = load(None, None, IIQ_KIOSK_DATA=str(tmp_path / "anywhere"))
    assert settings.data_dir == tmp_path / "anywhere"


def test_nothing_in_a_file_is_expanded(tmp_path: Path, data_home: Path) -> None:
    user = write(tmp_path / "user.toml", 'data_dir = "$HOME/%USERPROFILE%"\n')
    assert load(None, user).data_dir == (data_home / "$HOME" / "%USERPROFILE%").resolve()


# --- the new settings -----------------------------------------------------------------------


def test_new_settings_defaults() -> None:
    settings = load_settings(env={})
    assert settings.station.privacy is False
    assert settings.station.require_operator is False
    assert settings.operators.badge_pattern == ""
    assert settings.operators.idle_minutes == 30
    assert settings.admin.pin_hash == ""


def test_new_settings_from_a_file(tmp_path: Path) -> None:
    user = write(
        tmp_path / "user.toml",
        f"""
[station]
privacy = true
require_operator = true
[operators]
badge_pattern = '^STAFF-[0-9]{{4}}$'
idle_minutes = 45
[admin]
pin_hash = "{PIN_HASH}"
""",
    )
    settings = load(None, user)
    assert settings.station.privacy and settings.station.require_operator
    assert settings.operators.badge_pattern == "^STAFF-[0-9]{4}$"
    assert settings.operators.idle_minutes == 45
    assert settings.admin.pin_hash == PIN_HASH
    assert PIN_HASH not in repr(settings) and PIN_HASH not in str(settings)


@pytest.mark.parametrize(
    ("text", "named", "says"),
    [
        ("[operators]\nbadge_pattern = '^STAFF-('\n", "operators", "[operators] badge_pattern"),
        ("[operators]\nidle_minutes = 0\n", "operators.idle_minutes", ""),
        ("[operators]\nidle_minutes = 1441\n", "operators.idle_minutes", ""),
        ("[station]\nprivacy = 'sometimes'\n", "station.privacy", ""),
        ("[admin]\npin_hash = '1234'\n", "admin.pin_hash", "starts with scrypt$"),
        ("[admin]\npin_hash = 'scrypt$16384$8$1$salt'\n", "admin.pin_hash", "is damaged"),
        ("[admin]\npin_hash = 'scrypt$x$8$1$c2FsdA==$aGFzaA=='\n", "admin.pin_hash", "damaged"),
        ("[admin]\npin = '1234'\n", "admin.pin", ""),
    ],
)
def test_new_settings_are_checked(tmp_path: Path, text: str, named: str, says: str) -> None:
    message = message_of(None, write(tmp_path / "user.toml", text))
    assert f"Setting '{named}" in message and says in message
    assert "1234" not in message  # a PIN (or its hash) is never repeated back


# --- the writer --------------------------------------------------------------------------------


def test_writer_round_trip(tmp_path: Path) -> None:
    path = write(
        tmp_path / "user.toml",
        """# my own notes
version = 1
[iiq]
url = "https://district.incidentiq.com"
[station]
name = "desk"
[checkin]
location_id = "loc-1"
""",
    )
    written = write_user_settings(
        path,
        {
            "station.idle_seconds": 120.0,
            "station.mode_lock": "checkin",
            "station.privacy": True,
            "checkin.cart_pattern": "",
            "checkin.location_id": None,  # back to the default
            "scanner.burst_min_length": 6,
            "accessories": [{"model": "Chromebook", "tag_pattern": "^CHG-"}],
        },
        locked=(),
    )
    assert written == path
    text = path.read_text(encoding="utf-8")
    assert text.startswith(USER_FILE_HEADER)
    assert "# my own notes" not in text  # comments are not kept (the header says so)
    data = tomllib.loads(text)
    assert next(iter(data)) == "version"
    assert data["station"] == {
        "name": "desk",
        "idle_seconds": 120.0,
        "mode_lock": "checkin",
        "privacy": True,
    }
    assert "checkin" in data and "location_id" not in data["checkin"]
    settings = load(None, path)
    assert settings.iiq.url == "https://district.incidentiq.com"
    assert settings.station.name == "desk"
    assert settings.station.idle_seconds == 120
    assert settings.station.mode_lock == "checkin"
    assert settings.checkin.cart_pattern is None
    assert settings.checkin.location_id is None
    assert settings.scanner.burst_min_length == 6
    rule = settings.accessory_rule("Dell Chromebook 3110")
    assert rule is not None and rule.tag_pattern == "^CHG-"


def test_writer_creates_the_file_and_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "config.toml"
    write_user_settings(path, {"station.sound": False}, locked=())
    assert tomllib.loads(path.read_text(encoding="utf-8")) == {
        "version": 1,
        "station": {"sound": False},
    }
    assert load(None, path).station.sound is False


def test_writer_drops_an_emptied_table(tmp_path: Path) -> None:
    path = write(tmp_path / "user.toml", '[tickets]\nissue_id = "x"\n')
    write_user_settings(path, {"tickets.issue_id": None}, locked=())
    assert tomllib.loads(path.read_text(encoding="utf-8")) == {"version": 1}


def test_writer_refuses_locked_settings(tmp_path: Path) -> None:
    path = write(tmp_path / "user.toml", '[station]\nname = "desk"\n')
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="set by your IT department"):
        write_user_settings(path, {"station.mode_lock": "checkin"}, locked={"station.mode_lock"})
    with pytest.raises(ConfigError, match=r"'tickets\.issue_id' is set by your IT department"):
        write_user_settings(path, {"tickets.issue_id": "x"}, locked={"tickets"})
    # Without `locked`, the machine-wide file's locks are read.
    machine = write(tmp_path / "machine.toml", 'locked = ["station.sound"]\n')
    with pytest.raises(ConfigError, match=r"station\.sound"):
        write_user_settings(path, {"station.sound": False}, env={MACHINE_CONFIG_ENV: str(machine)})
    assert path.read_bytes() == before
    write_user_settings(path, {"station.privacy": True}, env={MACHINE_CONFIG_ENV: str(machine)})
    assert load(machine, path).station.privacy is True


@pytest.mark.parametrize("key", ["token", "iiq.token", "iiq.token.value"])
def test_writer_never_writes_a_token(tmp_path: Path, key: str) -> None:
    path = write(tmp_path / "user.toml", '[station]\nname = "desk"\n')
    with pytest.raises(ConfigError, match="never written to a config file") as caught:
        write_user_settings(path, {key: SECRET, "station.sound": False}, locked=())
    assert SECRET not in str(caught.value)
    assert SECRET not in path.read_text(encoding="utf-8")
    assert "sound" not in path.read_text(encoding="utf-8")  # nothing at all was written


def test_writer_never_rewrites_a_file_holding_a_token(tmp_path: Path) -> None:
    path = write(tmp_path / "user.toml", f'[iiq]\ntoken = "{SECRET}"\n')
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="contains an API token"):
        write_user_settings(path, {"station.sound": False}, locked=())
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"station.volume": 3}, "'station.volume' is not a setting"),
        ({"station": {"sound": False}}, "'station' is not a setting"),
        ({"origins": {}}, "'origins' is not a setting"),
        ({"station.idle_seconds": 1}, "Setting 'station.idle_seconds' is invalid"),
        ({"checkin.cart_pattern": "^CART-("}, "cart_pattern"),
    ],
)
def test_writer_refuses_what_is_not_a_good_setting(
    tmp_path: Path, changes: dict[str, object], says: str
) -> None:
    path = write(tmp_path / "user.toml", '[station]\nname = "desk"\n')
    before = path.read_bytes()
    with pytest.raises(ConfigError) as caught:
        write_user_settings(path, changes, locked=())
    assert says in str(caught.value)
    assert path.read_bytes() == before


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_a_failed_write_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    path = write(tmp_path / "user.toml", '[station]\nname = "desk"\n')
    before = path.read_bytes()

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    if failing == "fsync":
        monkeypatch.setattr(config.os, "fsync", fail)
    else:
        monkeypatch.setattr(config.Path, "replace", fail)
    with pytest.raises(ConfigError, match=r"Cannot write .*No space left on device"):
        write_user_settings(path, {"station.sound": False}, locked=())
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["user.toml"]  # no temporary left


def test_user_settings_path_is_the_file_read_or_the_default(tmp_path: Path) -> None:
    user = write(tmp_path / "user.toml", "[station]\nsound = true\n")
    assert user_settings_path(load(None, user)) == user
    assert user_settings_path(load(None, None)) == tmp_path / "none.toml"


def test_files_written_are_readable_as_utf8(tmp_path: Path) -> None:
    path = tmp_path / "user.toml"
    write_user_settings(path, {"checkin.status_name": "Disponible – prêt"}, locked=())
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf") and b"\r\n" not in raw
    assert load(None, path).checkin.status_name == "Disponible – prêt"
    assert os.access(path, os.R_OK)


def test_the_installers_example_file_is_a_valid_machine_wide_file() -> None:
    from kiosk.config import load_settings

    example = Path(__file__).resolve().parents[1] / "packaging" / "config.example.toml"
    settings = load_settings(env={"IIQ_KIOSK_MACHINE_CONFIG": str(example)})
    assert settings.machine_file is not None and settings.machine_file.name == example.name
