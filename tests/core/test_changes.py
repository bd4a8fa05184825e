"""Applying changes exactly once, against the simulator over real loopback HTTP.

Every test checks what the server received (the mutating requests) and what it ended up with
(`sim.state`): a change may be tried many times, but it is applied at most once.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from kiosk.core.changes import (
    ApplyResult,
    Change,
    ChangeKind,
    ChangeService,
    ChangeState,
    Condition,
    LocationStep,
    OwnerStep,
    StatusStep,
    Step,
    TicketStep,
)
from kiosk.iiq.client import Connection, IIQClient, RetryPolicy
from kiosk.iiq.errors import ForbiddenError, NetworkError, NotFoundError, ServerError
from kiosk.iiq.models import TicketRequest
from kiosk.simulator import DEMO, Fault, RecordedRequest, Simulator

CHECKOUT = "/assets/checkouts/checkout-or-transfer"
CHECKIN = "/assets/checkouts/checkin"
TICKETS = "/tickets/new"
SAFE_POSTS = {"/assets", "/users"}  # query routes: POST but read-only


def apply(
    sim: Simulator,
    *changes: Change,
    token: str | None = None,
    transfer_api: str = "checkout",
) -> list[ApplyResult]:
    """Apply the changes one after another with a fresh client on a fresh loop."""

    async def main() -> list[ApplyResult]:
        connection = Connection(
            site_url=sim.url, site_id=sim.site_id, token=token or sim.token, read_timeout=5
        )
        async with IIQClient(
            connection,
            retry=RetryPolicy(base_delay=0.01),
            transfer_api=transfer_api,  # type: ignore[arg-type]
        ) as client:
            service = ChangeService(client)
            return [await service.apply(change) for change in changes]

    return asyncio.run(main())


def mutations(sim: Simulator) -> list[RecordedRequest]:
    return [r for r in sim.requests if r.method == "POST" and r.path not in SAFE_POSTS]


def owner_of(sim: Simulator, asset_id: str) -> str | None:
    record = sim.state.asset(asset_id)
    assert record is not None
    owner: str | None = record["OwnerId"]
    return owner


def checkout(asset_id: str = DEMO.free_asset_id, **fields: Any) -> Change:
    data: dict[str, Any] = {
        "kind": ChangeKind.CHECKOUT,
        "asset_id": asset_id,
        "asset_tag": DEMO.free_tag,
        "from_owner_id": None,
        "to_owner_id": DEMO.student_user_id,
        "to_owner_name": DEMO.student_name,
        "station": "T1",
    }
    data.update(fields)
    owner = OwnerStep(
        data["asset_id"], data["asset_tag"], data["from_owner_id"], data["to_owner_id"]
    )
    return Change(**data, steps=[owner])


def checkin(**fields: Any) -> Change:
    """A check-in plan as TransactionService makes it: owner (when there is one), status,
    location, ticket (when `ticket` fields are given)."""
    status_type_id = fields.pop("status_type_id", DEMO.available_status_id)
    location_id = fields.pop("location_id", DEMO.storeroom_location_id)
    ticket = fields.pop("ticket", None)
    open_tickets_seen = fields.pop("open_tickets_seen", 0)
    data: dict[str, Any] = {
        "kind": ChangeKind.CHECKIN,
        "asset_id": DEMO.assigned_asset_id,
        "asset_tag": DEMO.assigned_tag,
        "from_owner_id": DEMO.assigned_owner_id,
        "from_owner_name": DEMO.assigned_owner_name,
        "station": "T1",
        "condition": Condition.GOOD,
    }
    data.update(fields)
    asset_id, tag = data["asset_id"], data["asset_tag"]
    steps: list[Step] = []
    if data["from_owner_id"]:
        steps.append(OwnerStep(asset_id, tag, data["from_owner_id"], None))
    if status_type_id:
        steps.append(StatusStep(asset_id, tag, status_type_id))
    if location_id:
        steps.append(LocationStep(asset_id, tag, location_id))
    if ticket:
        steps.append(TicketStep(asset_id, tag, TicketRequest(**ticket), open_tickets_seen))
    return Change(**data, steps=steps)


def fresh_copy(change: Change) -> Change:
    """The same change as the journal held it after a crash during its last try: the try
    was counted (the outbox records `attempts` + 1 before it sends), its progress was not."""
    again = change.copy()
    again.state, again.last_error = ChangeState.PENDING, None
    for step in again.steps:
        step.done = False
        if isinstance(step, TicketStep):
            step.ticket_id = step.ticket_number = None
    return again


# --- check-out ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("transfer_api", "route"),
    [("checkout", CHECKOUT), ("owner", f"/assets/{DEMO.free_asset_id}/owner")],
)
def test_checkout_is_applied_once_and_verified(
    sim: Simulator, transfer_api: str, route: str
) -> None:
    change = checkout()
    (result,) = apply(sim, change, transfer_api=transfer_api)
    assert change.state is ChangeState.DONE
    assert change.steps_done == ["owner"]
    assert change.attempts == 1
    assert change.last_error is None
    assert result.error is None
    assert result.asset is not None and result.asset.current_owner_id == DEMO.student_user_id
    assert owner_of(sim, DEMO.free_asset_id) == DEMO.student_user_id
    asset_path = f"/assets/{DEMO.free_asset_id}"
    # Read first, send once, read again to verify.
    assert [(r.method, r.path) for r in sim.requests] == [
        ("GET", asset_path),
        ("POST", route),
        ("GET", asset_path),
    ]
    body = mutations(sim)[0].json
    assert body["OwnerId"] == DEMO.student_user_id


def test_repeat_of_an_applied_change_sends_nothing(sim: Simulator) -> None:
    change = checkout()
    apply(sim, change)
    assert change.state is ChangeState.DONE
    sim.clear_requests()

    again = fresh_copy(change)
    same, repeat = apply(sim, change, again)
    assert change.state is ChangeState.DONE and change.attempts == 2
    assert again.state is ChangeState.DONE
    assert same.error is None and repeat.error is None
    assert mutations(sim) == []
    assert [r.method for r in sim.requests] == ["GET", "GET"]  # one re-read each
    assert owner_of(sim, DEMO.free_asset_id) == DEMO.student_user_id


def test_owner_changed_behind_the_back_is_a_conflict(sim: Simulator) -> None:
    change = checkout()  # scanned while free
    sim.state.set_owner(DEMO.free_asset_id, DEMO.staff_user_id)
    sim.clear_requests()
    (result,) = apply(sim, change)
    assert change.state is ChangeState.CONFLICT
    assert change.conflict_owner_id == DEMO.staff_user_id
    assert change.conflict_owner_name == DEMO.staff_name
    assert change.last_error is not None
    assert DEMO.staff_name in change.last_error and DEMO.free_tag in change.last_error
    assert "owner" not in change.steps_done
    assert result.asset is not None
    assert mutations(sim) == []
    assert owner_of(sim, DEMO.free_asset_id) == DEMO.staff_user_id


def test_transfer_whose_owner_was_removed_meanwhile_is_a_conflict(sim: Simulator) -> None:
    change = checkout(
        DEMO.assigned_asset_id,
        asset_tag=DEMO.assigned_tag,
        from_owner_id=DEMO.assigned_owner_id,
        from_owner_name=DEMO.assigned_owner_name,
    )
    sim.state.set_owner(DEMO.assigned_asset_id, None)
    (result,) = apply(sim, change)
    assert change.state is ChangeState.CONFLICT
    assert change.conflict_owner_id is None
    assert change.conflict_owner_name == "nobody"
    assert result.error is None
    assert mutations(sim) == []
    assert owner_of(sim, DEMO.assigned_asset_id) is None


def test_server_error_on_the_mutation_stays_pending(sim: Simulator) -> None:
    sim.faults.add(Fault("status", method="POST", path_contains=CHECKOUT, status=503))
    change = checkout()
    (result,) = apply(sim, change)
    assert change.state is ChangeState.PENDING
    assert change.last_error
    assert isinstance(result.error, ServerError)
    assert "owner" not in change.steps_done
    assert len(mutations(sim)) == 1  # a change is never blindly repeated
    assert owner_of(sim, DEMO.free_asset_id) is None
    # The next try (the outbox) applies it, once.
    apply(sim, change)
    assert change.state is ChangeState.DONE and change.last_error is None
    assert change.attempts == 2
    assert len(mutations(sim)) == 2
    assert owner_of(sim, DEMO.free_asset_id) == DEMO.student_user_id


def test_dropped_connection_before_sending_stays_pending(sim: Simulator) -> None:
    sim.faults.add(Fault("drop", method="POST", path_contains=CHECKOUT))
    change = checkout()
    (result,) = apply(sim, change)
    assert change.state is ChangeState.PENDING
    assert isinstance(result.error, NetworkError)
    assert owner_of(sim, DEMO.free_asset_id) is None


@pytest.mark.parametrize("kind", ["apply_then_drop", "apply_then_status"])
def test_lost_reply_is_done_after_a_re_read(sim: Simulator, kind: str) -> None:
    sim.faults.add(Fault(kind, method="POST", path_contains=CHECKOUT))
    change = checkout()
    (result,) = apply(sim, change)
    assert change.state is ChangeState.DONE
    assert change.steps_done == ["owner"]
    assert result.asset is not None and result.asset.current_owner_id == DEMO.student_user_id
    sent = mutations(sim)
    assert len(sent) == 1 and sent[0].fault == kind
    assert sim.requests[-1].method == "GET"  # it looked before declaring success
    assert owner_of(sim, DEMO.free_asset_id) == DEMO.student_user_id
    # Trying it again does nothing more.
    apply(sim, fresh_copy(change))
    assert len(mutations(sim)) == 1


def test_readonly_token_fails_without_changing_anything(sim: Simulator) -> None:
    change = checkout()
    (result,) = apply(sim, change, token=sim.readonly_token)
    assert change.state is ChangeState.FAILED
    assert isinstance(result.error, ForbiddenError)
    assert change.last_error
    sent = mutations(sim)
    assert len(sent) == 1 and sent[0].status == 403
    assert owner_of(sim, DEMO.free_asset_id) is None


def test_unknown_asset_id_fails_without_sending(sim: Simulator) -> None:
    change = checkout("00000000-0000-4000-8000-00000000beef")
    (result,) = apply(sim, change)
    assert change.state is ChangeState.FAILED
    assert isinstance(result.error, NotFoundError)
    assert result.asset is None
    assert mutations(sim) == []


def test_asset_deleted_after_the_scan_fails_without_sending(sim: Simulator) -> None:
    change = checkout()
    with sim.state.lock:
        del sim.state.assets[DEMO.free_asset_id]
    (result,) = apply(sim, change)
    assert change.state is ChangeState.FAILED
    assert isinstance(result.error, NotFoundError)
    assert mutations(sim) == []


def test_soft_deleted_asset_fails_without_sending(sim: Simulator) -> None:
    change = checkout()
    sim.state.asset(DEMO.free_asset_id)["IsDeleted"] = True  # type: ignore[index]
    apply(sim, change)
    assert change.state is ChangeState.FAILED
    assert mutations(sim) == []


# --- check-in ----------------------------------------------------------------------------


def test_checkin_good_removes_owner_sets_status_and_location(sim: Simulator) -> None:
    change = checkin()
    (result,) = apply(sim, change)
    assert change.state is ChangeState.DONE, change.last_error
    assert change.steps_done == ["owner", "status", "location"]
    record = sim.state.asset(DEMO.assigned_asset_id)
    assert record is not None
    assert record["OwnerId"] is None
    assert record["StatusTypeId"] == DEMO.available_status_id
    assert record["LocationId"] == DEMO.storeroom_location_id
    assert record["SerialNumber"] == DEMO.assigned_serial  # the partial update kept it
    assert sim.state.open_checkout(DEMO.assigned_asset_id) is None
    assert result.asset is not None and result.asset.current_owner_id is None
    paths = [r.path for r in mutations(sim)]
    assert paths == [
        CHECKIN,
        f"/assets/{DEMO.assigned_asset_id}/status/{DEMO.available_status_id}",
        f"/assets/{DEMO.assigned_asset_id}",
    ]
    update = mutations(sim)[2]
    assert update.headers.get("apiflags") == "OnlySetMappedProperties"
    assert update.json["LocationId"] == DEMO.storeroom_location_id
    assert update.json["AssetTag"] == DEMO.assigned_tag
    assert update.json["SerialNumber"] == DEMO.assigned_serial
    assert change.ticket_id is None
    assert tickets_for(sim, DEMO.assigned_asset_id) == []


def test_checkin_repeated_from_scratch_sends_nothing(sim: Simulator) -> None:
    change = checkin()
    apply(sim, change)
    sim.clear_requests()
    again = fresh_copy(change)
    apply(sim, again)
    assert again.state is ChangeState.DONE
    assert again.steps_done == ["owner", "status", "location"]
    assert mutations(sim) == []


def test_checkin_status_whose_reply_was_lost_is_not_sent_again(sim: Simulator) -> None:
    # The status change arrives but its reply is lost: the re-read shows it set, so it is
    # not sent again, and the remaining step (location) is done in the same try.
    sim.faults.add(Fault("apply_then_drop", method="POST", path_contains="/status/"))
    change = checkin()
    (first,) = apply(sim, change)
    assert change.state is ChangeState.DONE, change.last_error
    assert first.error is None
    assert change.steps_done == ["owner", "status", "location"]
    status_posts = [r for r in mutations(sim) if "/status/" in r.path]
    assert len(status_posts) == 1
    record = sim.state.asset(DEMO.assigned_asset_id)
    assert record is not None
    assert record["StatusTypeId"] == DEMO.available_status_id
    assert record["LocationId"] == DEMO.storeroom_location_id
    sim.clear_requests()
    apply(sim, change)
    assert mutations(sim) == []


def test_checkin_step_whose_reply_was_lost_and_did_not_arrive_stays_pending(
    sim: Simulator,
) -> None:
    # A dropped connection before the request was applied: the re-read shows the old status,
    # so the change is pending and in doubt (the outbox waits before looking again).
    sim.faults.add(Fault("drop", method="POST", path_contains="/status/"))
    change = checkin()
    (first,) = apply(sim, change)
    assert change.state is ChangeState.PENDING
    assert isinstance(first.error, NetworkError)
    assert change.steps_done == ["owner"]
    apply(sim, change)
    assert change.state is ChangeState.DONE
    assert change.steps_done == ["owner", "status", "location"]


def test_checkin_location_whose_reply_was_lost_is_not_sent_again(sim: Simulator) -> None:
    update = f"/assets/{DEMO.assigned_asset_id}"
    change = checkin(status_type_id=None)
    sim.faults.add(Fault("apply_then_drop", method="POST", path_contains=update))
    apply(sim, change)
    assert change.state is ChangeState.DONE
    assert change.steps_done == ["owner", "location"]
    record = sim.state.asset(DEMO.assigned_asset_id)
    assert record is not None and record["LocationId"] == DEMO.storeroom_location_id
    assert len([r for r in mutations(sim) if r.path == update]) == 1
    sim.clear_requests()
    apply(sim, change)
    assert mutations(sim) == []


def test_checkin_without_open_checkout_falls_back_to_remove_owner(sim: Simulator) -> None:
    assert sim.state.open_checkout(DEMO.no_checkout_asset_id) is None
    change = checkin(
        asset_id=DEMO.no_checkout_asset_id,
        asset_tag=DEMO.no_checkout_tag,
        from_owner_id=DEMO.shared_name_user_ids[0],
        from_owner_name=DEMO.shared_name,
        status_type_id=None,
        location_id=None,
    )
    apply(sim, change)
    assert change.state is ChangeState.DONE, change.last_error
    assert owner_of(sim, DEMO.no_checkout_asset_id) is None
    sent = [(r.path, r.status) for r in mutations(sim)]
    assert sent == [
        (CHECKIN, 404),
        (f"/assets/{DEMO.no_checkout_asset_id}/remove-owner", 200),
    ]


def test_checkin_to_another_location_does_not_keep_the_old_room(sim: Simulator) -> None:
    # The free device sits in the Library of Roosevelt Middle School; it goes to the storeroom.
    before = sim.state.asset(DEMO.free_asset_id)
    assert before is not None and before["LocationRoomId"] is not None
    change = checkin(asset_id=DEMO.free_asset_id, asset_tag=DEMO.free_tag, from_owner_id=None)
    apply(sim, change)
    assert change.state is ChangeState.DONE
    record = sim.state.asset(DEMO.free_asset_id)
    assert record is not None
    assert record["LocationId"] == DEMO.storeroom_location_id
    room = sim.state.rooms.get(record["LocationRoomId"] or "")
    assert room is None or room["LocationId"] == DEMO.storeroom_location_id


def damaged_checkin() -> Change:
    return checkin(
        condition=Condition.DAMAGED,
        status_type_id=None,
        ticket={
            "subject": f"{DEMO.assigned_tag} returned damaged",
            "description": "Returned damaged at check-in (T1).",
            "for_user_id": DEMO.assigned_owner_id,
            "asset_id": DEMO.assigned_asset_id,
            "issue_id": DEMO.ticket_issue_id,
        },
        open_tickets_seen=0,
    )


def tickets_for(sim: Simulator, asset_id: str) -> list[dict[str, Any]]:
    return [t for t in sim.state.tickets if {"AssetId": asset_id} in t["Assets"]]


def test_checkin_damaged_files_one_ticket_for_the_owner(sim: Simulator) -> None:
    change = damaged_checkin()
    apply(sim, change)
    assert change.state is ChangeState.DONE, change.last_error
    assert change.steps_done == ["owner", "location", "ticket"]
    (ticket,) = tickets_for(sim, DEMO.assigned_asset_id)
    assert ticket["ForId"] == DEMO.assigned_owner_id
    assert ticket["IssueId"] == DEMO.ticket_issue_id
    assert change.ticket_id == ticket["TicketId"]
    assert change.ticket_number == str(ticket["TicketNumber"])
    (sent,) = [r for r in mutations(sim) if r.path == TICKETS]
    assert sent.json["Assets"] == [{"AssetId": DEMO.assigned_asset_id}]
    assert sent.json["ProductId"] == DEMO.ticketing_product_id
    # A repeat of the whole change files nothing more.
    apply(sim, change)
    apply(sim, fresh_copy(change))
    assert len(tickets_for(sim, DEMO.assigned_asset_id)) == 1
    assert len([r for r in mutations(sim) if r.path == TICKETS]) == 1


def test_ticket_whose_reply_was_lost_is_not_filed_twice(sim: Simulator) -> None:
    sim.faults.add(Fault("apply_then_drop", method="POST", path_contains=TICKETS))
    change = damaged_checkin()
    apply(sim, change)
    # The re-read after the lost reply shows one more open ticket: it arrived.
    assert change.state is ChangeState.DONE, change.last_error
    assert "ticket" in change.steps_done
    assert len(tickets_for(sim, DEMO.assigned_asset_id)) == 1
    apply(sim, change)
    apply(sim, fresh_copy(change))
    assert len(tickets_for(sim, DEMO.assigned_asset_id)) == 1
    assert len([r for r in mutations(sim) if r.path == TICKETS]) == 1


def test_ticket_in_doubt_after_a_crash_is_looked_for_before_filing(sim: Simulator) -> None:
    # The first try filed the ticket, then the kiosk died before writing that down: the
    # next try (attempts > 1) sees the higher open-ticket count and files nothing.
    change = damaged_checkin()
    apply(sim, change)
    assert len(tickets_for(sim, DEMO.assigned_asset_id)) == 1
    again = fresh_copy(change)
    sim.clear_requests()
    apply(sim, again)
    assert again.state is ChangeState.DONE
    assert [r for r in mutations(sim) if r.path == TICKETS] == []


def test_ticket_that_did_not_arrive_is_filed_on_the_next_try(sim: Simulator) -> None:
    sim.faults.add(Fault("status", method="POST", path_contains=TICKETS, status=503))
    change = damaged_checkin()
    apply(sim, change)
    assert change.state is ChangeState.PENDING
    assert tickets_for(sim, DEMO.assigned_asset_id) == []
    apply(sim, change)
    assert change.state is ChangeState.DONE
    assert len(tickets_for(sim, DEMO.assigned_asset_id)) == 1
    assert change.ticket_id is not None


# --- the record --------------------------------------------------------------------------


def test_change_round_trips_through_a_dict_and_json() -> None:
    change = damaged_checkin()
    change.state = ChangeState.CONFLICT
    for step in change.steps[:2]:
        step.done = True
    change.attempts = 3
    change.charger_returned = False
    data = json.loads(json.dumps(change.to_dict()))
    data["added_by_a_newer_version"] = 1  # unknown keys are ignored
    back = Change.from_dict(data)
    assert back == change
    assert back.kind is ChangeKind.CHECKIN
    assert back.state is ChangeState.CONFLICT
    assert back.condition is Condition.DAMAGED
    assert back.ticket == change.ticket


def test_change_description() -> None:
    assert checkout().description == f"Give {DEMO.free_tag} to {DEMO.student_name}"
    transfer = checkout(from_owner_id="u", from_owner_name="Marcus Lee")
    assert transfer.description == f"Transfer {DEMO.free_tag} from Marcus Lee to Ana Ruiz"
    assert checkin().description == f"Check in {DEMO.assigned_tag} from Marcus Lee"


# --- two stations, one device, the same moment -------------------------------------------


@pytest.mark.parametrize("transfer_api", ["checkout", "owner"])
def test_two_stations_at_the_same_moment_are_never_both_told_done(
    sim: Simulator, transfer_api: str
) -> None:
    """Both read the device free, both send; Incident IQ keeps the last write. A station
    whose read after sending shows the other person has a conflict, not a success."""
    sim.faults.add(Fault("latency", latency_ms=50, times=None))
    people = [DEMO.student_user_id, DEMO.shared_name_user_ids[0]]

    async def race(client_a: IIQClient, client_b: IIQClient) -> list[ApplyResult]:
        services = [ChangeService(c, confirm_pause_s=0.2) for c in (client_a, client_b)]
        changes = [checkout(to_owner_id=p, to_owner_name=f"P{i}") for i, p in enumerate(people)]
        return list(
            await asyncio.gather(*(s.apply(c) for s, c in zip(services, changes, strict=True)))
        )

    async def main() -> list[ApplyResult]:
        connection = Connection(
            site_url=sim.url, site_id=sim.site_id, token=sim.token, read_timeout=5
        )
        kw: dict[str, Any] = {"retry": RetryPolicy(base_delay=0.01), "transfer_api": transfer_api}
        async with IIQClient(connection, **kw) as a, IIQClient(connection, **kw) as b:
            return await race(a, b)

    for _ in range(3):
        results = asyncio.run(main())
        final = owner_of(sim, DEMO.free_asset_id)
        done = [r.change for r in results if r.change.state is ChangeState.DONE]
        assert len(done) <= 1
        for r in results:
            if r.change.state is ChangeState.DONE:
                assert r.change.to_owner_id == final
            else:
                assert r.change.state is ChangeState.CONFLICT, r.change.last_error
                assert "another station changed it at the same moment" in (
                    r.change.last_error or ""
                ) or "since it was scanned" in (r.change.last_error or "")
        with sim.state.lock:
            record = sim.state.asset(DEMO.free_asset_id)
            assert record is not None
            record["OwnerId"] = None
            record.pop("Owner", None)
