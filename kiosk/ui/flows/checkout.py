"""Check out (F1): scan a device, (its charger,) the person, confirm, done.

Ready -> device card -> [charger scan, when the model comes with one] -> the person (ID
card scan, exact identifier, or a name with type-ahead) -> one confirm dialog -> result.
The next scan starts the next device; after a refusal Enter goes back to the person step.
"""

from __future__ import annotations

from kiosk.config import AccessoryRule
from kiosk.core.scan import clean_scan
from kiosk.iiq.models import Asset, Person
from kiosk.ui import feedback
from kiosk.ui.dialogs import ConfirmTransferDialog
from kiosk.ui.flows.base import Flow, FlowContext
from kiosk.ui.flows.people import PersonFinder
from kiosk.ui.views import person_text, shown

PERSON_PROMPT = "Scan ID card or type a name"
PERSON_PLACEHOLDER = "Student ID, email, username or name, then Enter"


#: The charger step, for models that come with one ([[accessories]]).
CHARGER_PROMPT = "Scan its charger"
CHARGER_PLACEHOLDER = "Scan the charger's tag · Enter with nothing: no charger"


class CheckoutFlow(Flow):
    mode = "checkout"

    def __init__(self, ctx: FlowContext) -> None:
        super().__init__(ctx)
        self.asset: Asset | None = None
        self.accessory: Asset | None = None
        self._rule: AccessoryRule | None = None  # set while the charger is asked for
        self._back_to_person = False
        self.people = PersonFinder(
            ctx, self._confirm, list_on_card=True, active=lambda: self.asset is not None
        )

    def reset(self) -> None:
        self.people.stop()
        self.asset = self.accessory = self._rule = None
        self._back_to_person = False

    def show_ready(self) -> None:
        self.reset()
        self.screens.ready("Scan a device", "Then scan the student's ID card or type a name.")

    # --- input -----------------------------------------------------------------------

    def on_scan(self, text: str) -> None:
        if self._rule is not None and self.screens.page == "device":
            self.runner.start(self._charger(text))
        elif self.asset is not None and self.screens.page == "device":
            self.people.find(text)
        elif self.device_tag_ok(text):
            self.runner.start(self._device(text))

    def on_step_entry(self, raw: str) -> None:
        if self._rule is not None:
            text = clean_scan(raw, self.ctx.options.scan_settings)
            if text:
                self.runner.start(self._charger(text))
            else:
                self._person_step()  # no charger comes with it
            return
        text = raw.strip()
        if text:
            self.people.find(text)

    def on_step_edited(self, text: str) -> None:
        if self._rule is None:
            self.people.typed(text)

    def on_picked(self, person: Person) -> None:
        if self.asset is not None:
            self.people.picked(person)

    def on_escape(self) -> None:
        if self.screens.page == "device" and self.screens.has_people:
            self.screens.clear_people()
            self.screens.refocus_step()
        else:
            super().on_escape()

    def on_acknowledge(self) -> None:
        if self.asset is not None and self._back_to_person:
            self._person_step()
        else:
            self.show_ready()

    # --- steps -----------------------------------------------------------------------

    async def _device(self, text: str) -> None:
        self._back_to_person = False
        self.people.stop()
        self.asset = self.accessory = self._rule = None
        with self.runner.working("looking up the device"):
            found = await self.find_device(text)
            if found is None:
                return
            asset, seen_at = found
            self.asset = asset
            self.screens.card(asset, seen_at, names=self.names)
            rule = self.ctx.options.accessory_for(asset)
            if rule is not None:
                self._rule = rule
                self.screens.step(CHARGER_PROMPT, CHARGER_PLACEHOLDER)
            else:
                self._person_step()

    async def _charger(self, text: str) -> None:
        rule = self._rule
        if rule is None:
            return
        with self.runner.working("looking up the charger"):
            charger = await self.find_charger(rule, text)
            if charger is not None:
                self.accessory = charger
                self._person_step()

    def _person_step(self) -> None:
        self._rule = None
        self.screens.step(PERSON_PROMPT, PERSON_PLACEHOLDER)

    async def _confirm(self, person: Person) -> None:
        asset = self.asset
        if asset is None:
            return
        self._back_to_person = True
        with self.runner.working("preparing the check-out"):
            prepared = await self.ctx.service.prepare_checkout(asset, person)
            if prepared.check.refusal:
                self.show(
                    feedback.error(
                        "Cannot hand out",
                        self.names.about_people(
                            prepared.check.refusal, person, prepared.check.from_owner
                        ),
                        "Press Enter to choose someone else.",
                    )
                )
                return
            self.runner.busy(False)
            dialog = ConfirmTransferDialog(
                self.screens.window,
                prepared.asset,
                person,
                prepared.check,
                held_count=len([a for a in prepared.held if a.asset_id != asset.asset_id]),
                accessory=self.accessory,
                guard_ms=self.ctx.options.guard_ms,
                names=self.names,
            )
            if not await self.screens.ask(dialog):
                self.screens.toast("Cancelled: nothing was changed.")
                self._person_step()
                return
            change = self.ctx.service.checkout_change(prepared, accessory=self.accessory)
            self.runner.busy(True)
            self._back_to_person = False
            outcome = await self.submit(change)
            done = feedback.success(
                f"{shown(self.names.person_name(person))} now has {change.asset_tag}"
                + (f" and {', '.join(change.accessory_tags)}" if change.accessory_tags else ""),
                person_text(person, self.names),
            )
            self.show(self.told(outcome, done))
