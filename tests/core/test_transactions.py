"""TransactionService against the simulator: reference data, the rules, and the Change it builds."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from kiosk.core.changes import Change, ChangeKind, ChangeState, Condition, LocationStep, StatusStep
from kiosk.core.transactions import CheckinPolicy, SetupError, TransactionService
from kiosk.iiq.client import Connection, IIQClient, RetryPolicy
from kiosk.iiq.models import Asset, Person
from kiosk.simulator import DEMO, Simulator

T = TypeVar("T")

POLICY = CheckinPolicy(
    status_name="available",  # names match case-insensitively
    repair_status_name="In Repair",
    location_id=DEMO.storeroom_location_id,
    ticket_issue_id=DEMO.ticket_issue_id,
    ticket_issue_category_id=DEMO.ticket_issue_category_id,
)


def use(
    sim: Simulator,
    action: Callable[[TransactionService], Awaitable[T]],
    policy: CheckinPolicy = POLICY,
) -> T:
    async def main() -> T:
        connection = Connection(site_url=sim.url, site_id=sim.site_id, token=sim.token)
        async with IIQClient(connection, retry=RetryPolicy(base_delay=0.01)) as client:
            service = TransactionService(client, station="Gym 1", checkin=policy)
            service.operator = "Pat Morgan"
            return await action(service)

    return asyncio.run(main())


async def device(service: TransactionService, tag: str) -> Asset:
    found = await service.find_device(tag)
    assert len(found.assets) == 1, found
    return found.assets[0]


async def someone(service: TransactionService, text: str) -> Person:
    match = await service.find_person(text)
    assert match.exact is not None, match
    return match.exact


def status_id_of(sim: Simulator, name: str) -> str:
    record = sim.state.status_type_by_name(name)
    assert record is not None
    value: str = record["AssetStatusTypeId"]
    return value


# --- reference data ----------------------------------------------------------------------


def test_status_id_by_name_is_read_once(sim: Simulator) -> None:
    async def action(service: TransactionService) -> list[str | None]:
        return [
            await service.status_id("AVAILABLE"),
            await service.status_id("in repair"),
            await service.status_id(None),
        ]

    assert use(sim, action) == [DEMO.available_status_id, status_id_of(sim, "In Repair"), None]
    assert [r.path for r in sim.requests] == ["/assets/status/types"]


def test_unknown_status_name_is_a_setup_error_naming_it(sim: Simulator) -> None:
    async def action(service: TransactionService) -> Any:
        return await service.status_id("Ready for Students")

    with pytest.raises(SetupError) as caught:
        use(sim, action)
    message = str(caught.value)
    assert "“Ready for Students”" in message
    assert "Available" in message and "In Repair" in message  # what the site has
    assert "status_name" in message  # what to set


# --- check-out ---------------------------------------------------------------------------


def test_prepare_checkout_of_a_free_device(sim: Simulator) -> None:
    async def action(service: TransactionService) -> Any:
        prepared = await service.prepare_checkout(
            await device(service, DEMO.free_tag), await someone(service, DEMO.student_id)
        )
        return prepared, service.checkout_change(prepared)

    prepared, change = use(sim, action)
    assert prepared.check.allowed and not prepared.check.is_transfer
    assert prepared.check.warnings == []
    assert prepared.held == []
    assert change.kind is ChangeKind.CHECKOUT
    assert change.asset_id == DEMO.free_asset_id and change.asset_tag == DEMO.free_tag
    assert change.from_owner_id is None and change.from_owner_name is None
    assert change.to_owner_id == DEMO.student_user_id
    assert change.to_owner_name == DEMO.student_name
    assert change.station == "Gym 1" and change.operator == "Pat Morgan"
    assert change.state is ChangeState.PENDING
    assert all(r.method == "GET" for r in sim.requests)  # preparing changes nothing


def test_prepare_checkout_of_an_assigned_device_is_a_transfer(sim: Simulator) -> None:
    async def action(service: TransactionService) -> Any:
        prepared = await service.prepare_checkout(
            await device(service, DEMO.assigned_tag), await someone(service, DEMO.student_id)
        )
        change = service.checkout_change(prepared)
        return prepared, change, await service.apply(change)

    prepared, change, result = use(sim, action)
    assert prepared.check.is_transfer
    assert change.from_owner_id == DEMO.assigned_owner_id
    assert change.from_owner_name == DEMO.assigned_owner_name
    assert change.description == (
        f"Transfer {DEMO.assigned_tag} from {DEMO.assigned_owner_name} to {DEMO.student_name}"
    )
    assert result.change.state is ChangeState.DONE
    record = sim.state.asset(DEMO.assigned_asset_id)
    assert record is not None and record["OwnerId"] == DEMO.student_user_id


def test_prepare_checkout_warns_about_devices_the_person_holds(sim: Simulator) -> None:
    sim.state.set_owner(DEMO.no_checkout_asset_id, DEMO.student_user_id)

    async def action(service: TransactionService) -> Any:
        return await service.prepare_checkout(
            await device(service, DEMO.free_tag), await someone(service, DEMO.student_id)
        )

    prepared = use(sim, action)
    assert prepared.check.allowed
    assert [a.asset_id for a in prepared.held] == [DEMO.no_checkout_asset_id]
    assert prepared.check.warnings == [
        f"{DEMO.student_name} already has 1 other device: {DEMO.no_checkout_tag}."
    ]


def test_prepare_checkout_warns_about_a_broken_device(sim: Simulator) -> None:
    async def action(service: TransactionService) -> Any:
        return await service.prepare_checkout(
            await device(service, DEMO.broken_tag), await someone(service, DEMO.student_id)
        )

    check = use(sim, action).check
    assert check.allowed
    assert check.warnings == [
        f"{DEMO.broken_tag} is marked “Broken” in Incident IQ.",
        f"{DEMO.broken_tag} has 1 open ticket.",
    ]


def test_prepare_checkout_refuses_a_retired_device(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Rename the retired status so only its IsRetired flag (read from the site) can tell.
    # Status types are not part of the per-test reset: monkeypatch puts the name back.
    retired = sim.state.status_types[status_id_of(sim, "Retired")]
    monkeypatch.setitem(retired, "Name", "End of Life")

    async def action(service: TransactionService) -> Any:
        return await service.prepare_checkout(
            await device(service, DEMO.retired_tag), await someone(service, DEMO.student_id)
        )

    check = use(sim, action).check
    assert not check.allowed
    assert check.refusal == f"{DEMO.retired_tag} is retired (End of Life) and cannot be handed out."


def test_prepare_checkout_refuses_an_inactive_person(sim: Simulator) -> None:
    async def action(service: TransactionService) -> Any:
        return await service.prepare_checkout(
            await device(service, DEMO.free_tag), await someone(service, DEMO.inactive_id)
        )

    check = use(sim, action).check
    assert not check.allowed
    assert check.refusal == (
        f"{DEMO.inactive_name} is inactive in Incident IQ and cannot be given a device."
    )


# --- check-in ----------------------------------------------------------------------------


def test_checkin_change_good(sim: Simulator) -> None:
    async def action(service: TransactionService) -> Any:
        asset = await device(service, DEMO.assigned_tag)
        return await service.checkin_change(asset, charger_returned=True)

    change = use(sim, action)
    assert change.kind is ChangeKind.CHECKIN
    assert change.from_owner_id == DEMO.assigned_owner_id
    assert change.from_owner_name == DEMO.assigned_owner_name
    assert status_of(change) == DEMO.available_status_id
    assert [s.location_id for s in change.steps if isinstance(s, LocationStep)] == [
        DEMO.storeroom_location_id
    ]
    assert change.steps_done == []
    assert change.condition is Condition.GOOD and change.charger_returned is True
    assert change.ticket is None
    assert change.station == "Gym 1" and change.operator == "Pat Morgan"


@pytest.mark.parametrize(
    ("condition", "charger", "note", "lines"),
    [
        (
            Condition.DAMAGED,
            False,
            "Key missing",
            ["Charger returned: no.", "Checked in at Gym 1 by Pat Morgan.", "Note: Key missing"],
        ),
        (
            Condition.BROKEN,
            None,
            None,
            ["Charger returned: not asked.", "Checked in at Gym 1 by Pat Morgan."],
        ),
    ],
)
def test_checkin_change_damaged_prepares_a_repair_ticket_for_the_owner(
    sim: Simulator, condition: Condition, charger: bool | None, note: str | None, lines: list[str]
) -> None:
    async def action(service: TransactionService) -> Any:
        asset = await device(service, DEMO.assigned_tag)
        return await service.checkin_change(
            asset,
            condition=condition,
            charger_returned=charger,
            note=note,
            returned_by=DEMO.student_user_id,  # only used when the device has no owner
        )

    change = use(sim, action)
    assert status_of(change) == status_id_of(sim, "In Repair")
    assert change.ticket is not None
    ticket = change.ticket.request
    assert ticket.for_user_id == DEMO.assigned_owner_id
    assert ticket.asset_id == DEMO.assigned_asset_id
    assert ticket.issue_id == DEMO.ticket_issue_id
    assert ticket.issue_category_id == DEMO.ticket_issue_category_id
    assert ticket.subject.startswith(f"{DEMO.assigned_tag} returned {condition.value}")
    assert ("without its charger" in ticket.subject) == (charger is False)
    description = ticket.description.splitlines()
    assert description[0] == f"Returned {condition.value} at check-in (Gym 1)."
    assert description[1:] == lines


def test_damaged_checkin_and_apply_files_the_ticket(sim: Simulator) -> None:
    async def action(service: TransactionService) -> Any:
        asset = await device(service, DEMO.assigned_tag)
        change = await service.checkin_change(asset, condition=Condition.DAMAGED)
        return await service.apply(change)

    change = use(sim, action).change
    assert change.state is ChangeState.DONE, change.last_error
    (ticket,) = [t for t in sim.state.tickets if t["TicketId"] == change.ticket_id]
    assert ticket["ForId"] == DEMO.assigned_owner_id
    record = sim.state.asset(DEMO.assigned_asset_id)
    assert record is not None
    assert record["OwnerId"] is None
    assert record["StatusTypeId"] == status_id_of(sim, "In Repair")


def test_damaged_checkin_without_ticket_issue_is_a_setup_error(sim: Simulator) -> None:
    policy = CheckinPolicy(status_name="Available", ticket_issue_id=None)

    async def action(service: TransactionService) -> Any:
        asset = await device(service, DEMO.assigned_tag)
        return await service.checkin_change(asset, condition=Condition.DAMAGED)

    with pytest.raises(SetupError, match=r"\[tickets\] issue_id"):
        use(sim, action, policy)


def test_damaged_checkin_of_an_unowned_device_needs_who_returned_it(sim: Simulator) -> None:
    async def without(service: TransactionService) -> Any:
        asset = await device(service, DEMO.free_tag)
        return await service.checkin_change(asset, condition=Condition.BROKEN)

    with pytest.raises(SetupError, match="no owner"):
        use(sim, without)

    async def with_returner(service: TransactionService) -> Any:
        asset = await device(service, DEMO.free_tag)
        return await service.checkin_change(
            asset, condition=Condition.BROKEN, returned_by=DEMO.student_user_id
        )

    change = use(sim, with_returner)
    assert change.ticket is not None
    assert change.ticket.request.for_user_id == DEMO.student_user_id


def test_checkin_with_unknown_repair_status_is_a_setup_error(sim: Simulator) -> None:
    policy = CheckinPolicy(repair_status_name="Needs Fixing", ticket_issue_id="x")

    async def action(service: TransactionService) -> Any:
        asset = await device(service, DEMO.assigned_tag)
        return await service.checkin_change(asset, condition=Condition.DAMAGED)

    with pytest.raises(SetupError, match="Needs Fixing"):
        use(sim, action, policy)


def status_of(change: Change) -> str | None:
    """The status the change's plan sets."""
    steps = [s for s in change.steps if isinstance(s, StatusStep)]
    return steps[0].status_type_id if steps else None
