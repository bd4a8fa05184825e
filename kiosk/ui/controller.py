"""What the kiosk does with scans, keys and answers: the behaviour behind `MainWindow`.

Slots stay thin: each starts a task in a `TaskSlot` (a newer scan cancels the older lookup),
awaits a service call, and shows the outcome through the one error funnel
(`kiosk.ui.feedback`). Business rules live in `kiosk.core`; wording lives in `feedback`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, Literal

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication, QDialog, QListWidgetItem

from kiosk.core.changes import ApplyResult, Change, ChangeState
from kiosk.core.outbox import Outbox
from kiosk.core.people import PersonMatch
from kiosk.core.rules import person_line
from kiosk.core.scan import DoubleScanGuard, ScanSettings, check_tag, clean_scan
from kiosk.core.transactions import TransactionService
from kiosk.iiq.errors import IIQError, NetworkError
from kiosk.iiq.models import Asset, Person
from kiosk.ui import feedback
from kiosk.ui.dialogs import GUARD_MS, ConfirmTransferDialog, DevicePickerDialog
from kiosk.ui.feedback import Feedback
from kiosk.ui.main_window import MainWindow
from kiosk.ui.scanner import ScannerFilter
from kiosk.ui.sound import SoundPlayer

log = logging.getLogger(__name__)

Mode = Literal["checkout", "checkin", "lookup"]
Submit = Callable[[Change], Awaitable[ApplyResult]]


class TaskSlot:
    """At most one task at a time: starting a new one cancels the one before (latest wins).
    The running task stays referenced, and a failure that escapes it is logged, not lost."""

    def __init__(self, name: str, on_crash: Callable[[BaseException], None]) -> None:
        self.name = name
        self._task: asyncio.Task[None] | None = None
        self._on_crash = on_crash

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        self.cancel()
        task = asyncio.ensure_future(coro)
        self._task = task
        task.add_done_callback(self._finished)
        return task

    def cancel(self) -> bool:
        if self.running:
            assert self._task is not None
            self._task.cancel()
            return True
        return False

    def _finished(self, task: asyncio.Task[None]) -> None:
        if task is self._task:
            self._task = None
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("task %s failed", self.name, exc_info=exc)
            self._on_crash(exc)


class IdleWatcher(QObject):
    """Calls `on_idle` after `seconds` with no key, click or touch anywhere."""

    _INPUT = (
        QEvent.Type.KeyPress,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.TouchBegin,
        QEvent.Type.Wheel,
    )

    def __init__(self, parent: QObject, seconds: float, on_idle: Callable[[], None]) -> None:
        super().__init__(parent)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(int(seconds * 1000))
        self.timer.timeout.connect(on_idle)
        app = QApplication.instance()
        assert app is not None
        app.installEventFilter(self)
        self.timer.start()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if event.type() in self._INPUT:
            self.timer.start()
        return False

    def poke(self) -> None:
        self.timer.start()


class KioskController(QObject):
    """Drives the window through the check-out and look-up flows (see kiosk-ux.md)."""

    def __init__(
        self,
        window: MainWindow,
        service: TransactionService,
        submit: Submit,
        sounds: SoundPlayer,
        *,
        scan_settings: ScanSettings,
        mode_lock: Mode | None = None,
        idle_seconds: float = 60.0,
        examples: list[str] | None = None,
        guard_ms: int = GUARD_MS,
        debounce_ms: int = 300,
        busy_delay_ms: int = 150,
        wait_for_send_s: float = 4.0,
        on_online: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`submit` records and sends a confirmed change (the outbox); `on_online` is
        called whenever Incident IQ answered, so waiting changes go out at once."""
        super().__init__(window)
        self.window = window
        self.service = service
        self._submit = submit
        self.sounds = sounds
        self.scan_settings = scan_settings
        self.mode_lock = mode_lock
        self.mode: Mode = mode_lock or "checkout"
        self.asset: Asset | None = None
        self.dialog: QDialog | None = None
        self.session_count = 0
        self.online = True
        self._on_online = on_online
        self._guard_ms = guard_ms
        self._wait_for_send_s = wait_for_send_s
        self._clock = clock
        self._double = DoubleScanGuard(scan_settings)
        self._work = TaskSlot("lookup", self._on_crash)
        self._search = TaskSlot("search", self._on_crash)
        self._sending: set[asyncio.Task[ApplyResult]] = set()
        self._search_serial = 0
        self._waiting = 0
        self._attention = 0

        self.scanner = ScannerFilter(window, scan_settings)
        self.scanner.scanned.connect(self._on_scan)
        self.idle = IdleWatcher(self, idle_seconds, self.idle_reset)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(debounce_ms)
        self._debounce.timeout.connect(self._on_search_due)
        self._busy_timer = QTimer(self)
        self._busy_timer.setSingleShot(True)
        self._busy_timer.setInterval(busy_delay_ms)
        self._busy_timer.timeout.connect(lambda: window.status.busy.setVisible(True))

        window.ready.input.returnPressed.connect(self._on_ready_enter)
        window.device.person_input.returnPressed.connect(self._on_person_enter)
        window.device.person_input.textEdited.connect(self._on_person_edited)
        window.device.person_input.installEventFilter(self)
        window.device.results.itemActivated.connect(self._on_result_activated)
        window.device.results.installEventFilter(self)
        window.result.ok.clicked.connect(self.acknowledge)
        window.notice.action.clicked.connect(self._on_notice_action)
        window.result.installEventFilter(self)
        for key, mode in (
            (Qt.Key.Key_F1, "checkout"),
            (Qt.Key.Key_F2, "checkin"),
            (Qt.Key.Key_F3, "lookup"),
        ):
            shortcut = QShortcut(QKeySequence(key), window)
            shortcut.setContext(Qt.ShortcutContext.ApplicationShortcut)
            shortcut.activated.connect(lambda m=mode: self.set_mode(m))
        escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), window)
        escape.activated.connect(self.escape)
        if examples:
            window.ready.show_examples(examples)
        self._notice_action: Callable[[], None] | None = None
        self.set_mode(self.mode)

    # --- public: what the app and tests call ---------------------------------------

    def set_mode(self, mode: Mode) -> None:
        if self.mode_lock and mode != self.mode_lock:
            self._toast(
                f"This station is set to {self.mode_lock.replace('checkout', 'check out')} only."
            )
            return
        self.mode = mode
        self.window.set_mode(mode)
        self.window.device.set_mode(lookup=mode == "lookup")
        self.reset_to_ready()

    def reset_to_ready(self) -> None:
        """Back to "Scan a device": nothing of the last person stays on screen."""
        self._work.cancel()
        self._search.cancel()
        self._debounce.stop()
        self._close_dialog()
        self.asset = None
        self.window.device.clear()
        self.window.ready.input.clear()
        self._set_busy(False)
        if self.mode == "checkin":
            self._show_notice(
                "Check-in is not available at this station yet",
                "Taking devices back at the kiosk window arrives with the next release. "
                "Until then use the command line (iiq-kiosk checkin TAG) or Incident IQ. "
                "Press F1 to check out or F3 to look up.",
            )
            return
        self.window.ready.prompt.setText(
            "Scan a device" if self.mode == "checkout" else "Scan a device to look it up"
        )
        self.window.ready.detail.setText(
            "Then scan the student's ID card or type a name."
            if self.mode == "checkout"
            else "Shows the device, who has it and what happened to it. Changes nothing."
        )
        self.window.stack.setCurrentWidget(self.window.ready)
        self.window.ready.input.setFocus()

    def idle_reset(self) -> None:
        """After an idle minute: back to Ready, every person's data cleared from view,
        dialogs included. Changes still sending carry on and stay in the journal."""
        log.info("idle: clearing the screen")
        self.window.session_list.clear()
        self.window.hide_toast()
        self.reset_to_ready()

    def acknowledge(self) -> None:
        """The operator saw the result screen."""
        if self.window.stack.currentWidget() is self.window.result:
            if self.asset is not None and self.mode == "checkout" and self._back_to_person:
                self._show_person_step()
            else:
                self.reset_to_ready()

    def escape(self) -> None:
        if self._work.cancel():
            log.info("cancelled by the operator")
            self._set_busy(False)
        page = self.window.stack.currentWidget()
        if page is self.window.result:
            self.acknowledge()
        elif page is self.window.device and self.window.device.results.count():
            self.window.device.results.clear()
            self.window.device.results_note.clear()
            self.window.device.person_input.setFocus()
        else:
            self.reset_to_ready()

    def set_online(self, online: bool) -> None:
        self.online = online
        self.window.status.set_connection(online, self._waiting, self._attention)
        if online and self._on_online is not None:
            self._on_online()

    def set_outbox_counts(self, waiting: int, attention: int) -> None:
        self._waiting, self._attention = waiting, attention
        self.window.status.set_connection(self.online, waiting, attention)

    def change_updated(self, change: Change) -> None:
        """The outbox moved a change on (sent later, conflict found)."""
        self.window.add_session_entry(change.id, change.description, change.state.value)

    def attach_outbox(self, outbox: Outbox) -> None:
        """Show what the outbox does: each change's state in the session list, and the
        waiting / needs-attention counts in the status strip."""

        def changed(change: Change) -> None:
            self.change_updated(change)
            counts = outbox.counts()
            self.set_outbox_counts(counts["pending"], counts["attention"])

        outbox.add_listener(changed)
        counts = outbox.counts()
        self.set_outbox_counts(counts["pending"], counts["attention"])

    def show_connection_problem(self, message: str, retry: Callable[[], None]) -> None:
        self.set_online(False)
        self._notice_action = retry
        self._show_notice("Cannot connect to Incident IQ", message, "Try again now")

    def connected(self) -> None:
        self.set_online(True)
        if self.window.stack.currentWidget() is self.window.notice and self.mode != "checkin":
            self.reset_to_ready()

    def show_unexpected(self, exc: BaseException) -> None:
        """The excepthook's way in: anything unexpected becomes a recoverable screen."""
        self._on_crash(exc)

    def shutdown(self) -> list[asyncio.Task[ApplyResult]]:
        """Stop taking input and cancel what runs. Returns the sends still under way,
        cancelled, for the caller to await before closing the journal (a cancelled send
        stays pending in the journal and goes out on the next start)."""
        self._work.cancel()
        self._search.cancel()
        self._close_dialog()
        self.scanner.remove()
        self.idle.timer.stop()
        sending = list(self._sending)
        for task in sending:
            task.cancel()
        return sending

    # --- inputs --------------------------------------------------------------------

    def _on_scan(self, text: str) -> None:
        """A scanner burst, whatever had focus."""
        if self.dialog is not None:
            self.sounds.play("warning")
            self._toast("Finish the open question first: Enter confirms, Esc cancels.")
            return
        if self._double.is_double(text, self._clock()):
            self.sounds.play("warning")
            self._toast(f"Already scanned: {text}. Nothing was done twice.")
            return
        self._route(text)

    def _on_ready_enter(self) -> None:
        text = clean_scan(self.window.ready.input.text(), self.scan_settings)
        self.window.ready.input.clear()
        if text:
            self._route(text)

    def _on_person_enter(self) -> None:
        raw = self.window.device.person_input.text()
        if self.mode == "lookup":
            self.window.device.person_input.clear()
            text = clean_scan(raw, self.scan_settings)
            if text:
                self._start_device_lookup(text)
            return
        text = raw.strip()
        if text:
            self._debounce.stop()
            self._search.cancel()
            self._work.start(self._identify_person(text))

    def _on_person_edited(self, text: str) -> None:
        if self.mode == "checkout":
            self._debounce.start()

    def _on_search_due(self) -> None:
        text = self.window.device.person_input.text().strip()
        self._search_serial += 1  # whatever is still on its way is stale now
        if len(text) >= 2 and self.asset is not None:
            self._search.start(self._type_ahead(text, self._search_serial))
        else:
            self._search.cancel()
            self.window.device.results.clear()
            self.window.device.results_note.clear()

    def _on_result_activated(self, item: QListWidgetItem) -> None:
        person = item.data(Qt.ItemDataRole.UserRole)
        if isinstance(person, Person) and self.asset is not None:
            self._work.start(self._confirm(self.asset, person))

    def _on_notice_action(self) -> None:
        if self._notice_action is not None:
            self._notice_action()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if event.type() != QEvent.Type.KeyPress:
            return False
        key = event.key()  # type: ignore[attr-defined]
        device = self.window.device
        if watched is device.person_input and key == Qt.Key.Key_Down and device.results.count():
            device.results.setFocus()
            device.results.setCurrentRow(0)
            return True
        if watched is device.results and key == Qt.Key.Key_Up and device.results.currentRow() == 0:
            device.person_input.setFocus()
            return True
        if watched is self.window.result and key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.acknowledge()
            return True
        return False

    # --- flows ---------------------------------------------------------------------

    def _route(self, text: str) -> None:
        page = self.window.stack.currentWidget()
        if self.mode == "checkin":
            self._toast("Check-in is not available at this station yet (F1 checks out).")
            self.sounds.play("warning")
            return
        person_step = (
            self.mode == "checkout" and self.asset is not None and page is self.window.device
        )
        if person_step:
            self._debounce.stop()
            self._search.cancel()
            self._work.start(self._identify_person(text))
        else:
            self._start_device_lookup(text)

    def _start_device_lookup(self, text: str) -> None:
        problem = check_tag(text, self.scan_settings)
        if problem:
            log.info("scan rejected by the tag pattern (%d characters)", len(text))
            self._show(feedback.error("Not a device tag", problem, "Scan the device's label."))
            return
        self._work.start(self._lookup_device(text))

    @contextmanager
    def _working(self, doing: str) -> Iterator[None]:
        """Busy indicator on; anything that goes wrong is worded by the one funnel."""
        self._set_busy(True)
        try:
            yield
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the funnel words every failure
            self._show_failure(exc, doing)
        finally:
            self._set_busy(False)

    async def _lookup_device(self, text: str) -> None:
        self._back_to_person = False
        with self._working("looking up the device"):
            found = await self.service.find_device(text)
            if found.seen_at is None:
                self.set_online(True)
            if not found.assets:
                self.asset = None
                self._show(feedback.device_not_found(text))
                return
            asset = found.assets[0]
            if len(found.assets) > 1:
                self._set_busy(False)
                picked = await self._pick_device(text, found.assets)
                if picked is None:
                    self.reset_to_ready()
                    return
                asset = picked
            self.asset = asset
            self.window.device.clear()
            self.window.device.card.show_asset(asset, found.seen_at)
            if found.seen_at is not None:
                self.set_online(False)
            if self.mode == "lookup":
                self._show_device_page()
                self.window.device.show_activity(await self.service.recent_activity(asset))
            else:
                self._show_person_step()

    async def _pick_device(self, text: str, assets: list[Asset]) -> Asset | None:
        dialog = DevicePickerDialog(self.window, text, assets, guard_ms=self._guard_ms)
        accepted = await self._run_dialog(dialog)
        return dialog.chosen() if accepted else None

    async def _type_ahead(self, text: str, serial: int) -> None:
        try:
            people = await self.service.client.search_users(text, limit=25)
        except IIQError as exc:
            log.info("type-ahead search failed: %s", exc.kind)
            return
        if serial != self._search_serial or self.asset is None:
            return  # an older answer: never shown over a newer one
        self._fill_results([p for p in people if p.can_own_devices], text)

    async def _identify_person(self, text: str) -> None:
        asset = self.asset
        if asset is None:
            return
        self._back_to_person = True
        with self._working("looking up the person"):
            match = await self.service.find_person(text)
            self.set_online(match.seen_at is None)
            self._search_serial += 1  # any type-ahead answer still coming is stale now
            if match.exact is not None:
                await self._confirm(asset, match.exact)
            elif match.candidates:
                self._fill_results(match.candidates, text, match)
            else:
                self._show(feedback.person_not_found(text))

    async def _confirm(self, asset: Asset, person: Person) -> None:
        self._back_to_person = True
        with self._working("preparing the check-out"):
            prepared = await self.service.prepare_checkout(asset, person)
            asset = prepared.asset
            if prepared.check.refusal:
                self._show(
                    feedback.error(
                        "Cannot hand out",
                        prepared.check.refusal,
                        "Press Enter to choose someone else.",
                    )
                )
                return
            self._set_busy(False)
            dialog = ConfirmTransferDialog(
                self.window,
                asset,
                person,
                prepared.check,
                held_count=len([a for a in prepared.held if a.asset_id != asset.asset_id]),
                guard_ms=self._guard_ms,
            )
            if not await self._run_dialog(dialog):
                self._toast("Cancelled: nothing was changed.")
                self._show_person_step()
                return
            change = self.service.checkout_change(prepared)
            self._set_busy(True)
            await self._send(change, person)

    async def _send(self, change: Change, person: Person) -> None:
        """Submit a confirmed change. If Incident IQ is slow, stop waiting after a few
        seconds: the change is in the journal and the outbox finishes it."""
        self._back_to_person = False
        self.session_count += 1
        self.window.status.count.setText(f"This session: {self.session_count}")
        self.window.add_session_entry(change.id, change.description, ChangeState.PENDING.value)
        task = asyncio.ensure_future(self._submit(change))
        self._sending.add(task)
        task.add_done_callback(self._sent)
        try:
            result = await asyncio.wait_for(asyncio.shield(task), self._wait_for_send_s)
        except TimeoutError:
            self._show(feedback.queued_change(change.description, None))
            return
        self._show_result(result, person)

    def _sent(self, task: asyncio.Task[ApplyResult]) -> None:
        self._sending.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("sending a change failed unexpectedly", exc_info=exc)
            return
        change = task.result().change
        self.window.add_session_entry(change.id, change.description, change.state.value)

    def _show_result(self, result: ApplyResult, person: Person) -> None:
        change = result.change
        tag = change.asset_tag
        if change.state is ChangeState.DONE:
            self.set_online(True)
            self._show(
                feedback.success(f"{person.display_name} now has {tag}", person_line(person))
            )
        elif change.state is ChangeState.PENDING:
            if isinstance(result.error, NetworkError):
                self.set_online(False)
            self._show(feedback.queued_change(change.description, result.error))
        elif change.state is ChangeState.CONFLICT:
            self._show(
                feedback.error(
                    "Not changed: someone else changed this device",
                    change.last_error or "",
                    "Check the device in Incident IQ and decide by hand.",
                )
            )
        else:
            error = result.error
            shown = (
                feedback.for_exception(error, doing="saving the change")
                if error
                else (feedback.error("Not changed", change.last_error or ""))
            )
            self._show(shown)

    # --- screens -------------------------------------------------------------------

    def _show_person_step(self) -> None:
        self._show_device_page()
        device = self.window.device
        device.prompt.setText("Scan ID card or type a name")
        device.person_input.clear()
        device.results.clear()
        device.results_note.clear()
        device.person_input.setFocus()

    def _show_device_page(self) -> None:
        self.window.stack.setCurrentWidget(self.window.device)
        self.window.device.person_input.setFocus()

    def _fill_results(
        self, people: list[Person], text: str, match: PersonMatch | None = None
    ) -> None:
        device = self.window.device
        device.results.clear()
        for person in people:
            details = [f"ID {person.school_id_number}" if person.school_id_number else ""]
            details.append(f"grade {person.grade}" if person.grade else person.role_label or "")
            item = QListWidgetItem(
                f"{person.display_name}\n{'  ·  '.join(d for d in details if d)}".strip()
            )
            item.setData(Qt.ItemDataRole.UserRole, person)
            device.results.addItem(item)
        if match is not None and match.ambiguous_exact:
            note = f"Several people have “{text}”. Pick the right one (arrow keys + Enter)."
        elif people:
            note = f"{len(people)} found. Arrow down to pick, or keep typing."
        else:
            note = f"No one matches “{text}” yet. {feedback.NEW_STUDENT_HINT}"
        device.results_note.setText(note)
        if match is not None and people:
            device.results.setFocus()
            device.results.setCurrentRow(0)

    def _show(self, shown: Feedback) -> None:
        self._close_dialog()
        self.window.result.show_feedback(shown)
        self.window.stack.setCurrentWidget(self.window.result)
        self.window.result.setFocus()
        self.sounds.play(shown.sound)
        log.info("shown: %s (%s)", shown.title, shown.kind)

    def _show_failure(self, exc: BaseException, doing: str) -> None:
        if isinstance(exc, NetworkError):
            self.set_online(False)
        self._show(feedback.for_exception(exc, doing=doing))

    def _show_notice(self, title: str, message: str, action: str | None = None) -> None:
        self.window.notice.show_notice(title, message, action)
        self.window.stack.setCurrentWidget(self.window.notice)

    def _toast(self, text: str) -> None:
        self.window.show_toast(text)

    def _on_crash(self, exc: BaseException) -> None:
        self._show(feedback.for_exception(exc, doing="working"))

    def _set_busy(self, busy: bool) -> None:
        if busy:
            self._busy_timer.start()
        else:
            self._busy_timer.stop()
            self.window.status.busy.setVisible(False)

    async def _run_dialog(self, dialog: QDialog) -> bool:
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def finished(code: int) -> None:
            if not done.done():
                done.set_result(code)

        dialog.finished.connect(finished)
        self.dialog = dialog
        dialog.open()
        try:
            return await done == QDialog.DialogCode.Accepted.value
        finally:
            if self.dialog is dialog:
                self.dialog = None
            dialog.deleteLater()
            # Kiosk shells may run with no window manager to hand focus back.
            self.window.activateWindow()

    def _close_dialog(self) -> None:
        dialog, self.dialog = self.dialog, None
        if dialog is not None:
            dialog.reject()

    _back_to_person = False
