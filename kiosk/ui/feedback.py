"""The one error funnel: everything the operator is told after an action, in words, with a
kind (color + icon) and a sound. Controllers never word errors themselves."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from kiosk.core.changes import ChangeState
from kiosk.core.desk import Outcome, UndoRefusedError
from kiosk.core.journal import JournalError, JournalFullError
from kiosk.core.transactions import SetupError
from kiosk.iiq.errors import (
    AuthError,
    ForbiddenError,
    IIQError,
    InvalidInputError,
    NetworkError,
    NotFoundError,
    RateLimitedError,
    ResponseError,
    ServerError,
)

log = logging.getLogger(__name__)

Kind = Literal["success", "warning", "error", "queued"]

NEW_STUDENT_HINT = "New students can take a day or two to appear in Incident IQ."


@dataclass(frozen=True)
class Feedback:
    """What the result screen shows: `title` large, `message` below, `hint` says what to
    do next. `kind` chooses color, icon and sound together (never color alone)."""

    kind: Kind
    title: str
    message: str = ""
    hint: str = ""
    #: Lines listed below the panel (a batch summary).
    details: tuple[str, ...] = ()

    @property
    def sound(self) -> Kind:
        return self.kind


def success(title: str, message: str = "") -> Feedback:
    return Feedback("success", title, message, "Scan the next device.")


def queued(title: str, message: str) -> Feedback:
    return Feedback(
        "queued", title, message, "Carry on: it is sent as soon as Incident IQ answers."
    )


def queued_change(description: str, reason: IIQError | None) -> Feedback:
    """A confirmed change that Incident IQ has not confirmed yet: it waits in the outbox."""
    if reason is None:
        why = "Incident IQ is slow to answer"
    elif isinstance(reason, NetworkError):
        why = "Incident IQ cannot be reached right now"
    elif isinstance(reason, RateLimitedError):
        why = "Incident IQ asked the kiosk to slow down"
    elif reason.status:
        why = f"Incident IQ did not confirm it (error {reason.status})"
    else:
        why = "Incident IQ did not confirm it"
    return queued(
        "Saved, will be sent",
        f"{description}. {why}. The change is saved on this computer and is sent "
        "automatically, once.",
    )


def warning(title: str, message: str = "", hint: str = "Scan the next device.") -> Feedback:
    return Feedback("warning", title, message, hint)


def error(title: str, message: str = "", hint: str = "Scan again, or press Enter.") -> Feedback:
    return Feedback("error", title, message, hint)


def device_not_found(text: str) -> Feedback:
    return error(
        "Device not found",
        f"No device with tag or serial “{_short(text)}” is in Incident IQ.",
        "Check the label and scan again, or set the device aside for IT.",
    )


def person_not_found(text: str) -> Feedback:
    return error(
        "Person not found",
        f"No one matches “{_short(text)}” in Incident IQ. {NEW_STUDENT_HINT}",
        "Try the name, or send the student to the help desk.",
    )


def for_outcome(outcome: Outcome, done: Feedback) -> Feedback:
    """What the operator is told about a submitted change; `done` when it was applied."""
    change = outcome.change
    if outcome.still_sending:
        return queued_change(change.description, None)
    if change.state is ChangeState.DONE:
        return done
    if change.state is ChangeState.PENDING:
        return queued_change(change.description, outcome.error)
    if change.state is ChangeState.CONFLICT:
        return error(
            "Not changed: someone else changed this device",
            change.last_error or "",
            "Check the device in Incident IQ and decide by hand.",
        )
    if outcome.error is not None:
        return for_exception(outcome.error, doing="saving the change")
    return error("Not changed", change.last_error or "")


def for_exception(exc: BaseException, *, doing: str) -> Feedback:
    """Words for anything that went wrong while `doing` ("looking up the device")."""
    if isinstance(exc, JournalFullError):
        return error(
            "Not saved: the disk is full",
            str(exc),
            "Nothing was sent. Call IT to free space on this computer.",
        )
    if isinstance(exc, JournalError):
        return error(
            "Not saved",
            f"The kiosk could not write the change to its journal: {exc}",
            "Nothing was sent. Call IT.",
        )
    if isinstance(exc, UndoRefusedError):
        return warning("Nothing undone", str(exc), "Scan the next device.")
    if isinstance(exc, AuthError):
        return error(
            "Incident IQ refused the kiosk",
            str(exc),
            "The API token needs renewing by IT. Nothing was changed.",
        )
    if isinstance(exc, ForbiddenError):
        return error("Not allowed", str(exc), "Nothing was changed.")
    if isinstance(exc, NotFoundError):
        return error("Not found", f"Incident IQ could not find that while {doing}.")
    if isinstance(exc, RateLimitedError):
        wait = f" Wait {exc.retry_after:.0f} seconds." if exc.retry_after else ""
        return error("Incident IQ is busy", f"Incident IQ asked the kiosk to slow down.{wait}")
    if isinstance(exc, NetworkError):
        title = "No answer from Incident IQ" if exc.timeout else "Cannot reach Incident IQ"
        return error(title, f"{exc} (while {doing})", "Check the network, then scan again.")
    if isinstance(exc, ServerError):
        return error("Incident IQ is having trouble", str(exc), "Wait a minute and scan again.")
    if isinstance(exc, InvalidInputError | ResponseError):
        return error("Incident IQ did not accept that", str(exc))
    if isinstance(exc, IIQError):
        return error("Incident IQ error", str(exc))
    if isinstance(exc, SetupError):
        return error("The kiosk is not set up for this", str(exc), "Please call IT.")
    log.error("unexpected error while %s", doing, exc_info=exc)
    return error(
        "Something went wrong",
        f"The kiosk hit an unexpected problem while {doing}.",
        "Press Enter to start over and check the session list. If it happens again, call IT "
        "(the log has the details).",
    )


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
