"""First-run setup: the answers a station needs, checked, tested and saved. No widgets.

The setup window (`kiosk.ui.setup_page`) and `iiq-kiosk setup` both go through here, so
they check the same things in the same words, test the connection with the same self-check
(`kiosk.core.doctor`) and save the same way: the token to the OS keyring (Windows
Credential Manager), the rest to the user's config file with the TOML writer
(`kiosk.config.write_user_settings`), the admin PIN only as a salted scrypt hash.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from kiosk.config import (
    ConfigError,
    Settings,
    load_settings,
    store_token,
    user_settings_path,
    write_user_settings,
)
from kiosk.core.doctor import DoctorReport, run_doctor
from kiosk.core.pin import hash_pin, pin_problem
from kiosk.iiq.client import api_base
from kiosk.iiq.errors import InvalidInputError
from kiosk.wiring import build_client

log = logging.getLogger(__name__)

Mechanism = Literal["detect", "checkout", "owner"]
MECHANISMS: dict[Mechanism, str] = {
    "detect": "Detect (recommended): the self-check finds which routes this site has",
    "checkout": "Check-out routes (a checkout record for every hand-out)",
    "owner": "Owner routes (what most integrations use)",
}


@dataclass(frozen=True)
class SetupAnswers:
    """What the person setting up a station types. `pin` None: keep the PIN there is."""

    url: str
    site_id: str
    token: str
    station: str
    mechanism: Mechanism = "detect"
    pin: str | None = None
    pin_again: str | None = None

    def __repr__(self) -> str:  # never the token or the PIN, in a log or a traceback
        return f"SetupAnswers(url={self.url!r}, site_id={self.site_id!r}, station={self.station!r})"

    def cleaned(self) -> SetupAnswers:
        return replace(
            self,
            url=self.url.strip(),
            site_id=self.site_id.strip(),
            token=self.token.strip(),
            station=self.station.strip(),
        )


_PASTE_IT = "Paste the API token: Incident IQ makes one in Admin > Developer Tools > API tokens."
_PASTE_IT_WHOLE = "The token has spaces or line breaks in it: paste it again, whole."


def answer_problems(answers: SetupAnswers, *, pin_required: bool) -> dict[str, str]:
    """Field name -> what is wrong with it, in words; empty when all can be tried."""
    a = answers.cleaned()
    problems: dict[str, str] = {}
    try:
        api_base(a.url)
    except InvalidInputError as exc:
        problems["url"] = str(exc)
    if not a.site_id:
        problems["site_id"] = (
            "Type the site id: Incident IQ shows it in Admin > Developer Tools (a GUID)."
        )
    if not a.token:
        problems["token"] = _PASTE_IT
    elif any(ch.isspace() for ch in a.token):
        problems["token"] = _PASTE_IT_WHOLE
    if not a.station:
        problems["station"] = "Name this station (for example: Library desk 1)."
    if a.pin is None or a.pin == "":
        if pin_required:
            problems["pin"] = "Choose an admin PIN: it is needed to leave or set up the kiosk."
    else:
        problem = pin_problem(a.pin)
        if problem:
            problems["pin"] = problem
        elif a.pin_again is not None and a.pin_again != a.pin:
            problems["pin_again"] = "The two PINs differ: type the same PIN twice."
    return problems


def _trial_settings(answers: SetupAnswers, settings: Settings, mechanism: str) -> Settings:
    """`settings` with the site and routes of the answers, to test them before saving."""
    a = answers.cleaned()
    iiq = settings.iiq.model_copy(
        update={
            "url": a.url,
            "site_id": a.site_id,
            "transfer_api": "owner" if mechanism == "owner" else "checkout",
        }
    )
    return settings.model_copy(update={"iiq": iiq})


async def check_connection(
    answers: SetupAnswers, settings: Settings, *, lookups: int = 10
) -> DoctorReport:
    """The district self-check with these answers (read-only calls only)."""
    mechanism = answers.mechanism if answers.mechanism != "detect" else "checkout"
    client = build_client(_trial_settings(answers, settings, mechanism), answers.cleaned().token)
    try:
        return await run_doctor(client, settings, lookups=lookups)
    finally:
        await client.aclose()


def chosen_mechanism(answers: SetupAnswers, report: DoctorReport | None) -> str:
    """The transfer route to write: the one asked for, or with "detect" the one the
    self-check found (the check-out routes unless the site lacks them)."""
    if answers.mechanism != "detect":
        return answers.mechanism
    if report is not None and report.answers.get("checkout_routes_enabled") is False:
        return "owner"
    return "checkout"


def save(
    answers: SetupAnswers,
    settings: Settings,
    report: DoctorReport | None,
    *,
    config: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Store the token in the keyring and write the rest to the user's file; return the
    settings as the kiosk now reads them. Raises ConfigError (in words) when a setting is
    locked by the machine-wide file, the file cannot be written or there is no keyring."""
    a = answers.cleaned()
    changes: dict[str, object] = {
        "iiq.url": a.url,
        "iiq.site_id": a.site_id,
        "iiq.transfer_api": chosen_mechanism(a, report),
        "station.name": a.station,
    }
    if a.pin:
        changes["admin.pin_hash"] = hash_pin(a.pin)
    for key in list(changes):
        if settings.is_locked(key):
            if key == "admin.pin_hash":
                raise ConfigError(
                    "The admin PIN is set by your IT department (machine-wide settings): "
                    "leave the PIN fields empty."
                )
            # A value IT fixed stays; setting the same value is no change.
            if _current(settings, key) == changes[key]:
                del changes[key]
    # The token first: a keyring that refuses it leaves the file as it was (with a PIN set
    # in it, a station nobody could use).
    store_token(_trial_settings(a, settings, str(changes["iiq.transfer_api"])), a.token)
    path = write_user_settings(user_settings_path(settings), changes, env=env)
    fresh = load_settings(config=config or path, env=env)
    log.info("setup saved for station %s (%s routes)", a.station, changes.get("iiq.transfer_api"))
    return fresh


def _current(settings: Settings, key: str) -> object:
    section, name = key.split(".", 1)
    return getattr(getattr(settings, section), name)
