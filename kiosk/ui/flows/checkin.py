"""Check in (F2): take devices back, one at a time or into a cart.

One device: scan it -> [its charger, when the model comes with one] -> the check-in dialog
(who has it; 1 good / 2 damaged / 3 broken; C charger returned; Tab note) -> Enter. The
owner is removed (or the checkout closed), status and location are set as configured, and
a damaged or broken device gets one repair ticket for the person who returned it.

A cart batch: scan a cart or box label (`[checkin] cart_pattern`, mapped to a location in
`[checkin.carts]`); every device scanned after it is checked in as good into that cart (2 or
3 on the empty field before a scan marks that one damaged or broken), with a running count
and list, until Esc or another cart label; then one summary.
"""

from __future__ import annotations

from kiosk.config import AccessoryRule
from kiosk.core.changes import Change, ChangeState, Condition
from kiosk.core.rules import is_retired, retired_status_ids
from kiosk.core.scan import clean_scan
from kiosk.core.transactions import CartTarget, SetupError, tag_of
from kiosk.iiq.errors import IIQError
from kiosk.iiq.models import Asset
from kiosk.ui import feedback
from kiosk.ui.dialogs import CheckinDialog
from kiosk.ui.flows.base import Flow, FlowContext
from kiosk.ui.flows.batching import BATCH_MARKS, Batch, batch_summary
from kiosk.ui.flows.checkout import CHARGER_PLACEHOLDER, CHARGER_PROMPT
from kiosk.ui.views import sentence, shown

#: The card's prompt while the check-in dialog asks how the device came back.
CHECKLIST_PROMPT = "Say how it came back: Enter checks it in, Esc cancels"
CHECKLIST_PLACEHOLDER = "The next scan waits until this one is answered"
CONDITION_KEYS = {"1": Condition.GOOD, "2": Condition.DAMAGED, "3": Condition.BROKEN}


class CheckinFlow(Flow):
    mode = "checkin"

    def __init__(self, ctx: FlowContext) -> None:
        super().__init__(ctx)
        self.cart: CartTarget | None = None
        self.batch: Batch | None = None
        self._next = Condition.GOOD
        self._charger_for: tuple[Asset, AccessoryRule] | None = None

    def reset(self) -> None:
        self.cart = self.batch = None
        self._next = Condition.GOOD
        self._charger_for = None

    def show_ready(self) -> None:
        self.reset()
        carts = (
            " Or scan a cart's label to check devices into it."
            if self.ctx.options.cart_pattern
            else ""
        )
        self.screens.ready("Scan a device to check it in", "Then say how it came back." + carts)

    # --- input -----------------------------------------------------------------------

    def on_scan(self, text: str) -> None:
        if self.ctx.options.is_cart_label(text):
            self._start_cart(text)
        elif self._charger_for is not None and self.screens.page == "device":
            self.runner.start(self._charger(text))
        elif self.device_tag_ok(text):
            if self.cart is not None and self.batch is not None:
                # What the device is checked in as and where to is settled now, at its
                # scan: a 2 pressed or a cart scanned while it waits its turn is not for it.
                condition, self._next = self._next, Condition.GOOD
                self.screens.panel_marker("")
                self.runner.enqueue(self._into_cart(text, self.batch, self.cart, condition))
            else:
                self.runner.start(self._device(text))

    def on_step_entry(self, raw: str) -> None:
        text = clean_scan(raw, self.ctx.options.scan_settings)
        if self._charger_for is not None and not text:
            asset, rule = self._charger_for
            self.runner.start(self._confirm(asset, rule, None))  # the charger did not come back
        elif text:
            self.on_scan(text)

    def on_condition_key(self, key: str) -> None:
        if self.cart is None:
            return
        self._next = CONDITION_KEYS[key]
        marker = (
            ""
            if self._next is Condition.GOOD
            else (
                f"The next device is checked in {self._next.value.upper()}: "
                "a repair ticket is filed."
            )
        )
        self.screens.panel_marker(marker)

    def on_escape(self) -> None:
        if self.batch is not None and self.cart is not None:
            # Devices scanned still count: the summary comes after them.
            self.runner.enqueue(self._finish_after_queue(self.batch, self.cart.label))
        else:
            super().on_escape()

    async def _finish_after_queue(self, batch: Batch, label: str) -> None:
        self._finish_cart(batch, label)

    def on_acknowledge(self) -> None:
        if self.cart is not None:
            self.screens.panel_focus()
        else:
            self.show_ready()

    # --- one device ------------------------------------------------------------------

    async def _device(self, text: str) -> None:
        self._charger_for = None
        with self.runner.working("looking up the device"):
            found = await self.find_device(text)
            if found is None:
                return
            asset, seen_at = found
            refusal = await self._refusal(asset)
            if refusal:
                self.show(feedback.error("Cannot check in", refusal, "Scan the next device."))
                return
            self.screens.card(asset, seen_at, names=self.names)
            rule = self.ctx.options.accessory_for(asset)
            if rule is not None:
                self._charger_for = (asset, rule)
                self.screens.step(CHARGER_PROMPT, CHARGER_PLACEHOLDER)
                return
            await self._confirm(asset, None, None)

    async def _charger(self, text: str) -> None:
        if self._charger_for is None:
            return
        asset, rule = self._charger_for
        with self.runner.working("looking up the charger"):
            charger = await self.find_charger(rule, text)
            if charger is not None:
                await self._confirm(asset, rule, charger)

    async def _confirm(
        self, asset: Asset, rule: AccessoryRule | None, charger: Asset | None
    ) -> None:
        self._charger_for = None
        with self.runner.working("checking in the device"):
            self.runner.busy(False)
            # The card stays in view behind the dialog: who has it, its status, its tickets.
            self.screens.step(CHECKLIST_PROMPT, CHECKLIST_PLACEHOLDER)
            dialog = CheckinDialog(
                self.screens.window,
                asset,
                ask_charger=self.ctx.options.ask_charger,
                charger_tag=(tag_of(charger) if charger else "") if rule else None,
                guard_ms=self.ctx.options.guard_ms,
                names=self.names,
            )
            if not await self.screens.ask(dialog):
                self.screens.toast("Cancelled: nothing was changed.")
                self.show_ready()
                return
            self.runner.busy(True)
            change = await self._plan(
                asset,
                dialog.condition,
                charger_returned=dialog.charger_returned,
                note=dialog.note_text,
                accessory=charger,
            )
            outcome = await self.submit(change)
            owner = self.names.name(change.from_owner_name)
            who = f" from {shown(owner)}" if owner else ""
            lines = [sentence(f"Checked in{who}")]
            if change.condition is not Condition.GOOD:
                number = change.ticket_number or change.ticket_id
                lines.append(f"Repair ticket{f' #{number}' if number else ''} filed.")
            if change.charger_returned is False:
                lines.append("The charger did not come back.")
            done = feedback.success(f"{change.asset_tag} is checked in", " ".join(lines))
            self.show(self.told(outcome, done))

    async def _plan(
        self,
        asset: Asset,
        condition: Condition,
        *,
        charger_returned: bool | None = None,
        note: str | None = None,
        accessory: Asset | None = None,
        cart: CartTarget | None = None,
        batch: Batch | None = None,
    ) -> Change:
        service = self.ctx.service
        returned_by = None
        if not asset.current_owner_id and condition is not Condition.GOOD:
            # Nobody held it: the repair ticket is for the kiosk's own Incident IQ account.
            returned_by = await service.token_user_id()
        return await service.checkin_change(
            asset,
            condition=condition,
            charger_returned=charger_returned,
            note=note,
            returned_by=returned_by,
            cart=cart,
            accessory=accessory,
            batch_id=batch.id if batch else None,
        )

    async def _refusal(self, asset: Asset) -> str | None:
        tag = tag_of(asset)
        if asset.is_deleted:
            return f"{tag} is deleted in Incident IQ: set it aside for IT."
        retired = retired_status_ids(await self.ctx.service.status_types())
        if is_retired(asset, retired):
            return (
                f"{tag} is retired ({asset.status_name}): it is not checked in here. "
                "Set it aside for IT."
            )
        return None

    # --- a cart ----------------------------------------------------------------------

    def _start_cart(self, label: str) -> None:
        target = self.ctx.options.carts.get(label)
        if target is None:
            self.show(
                feedback.error(
                    "This cart is not set up",
                    f"The label “{shown(label)}” is not in this station's list of carts.",
                    "Add it under [checkin.carts] in the config file, or scan a device.",
                )
            )
            return
        self._charger_for = None
        if self.batch is not None and self.cart is not None:
            # Its summary comes once the devices scanned for it are done (over this
            # cart's panel: Enter or the next scan goes back to it).
            self.runner.enqueue(self._finish_after_queue(self.batch, self.cart.label))
        self.cart = target
        self.batch = Batch(label)
        self._next = Condition.GOOD
        self.screens.panel(
            f"Checking in to {shown(label)}",
            "Scan each device: it is checked in as good into this cart. Press 2 (damaged) "
            "or 3 (broken) before a device's scan for that one. Esc ends the batch.",
            placeholder="…or type a tag and press Enter",
            condition_keys=True,
        )
        self.screens.panel_count("0 checked in")

    async def _into_cart(
        self, text: str, batch: Batch, cart: CartTarget, condition: Condition
    ) -> None:
        """One device of `batch`, into `cart` as `condition` (all as at its scan). When
        its batch has ended meanwhile, it still counts there, and only the panel of the
        running batch is touched."""
        with self.runner.working("checking in the device"):
            found = await self.ctx.service.find_device(text)
            self.ctx.set_online(found.seen_at is None)
            if len(found.assets) != 1:
                why = (
                    "not found"
                    if not found.assets
                    else "several devices have this tag: check it in alone"
                )
                self._problem(batch, f"{shown(text)}: {why}")
                return
            asset = found.assets[0]
            refusal = await self._refusal(asset)
            if refusal:
                self._problem(batch, refusal)
                return
            try:
                change = await self._plan(asset, condition, cart=cart, batch=batch)
            except SetupError as exc:
                self._problem(batch, f"{tag_of(asset)}: {exc}")
                return
            try:
                outcome = await self.submit(change)
            except IIQError as exc:
                self._problem(batch, f"{change.asset_tag}: {exc}")
                return
            mark, sound = BATCH_MARKS[
                ChangeState.PENDING if outcome.still_sending else outcome.state
            ]
            detail = "" if condition is Condition.GOOD else f" ({condition.value})"
            line = f"{mark} {change.asset_tag}{detail}"
            if outcome.state in (ChangeState.CONFLICT, ChangeState.FAILED):
                error = self.names.about_change(change, change.last_error or "")
                self._problem(batch, f"{change.asset_tag}: {error}")
                return
            batch.done.append(change.asset_tag + detail)
            if self.batch is batch:
                self.screens.panel_line(line)
                self.screens.sound(sound)
                self.screens.panel_count(f"{len(batch.done)} checked in")
                self.screens.panel_focus()

    def _problem(self, batch: Batch, text: str) -> None:
        batch.problem(self.screens, text, on_screen=self.batch is batch)

    def _finish_cart(self, batch: Batch, label: str) -> None:
        if self.batch is batch:
            self.cart = self.batch = None
            self._next = Condition.GOOD
        count = len(batch.done)
        self.show(
            batch_summary(
                batch,
                f"{count} device{'s' if count != 1 else ''} checked in to {shown(label)}",
            )
        )
