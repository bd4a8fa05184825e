"""Distribution line (F5): the student's ID card first, then the device, Enter, done.

The ID card shows the person; the device scan opens the one confirm dialog; Enter gives it.
The next ID card starts the next student straight from the result screen, with no key to
dismiss it. A refused device keeps the student: scan another device for them, or Esc.
"""

from __future__ import annotations

from kiosk.core.rules import person_line
from kiosk.iiq.errors import NetworkError
from kiosk.iiq.models import Person
from kiosk.ui import feedback
from kiosk.ui.dialogs import ConfirmTransferDialog
from kiosk.ui.flows.base import Flow, FlowContext
from kiosk.ui.flows.people import PersonFinder
from kiosk.ui.views import person_text, shown


class LineFlow(Flow):
    mode = "line"

    def __init__(self, ctx: FlowContext) -> None:
        super().__init__(ctx)
        self.person: Person | None = None
        self.people = PersonFinder(ctx, self._student, list_on_card=False)

    def reset(self) -> None:
        self.people.stop()
        self.person = None

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
        elif self.device_tag_ok(text):
            self.runner.start(self._device(text))

    def on_entry(self, raw: str) -> None:
        if self.person is None:
            if raw.strip():
                self.people.find(raw.strip())
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
        name = shown(person.display_name)
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
            person_text(person),
            f"Scan the device for {name}.",
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
                        prepared.check.refusal,
                        f"Scan another device for {shown(person.display_name)}, or Esc for "
                        "the next student.",
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
                guard_ms=self.ctx.options.guard_ms,
            )
            if not await self.screens.ask(dialog):
                self.screens.toast("Cancelled: nothing was changed.")
                self.screens.panel_focus()
                return
            self.runner.busy(True)
            change = self.ctx.service.checkout_change(prepared)
            self.person = None  # the next scan is the next student's ID card
            outcome = await self.submit(change)
            done = feedback.success(
                f"{shown(person.display_name)} now has {change.asset_tag}",
                shown(person_line(person), 120),
            )
            done = feedback.Feedback(
                done.kind, done.title, done.message, "Scan the next student's ID card."
            )
            self.show(feedback.for_outcome(outcome, done))
