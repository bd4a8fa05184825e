"""What the batch modes share (a cart check-in, a batch check-out): the running batch,
how each device's outcome is marked in its list, and the one summary at its end."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from kiosk.core.changes import ChangeState
from kiosk.ui import feedback
from kiosk.ui.feedback import Kind
from kiosk.ui.screens import Screens

#: How each outcome is marked in a batch's list, and the sound it makes.
BATCH_MARKS: dict[ChangeState, tuple[str, Kind]] = {
    ChangeState.DONE: ("✓", "success"),
    ChangeState.PENDING: ("⟳", "queued"),
    ChangeState.CONFLICT: ("⚠", "error"),
    ChangeState.FAILED: ("✗", "error"),
}


@dataclass
class Batch:
    """A running batch: what went well and what did not, for the one summary."""

    title: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    done: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def problem(self, screens: Screens, text: str, *, on_screen: bool = True) -> None:
        """A device not done: kept for the summary, and (while this batch is the one on
        screen) a line in the list with the error sound."""
        self.problems.append(text)
        if on_screen:
            screens.panel_line(f"✗ {text}")
            screens.sound("error")
            screens.panel_focus()


def batch_summary(
    batch: Batch, title: str, *, hint: str = "Scan the next device."
) -> feedback.Feedback:
    """One summary screen for a whole batch: count, tags, and what needs a second look."""
    if not batch.done:
        message = "No device was changed."
    elif len(batch.done) <= 6:
        message = ", ".join(batch.done) + "."
    else:
        message = "They are listed below."
    if batch.problems:
        message += f" {len(batch.problems)} not done: see the list."
    kind: Kind = "warning" if batch.problems else "success"
    lines = tuple([*(f"✗ {p}" for p in batch.problems), *(f"✓ {t}" for t in batch.done)])
    return feedback.Feedback(kind, title, message, hint, lines)
