"""Typed settings, in one place: defaults < TOML file < environment < command line.

The file lives at the platformdirs location (or `IIQ_KIOSK_CONFIG` / `--config`). The API
token is never read from or written to a file: it comes from `IIQ_TOKEN` or the OS keyring
(Windows Credential Manager). A missing or malformed setting is a one-line `ConfigError`
that names it and says how to set it.
"""

from __future__ import annotations

import logging
import os
import socket
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kiosk.core.journal import default_path as default_journal_path
from kiosk.core.scan import ScanSettings
from kiosk.core.transactions import CheckinPolicy
from kiosk.iiq.client import Connection, api_base
from kiosk.iiq.errors import InvalidInputError

log = logging.getLogger(__name__)

APP_NAME = "iiq-kiosk"
KEYRING_SERVICE = "iiq-kiosk"
CONFIG_VERSION = 1

Mode = Literal["checkout", "checkin", "lookup"]


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


class StationSettings(_Section):
    name: str = Field(default_factory=socket.gethostname)
    mode_lock: Mode | None = None
    idle_seconds: float = Field(default=60.0, ge=5)
    fullscreen: bool = True
    sound: bool = True


class CheckinSettings(_Section):
    #: Status set when a device comes back in good condition (looked up by name at start).
    status_name: str | None = "Available"
    #: Status set when it comes back damaged or broken (a repair ticket is filed too).
    repair_status_name: str | None = "In Repair"
    location_id: str | None = None
    location_room_id: str | None = None


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


class Settings(_Section):
    version: int = CONFIG_VERSION
    iiq: IIQSettings = IIQSettings()
    station: StationSettings = StationSettings()
    scanner: ScanSettings = ScanSettings()
    checkin: CheckinSettings = CheckinSettings()
    tickets: TicketSettings = TicketSettings()
    journal: JournalSettings = JournalSettings()
    data_dir: Path = Field(
        default_factory=lambda: platformdirs.user_data_path(APP_NAME, appauthor=False)
    )
    #: Where the settings came from, for `iiq-kiosk config` and the log; not a setting.
    source: str = "defaults"

    @property
    def journal_path(self) -> Path:
        return default_journal_path(self.data_dir)

    def checkin_policy(self) -> CheckinPolicy:
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
            data.setdefault(section, {})[key] = env[name]
    if env.get("IIQ_KIOSK_DATA"):
        data["data_dir"] = env["IIQ_KIOSK_DATA"]
    for section, values in (overrides or {}).items():
        if isinstance(values, Mapping):
            data.setdefault(section, {}).update(values)
        else:
            data[section] = values
    data["source"] = source
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            f"Setting '{where}' is invalid: {first['msg']} (in {source} or the environment)."
        ) from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"Cannot read config file {path}: {exc.strerror}") from None
    iiq = data.get("iiq")
    if "token" in data or (isinstance(iiq, dict) and "token" in iiq):
        raise ConfigError(
            f"Config file {path} contains an API token: remove it and use IIQ_TOKEN or "
            "'iiq-kiosk token set' (the keyring) instead."
        )
    version = data.get("version", CONFIG_VERSION)
    if version != CONFIG_VERSION:
        raise ConfigError(
            f"Config file {path} has version {version}; this kiosk reads version {CONFIG_VERSION}."
        )
    return data


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
