"""Batch check-out (F4): one person, many devices.

After F4 the first scan (or typed name) is the person who gets the devices, even when it
would also fit the tag pattern. Enter confirms that person (after the half-second guard);
then every device scan gives that device to them at once, with no dialog, unless it needs
a second look (it is someone else's now, or marked broken): that one needs an explicit
Enter. Esc ends the batch with one summary (count and tags), not one screen per device.

Scans come faster than Incident IQ answers: each device joins the runner's queue, so a
quick scan never cancels the device before it (as a new scan does in check-out) and Esc
waits for the devices scanned before it. A device that could not be looked up is a
problem line too, not an error screen that the next scan would hide.
"""

from __future__ import annotations

from kiosk.core.changes import ChangeState
from kiosk.core.rules import trouble_status
from kiosk.iiq.errors import IIQError, NetworkError
from kiosk.iiq.models import Person
from kiosk.ui import feedback
from kiosk.ui.dialogs import ConfirmTransferDialog, QuestionDialog
from kiosk.ui.flows.base import Flow, FlowContext
from kiosk.ui.flows.batching import BATCH_MARKS, Batch, batch_summary
from kiosk.ui.flows.people import PersonFinder
from kiosk.ui.views import person_text, shown


class BatchFlow(Flow):
    mode = "batch"

    def __init__(self, ctx: FlowContext) -> None:
        super().__init__(ctx)
        self.person: Person | None = None
        self.batch: Batch | None = None
        self.people = PersonFinder(ctx, self._target, list_on_card=False)
        self._ending = False  # Esc was pressed: the summary follows the queued devices

    def reset(self) -> None:
        self.people.stop()
        self.person = self.batch = None
        self._ending = False

    def show_ready(self) -> None:
        self.reset()
        self.screens.ready(
            "Scan the ID card of the person who gets the devices",
            "Or type their name and press Enter. Then scan each device. Esc ends the batch.",
        )

    # --- input -----------------------------------------------------------------------

    def on_scan(self, text: str) -> None:
        if self._ending:
            self.screens.toast("Ending the batch: scan again in a moment.", "warning")
        elif self.batch is None:
            self.people.find(text)  # the first scan is the person, whatever it looks like
        elif self.device_tag_ok(text):
            self.runner.enqueue(self._device(text))

    def on_entry(self, raw: str) -> None:
        if self.batch is None:
            if raw.strip():
                self.people.find(raw.strip())
        else:
            super().on_entry(raw)

    def on_escape(self) -> None:
        if self.batch is not None:
            if not self._ending:
                self._ending = True
                self.runner.enqueue(self._finish_after_queue())  # devices scanned still count
        else:
            super().on_escape()

    async def _finish_after_queue(self) -> None:
        self._finish()

    def on_acknowledge(self) -> None:
        if self.batch is not None:
            self.screens.panel_focus()
        else:
            self.show_ready()

    # --- steps -----------------------------------------------------------------------

    async def _target(self, person: Person) -> None:
        name = shown(self.names.person_name(person))
        if not person.can_own_devices:
            state = "deleted" if person.is_deleted else "inactive"
            self.show(
                feedback.error(
                    "Cannot hand out",
                    f"{name} is {state} in Incident IQ and cannot be given devices.",
                    "Scan another ID card.",
                )
            )
            return
        self.runner.busy(False)
        dialog = QuestionDialog(
            self.screens.window,
            f"Give the next devices to {person_text(person, self.names)}?",
            ["Then scan each device: it is given at once.", "Esc ends the batch."],
            confirm="Start (Enter)",
            cancel="Cancel (Esc)",
            guard_ms=self.ctx.options.guard_ms,
        )
        if not await self.screens.ask(dialog):
            self.screens.toast("Cancelled: nothing was changed.")
            self.show_ready()
            return
        self.person = person
        self.batch = Batch(person.display_name)
        self.screens.panel(
            f"Giving devices to {name}",
            "Scan each device: it is given at once. Esc ends the batch with one summary.",
            placeholder="…or type a tag and press Enter",
        )
        self.screens.panel_count("0 given")

    async def _device(self, text: str) -> None:
        person, batch = self.person, self.batch
        if person is None or batch is None:
            return
        with self.runner.working("giving the device"):
            try:
                found = await self.ctx.service.find_device(text)
                self.ctx.set_online(found.seen_at is None)
                if len(found.assets) != 1:
                    why = "not found" if not found.assets else "several devices have this tag"
                    self._problem(batch, f"{shown(text)}: {why}")
                    return
                prepared = await self.ctx.service.prepare_checkout(
                    found.assets[0], person, with_held=False
                )
            except IIQError as exc:
                # Worded by the funnel, kept in the list: the batch goes on.
                if isinstance(exc, NetworkError):
                    self.ctx.set_online(False)
                said = feedback.for_exception(exc, doing="looking up the device")
                self._problem(batch, f"{shown(text)}: not given ({said.title})")
                return
            if prepared.check.refusal:
                refusal = prepared.check.refusal
                self._problem(
                    batch, self.names.about_people(refusal, person, prepared.check.from_owner)
                )
                return
            if prepared.check.is_transfer or trouble_status(prepared.asset) is not None:
                # Someone else's now, or marked broken: not without a look and an Enter.
                self.runner.busy(False)
                dialog = ConfirmTransferDialog(
                    self.screens.window,
                    prepared.asset,
                    person,
                    prepared.check,
                    guard_ms=self.ctx.options.guard_ms,
                    names=self.names,
                )
                if not await self.screens.ask(dialog):
                    self._problem(batch, f"{prepared.asset.asset_tag}: skipped")
                    return
                self.runner.busy(True)
            change = self.ctx.service.checkout_change(prepared, batch_id=batch.id)
            try:
                outcome = await self.submit(change)
            except IIQError as exc:
                self._problem(batch, f"{change.asset_tag}: {exc}")
                return
            state = ChangeState.PENDING if outcome.still_sending else outcome.state
            mark, sound = BATCH_MARKS[state]
            if state in (ChangeState.CONFLICT, ChangeState.FAILED):
                error = self.names.about_change(change, change.last_error or "")
                self._problem(batch, f"{change.asset_tag}: {error}")
            else:
                batch.done.append(change.asset_tag)
                self.screens.panel_line(f"{mark} {change.asset_tag}")
                self.screens.sound(sound)
            self.screens.panel_count(f"{len(batch.done)} given")
            self.screens.panel_focus()

    def _problem(self, batch: Batch, text: str) -> None:
        batch.problem(self.screens, text)

    def _finish(self) -> None:
        batch, person = self.batch, self.person
        self.reset()
        if batch is None or person is None:
            return
        count = len(batch.done)
        self.show(
            batch_summary(
                batch,
                f"{shown(self.names.person_name(person))} got {count} "
                f"device{'s' if count != 1 else ''}",
                hint="Scan the next person's ID card for another batch.",
            )
        )
