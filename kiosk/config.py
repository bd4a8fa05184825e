"""Typed settings, in one place: defaults < machine-wide file < user's file < environment <
command line.

Two TOML files are read, both optional, and merged per key within tables (the user's
`[station] name` keeps the machine file's `[station] sound`):

* the machine-wide file, pushed by IT to every PC (Intune, GPO):
  `%PROGRAMDATA%\\iiq-kiosk\\config.toml` on Windows, `/etc/iiq-kiosk/config.toml` elsewhere,
  or the path in `IIQ_KIOSK_MACHINE_CONFIG`;
* the user's file at the platformdirs location (`%LOCALAPPDATA%\\iiq-kiosk\\config.toml`), or
  `IIQ_KIOSK_CONFIG` / `--config`. The settings dialog writes this one
  (`write_user_settings`).

The machine-wide file may lock settings with a top-level list before its first table,
`locked = ["station.mode_lock", "iiq.url", "tickets"]` (dotted names; a table's name locks
all of its settings). A locked setting in the user's file is ignored with a warning in the
log, and the settings dialog shows it disabled. The environment and the command line still
win over a lock: they are set by whoever starts the program, not from the kiosk's screen.
`Settings.locked`, `Settings.origin(key)` and `Settings.origins` say which settings are locked
and where each value came from (default / machine / user / environment / command line).

A config file is data: nothing in it is executed or expanded. A path in it (`data_dir`, the
folder of the journal and logs) may not point outside the data folder: a relative path is
taken inside it, and a full path must lie inside it. The data folder is the per-user
default, or the machine-wide file's own `data_dir`, which may be any full path (IT's
choice, like `IIQ_KIOSK_DATA`).

The API token is never read from or written to a file: it comes from `IIQ_TOKEN` or the OS
keyring (Windows Credential Manager). A missing or malformed setting is a one-line
`ConfigError` that names it and says how to set it. The files are UTF-8 (a byte-order mark is
fine).

Tables (all optional; every setting has a default):

    version = 1                     the number 1
    locked = [...]                  machine-wide file only: settings the user's file and the
                                    settings dialog cannot change (see above)
    data_dir = "..."                the folder of the journal and logs (IIQ_KIOSK_DATA)
    accessories = [...]             charger rules, see below (before the first [table],
                                    or as [[accessories]] tables anywhere)
    [iiq]         the site, timeouts, which transfer route to use
    [station]     name, mode_lock, default_mode (checkout | checkin | lookup | batch |
                  line; mode_lock wins when set), undo_minutes (5; 0 = no undo),
                  idle_seconds, fullscreen, sound, privacy (false; true: first name + last
                  initial and the last 4 digits of an ID on screen), require_operator
                  (false; true: staff sign in with a badge or their name before a shift)
    [scanner]     prefix, suffix, case, tag_pattern, and the timing that tells a scanner
                  from typing: burst_max_gap_ms, burst_min_length, end_pause_ms,
                  double_scan_seconds (kiosk.core.scan.ScanSettings)
    [checkin]     status names, location, ask_charger (true), cart_pattern (a regular
                  expression a cart's label matches; "" = no carts), and carts:
                  [checkin.carts."CART-LIB-1"] location_id = "...", room_id = "...",
                  storage_unit = "..." (the place a device checked in to that cart goes)
    [tickets]     the repair ticket's issue, category, type and wizard ids
    [journal]     retention_days (365), min_interval_s (0.2, between two sends)
    [outbox]      verify_after_s (30): how long after a send the device is read again
                  to confirm the change arrived
    [events]      keep_days (7): an event pack (people and devices of one event, in the
                  data folder's events/) is deleted this long after it was made;
                  refresh_s (120): how often a running event re-reads its devices from
                  Incident IQ; min_interval_s (0.05): at least this long between two
                  requests of a pack's prepare or refresh
    [operators]   badge_pattern (a regular expression a staff badge scan matches; "" = no
                  badges, staff pick their name), idle_minutes (30): an operator is signed
                  out after this long without a scan or key
    [admin]       pin_hash: the admin PIN as a salted scrypt hash,
                  scrypt$<n>$<r>$<p>$<salt base64>$<hash base64> (written by the setup;
                  never the PIN itself)

`accessories` is a list of rules: a device whose model name contains `model`
(case-insensitive) comes with an accessory (its charger) whose tag matches `tag_pattern`
(a regular expression, re.search on the scanned tag):

    accessories = [{model = "Chromebook", tag_pattern = "^CHG-"}]

    [[accessories]]                 the same, as a table
    model = "Chromebook"
    tag_pattern = "^CHG-"
"""

from __future__ import annotations

import codecs
import copy
import dataclasses
import difflib
import logging
import os
import re
import socket
import sys
import tomllib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kiosk.core.scan import ScanSettings
from kiosk.iiq.errors import InvalidInputError

if TYPE_CHECKING:
    # Imported where they are used: reading the settings comes before the first window, and
    # these bring httpx and the journal with them.
    from kiosk.core.transactions import CartTarget, CheckinPolicy
    from kiosk.iiq.client import Connection

log = logging.getLogger(__name__)

APP_NAME = "iiq-kiosk"
KEYRING_SERVICE = "iiq-kiosk"
CONFIG_VERSION = 1

Mode = Literal["checkout", "checkin", "lookup", "batch", "line"]
#: Where a setting's value came from, lowest first.
Origin = Literal["default", "machine", "user", "environment", "command line"]

#: Points the kiosk at another machine-wide file (tests, and IT trying one out).
MACHINE_CONFIG_ENV = "IIQ_KIOSK_MACHINE_CONFIG"
#: Settings that are folders: a config file may not point them outside the data folder.
PATH_KEYS: tuple[str, ...] = ("data_dir",)
#: The first line of a file the settings dialog wrote (a TOML writer keeps no comments).
USER_FILE_HEADER = (
    "# Written by iiq-kiosk's settings. Comments in this file are not kept: "
    "each save rewrites it.\n"
)


class ConfigError(Exception):
    """A setting is missing or wrong; the message names it and says how to fix it."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IIQSettings(_Section):
    url: str | None = None
    site_id: str | None = None
    product_id: str | None = None
    connect_timeout: float = Field(default=5.0, gt=0, le=120)
    read_timeout: float = Field(default=15.0, gt=0, le=300)
    transfer_api: Literal["checkout", "owner"] = "checkout"
    update_asset_with_user_location: bool = False


def _check_pattern(pattern: str, where: str) -> str:
    """`pattern` when it is a valid regular expression; else a one-line error naming it."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{where} {pattern!r} is not a valid regular expression: {exc}") from None
    return pattern


class StationSettings(_Section):
    name: str = Field(default_factory=socket.gethostname)
    mode_lock: Mode | None = None
    #: The mode the window starts in (and returns to); `mode_lock` wins when set.
    default_mode: Mode = "checkout"
    #: How long a finished change can still be undone at the desk (0: no undo).
    undo_minutes: float = Field(default=5.0, ge=0, le=120)
    idle_seconds: float = Field(default=60.0, ge=5)
    fullscreen: bool = True
    sound: bool = True
    #: Show first name + last initial and the last 4 digits of an ID on screen.
    privacy: bool = False
    #: Staff sign in (a badge scan, or their name) before the first change of a shift.
    require_operator: bool = False


class CartSettings(_Section):
    """Where a device checked in to this cart goes."""

    location_id: str
    room_id: str | None = None
    storage_unit: str | None = None


class CheckinSettings(_Section):
    #: Status set when a device comes back in good condition (looked up by name at start).
    status_name: str | None = "Available"
    #: Status set when it comes back damaged or broken (a repair ticket is filed too).
    repair_status_name: str | None = "In Repair"
    location_id: str | None = None
    location_room_id: str | None = None
    #: Ask whether the charger came back with the device.
    ask_charger: bool = True
    #: What a cart's label looks like (re.fullmatch after the scanner's cleaning and case
    #: rule); None or "" means this station has no carts.
    cart_pattern: str | None = r"^CART-[A-Z0-9-]+$"
    #: Cart label -> where a device checked in to that cart goes.
    carts: dict[str, CartSettings] = Field(default_factory=dict)

    @field_validator("cart_pattern")
    @classmethod
    def _valid_cart_pattern(cls, value: str | None) -> str | None:
        return _check_pattern(value, "[checkin] cart_pattern") if value else None

    @model_validator(mode="after")
    def _carts_match_the_pattern(self) -> CheckinSettings:
        if self.cart_pattern:
            pattern = re.compile(self.cart_pattern)
            for label in self.carts:
                if not pattern.fullmatch(label):
                    raise ValueError(
                        f"[checkin.carts] label {label!r} does not match [checkin] "
                        f"cart_pattern {self.cart_pattern!r}: a scanned cart label would "
                        "never find it"
                    )
        return self


class AccessoryRule(_Section):
    """A device whose model name contains `model` (case-insensitive) comes with an
    accessory whose tag matches `tag_pattern` (re.search)."""

    model: str = Field(min_length=1)
    tag_pattern: str = Field(min_length=1)

    @field_validator("tag_pattern")
    @classmethod
    def _valid_tag_pattern(cls, value: str) -> str:
        return _check_pattern(value, "[[accessories]] tag_pattern")

    def applies_to(self, model_name: str | None) -> bool:
        return bool(model_name) and self.model.casefold() in str(model_name).casefold()

    def matches_tag(self, tag: str) -> bool:
        return re.search(self.tag_pattern, tag) is not None


class TicketSettings(_Section):
    issue_id: str | None = None
    issue_category_id: str | None = None
    issue_type_id: str | None = None
    wizard_category_id: str | None = None


class JournalSettings(_Section):
    #: After this many days, names and notes are blanked in finished journal rows; ids,
    #: tags, states and times stay for the audit.
    retention_days: int = Field(default=365, ge=1, le=3650)
    #: The outbox's bounded request rate: at least this long between two sends.
    min_interval_s: float = Field(default=0.2, ge=0.0, le=60.0)


class OutboxSettings(_Section):
    #: How long after a send the device is read again to confirm that the change arrived.
    verify_after_s: float = Field(default=30.0, ge=0.0, le=3600.0)


class EventSettings(_Section):
    #: An event pack holds names and ID numbers: it is deleted this many days after it
    #: was made (or at once with `event close`).
    keep_days: int = Field(default=7, ge=1, le=365)
    #: How often a running event re-reads the state of its devices from Incident IQ.
    refresh_s: float = Field(default=120.0, ge=10.0, le=86400.0)
    #: The bounded request rate of a prepare or refresh: at least this long between the
    #: starts of two requests (one request at a time).
    min_interval_s: float = Field(default=0.05, ge=0.0, le=60.0)


class OperatorSettings(_Section):
    #: What a staff badge scan looks like (re.fullmatch after the scanner's cleaning and
    #: case rule); "" means no badges: staff pick their name.
    badge_pattern: str = ""
    #: An operator is signed out after this many minutes without a scan or a key.
    idle_minutes: float = Field(default=30.0, ge=1, le=1440)

    @field_validator("badge_pattern")
    @classmethod
    def _valid_badge_pattern(cls, value: str) -> str:
        return _check_pattern(value, "[operators] badge_pattern") if value else ""


#: scrypt$<n>$<r>$<p>$<salt base64>$<hash base64>, as kiosk.core.pin writes it.
_PIN_HASH_SHAPE = re.compile(
    r"scrypt\$[1-9][0-9]*\$[1-9][0-9]*\$[1-9][0-9]*\$[A-Za-z0-9+/_-]+={0,2}\$[A-Za-z0-9+/_-]+={0,2}"
)


class AdminSettings(_Section):
    #: The admin PIN as a salted scrypt hash ("" = no PIN set); never the PIN itself.
    pin_hash: str = Field(default="", repr=False)

    @field_validator("pin_hash")
    @classmethod
    def _valid_pin_hash(cls, value: str) -> str:
        # The message never repeats the value: it is a hash, but still nothing to show.
        if value and not value.startswith("scrypt$"):
            raise ValueError(
                "[admin] pin_hash is not a PIN hash: it starts with scrypt$ (never write the "
                "PIN itself here; 'iiq-kiosk setup' writes the hash)"
            )
        if value and not _PIN_HASH_SHAPE.fullmatch(value):
            raise ValueError(
                "[admin] pin_hash is damaged: it must look like "
                "scrypt$<n>$<r>$<p>$<salt>$<hash>, as 'iiq-kiosk setup' writes it"
            )
        return value


def default_data_dir() -> Path:
    """The per-user data folder (journal, logs): %LOCALAPPDATA%\\iiq-kiosk on Windows."""
    return platformdirs.user_data_path(APP_NAME, appauthor=False)


class Settings(_Section):
    version: int = CONFIG_VERSION
    iiq: IIQSettings = IIQSettings()
    station: StationSettings = StationSettings()
    scanner: ScanSettings = ScanSettings()
    checkin: CheckinSettings = CheckinSettings()
    tickets: TicketSettings = TicketSettings()
    journal: JournalSettings = JournalSettings()
    outbox: OutboxSettings = OutboxSettings()
    events: EventSettings = EventSettings()
    operators: OperatorSettings = OperatorSettings()
    admin: AdminSettings = AdminSettings()
    accessories: tuple[AccessoryRule, ...] = ()
    data_dir: Path = Field(default_factory=default_data_dir)
    # What follows says where the settings came from; no file can set it (load_settings).
    #: The files read, for `iiq-kiosk config` and the log.
    source: str = "defaults"
    #: The machine-wide file read, if any.
    machine_file: Path | None = None
    #: The user's file read, if any (`user_settings_path` is the one the dialog writes).
    user_file: Path | None = None
    #: Dotted names the machine-wide file locks ("station.mode_lock", or a table: "tickets").
    locked: frozenset[str] = frozenset()
    #: Settings the user's file set but the machine-wide file locks: ignored.
    ignored_locked: tuple[str, ...] = ()
    #: Where each setting that is not a default came from, by dotted name ("station.sound",
    #: "accessories", "checkin.carts"); `origin()` answers for any name.
    origins: dict[str, Origin] = Field(default_factory=dict)

    def is_locked(self, key: str) -> bool:
        """Whether the machine-wide file locks this dotted setting (or its table)."""
        return is_locked(key, self.locked)

    def origin(self, key: str) -> Origin:
        """Where this dotted setting's value came from: default, machine, user,
        environment or command line."""
        return _origin_of(key, self.origins, below=False) or "default"

    def describe_origin(self, key: str) -> str:
        """The origin in words, for the settings dialog and `doctor`."""
        origin = self.origin(key)
        if origin == "machine":
            return f"the machine-wide file {self.machine_file}"
        if origin == "user":
            return f"the user's file {self.user_file}"
        if origin == "default":
            return "the default"
        return f"the {origin}"

    @property
    def journal_path(self) -> Path:
        from kiosk.core.journal import default_path

        return default_path(self.data_dir)

    def locks_down(self, fullscreen: bool) -> bool:
        """Whether the window is locked down: fullscreen with an admin PIN set (no frame,
        on top, closing and the admin's choices behind the PIN; see kiosk.ui.admin)."""
        return fullscreen and bool(self.admin.pin_hash)

    def accessory_rule(self, model_name: str | None) -> AccessoryRule | None:
        """The first `accessories` rule for a device of this model, or None."""
        return next((r for r in self.accessories if r.applies_to(model_name)), None)

    def cart_targets(self) -> dict[str, CartTarget]:
        """The station's carts (`[checkin.carts]`): label -> where a device put in it goes."""
        from kiosk.core.transactions import CartTarget

        return {
            label: CartTarget(label, cart.location_id, cart.room_id, cart.storage_unit)
            for label, cart in self.checkin.carts.items()
        }

    def checkin_policy(self) -> CheckinPolicy:
        from kiosk.core.transactions import CheckinPolicy

        return CheckinPolicy(
            status_name=self.checkin.status_name,
            repair_status_name=self.checkin.repair_status_name,
            location_id=self.checkin.location_id,
            location_room_id=self.checkin.location_room_id,
            ticket_issue_id=self.tickets.issue_id,
            ticket_issue_category_id=self.tickets.issue_category_id,
            ticket_issue_type_id=self.tickets.issue_type_id,
            ticket_wizard_category_id=self.tickets.wizard_category_id,
        )

    def connection(self, token: str | None) -> Connection:
        """The connection to Incident IQ, or a ConfigError naming what is missing."""
        from kiosk.iiq.client import Connection, api_base

        if not self.iiq.url:
            raise ConfigError(
                "No Incident IQ site: set IIQ_URL (e.g. https://yourdistrict.incidentiq.com) "
                "or [iiq] url in the config file, or run with --demo."
            )
        try:
            api_base(self.iiq.url)
        except InvalidInputError as exc:
            raise ConfigError(f"IIQ_URL / [iiq] url: {exc}") from None
        if not self.iiq.site_id:
            raise ConfigError(
                "No Incident IQ site id: set IIQ_SITE_ID or [iiq] site_id in the config file "
                "(Admin > Developer Tools in Incident IQ shows it)."
            )
        if not token:
            raise ConfigError(
                "No Incident IQ API token: set IIQ_TOKEN, or store it in the keyring with "
                "'iiq-kiosk token set'."
            )
        return Connection(
            site_url=self.iiq.url,
            site_id=self.iiq.site_id,
            token=token,
            product_id=self.iiq.product_id,
            connect_timeout=self.iiq.connect_timeout,
            read_timeout=self.iiq.read_timeout,
        )


ENV_KEYS: dict[str, tuple[str, str]] = {
    "IIQ_URL": ("iiq", "url"),
    "IIQ_SITE_ID": ("iiq", "site_id"),
    "IIQ_PRODUCT_ID": ("iiq", "product_id"),
    "IIQ_TRANSFER_API": ("iiq", "transfer_api"),
    "IIQ_KIOSK_STATION": ("station", "name"),
}


def default_config_path() -> Path:
    """The user's own file: %LOCALAPPDATA%\\iiq-kiosk\\config.toml on Windows."""
    return platformdirs.user_config_path(APP_NAME, appauthor=False) / "config.toml"


def default_machine_config_path() -> Path:
    """The machine-wide file: %PROGRAMDATA%\\iiq-kiosk\\config.toml on Windows (what
    platformdirs calls the site config folder there), /etc/iiq-kiosk/config.toml elsewhere."""
    if sys.platform == "win32":
        return platformdirs.site_config_path(APP_NAME, appauthor=False) / "config.toml"
    return Path("/etc", APP_NAME, "config.toml")


def config_path(explicit: str | os.PathLike[str] | None, env: Mapping[str, str]) -> Path | None:
    """The user's config file to read: --config, else IIQ_KIOSK_CONFIG, else the per-user
    file when it exists. The machine-wide file is read below it (`machine_config_path`)."""
    chosen = explicit or env.get("IIQ_KIOSK_CONFIG")
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_file():
            raise ConfigError(f"Config file not found: {path} (from --config / IIQ_KIOSK_CONFIG).")
        return path
    candidate = default_config_path()
    return candidate if candidate.is_file() else None


def machine_config_path(env: Mapping[str, str] | None = None) -> Path | None:
    """The machine-wide file to read: the one in IIQ_KIOSK_MACHINE_CONFIG, else the default
    place; None when there is no file there (it is optional wherever it is)."""
    env = os.environ if env is None else env
    chosen = env.get(MACHINE_CONFIG_ENV)
    path = Path(chosen).expanduser() if chosen else default_machine_config_path()
    if path.is_file():
        return path
    if chosen:
        log.info("no machine-wide config file at %s (%s): none read", path, MACHINE_CONFIG_ENV)
    return None


def user_settings_path(settings: Settings) -> Path:
    """The file the settings dialog writes: the user's file that was read, else the
    per-user default (created on the first save)."""
    return settings.user_file or default_config_path()


def load_settings(
    *,
    config: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Build the settings: defaults < machine-wide file < user's file (`config`, see
    `config_path`) < environment < `overrides` (the command line), merged per key within
    tables. Locked settings in the user's file are ignored (and logged); see the module."""
    env = os.environ if env is None else env
    machine_path = machine_config_path(env)
    user_path = config_path(config, env)
    machine: dict[str, Any] = {}
    locked: frozenset[str] = frozenset()
    if machine_path is not None:
        machine = _read_toml(machine_path)
        _check_file(machine, machine_path, machine=True)
        locked = _read_locks(machine, machine_path)
    base = _data_folder(machine, machine_path)
    user: dict[str, Any] = {}
    ignored: list[str] = []
    if user_path is not None:
        user = _read_toml(user_path)
        _check_file(user, user_path, machine=False)
        _check_paths(user, user_path, base)
        ignored = _drop_locked(user, locked)
        for name in ignored:
            log.warning(
                "%s sets %s, which the machine-wide file %s locks: that setting is ignored",
                user_path,
                name,
                machine_path,
            )
    environment: dict[str, Any] = {}
    for name, (section, key) in ENV_KEYS.items():
        if env.get(name):
            environment.setdefault(section, {})[key] = env[name]
    if env.get("IIQ_KIOSK_DATA"):
        environment["data_dir"] = env["IIQ_KIOSK_DATA"]
    command_line = {
        name: dict(values) if isinstance(values, Mapping) else values
        for name, values in (overrides or {}).items()
    }
    files = [str(path) for path in (machine_path, user_path) if path is not None]
    source = " and ".join(files) or "defaults"
    places: dict[Origin, str] = {
        "machine": str(machine_path),
        "user": str(user_path),
        "environment": "the environment",
        "command line": "the command line",
    }
    data: dict[str, Any] = {}
    origins: dict[str, Origin] = {}
    layers: tuple[tuple[Origin, dict[str, Any]], ...] = (
        ("machine", machine),
        ("user", user),
        ("environment", environment),
        ("command line", command_line),
    )
    for origin, layer in layers:
        _merge(data, layer, origin, origins, places)
    data.update(
        source=source,
        machine_file=machine_path,
        user_file=user_path,
        locked=locked,
        ignored_locked=tuple(ignored),
        origins=origins,
    )
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_invalid(exc, origins, places, source)) from None


def is_locked(key: str, locked: Collection[str]) -> bool:
    """Whether `key` ("station.mode_lock") or a table above it ("station") is in `locked`."""
    parts = key.split(".")
    return any(".".join(parts[:n]) in locked for n in range(1, len(parts) + 1))


def machine_locks(env: Mapping[str, str] | None = None) -> frozenset[str]:
    """The settings the machine-wide file locks (none without a machine-wide file)."""
    path = machine_config_path(env)
    if path is None:
        return frozenset()
    data = _read_toml(path)
    _check_file(data, path, machine=True)
    return _read_locks(data, path)


# --- the layers -----------------------------------------------------------------------------

#: Settings fields that say where the settings came from: no file may set them.
_META_FIELDS = frozenset(
    {"source", "machine_file", "user_file", "locked", "ignored_locked", "origins"}
)


def _section_names() -> dict[str, list[str]]:
    """Each table of the settings ([iiq], [station], ...) with the names of its settings."""
    sections: dict[str, list[str]] = {}
    for name, info in Settings.model_fields.items():
        kind = info.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            sections[name] = list(kind.model_fields)
        elif isinstance(kind, type) and dataclasses.is_dataclass(kind):
            sections[name] = [f.name for f in dataclasses.fields(kind)]
    return sections


def setting_names() -> frozenset[str]:
    """Every dotted setting name a file may set or lock: the tables ("station"), their
    settings ("station.mode_lock") and the top-level settings ("accessories", "data_dir")."""
    names: set[str] = set()
    sections = _section_names()
    for section, keys in sections.items():
        names.add(section)
        names.update(f"{section}.{key}" for key in keys)
    names.update(
        name
        for name in Settings.model_fields
        if name not in sections and name not in _META_FIELDS and name != "version"
    )
    return frozenset(names)


def _check_file(data: dict[str, Any], path: Path, *, machine: bool) -> None:
    """Names that no file may set, and tables given as plain values (`iiq = "x"`)."""
    filled_in = sorted(_META_FIELDS & (data.keys() - {"locked"}))
    if filled_in:
        raise ConfigError(
            f"Config file {path}: '{filled_in[0]}' is not a setting (the kiosk fills it in): "
            "remove it."
        )
    if "locked" in data and not machine:
        raise ConfigError(
            f"Config file {path}: only the machine-wide file can lock settings "
            f"('locked'); remove it from this file."
        )
    for section in _section_names():
        if section in data and not isinstance(data[section], dict):
            raise ConfigError(
                f"Setting '{section}' in {path} must be a table ([{section}] followed by its "
                f"settings), not {_describe(data[section])}."
            )
        if machine and isinstance(data.get(section), dict) and "locked" in data[section]:
            raise ConfigError(
                f"Config file {path}: 'locked' must come at the top of the file, before the "
                f"first [table], not inside [{section}]."
            )


def _read_locks(data: dict[str, Any], path: Path) -> frozenset[str]:
    """The machine-wide file's `locked` list (taken out of `data`), every name checked."""
    raw = data.pop("locked", [])
    if not isinstance(raw, list) or not all(isinstance(name, str) for name in raw):
        raise ConfigError(
            f"Config file {path}: locked must be a list of setting names, e.g. locked = "
            f'["station.mode_lock", "iiq.url"], not {_describe(raw)}.'
        )
    known = setting_names()
    for name in raw:
        if name.strip() not in known:
            close = difflib.get_close_matches(name.strip(), sorted(known), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise ConfigError(
                f"Config file {path}: locked names '{name}', which is not a setting "
                f"(names look like 'station.mode_lock' or 'iiq.url').{hint}"
            )
    return frozenset(name.strip() for name in raw)


def _drop_locked(data: dict[str, Any], locked: Collection[str]) -> list[str]:
    """Take the locked settings out of the user's `data`; the dotted names taken out."""
    dropped: list[str] = []
    for name in sorted(locked):
        section, _, key = name.partition(".")
        if not key:
            if section in data:
                del data[section]
                dropped.append(section)
            continue
        table = data.get(section)
        if isinstance(table, dict) and key in table:
            del table[key]
            dropped.append(name)
    return dropped


def _data_folder(machine: dict[str, Any], machine_path: Path | None) -> Path:
    """The data folder a config file's paths must stay in: the machine-wide file's own
    `data_dir` (any full path, IT's choice; a relative one is inside the default), else
    the per-user default. The path in `machine` is replaced by the full one."""
    default = default_data_dir()
    value = machine.get("data_dir")
    if machine_path is None or not isinstance(value, str):
        return default
    folder = Path(value)
    if folder.is_absolute():
        machine["data_dir"] = str(folder)
        return folder
    _check_paths(machine, machine_path, default)
    return Path(machine["data_dir"])


def _check_paths(data: dict[str, Any], path: Path, base: Path) -> None:
    """Every path setting in `data` inside `base` (a relative one is taken inside it and
    replaced by the full path); a ConfigError in words for one outside."""
    for key in PATH_KEYS:
        value = data.get(key)
        if not isinstance(value, str):
            continue  # missing, or the wrong type: the model says so
        inside = base.resolve()
        folder = (inside / value).resolve()
        if folder != inside and inside not in folder.parents:
            raise ConfigError(
                f"Setting '{key}' in {path} points outside the data folder {inside}: a "
                f"config file may only name a folder inside it. To move the data folder, "
                f"set IIQ_KIOSK_DATA (or data_dir in the machine-wide file)."
            )
        data[key] = str(folder)


def _merge(
    into: dict[str, Any],
    layer: Mapping[str, Any],
    origin: Origin,
    origins: dict[str, Origin],
    places: Mapping[Origin, str],
    prefix: tuple[str, ...] = (),
) -> None:
    """Merge `layer` into `into` per key within tables (a table in both is merged, anything
    else replaced), recording each setting's origin by its name of at most two parts."""
    for key, value in layer.items():
        path = (*prefix, key)
        old = into.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            _merge(old, value, origin, origins, places, path)
            continue
        if len(path) == 1 and key in _section_names() and isinstance(old, dict):
            # The environment or the command line filling a table a file gave as a value.
            raise ConfigError(
                f"Setting '{key}' in {places[origin]} must be a table ([{key}] followed by "
                f"its settings), not {_describe(value)}."
            )
        into[key] = copy.deepcopy(value)
        for leaf in _leaves(value, path):
            origins[".".join(leaf[:2])] = origin


def _leaves(value: Any, path: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The paths of the plain values in `value` (itself when it is not a table)."""
    if not isinstance(value, dict) or not value:
        return [path]
    return [leaf for key, item in value.items() for leaf in _leaves(item, (*path, str(key)))]


def _origin_of(key: str, origins: Mapping[str, Origin], *, below: bool) -> Origin | None:
    """The origin of `key` or of the setting above it; with `below`, else the one origin
    of the settings under it (a table's error names the file its settings came from)."""
    parts = key.split(".")
    for n in range(len(parts), 0, -1):
        found = origins.get(".".join(parts[:n]))
        if found is not None:
            return found
    if below:
        under = {origin for name, origin in origins.items() if name.startswith(key + ".")}
        if len(under) == 1:
            return under.pop()
    return None


def _invalid(
    exc: ValidationError, origins: Mapping[str, Origin], places: Mapping[Origin, str], source: str
) -> str:
    """A validation error as one line that names the setting and where it was set."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    origin = _origin_of(where, origins, below=True) if where else None
    if origin in ("machine", "user"):
        found = f"in {places[origin]}"
    elif origin is not None:
        found = f"from {places[origin]}"
    else:
        found = f"in {source} or the environment"
    return f"Setting '{where}' is invalid: {message} ({found})."


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"Cannot read config file {path}: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(_decode(raw, path))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file {path} is not valid TOML: {exc}") from None
    iiq = data.get("iiq")
    if "token" in data or (isinstance(iiq, dict) and "token" in iiq):
        raise ConfigError(
            f"Config file {path} contains an API token: remove it and use IIQ_TOKEN or "
            "'iiq-kiosk token set' (the keyring) instead."
        )
    version = data.get("version", CONFIG_VERSION)
    if isinstance(version, bool) or not isinstance(version, int):
        raise ConfigError(
            f"Config file {path}: version must be the number {CONFIG_VERSION} "
            f"(version = {CONFIG_VERSION}), not {_describe(version)}."
        )
    if version != CONFIG_VERSION:
        raise ConfigError(
            f"Config file {path} has version {version}; this kiosk reads version {CONFIG_VERSION}."
        )
    return data


#: Byte-order marks of the encodings Windows editors save in, longest first (UTF-32 LE
#: starts like UTF-16 LE).
_UTF16_32_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16, as Notepad's 'Unicode' saves it"),
    (codecs.BOM_UTF16_BE, "UTF-16, as Notepad's 'Unicode big endian' saves it"),
)


def _decode(raw: bytes, path: Path) -> str:
    """The file's text: UTF-8, with or without a byte-order mark. Anything else is a
    one-line ConfigError that says what the file looks like and how to fix it."""
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    else:
        for bom, looks_like in _UTF16_32_BOMS:
            if raw.startswith(bom):
                raise ConfigError(_not_utf8(path, f"it looks like {looks_like}"))
    if raw and raw.count(0) * 4 >= len(raw):  # NULs: UTF-16/32 without a byte-order mark
        raise ConfigError(_not_utf8(path, "it looks like UTF-16"))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        byte = raw[exc.start]
        raise ConfigError(
            _not_utf8(
                path,
                f"byte 0x{byte:02X} on line {line}; Notepad's 'ANSI' and other Windows code "
                "pages save like this",
            )
        ) from None


def _not_utf8(path: Path, why: str) -> str:
    return f"Config file {path} is not UTF-8 ({why}): save it as UTF-8."


def _describe(value: object) -> str:
    """A TOML value as the person wrote it, for an error message."""
    if isinstance(value, str):
        return f'the text "{value}"'
    if isinstance(value, bool):
        return f"{str(value).lower()} (true/false)"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return f"{value!r}"


def keyring_account(settings: Settings) -> str:
    return settings.iiq.url or "default"


def resolve_token(settings: Settings, env: Mapping[str, str] | None = None) -> str | None:
    """The API token: IIQ_TOKEN, else the OS keyring. Never from a file."""
    env = os.environ if env is None else env
    if env.get("IIQ_TOKEN"):
        return env["IIQ_TOKEN"].strip()
    try:
        import keyring  # imported late: loading its backends takes time
        from keyring.errors import KeyringError
    except ImportError:  # pragma: no cover - keyring is a dependency
        return None
    try:
        return keyring.get_password(KEYRING_SERVICE, keyring_account(settings))
    except KeyringError as exc:
        log.info("no usable keyring (%s); the token must come from IIQ_TOKEN", type(exc).__name__)
        return None


def store_token(settings: Settings, token: str) -> None:
    """Store the token in the OS keyring for this site."""
    import keyring
    from keyring.errors import KeyringError

    try:
        keyring.set_password(KEYRING_SERVICE, keyring_account(settings), token)
    except KeyringError as exc:
        raise ConfigError(
            f"Cannot store the token: no usable keyring on this computer ({exc}). "
            "Use IIQ_TOKEN instead."
        ) from None


# --- the settings dialog's writer ------------------------------------------------------------


def write_user_settings(
    path: str | os.PathLike[str],
    changes: Mapping[str, object],
    *,
    locked: Collection[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Path:
    """Set the dotted settings in `changes` in the user's TOML file and write it back.

    The file is read (when it exists), each setting set (None removes it, so its default
    or the machine-wide value applies again), checked as a whole, and written with a TOML
    writer (tomli-w), never by string formatting, atomically: a temporary file beside it,
    then `os.replace`, so a failure leaves the old file as it was. A TOML writer keeps no
    comments: the file gets one header line (`USER_FILE_HEADER`) saying it is written by
    iiq-kiosk's settings, and comments written by hand are lost on the next save.

    Refused with a ConfigError, before anything is written: the API token (it belongs in
    the keyring), a name that is not a setting, and a setting in `locked` (by default the
    machine-wide file's locks, read now). Returns the path written.
    """
    import tomli_w  # imported late: only the settings dialog and the setup write

    target = Path(path)
    if locked is None:
        locked = machine_locks(env)
    known = setting_names()
    sections = _section_names()
    for key in changes:
        if "token" in key.split("."):
            raise ConfigError(
                "The API token is never written to a config file: store it with "
                "'iiq-kiosk token set' (the keyring) or set IIQ_TOKEN."
            )
        if key not in known or key in sections:
            raise ConfigError(f"'{key}' is not a setting this kiosk can write.")
        if is_locked(key, locked):
            raise ConfigError(
                f"'{key}' is set by your IT department (locked in the machine-wide file) "
                "and cannot be changed here."
            )
    data = _read_toml(target) if target.exists() else {}
    data = {"version": data.pop("version", CONFIG_VERSION), **data}
    for key, value in changes.items():
        section, _, name = key.partition(".")
        table = data.setdefault(section, {}) if name else data
        if not isinstance(table, dict):
            raise ConfigError(
                f"Setting '{section}' in {target} must be a table ([{section}] followed by "
                f"its settings), not {_describe(table)}."
            )
        leaf = name or section
        if value is None:
            table.pop(leaf, None)
            if name and not table:
                del data[section]
        else:
            table[leaf] = _toml_value(value, key)
    _check_file(data, target, machine=False)
    try:
        Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_invalid(exc, {}, {}, str(target))) from None
    _replace_file(target, USER_FILE_HEADER + tomli_w.dumps(data))
    return target


def _toml_value(value: object, key: str) -> Any:
    """`value` as TOML can hold it: folders as text, tuples as lists, models as tables;
    None inside a table or a list is left out (TOML has no null)."""
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, BaseModel):
        return _toml_value(value.model_dump(exclude_none=True), key)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _toml_value(dataclasses.asdict(value), key)
    if isinstance(value, Mapping):
        return {str(k): _toml_value(v, key) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple | set | frozenset):
        return [_toml_value(v, key) for v in value if v is not None]
    raise ConfigError(f"Setting '{key}': {type(value).__name__} cannot be written to a file.")


def _replace_file(path: Path, text: str) -> None:
    """Write `text` to `path` whole or not at all (`kiosk.core.files.write_atomically`)."""
    from kiosk.core.files import write_atomically

    try:
        write_atomically(path, text)
    except OSError as exc:
        raise ConfigError(f"Cannot write {path}: {exc.strerror or exc}") from None
