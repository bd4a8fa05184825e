"""Finding the person: an ID card scan, an exact email or username, or a name.

Shared by the flows that give a device to someone. An exact identifier picks the person at
once. Otherwise the candidates are listed: on the device card with type-ahead (check-out:
the list follows the typing after a short pause, and an older answer never replaces a newer
one), or in a picker dialog where the screen has no list (batch, distribution line).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import QObject, QTimer

from kiosk.core.people import PersonMatch
from kiosk.iiq.errors import IIQError
from kiosk.iiq.models import Person
from kiosk.ui import feedback
from kiosk.ui.dialogs import PersonPickerDialog
from kiosk.ui.flows.base import FlowContext

log = logging.getLogger(__name__)

OnPerson = Callable[[Person], Coroutine[Any, Any, None]]


class PersonFinder(QObject):
    def __init__(
        self,
        ctx: FlowContext,
        on_person: OnPerson,
        *,
        list_on_card: bool,
        active: Callable[[], bool] = lambda: True,
    ) -> None:
        super().__init__(ctx.screens.window)
        self.ctx = ctx
        self._on_person = on_person
        self._list_on_card = list_on_card
        self._active = active
        self._serial = 0
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(ctx.options.debounce_ms)
        self._debounce.timeout.connect(self._search_due)

    # --- input -------------------------------------------------------------------------

    def find(self, text: str) -> None:
        """A scan, or typed text + Enter: identify the person (latest wins)."""
        self.stop()
        self.ctx.runner.start(self.identify(text))

    def typed(self, _text: str) -> None:
        if self._list_on_card and not self._from_pack():
            self._debounce.start()

    def picked(self, person: Person) -> None:
        self.stop()
        self.ctx.runner.start(self._on_person(person))

    def stop(self) -> None:
        """Nothing of a type-ahead still on its way may show up after this."""
        self._debounce.stop()
        self.ctx.runner.search.cancel()
        self._serial += 1

    # --- work --------------------------------------------------------------------------

    async def identify(self, text: str) -> None:
        screens = self.ctx.screens
        with self.ctx.runner.working("looking up the person"):
            match = await self.ctx.service.find_person(text)
            self.ctx.set_online(match.seen_at is None)
            self._serial += 1  # any type-ahead answer still coming is stale now
            if match.exact is not None:
                await self._on_person(match.exact)
            elif match.candidates and self._list_on_card:
                screens.people(
                    match.candidates, _note(match, text), select=True, names=self.ctx.options.names
                )
            elif match.candidates:
                self.ctx.runner.busy(False)
                dialog = PersonPickerDialog(
                    screens.window,
                    text,
                    match.candidates,
                    guard_ms=self.ctx.options.guard_ms,
                    names=self.ctx.options.names,
                )
                if await screens.ask(dialog) and (person := dialog.chosen()) is not None:
                    await self._on_person(person)
                else:
                    screens.toast("Cancelled: nobody was chosen.")
            else:
                screens.result(feedback.person_not_found(text))

    def _from_pack(self) -> bool:
        """While an event runs, its pack's people are listed at once, on every keystroke
        (no pause, no request). False when the pack has nobody for the text: then
        Incident IQ is asked after the pause, as without an event."""
        event = self.ctx.service.event
        text = self.ctx.screens.step_text().strip()
        if event is None or len(text) < 2 or not self._active():
            return False
        people = event.search_people(text, limit=25)
        if not people:
            self.ctx.screens.clear_people()
            return False
        self._debounce.stop()
        self.ctx.runner.search.cancel()
        self._serial += 1  # an answer of Incident IQ still coming is stale now
        self.ctx.screens.people(
            people, _note(None, text, len(people)), select=False, names=self.ctx.options.names
        )
        return True

    def _search_due(self) -> None:
        text = self.ctx.screens.step_text().strip()
        self._serial += 1  # whatever is still on its way is stale now
        if len(text) >= 2 and self._active():
            self.ctx.runner.search.start(self._type_ahead(text, self._serial))
        else:
            self.ctx.runner.search.cancel()
            self.ctx.screens.clear_people()

    async def _type_ahead(self, text: str, serial: int) -> None:
        try:
            people = await self.ctx.service.client.search_users(text, limit=25)
        except IIQError as exc:
            log.info("type-ahead search failed: %s", exc.kind)
            return
        if serial != self._serial or not self._active():
            return  # an older answer: never shown over a newer one
        shown = [p for p in people if p.can_own_devices]
        self.ctx.screens.people(
            shown, _note(None, text, len(shown)), select=False, names=self.ctx.options.names
        )


def _note(match: PersonMatch | None, text: str, count: int | None = None) -> str:
    if match is not None and match.ambiguous_exact:
        return f"Several people have “{text}”. Pick the right one (arrow keys + Enter)."
    found = count if count is not None else (len(match.candidates) if match else 0)
    if found:
        return f"{found} found. Arrow down to pick, or keep typing."
    return f"No one matches “{text}” yet. {feedback.NEW_STUDENT_HINT}"
