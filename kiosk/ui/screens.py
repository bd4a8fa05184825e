"""The screens API: everything a flow may do to what the operator sees and hears.

Flows never touch the main window's widgets. They show a page (ready, device card, panel,
result, notice), a toast, a sound, a list of people, or run a dialog and await its answer.
Focus always goes where the next scan or key is expected. What names a person is shown in
the station's `NameStyle`, which the flow hands over with it (`names`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from PySide6.QtWidgets import QDialog

from kiosk.core.privacy import NameStyle
from kiosk.iiq.models import Activity, Asset, Person
from kiosk.ui.feedback import Feedback, Kind
from kiosk.ui.main_window import MainWindow
from kiosk.ui.sound import SoundPlayer

log = logging.getLogger(__name__)


#: Said when something would open over a question that is still open.
FINISH_FIRST = "Finish the open question first: Enter confirms, Esc cancels."


class Screens:
    def __init__(self, window: MainWindow, sounds: SoundPlayer) -> None:
        self.window = window
        self.sounds = sounds
        #: The dialog open now, if any (scans wait until it is answered).
        self.dialog: QDialog | None = None
        #: Called when nothing was done after all (an error screen, a declined dialog):
        #: scanning the same code again must not meet the double-scan guard.
        self.forget_scans: Callable[[], None] | None = None

    # --- what is on screen ---------------------------------------------------------

    @property
    def page(self) -> str:
        w = self.window
        current = w.stack.currentWidget()
        pages = {
            w.ready: "ready",
            w.device: "device",
            w.result: "result",
            w.notice: "notice",
            w.panel: "panel",
        }
        return pages.get(current, "") if current is not None else ""

    # --- pages ---------------------------------------------------------------------

    def ready(self, prompt: str, detail: str) -> None:
        w = self.window
        w.ready.prompt.setText(prompt)
        w.ready.detail.setText(detail)
        w.ready.input.clear()
        w.stack.setCurrentWidget(w.ready)
        w.ready.input.setFocus()

    def card(self, asset: Asset, seen_at: datetime | None = None, *, names: NameStyle) -> None:
        """The device card, nothing else of the last person on it."""
        device = self.window.device
        device.clear()
        device.card.show_asset(asset, seen_at, names)

    def step(self, prompt: str, placeholder: str, *, lookup: bool = False) -> None:
        """The card's next step: the field for the person (or the next tag in look-up)."""
        device = self.window.device
        device.set_mode(lookup=lookup)
        device.prompt.setText(prompt)
        device.person_input.setPlaceholderText(placeholder)
        device.person_input.clear()
        device.clear_people()
        self.window.stack.setCurrentWidget(device)
        device.person_input.setFocus()

    def refocus_step(self) -> None:
        self.window.device.person_input.setFocus()

    def activity(self, items: list[Activity], *, names: NameStyle) -> None:
        self.window.device.show_activity(items, names)

    def people(self, people: list[Person], note: str, *, select: bool, names: NameStyle) -> None:
        self.window.device.show_people(people, note, select=select, names=names)

    def clear_people(self) -> None:
        self.window.device.clear_people()

    @property
    def has_people(self) -> bool:
        return self.window.device.results.count() > 0

    def step_text(self) -> str:
        return self.window.device.person_input.text()

    def panel(
        self, heading: str, detail: str, *, placeholder: str, condition_keys: bool = False
    ) -> None:
        w = self.window
        w.panel.show_panel(heading, detail, placeholder=placeholder, condition_keys=condition_keys)
        w.stack.setCurrentWidget(w.panel)
        w.panel.input.setFocus()

    def panel_count(self, text: str) -> None:
        self.window.panel.set_count(text)

    def panel_marker(self, text: str) -> None:
        self.window.panel.set_marker(text)

    def panel_line(self, text: str) -> None:
        self.window.panel.add_line(text)

    def panel_focus(self) -> None:
        self.window.stack.setCurrentWidget(self.window.panel)
        self.window.panel.input.setFocus()

    def result(self, shown: Feedback) -> None:
        """The result screen, with its sound; it stays until acknowledged or a scan."""
        self.close_dialog()
        w = self.window
        w.result.show_feedback(shown)
        w.stack.setCurrentWidget(w.result)
        w.result.setFocus()
        self.sounds.play(shown.sound)
        if shown.kind == "error" and self.forget_scans is not None:
            self.forget_scans()
        # Titles name people ("Ana Ruiz now has ..."): the log gets the kind only.
        log.info("shown: a %s result", shown.kind)

    def notice(self, title: str, message: str, action: str | None = None) -> None:
        w = self.window
        w.notice.show_notice(title, message, action)
        w.stack.setCurrentWidget(w.notice)

    def toast(self, text: str, sound: Kind | None = None) -> None:
        self.window.show_toast(text)
        if sound is not None:
            self.sounds.play(sound)

    def sound(self, kind: Kind) -> None:
        self.sounds.play(kind)

    def clear(self) -> None:
        """Nothing of any person stays on screen (idle, mode change): the open dialog
        closes, and no page keeps the last person's name, not even out of view."""
        self.close_dialog()
        self.window.device.clear()
        self.window.ready.input.clear()
        self.window.result.clear()
        self.window.panel.show_panel("", "", placeholder="")

    # --- dialogs -------------------------------------------------------------------

    async def ask(self, dialog: QDialog) -> bool:
        """Open `dialog` and wait for the answer: True when accepted. Never `exec()`."""
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def finished(code: int) -> None:
            if not done.done():
                done.set_result(code)

        dialog.finished.connect(finished)
        self.dialog = dialog
        dialog.open()
        try:
            accepted = await done == QDialog.DialogCode.Accepted.value
            if not accepted and self.forget_scans is not None:
                self.forget_scans()
            return accepted
        finally:
            if self.dialog is dialog:
                self.dialog = None
            dialog.deleteLater()
            # Kiosk shells may run with no window manager to hand focus back.
            self.window.activateWindow()

    def close_dialog(self) -> None:
        dialog, self.dialog = self.dialog, None
        if dialog is not None:
            dialog.reject()
