"""The kiosk shell: what every mode shares, around the flows that make the modes.

The shell owns the F-key registry and the mode lock, the idle reset, the status strip,
the outbox listener and the connection notice, the session list and undo (Ctrl+Z). Scans
and typed entries reach the active flow through the scan router; a flow's work runs in the
runner, whose failures come back here to the one error funnel (`kiosk.ui.feedback`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication, QDialog, QWidget

from kiosk.core.changes import Change, ChangeKind, ChangeState
from kiosk.core.desk import ChangeDesk, UndoRefusedError
from kiosk.core.operators import Operator
from kiosk.core.outbox import Outbox
from kiosk.core.transactions import TransactionService
from kiosk.iiq.errors import NetworkError
from kiosk.iiq.models import Asset
from kiosk.ui import feedback
from kiosk.ui.dialogs import QuestionDialog
from kiosk.ui.flows.audit import AuditFlow
from kiosk.ui.flows.base import Flow, FlowContext, FlowOptions, for_outcome
from kiosk.ui.flows.batch import BatchFlow
from kiosk.ui.flows.checkin import CheckinFlow
from kiosk.ui.flows.checkout import CheckoutFlow
from kiosk.ui.flows.line import LineFlow
from kiosk.ui.flows.lookup import LookupFlow
from kiosk.ui.flows.signin import SignInFlow
from kiosk.ui.main_window import MODE_TITLES, MainWindow
from kiosk.ui.router import ScanRouter
from kiosk.ui.runner import Runner
from kiosk.ui.screens import Screens
from kiosk.ui.sound import SoundPlayer
from kiosk.wiring import Services

if TYPE_CHECKING:  # the event's code loads only when an event runs (attach_event)
    from kiosk.core.events import EventPack
    from kiosk.ui.event_panel import EventBoard

log = logging.getLogger(__name__)

#: The modes, their keys and flows, in the order the banner lists them.
MODES: tuple[tuple[str, Qt.Key, type[Flow]], ...] = (
    ("checkout", Qt.Key.Key_F1, CheckoutFlow),
    ("checkin", Qt.Key.Key_F2, CheckinFlow),
    ("lookup", Qt.Key.Key_F3, LookupFlow),
    ("batch", Qt.Key.Key_F4, BatchFlow),
    ("line", Qt.Key.Key_F5, LineFlow),
    ("audit", Qt.Key.Key_F6, AuditFlow),
)
#: Signs the operator out (`[station] require_operator`): "end shift".
END_SHIFT_KEY = Qt.Key.Key_F10


class InputWatcher(QObject):
    """The shell's one application-wide event filter (every Qt event of every widget
    passes through it, so it returns at once for anything but input):
    - any key, click or touch restarts the idle timer, which calls `on_idle` after
      `seconds` without one;
    - Ctrl+Z in the kiosk window calls `on_undo`, taken ahead of any focused text field
      (whose own undo would otherwise swallow it)."""

    _INPUT = frozenset(
        {
            QEvent.Type.KeyPress,
            QEvent.Type.ShortcutOverride,
            QEvent.Type.MouseButtonPress,
            QEvent.Type.TouchBegin,
            QEvent.Type.Wheel,
        }
    )
    _KEYS = (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride)

    def __init__(
        self,
        window: MainWindow,
        seconds: float,
        on_idle: Callable[[], None],
        on_undo: Callable[[], None],
    ) -> None:
        super().__init__(window)
        self._window = window
        self._on_undo = on_undo
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(int(seconds * 1000))
        self.timer.timeout.connect(on_idle)
        self._watches: list[QTimer] = []
        app = QApplication.instance()
        assert app is not None
        app.installEventFilter(self)
        self.timer.start()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        kind = event.type()
        if kind not in self._INPUT:
            return False
        if kind is not QEvent.Type.ShortcutOverride:
            self.timer.start()
            for timer in self._watches:
                if timer.isActive():  # a stopped one waits for `start()`
                    timer.start()
        if kind not in self._KEYS:
            return False
        assert isinstance(event, QKeyEvent)
        if not event.matches(QKeySequence.StandardKey.Undo) or not self._in_window(watched):
            return False
        event.accept()
        if kind is QEvent.Type.KeyPress:
            self._on_undo()
        return True

    def poke(self) -> None:
        self.timer.start()

    def watch(self, seconds: float, on_timeout: Callable[[], None]) -> QTimer:
        """Another single-shot timer that the same input restarts while it runs (the
        operator's sign-out): stopped until `start()` is called on it."""
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.setInterval(int(seconds * 1000))
        timer.timeout.connect(on_timeout)
        self._watches.append(timer)
        return timer

    def remove(self) -> None:
        self.timer.stop()
        for timer in self._watches:
            timer.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)

    def _in_window(self, watched: QObject) -> bool:
        return isinstance(watched, QWidget) and (
            watched is self._window or self._window.isAncestorOf(watched)
        )


class KioskShell(QObject):
    """Drives the window: modes, idle, status strip, session list, undo (see kiosk-ux.md)."""

    def __init__(
        self,
        window: MainWindow,
        service: TransactionService,
        desk: ChangeDesk,
        sounds: SoundPlayer,
        *,
        options: FlowOptions | None = None,
        mode_lock: str | None = None,
        default_mode: str = "checkout",
        idle_seconds: float = 60.0,
        examples: list[str] | None = None,
        busy_delay_ms: int = 150,
        on_online: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        require_operator: bool = False,
        badge_pattern: str = "",
        operator_idle_seconds: float = 30 * 60.0,
    ) -> None:
        """`on_online` is called whenever Incident IQ answered, so that waiting changes go
        out at once. With `require_operator`, staff sign in first (a scan matching
        `badge_pattern`, or their name) and are signed out after `operator_idle_seconds`
        without input or with the end-shift key."""
        super().__init__(window)
        self.window = window
        self.desk = desk
        self.options = options or FlowOptions()
        self.mode_lock = mode_lock
        self._configured_lock = mode_lock  # what the idle reset returns to
        self.online = True
        self._on_online = on_online
        self._waiting = self._attention = 0
        self._sender_problem: str | None = None
        self.session_count = 0
        #: Ids of this session's changes, oldest first: what Ctrl+Z undoes.
        self.session_ids: list[str] = []
        self._done_ids: set[str] = set()  # done, until a confirming read says otherwise
        self._notice_action: Callable[[], None] | None = None
        #: The running event's progress panel and its upkeep (`attach_event`).
        self.event_board: EventBoard | None = None

        self.screens = Screens(window, sounds)
        self.runner = Runner(
            self,
            set_busy=window.status.busy.setVisible,
            on_failure=self._show_failure,
            busy_delay_ms=busy_delay_ms,
        )
        ctx = FlowContext(
            self.screens, self.runner, desk, service, self.options, self, self.set_online
        )
        self.flows: dict[str, Flow] = {mode: flow(ctx) for mode, _key, flow in MODES}
        #: `require_operator`: who is signed in, and the flow that signs them in (it takes
        #: every scan and entry while nobody is).
        self._service = service
        self.operator: Operator | None = None
        self.signin = (
            SignInFlow(ctx, badge_pattern=badge_pattern, on_signed_in=self.sign_in)
            if require_operator
            else None
        )
        self.mode = mode_lock or default_mode
        self.router = ScanRouter(
            window, self.screens, self.options.scan_settings, lambda: self.flow, clock=clock
        )
        self.idle = InputWatcher(window, idle_seconds, self.idle_reset, self.undo_last)
        self.operator_timer = self.idle.watch(operator_idle_seconds, self._operator_idle)
        window.set_mode_keys(
            [(key, mode) for mode, key, _flow in MODES],
            [(END_SHIFT_KEY, "End shift")] if self.signin is not None else None,
        )
        if self.signin is not None:
            end_shift = QShortcut(QKeySequence(END_SHIFT_KEY), window)
            end_shift.setContext(Qt.ShortcutContext.ApplicationShortcut)
            end_shift.activated.connect(self.end_shift)
            window.status.set_operator(None)
        for mode, key, _flow in MODES:
            shortcut = QShortcut(QKeySequence(key), window)
            shortcut.setContext(Qt.ShortcutContext.ApplicationShortcut)
            shortcut.activated.connect(lambda m=mode: self.mode_key(m))
        escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), window)
        escape.activated.connect(self.escape)
        window.result.acknowledged.connect(lambda: self.flow.on_acknowledge())
        window.notice.action_clicked.connect(self._on_notice_action)
        if examples:
            window.ready.show_examples(examples)
        self.set_mode(self.mode)

    # --- what tests and the app look at ----------------------------------------------

    @property
    def flow(self) -> Flow:
        """The flow that takes scans and entries now: the mode's, or the sign-in screen
        while an operator is needed and nobody is signed in."""
        if self.signin is not None and self.operator is None:
            return self.signin
        return self.flows[self.mode]

    @property
    def dialog(self) -> QDialog | None:
        return self.screens.dialog

    @property
    def asset(self) -> Asset | None:
        """The device in the check-out step, if any."""
        flow = self.flows["checkout"]
        return flow.asset if isinstance(flow, CheckoutFlow) else None

    # --- modes -----------------------------------------------------------------------

    def mode_key(self, mode: str) -> None:
        """A mode's F-key: nothing but a note while somebody has to sign in first."""
        if self.signin is not None and self.operator is None:
            self.screens.toast(
                "Sign in first: scan your staff badge, or type your name and press Enter.",
                "warning",
            )
            return
        self.set_mode(mode)

    def set_mode(self, mode: str) -> None:
        if self.mode_lock and mode != self.mode_lock:
            title = MODE_TITLES[self.mode_lock].capitalize()
            self.screens.toast(f"This station is set to {title} only.")
            return
        self.runner.cancel_all()
        self.screens.clear()
        self.flow.reset()
        self.mode = mode
        self.window.set_mode(mode)
        self.router.reset()
        self.flow.activate()

    def unlock_modes(self) -> None:
        """The admin allows every mode on a station locked to one, until the idle reset."""
        self.mode_lock = None
        self.screens.toast("Every mode is allowed until the kiosk is idle.")

    def reset_to_ready(self) -> None:
        """Back to the mode's first screen: nothing of the last person stays on screen."""
        self.runner.cancel_all()
        self.screens.clear()
        self.flow.activate()

    def idle_reset(self) -> None:
        """After an idle minute: back to Ready, every person's data cleared from view,
        dialogs included. Changes still sending carry on and stay in the journal."""
        log.info("idle: clearing the screen")
        if self.mode_lock != self._configured_lock:  # the admin's unlock lasts until now
            self.mode_lock = self._configured_lock
            if self._configured_lock is not None and self.mode != self._configured_lock:
                self.mode = self._configured_lock
                self.window.set_mode(self.mode)
        self.window.session_list.clear()
        self.window.hide_toast()
        self.session_ids.clear()  # nobody walking up later can undo what they never saw
        for flow in self.flows.values():
            flow.reset()
        self.reset_to_ready()

    # --- operators (`require_operator`) ------------------------------------------------

    def sign_in(self, operator: Operator) -> None:
        """The sign-in flow accepted `operator`: every change from now records them, the
        strip shows them, and the mode's first screen comes up."""
        self.operator = operator
        self._service.operator = operator.recorded
        log.info("operator signed in: user %s", operator.user_id)
        self.window.status.set_operator(operator.name)
        self.operator_timer.start()
        self.router.reset()  # the badge is no double of the first device's scan
        self.reset_to_ready()
        key = QKeySequence(END_SHIFT_KEY).toString()
        self.screens.toast(f"Signed in: {operator.name}. {key} ends the shift.", "success")

    def end_shift(self) -> None:
        """The end-shift key: sign out at once (nothing is asked), back to the sign-in
        screen."""
        operator = self.operator
        if operator is None:
            self.screens.toast("Nobody is signed in.")
            return
        self.sign_out("end of shift")
        self.screens.toast(f"{operator.name} is signed out. Next shift: sign in.")

    def sign_out(self, why: str) -> None:
        """Nobody is the operator any more; what the idle reset clears is cleared too."""
        operator, self.operator = self.operator, None
        self._service.operator = None
        self.operator_timer.stop()
        if operator is not None:
            log.info("operator signed out (%s): user %s", why, operator.user_id)
        self.window.status.set_operator(None)
        self.router.reset()  # the next scan is a badge again, even the same one
        self.idle_reset()

    def _operator_idle(self) -> None:
        operator = self.operator
        if operator is None:
            return
        self.sign_out("idle")
        minutes = max(1, round(self.operator_timer.interval() / 60000))
        self.screens.toast(
            f"{operator.name} was signed out: nobody used the kiosk for {minutes} "
            f"minute{'s' if minutes != 1 else ''}. Sign in to carry on.",
            "warning",
        )

    def escape(self) -> None:
        if self.runner.cancel():
            log.info("cancelled by the operator")
        self.router.reset()  # nothing was done: the same scan is welcome again
        self.flow.on_escape()

    # --- the session (flows record their changes here) -------------------------------

    def record(self, change: Change) -> None:
        self.session_count += 1
        if change.kind is not ChangeKind.UNDO:  # the next Ctrl+Z goes to the change before
            self.session_ids.append(change.id)
        self.window.status.count.setText(f"This session: {self.session_count}")
        self.window.add_session_entry(
            change.id, self.options.names.describe(change), change.state.value
        )

    def change_updated(self, change: Change) -> None:
        """The outbox moved a change on (sent later, conflict found)."""
        self.window.add_session_entry(
            change.id, self.options.names.describe(change), change.state.value
        )

    def undo_last(self) -> None:
        """Ctrl+Z: undo the last change of this session, after a confirm dialog."""
        if self.screens.dialog is not None:
            return
        if not self.session_ids:
            self.screens.toast("Nothing to undo in this session.", "warning")
            return
        if self.runner.work.running or self.runner.queued.running:
            # Undo never cancels a step half done (a lookup, a send being shown).
            self.screens.toast("Wait until this step is finished, then press Ctrl+Z.", "warning")
            return
        self.runner.start(self._undo(self.session_ids[-1]))

    @contextlib.contextmanager
    def _undo_refusals(self) -> Iterator[None]:
        """An undo refused in words that name people: worded as this window shows people."""
        try:
            yield
        except UndoRefusedError as exc:
            if exc.change is None:
                raise
            text = self.options.names.about_change(exc.change, str(exc))
            raise UndoRefusedError(text, exc.change) from None

    async def _undo(self, change_id: str) -> None:
        with self.runner.working("undoing the last change"), self._undo_refusals():
            plan = await self.desk.plan_undo(change_id)
            self.runner.busy(False)
            dialog = QuestionDialog(
                self.window,
                self.options.names.about_change(plan.original, plan.question),
                ["Enter puts it back in Incident IQ.", "Esc leaves it as it is."],
                confirm="Undo (Enter)",
                cancel="Keep (Esc)",
                guard_ms=self.options.guard_ms,
            )
            if not await self.screens.ask(dialog):
                self.screens.toast("Nothing was undone.")
                self._refocus()  # the screen stays as it was: the step in progress goes on
                return
            self.runner.busy(True)
            if plan.change is not None:
                self.record(plan.change)
            outcome = await self.desk.undo(plan, self.options.wait_for_send_s)
            self.session_ids.remove(change_id)
            if outcome.withdrawn:
                self.change_updated(plan.original)
                shown = feedback.success(
                    "Taken back: nothing was sent",
                    f"{self.options.names.describe(plan.original)}: withdrawn before it "
                    "reached Incident IQ.",
                )
            else:
                shown = feedback.success("Undone", self.options.names.describe(outcome.change))
            self.screens.result(for_outcome(outcome, shown, self.options.names))

    # --- status strip and connection -------------------------------------------------

    def set_online(self, online: bool) -> None:
        was = self.online
        self.online = online
        self._update_strip()
        if online and not was and self._on_online is not None:
            self._on_online()

    def attach(self, services: Services) -> None:
        """Follow the services: the outbox's changes and health, and the client's view of
        the connection (after a network failure its probe says when Incident IQ is back)."""
        self.attach_outbox(services.outbox)
        services.client.add_connectivity_listener(self.set_online)

    def attach_outbox(self, outbox: Outbox) -> None:
        """Show what the outbox does: each change's state in the session list, the
        waiting / needs-attention counts, and a sender that stopped."""

        def changed(change: Change) -> None:
            self.change_updated(change)
            if change.state is ChangeState.DONE:
                self._done_ids.add(change.id)
            elif change.state is ChangeState.CONFLICT and change.id in self._done_ids:
                # Another station's write landed a moment after ours: say so out loud, the
                # result screen said success.
                self._done_ids.discard(change.id)
                error = self.options.names.about_change(change, change.last_error or "")
                self.screens.toast(f"Needs attention: {error}", "error")
            counts = outbox.counts()
            self._waiting, self._attention = counts["pending"], counts["attention"]
            self._update_strip()

        def health() -> None:
            self._sender_problem = outbox.sender_problem
            self._update_strip()

        outbox.add_listener(changed)
        outbox.add_health_listener(health)
        counts = outbox.counts()
        self._waiting, self._attention = counts["pending"], counts["attention"]
        self._update_strip()

    def _update_strip(self) -> None:
        self.window.status.set_connection(
            self.online, self._waiting, self._attention, problem=self._sender_problem
        )

    def show_connection_problem(self, message: str, retry: Callable[[], None]) -> None:
        self.set_online(False)
        self._notice_action = retry
        self.screens.notice("Cannot connect to Incident IQ", message, "Try again now")

    def connected(self) -> None:
        self.set_online(True)
        if self.screens.page == "notice":
            self.reset_to_ready()

    def show_unexpected(self, exc: BaseException) -> None:
        """The excepthook's way in: anything unexpected becomes a recoverable screen."""
        self._show_failure(exc, "working")

    def attach_event(
        self, pack: EventPack, services: Services, *, refresh_s: float, reread: bool = True
    ) -> EventBoard:
        """Run the event of `pack`: lookups ask its pack first, and its progress panel
        shows beside the screens, kept right by an `EventBoard`."""
        from kiosk.core.event_directory import EventDirectory
        from kiosk.ui.event_panel import EventBoard, EventPanel

        directory = EventDirectory(pack)
        self._service.event = directory
        services.outbox.add_listener(directory.note_change)
        panel = EventPanel()
        self.window.set_event_panel(panel)
        self.event_board = EventBoard(
            panel,
            directory,
            client=services.client,
            journal=services.journal,
            outbox=services.outbox,
            refresh_s=refresh_s,
            min_interval_s=services.settings.events.min_interval_s,
            reread=reread,
            parent=self,
        )
        self.event_board.start()
        log.info("event %s runs on this station (%s)", pack.path.name, pack.kind.value)
        return self.event_board

    def shutdown(self) -> None:
        """Stop taking input and cancel what runs (the sends are the desk's to stop)."""
        if self.event_board is not None:
            self.event_board.stop()
        self.runner.cancel_all()
        self.screens.close_dialog()
        self.router.remove()
        self.idle.remove()

    # --- the funnel ------------------------------------------------------------------

    def _show_failure(self, exc: BaseException, doing: str) -> None:
        if isinstance(exc, NetworkError):
            self.set_online(False)
        self.screens.result(feedback.for_exception(exc, doing=doing))

    def _refocus(self) -> None:
        """Focus back where the next key is expected on the screen shown now."""
        field = self.window.current_input()
        if field is not None:
            field.setFocus()
        elif self.screens.page == "result":
            self.window.result.setFocus()

    def _on_notice_action(self) -> None:
        if self._notice_action is not None:
            self._notice_action()


def open_shell(
    window: MainWindow,
    services: Services,
    sounds: SoundPlayer,
    *,
    examples: list[str] | None = None,
    event: EventPack | None = None,
    event_refresh_s: float | None = None,
    event_reread: bool = True,
    **options: Any,
) -> KioskShell:
    """The shell on `services`, as the app builds it: flow options and modes from the
    settings, attached to the outbox and the client. Any `FlowOptions` field (guard_ms,
    debounce_ms, wait_for_send_s...) or `KioskShell` option among `options` overrides.
    `event`: the pack of the event this station runs (`--event NAME`), re-read from
    Incident IQ every `event_refresh_s` (default `[events] refresh_s`)."""
    settings = services.settings
    flow_keys = [key for key in options if key in FlowOptions.__dataclass_fields__]
    flow_options = FlowOptions.from_settings(
        settings, **{key: options.pop(key) for key in flow_keys}
    )
    station = settings.station
    defaults: dict[str, Any] = {
        "mode_lock": station.mode_lock,
        "default_mode": station.default_mode,
        "idle_seconds": station.idle_seconds,
        "on_online": services.outbox.nudge,
        "require_operator": station.require_operator,
        "badge_pattern": settings.operators.badge_pattern,
        "operator_idle_seconds": settings.operators.idle_minutes * 60,
    }
    shell = KioskShell(
        window,
        services.transactions,
        services.desk,
        sounds,
        options=flow_options,
        examples=examples,
        **(defaults | options),
    )
    shell.attach(services)
    if event is not None:
        refresh_s = settings.events.refresh_s if event_refresh_s is None else event_refresh_s
        shell.attach_event(event, services, refresh_s=refresh_s, reread=event_reread)
    return shell
