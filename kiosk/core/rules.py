"""The rules of a transaction, as pure functions: is it allowed, and what to warn about.

No I/O here: these are unit-tested without network or Qt, and shared by the window and the
command line so both refuse and warn alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from kiosk.iiq.models import Asset, Person, StatusType

#: Status names that deserve a warning before a device is handed out.
TROUBLE_WORDS = ("broken", "repair", "damaged", "lost", "stolen", "missing")
RETIRED_WORDS = ("retired", "disposed", "decommissioned")


@dataclass(frozen=True)
class TransferCheck:
    """`refusal` is the reason it may not happen (None when allowed); `warnings` are said
    in words in the confirm dialog; `from_owner` is set for a transfer."""

    refusal: str | None = None
    warnings: list[str] = field(default_factory=list)
    from_owner: Person | None = None

    @property
    def allowed(self) -> bool:
        return self.refusal is None

    @property
    def is_transfer(self) -> bool:
        return self.from_owner is not None


def retired_status_ids(types: Iterable[StatusType]) -> frozenset[str]:
    return frozenset(t.asset_status_type_id for t in types if t.is_retired)


def is_retired(asset: Asset, retired_ids: frozenset[str] = frozenset()) -> bool:
    if asset.status_type_id and asset.status_type_id in retired_ids:
        return True
    name = (asset.status_name or "").casefold()
    return any(word in name for word in RETIRED_WORDS)


def trouble_status(asset: Asset) -> str | None:
    """The status name when it suggests the device should not go out as is."""
    name = asset.status_name or ""
    return name if any(w in name.casefold() for w in TROUBLE_WORDS) else None


def person_line(person: Person) -> str:
    """ "Ana Ruiz, grade 07, ID 204518": enough to tell people apart, no more."""
    parts = [person.display_name]
    if person.grade:
        parts.append(f"grade {person.grade}")
    if person.school_id_number:
        parts.append(f"ID {person.school_id_number}")
    elif person.role_label:
        parts.append(person.role_label)
    return ", ".join(parts)


def check_transfer(
    asset: Asset,
    person: Person,
    *,
    held: Sequence[Asset] = (),
    retired_ids: frozenset[str] = frozenset(),
) -> TransferCheck:
    """May `asset` be given to `person`? `held` are the assets the person owns now."""
    tag = asset.asset_tag or asset.serial_number or asset.asset_id
    name = person.display_name
    if person.is_deleted:
        return TransferCheck(f"{name} is deleted in Incident IQ and cannot be given a device.")
    if not person.is_active:
        return TransferCheck(f"{name} is inactive in Incident IQ and cannot be given a device.")
    if is_retired(asset, retired_ids):
        return TransferCheck(f"{tag} is retired ({asset.status_name}) and cannot be handed out.")
    owner_id = asset.current_owner_id
    if owner_id and owner_id == person.user_id:
        return TransferCheck(f"{name} already has {tag}. Nothing to change.")
    warnings: list[str] = []
    trouble = trouble_status(asset)
    if trouble:
        warnings.append(f"{tag} is marked “{trouble}” in Incident IQ.")
    if asset.open_ticket_count:
        count = asset.open_ticket_count
        warnings.append(f"{tag} has {count} open ticket{'s' if count != 1 else ''}.")
    others = [a for a in held if a.asset_id != asset.asset_id]
    if others:
        tags = ", ".join(a.asset_tag or a.asset_id for a in others[:3])
        more = f" and {len(others) - 3} more" if len(others) > 3 else ""
        count_text = "1 other device" if len(others) == 1 else f"{len(others)} other devices"
        warnings.append(f"{name} already has {count_text}: {tags}{more}.")
    from_owner = asset.owner if owner_id else None
    if owner_id and from_owner is None:
        from_owner = Person(user_id=owner_id, name="another person")
    return TransferCheck(None, warnings, from_owner)


def check_checkin(asset: Asset) -> str | None:
    """A warning when there is nobody to take the device back from."""
    if not asset.current_owner_id:
        tag = asset.asset_tag or asset.asset_id
        return f"{tag} has no owner in Incident IQ: it is already checked in."
    return None
