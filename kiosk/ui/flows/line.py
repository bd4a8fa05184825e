"""Distribution line (F5): the student's ID card first, then the device, Enter, done.

The ID card shows the person; the device scan opens the one confirm dialog; Enter gives it.
The next ID card starts the next student straight from the result screen, with no key to
dismiss it. A refused device keeps the student: scan another device for them, or Esc.
"""

from __future__ import annotations

from kiosk.core.transactions import PreparedCheckout
from kiosk.iiq.errors import NetworkError
from kiosk.iiq.models import Asset, Person
from kiosk.ui import feedback
from kiosk.ui.dialogs import ConfirmTransferDialog
from kiosk.ui.flows.base import Flow, FlowContext
from kiosk.ui.flows.checkout import CHARGER_PLACEHOLDER, CHARGER_PROMPT
from kiosk.ui.flows.people import PersonFinder
from kiosk.ui.views import person_text, sentence, shown


class LineFlow(Flow):
    mode = "line"

    def __init__(self, ctx: FlowContext) -> None:
        super().__init__(ctx)
        self.person: Person | None = None
        #: The device waiting for its charger's scan ([[accessories]]).
        self._charger_for: PreparedCheckout | None = None
        self.people = PersonFinder(ctx, self._student, list_on_card=False)

    def reset(self) -> None:
        self.people.stop()
        self.person = None
        self._charger_for = None

    def show_ready(self) -> None:
        self.reset()
        self.screens.ready(
            "Scan the student's ID card",
            "Then scan the device for them and press Enter. The next ID card starts the "
            "next student.",
        )

    def on_scan(self, text: str) -> None:
        if self.person is None:
            self.people.find(text)
        elif self._charger_for is not None:
            self.runner.start(self._charger(text))
        elif self.device_tag_ok(text):
            self.runner.start(self._device(text))

    def on_entry(self, raw: str) -> None:
        if self.person is None:
            if raw.strip():
                self.people.find(raw.strip())
        elif self._charger_for is not None and not raw.strip():
            prepared, self._charger_for = self._charger_for, None
            self.runner.start(self._confirm(prepared, None))  # no charger comes with it
        else:
            super().on_entry(raw)

    def on_acknowledge(self) -> None:
        if self.person is not None:
            self.screens.panel_focus()
        else:
            self.show_ready()

    def on_pick_cancelled(self) -> None:
        self.on_acknowledge()  # the student stays: scan another device for them

    async def _student(self, person: Person) -> None:
        name = shown(self.names.person_name(person))
        if not person.can_own_devices:
            state = "deleted" if person.is_deleted else "inactive"
            self.show(
                feedback.error(
                    "Cannot hand out",
                    f"{name} is {state} in Incident IQ and cannot be given a device.",
                    "Send the student to the help desk, or scan the next ID card.",
                )
            )
            return
        self.person = person
        self.screens.panel(
            person_text(person, self.names),
            sentence(f"Scan the device for {name}"),
            placeholder="…or type the device's tag and press Enter",
        )
        if person.user_id:
            try:
                held = await self.ctx.service.client.assets_for(person.user_id)
            except NetworkError:
                return  # offline: the confirm dialog says what the kiosk knows
            self.screens.panel_count(
                f"Has {len(held)} device{'s' if len(held) != 1 else ''} already"
                if held
                else "Has no device yet"
            )
            for asset in held:
                self.screens.panel_line(f"has {shown(asset.asset_tag)} ({shown(asset.model_name)})")

    async def _device(self, text: str) -> None:
        person = self.person
        if person is None:
            return
        with self.runner.working("looking up the device"):
            found = await self.find_device(text)
            if found is None:
                return
            asset, _seen_at = found
            prepared = await self.ctx.service.prepare_checkout(asset, person)
            if prepared.check.refusal:
                self.show(
                    feedback.error(
                        "Cannot hand out",
                        self.names.about_people(
                            prepared.check.refusal, person, prepared.check.from_owner
                        ),
                        f"Scan another device for {shown(self.names.person_name(person))}, or "
                        "Esc for the next student.",
                    )
                )
                return
            if self.ctx.options.accessory_for(prepared.asset) is not None:
                self._charger_for = prepared
                self.screens.panel_marker(f"{CHARGER_PROMPT}. {CHARGER_PLACEHOLDER}.")
                self.screens.panel_focus()
                return
            await self._confirm(prepared, None)

    async def _charger(self, text: str) -> None:
        prepared = self._charger_for
        rule = self.ctx.options.accessory_for(prepared.asset) if prepared else None
        if prepared is None or rule is None:
            return
        with self.runner.working("looking up the charger"):
            charger = await self.find_charger(rule, text)
            if charger is not None:
                self._charger_for = None
                await self._confirm(prepared, charger)

    async def _confirm(self, prepared: PreparedCheckout, charger: Asset | None) -> None:
        person = prepared.person
        self.screens.panel_marker("")
        with self.runner.working("giving the device"):
            self.runner.busy(False)
            dialog = ConfirmTransferDialog(
                self.screens.window,
                prepared.asset,
                person,
                prepared.check,
                held_count=len([a for a in prepared.held if a.asset_id != prepared.asset.asset_id]),
                accessory=charger,
                guard_ms=self.ctx.options.guard_ms,
                names=self.names,
            )
            if not await self.screens.ask(dialog):
                self.screens.toast("Cancelled: nothing was changed.")
                self.screens.panel_focus()
                return
            self.runner.busy(True)
            change = self.ctx.service.checkout_change(prepared, accessory=charger)
            self.person = None  # the next scan is the next student's ID card
            outcome = await self.submit(change)
            given = " and ".join([change.asset_tag, *change.accessory_tags])
            done = feedback.Feedback(
                "success",
                f"{shown(self.names.person_name(person))} now has {given}",
                person_text(person, self.names),
                "Scan the next student's ID card.",
            )
            self.show(self.told(outcome, done))
