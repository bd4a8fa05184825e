"""What an audit scan found, and the kinds of event: small types the window's audit flow
needs with or without an event running (the event pack itself, `kiosk.core.events`, loads
only when one runs)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class EventKind(StrEnum):
    COLLECT = "collect"
    DISTRIBUTE = "distribute"
    AUDIT = "audit"


class AuditVerdict(StrEnum):
    HERE = "here"  # belongs at the place audited
    MISPLACED = "misplaced"  # Incident IQ has it elsewhere
    UNKNOWN = "unknown"  # neither the pack nor Incident IQ knows it


@dataclass(frozen=True)
class AuditResult:
    code: str
    verdict: AuditVerdict
    asset_id: str | None
    tag: str
    model_name: str | None
    #: Where Incident IQ has the device (a misplaced one belongs there).
    location_name: str | None
    #: The place audited.
    place_name: str | None
    #: False for a device scanned before in this audit: it is counted once.
    first_scan: bool
    #: Distinct devices (and unknown codes) seen so far.
    seen: int

    def sentence(self) -> str:
        """What the screen says."""
        again = "" if self.first_scan else " (scanned before: counted once)"
        if self.verdict is AuditVerdict.HERE:
            return f"{self.tag} belongs here{again}."
        if self.verdict is AuditVerdict.MISPLACED:
            where = self.location_name or "no location in Incident IQ"
            return f"{self.tag} is misplaced: it belongs at {where}{again}."
        return f"{self.tag} is not known to this audit or Incident IQ{again}."


@dataclass(frozen=True)
class AuditSeen:
    asset_id: str | None
    tag: str
    seen_at: str
    station: str
    verdict: AuditVerdict
    scans: int
