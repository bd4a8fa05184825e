"""Typed settings, in one place: defaults < TOML file < environment < command line.

The file lives at the platformdirs location (or `IIQ_KIOSK_CONFIG` / `--config`). The API
token is never read from or written to a file: it comes from `IIQ_TOKEN` or the OS keyring
(Windows Credential Manager). A missing or malformed setting is a one-line `ConfigError`
that names it and says how to set it. The file is UTF-8 (a byte-order mark is fine).

Tables (all optional; every setting has a default):

    version = 1                     the number 1
    accessories = [...]             charger rules, see below (before the first [table],
                                    or as [[accessories]] tables anywhere)
    [iiq]         the site, timeouts, which transfer route to use
    [station]     name, mode_lock, default_mode (checkout | checkin | lookup | batch |
                  line; mode_lock wins when set), undo_minutes (5; 0 = no undo),
                  idle_seconds, fullscreen, sound
    [scanner]     prefix, suffix, case, tag_pattern (kiosk.core.scan.ScanSettings)
    [checkin]     status names, location, ask_charger (true), cart_pattern (a regular
                  expression a cart's label matches; "" = no carts), and carts:
                  [checkin.carts."CART-LIB-1"] location_id = "...", room_id = "...",
                  storage_unit = "..." (the place a device checked in to that cart goes)
    [tickets]     the repair ticket's issue, category, type and wizard ids
    [journal]     retention_days (365), min_interval_s (0.2, between two sends)
    [outbox]      verify_after_s (30): how long after a send the device is read again
                  to confirm the change arrived

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
import logging
import os
import re
import socket
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kiosk.core.scan import ScanSettings
from kiosk.iiq.errors import InvalidInputError

if TYPE_CHECKING:
    # Imported where they are used: reading the settings comes before the first window, and
    # these bring httpx and the journal with them.
    from kiosk.core.transactions import CheckinPolicy
    from kiosk.iiq.client import Connection

log = logging.getLogger(__name__)

APP_NAME = "iiq-kiosk"
KEYRING_SERVICE = "iiq-kiosk"
CONFIG_VERSION = 1

Mode = Literal["checkout", "checkin", "lookup", "batch", "line"]


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


class Settings(_Section):
    version: int = CONFIG_VERSION
    iiq: IIQSettings = IIQSettings()
    station: StationSettings = StationSettings()
    scanner: ScanSettings = ScanSettings()
    checkin: CheckinSettings = CheckinSettings()
    tickets: TicketSettings = TicketSettings()
    journal: JournalSettings = JournalSettings()
    outbox: OutboxSettings = OutboxSettings()
    accessories: tuple[AccessoryRule, ...] = ()
    data_dir: Path = Field(
        default_factory=lambda: platformdirs.user_data_path(APP_NAME, appauthor=False)
    )
    #: Where the settings came from, for `iiq-kiosk config` and the log; not a setting.
    source: str = "defaults"

    @property
    def journal_path(self) -> Path:
        from kiosk.core.journal import default_path

        return default_path(self.data_dir)

    def accessory_rule(self, model_name: str | None) -> AccessoryRule | None:
        """The first `accessories` rule for a device of this model, or None."""
        return next((r for r in self.accessories if r.applies_to(model_name)), None)

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
    return platformdirs.user_config_path(APP_NAME, appauthor=False) / "config.toml"


def config_path(explicit: str | os.PathLike[str] | None, env: Mapping[str, str]) -> Path | None:
    """The config file to read: --config, else IIQ_KIOSK_CONFIG, else the per-user file
    when it exists, else the machine-wide file when it exists (mass deployment)."""
    chosen = explicit or env.get("IIQ_KIOSK_CONFIG")
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_file():
            raise ConfigError(f"Config file not found: {path} (from --config / IIQ_KIOSK_CONFIG).")
        return path
    for candidate in (
        default_config_path(),
        platformdirs.site_config_path(APP_NAME, appauthor=False) / "config.toml",
    ):
        if candidate.is_file():
            return candidate
    return None


def load_settings(
    *,
    config: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Build the settings: defaults < file < environment < `overrides` (command line)."""
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    path = config_path(config, env)
    source = "defaults"
    if path is not None:
        data = _read_toml(path)
        source = str(path)
    for name, (section, key) in ENV_KEYS.items():
        if env.get(name):
            _table(data, section, source)[key] = env[name]
    if env.get("IIQ_KIOSK_DATA"):
        data["data_dir"] = env["IIQ_KIOSK_DATA"]
    for section, values in (overrides or {}).items():
        if isinstance(values, Mapping):
            _table(data, section, source).update(values)
        else:
            data[section] = values
    data["source"] = source
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        raise ConfigError(
            f"Setting '{where}' is invalid: {message} (in {source} or the environment)."
        ) from None


def _table(data: dict[str, Any], section: str, source: str) -> dict[str, Any]:
    """The `[section]` table of `data`, created when missing; a ConfigError when the file
    gave that name a plain value (`iiq = "x"`) instead of a table."""
    table = data.setdefault(section, {})
    if not isinstance(table, dict):
        raise ConfigError(
            f"Setting '{section}' in {source} must be a table ([{section}] followed by its "
            f"settings), not {_describe(table)}."
        )
    return table


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
