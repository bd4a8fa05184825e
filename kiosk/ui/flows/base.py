"""What every flow (mode) is given, and the steps they share.

A flow sees only its `FlowContext`: the screens API, the runner, the change desk, the
transaction service (lookups and plans) and its options. The shell hands it each scan and
each typed entry; the flow decides what that scan means in its current step.

Every person a flow puts on screen is named through `options.names` (`self.names`): in full,
or privately with `[station] privacy = true` ("Ana R.", "ID ••••4518"). What it hands to the
desk and the journal keeps the full names.
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar, Protocol

from kiosk.config import AccessoryRule, Settings
from kiosk.core.changes import Change, ChangeState
from kiosk.core.desk import ChangeDesk, Outcome
from kiosk.core.privacy import NameStyle, name_style
from kiosk.core.scan import ScanSettings, check_tag, clean_scan
from kiosk.core.transactions import CartTarget, TransactionService
from kiosk.iiq.errors import NetworkError
from kiosk.iiq.models import Asset, Person
from kiosk.ui import feedback
from kiosk.ui.dialogs import GUARD_MS, DevicePickerDialog
from kiosk.ui.feedback import Feedback
from kiosk.ui.runner import Runner
from kiosk.ui.screens import Screens
from kiosk.ui.views import shown

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FlowOptions:
    scan_settings: ScanSettings = field(default_factory=ScanSettings)
    guard_ms: int = GUARD_MS
    debounce_ms: int = 300
    #: How long the screen waits for Incident IQ before it says "saved, will be sent".
    wait_for_send_s: float = 4.0
    ask_charger: bool = True
    cart_pattern: str | None = r"^CART-[A-Z0-9-]+$"
    carts: dict[str, CartTarget] = field(default_factory=dict)
    accessories: tuple[AccessoryRule, ...] = ()
    #: `[station] privacy`: first name + last initial and the last 4 digits of an ID on
    #: every screen that shows a person.
    privacy: bool = False

    @property
    def names(self) -> NameStyle:
        """How the window names people (see `kiosk.core.privacy`)."""
        return name_style(self.privacy)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> FlowOptions:
        checkin = settings.checkin
        carts = settings.cart_targets()
        values: dict[str, Any] = {
            "scan_settings": settings.scanner,
            "ask_charger": checkin.ask_charger,
            "cart_pattern": checkin.cart_pattern,
            "carts": carts,
            "accessories": settings.accessories,
            "privacy": settings.station.privacy,
        }
        values.update(overrides)
        return cls(**values)

    def accessory_for(self, asset: Asset) -> AccessoryRule | None:
        """The charger rule for this device's model, if any."""
        return next((r for r in self.accessories if r.applies_to(asset.model_name)), None)

    def is_cart_label(self, text: str) -> bool:
        return bool(self.cart_pattern) and re.fullmatch(self.cart_pattern or "", text) is not None


class SessionLog(Protocol):
    """The shell's record of this session: the list beside the screens, the counter, and
    what Ctrl+Z would undo."""

    def record(self, change: Change) -> None: ...


@dataclass
class FlowContext:
    screens: Screens
    runner: Runner
    desk: ChangeDesk
    service: TransactionService
    options: FlowOptions
    session: SessionLog
    set_online: Callable[[bool], None]


class Flow(ABC):
    """One mode. Subclasses set `mode`, `title` and implement `show_ready` and `on_scan`."""

    mode: ClassVar[str]
    #: Look-up style flows: the same code scanned twice is fine (it changes nothing).
    repeats_allowed: ClassVar[bool] = False

    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx
        self.screens = ctx.screens
        self.runner = ctx.runner

    @property
    def names(self) -> NameStyle:
        """How this flow names people on screen (the station's `options.names`)."""
        return self.ctx.options.names

    # --- lifecycle (the shell calls these) ---------------------------------------------

    def activate(self) -> None:
        """The mode was chosen, or the station went idle: start from the beginning."""
        self.reset()
        self.show_ready()

    def reset(self) -> None:
        """Forget every step in progress (and every person in it)."""
        return  # most flows have nothing to do here

    @abstractmethod
    def show_ready(self) -> None:
        """The flow's first screen."""

    # --- input -----------------------------------------------------------------------

    @abstractmethod
    def on_scan(self, text: str) -> None:
        """A scanner burst (cleaned), whatever had focus."""

    def on_entry(self, raw: str) -> None:
        """Typed text + Enter in the Ready or panel field: the same as a scan of it."""
        text = clean_scan(raw, self.ctx.options.scan_settings)
        if text:
            self.on_scan(text)

    def on_step_entry(self, raw: str) -> None:
        """Typed text + Enter in the device card's field."""
        self.on_entry(raw)

    def on_step_edited(self, text: str) -> None:
        """A character typed or deleted in the device card's field."""
        return  # most flows have nothing to do here

    def on_picked(self, person: Person) -> None:
        """A person chosen in the list on the device card."""
        return  # most flows have nothing to do here

    def on_condition_key(self, key: str) -> None:
        """1, 2 or 3 on an empty panel field."""
        return  # most flows have nothing to do here

    def on_escape(self) -> None:
        if self.screens.page == "result":
            self.on_acknowledge()
        else:
            self.show_ready()

    def on_acknowledge(self) -> None:
        """Enter (or OK) on the result screen."""
        self.show_ready()

    def on_pick_cancelled(self) -> None:
        """Esc in the picker of several devices with one tag."""
        self.show_ready()

    # --- shared steps ----------------------------------------------------------------

    def show(self, shown: Feedback) -> None:
        self.screens.result(shown)

    def device_tag_ok(self, text: str) -> bool:
        """Not a device tag: say so, and send nothing."""
        problem = check_tag(text, self.ctx.options.scan_settings)
        if problem:
            log.info("scan rejected by the tag pattern (%d characters)", len(text))
            self.show(
                feedback.error(
                    "Not a device tag", problem, "Scan again, or type the tag and press Enter."
                )
            )
            return False
        return True

    async def find_device(self, text: str) -> tuple[Asset, datetime | None] | None:
        """The device a scan names (tag, then serial): several with that tag are shown to
        pick from; none found says so. Run inside `runner.working`."""
        found = await self.ctx.service.find_device(text)
        self.ctx.set_online(found.seen_at is None)
        if not found.assets:
            self.show(feedback.device_not_found(text))
            return None
        asset = found.assets[0]
        if len(found.assets) > 1:
            self.runner.busy(False)
            dialog = DevicePickerDialog(
                self.screens.window,
                text,
                found.assets,
                guard_ms=self.ctx.options.guard_ms,
                names=self.names,
            )
            picked = dialog.chosen() if await self.screens.ask(dialog) else None
            if picked is None:
                self.on_pick_cancelled()
                return None
            asset = picked
        return asset, found.seen_at

    async def find_charger(self, rule: AccessoryRule, text: str) -> Asset | None:
        """The charger a scan names, or None with a toast that says what to do (scan it
        again, or Enter with nothing to go on without it). Run inside `runner.working`."""
        found = await self.ctx.service.find_device(text) if rule.matches_tag(text) else None
        if found is not None and len(found.assets) == 1:
            return found.assets[0]
        if found is None:
            problem = f"“{shown(text)}” is not a charger tag."
        else:
            what = "No" if not found.assets else "More than one"
            problem = f"{what} charger has the tag “{shown(text)}”."
        self.screens.toast(
            f"{problem} Scan the charger, or press Enter with nothing for no charger.", "warning"
        )
        return None

    def told(self, outcome: Outcome, done: Feedback) -> Feedback:
        """What the operator is told about a submitted change (`done` when applied)."""
        return for_outcome(outcome, done, self.names)

    async def submit(self, change: Change) -> Outcome:
        """Hand a confirmed change to the desk and put it in the session list. The screen
        waits at most `wait_for_send_s`; the outbox finishes anything slower."""
        self.ctx.session.record(change)
        outcome = await self.ctx.desk.submit(change, self.ctx.options.wait_for_send_s)
        if outcome.state is ChangeState.DONE:
            self.ctx.set_online(True)
        elif isinstance(outcome.error, NetworkError):
            self.ctx.set_online(False)
        return outcome


def for_outcome(outcome: Outcome, done: Feedback, names: NameStyle) -> Feedback:
    """`feedback.for_outcome` as the window shows it: the change's line and its conflict
    message name the change's people in `names`' style."""
    said = feedback.for_outcome(outcome, done)

    def about(text: str) -> str:
        return names.about_change(outcome.change, text)

    return replace(
        said,
        title=about(said.title),
        message=about(said.message),
        hint=about(said.hint),
        details=tuple(about(line) for line in said.details),
    )
