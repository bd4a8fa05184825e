"""`assets`, `update` and `report assignments` against the simulator: what a person sees
and what Incident IQ received."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from clitools import Runner, mutations

from kiosk.simulator import DEMO, Simulator


def queries(sim: Simulator) -> list[dict[str, object]]:
    return [r.json for r in sim.requests if r.method == "POST" and r.path.rstrip("/") == "/assets"]


def test_filters_are_sent_by_id_with_one_group_per_option(cli: Runner, sim: Simulator) -> None:
    result = cli(
        "--json", "assets", "--status", "available", "--status", "In Repair",
        "--location", DEMO.storeroom_name, "--tag", DEMO.free_tag,
    )  # fmt: skip
    assert result.returncode in (0, 3), result.stderr
    (body,) = queries(sim)
    assert isinstance(body, dict)
    filters = body["Filters"]
    assert body["OnlyShowDeleted"] is False and body["FilterByViewPermission"] is True
    status = [f for f in filters if f["Facet"] == "assetstatus"]
    location = [f for f in filters if f["Facet"] == "location"]
    tag = [f for f in filters if f["Facet"] == "assettag"]
    assert {f["Id"] for f in status} == {
        DEMO.available_status_id,
        sim.state.status_type_by_name("In Repair")["AssetStatusTypeId"],  # type: ignore[index]
    }
    assert len({f["GroupIndex"] for f in status}) == 1  # OR inside one option
    assert [f["Id"] for f in location] == [DEMO.storeroom_location_id]
    assert tag == [{"Facet": "assettag", "Value": DEMO.free_tag, "GroupIndex": 2}]
    groups = {status[0]["GroupIndex"], location[0]["GroupIndex"], tag[0]["GroupIndex"]}
    assert len(groups) == 3  # AND between options


def test_every_page_is_read_when_the_server_caps_the_page_size(
    cli: Runner, sim: Simulator, tmp_path: Path
) -> None:
    sim.asset_query_page_cap = 7
    expected = sum(
        1
        for a in sim.state.assets.values()
        if a["StatusTypeId"] == DEMO.available_status_id and not a["IsDeleted"]
    )
    target = tmp_path / "available.csv"
    result = cli("assets", "--status", DEMO.available_status_name, "--page-size", "50",
                 "--csv", str(target))  # fmt: skip
    assert result.returncode == 0, result.stderr
    with target.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == expected > 7
    assert len({r["AssetId"] for r in rows}) == expected
    assert len(queries(sim)) == -(-expected // 7)  # pages of 7, every one asked for
    assert f"{expected} devices written to" in result.stderr
    assert set(rows[0]) >= {"AssetId", "AssetTag", "SerialNumber", "Model", "Status",
                            "Location", "Owner"}  # fmt: skip


def test_a_name_that_matches_nothing_is_refused_before_any_query(
    cli: Runner, sim: Simulator
) -> None:
    result = cli("assets", "--status", "Availble")
    assert result.returncode == 2
    assert "no asset status called “Availble”" in result.stderr
    assert "“Available”" in result.stderr  # the closest name
    assert queries(sim) == []
    result = cli("assets", "--owner", "nobody-at-all")
    assert result.returncode == 2
    assert queries(sim) == []


def test_owner_filters_in_the_query_and_json_has_the_columns(cli: Runner, sim: Simulator) -> None:
    owner = sim.state.user(DEMO.assigned_owner_id)
    assert owner is not None
    result = cli("--json", "assets", "--owner", owner["SchoolIdNumber"])
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert DEMO.assigned_tag in {r["AssetTag"] for r in rows}
    assert all(r["Owner"] == DEMO.assigned_owner_name for r in rows)
    (body,) = queries(sim)
    assert isinstance(body, dict)
    assert body["Filters"] == [{"Facet": "user", "Id": DEMO.assigned_owner_id, "GroupIndex": 0}]


def test_no_rows_exits_3_and_csv_cells_are_formula_safe(
    cli: Runner, sim: Simulator, tmp_path: Path
) -> None:
    result = cli("assets", "--tag", "NO-SUCH-TAG")
    assert result.returncode == 3
    assert "No devices match" in result.stderr
    sim.state.assets[DEMO.free_asset_id]["SerialNumber"] = "=HYPERLINK(1)"
    target = tmp_path / "one.csv"
    assert cli("assets", "--tag", DEMO.free_tag, "--csv", str(target)).returncode == 0
    text = target.read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK(1)" in text


# --- update -------------------------------------------------------------------------------


def test_update_sends_a_partial_update_with_tag_and_serial(cli: Runner, sim: Simulator) -> None:
    before = sim.state.asset(DEMO.free_asset_id)
    assert before is not None
    tag, serial = before["AssetTag"], before["SerialNumber"]
    result = cli(
        "update",
        DEMO.free_tag,
        "--location",
        DEMO.storeroom_name,
        "--note",
        "=cracked",
        "--operator",
        "J. Smith",
        "--yes",
        env={"IIQ_KIOSK_STATION": "Help desk 2"},
    )
    assert result.returncode == 0, result.stderr
    assert f"{DEMO.free_tag} updated." in result.stdout
    sent = mutations(sim)
    assert sent and all(r.path == f"/assets/{DEMO.free_asset_id}" for r in sent)
    for request in sent:
        assert request.headers.get("apiflags") == "OnlySetMappedProperties"
        assert request.json["AssetTag"] == tag
        assert request.json["SerialNumber"] == serial
    after = sim.state.asset(DEMO.free_asset_id)
    assert after is not None
    assert after["LocationId"] == DEMO.storeroom_location_id
    assert after["SerialNumber"] == serial and after["AssetTag"] == tag
    # The note says where it was written and by whom.
    assert after["Notes"].endswith("=cracked (Help desk 2, J. Smith)")


def test_update_of_status_alone_uses_the_status_route(cli: Runner, sim: Simulator) -> None:
    result = cli("update", DEMO.free_tag, "--status", "In Repair", "--yes")
    assert result.returncode == 0, result.stderr
    (sent,) = mutations(sim)
    assert sent.path.startswith(f"/assets/{DEMO.free_asset_id}/status/")
    again = cli("update", DEMO.free_tag, "--status", "in repair", "--yes")
    assert again.returncode == 0
    assert "already so: nothing to change" in again.stdout
    assert len(mutations(sim)) == 1


def test_update_refuses_a_retired_device_and_unknown_names(cli: Runner, sim: Simulator) -> None:
    retired = cli("update", DEMO.retired_tag, "--status", "Available", "--yes")
    assert retired.returncode == 2
    assert "is retired" in retired.stderr
    unknown = cli("update", DEMO.free_tag, "--room", "Nowhere 9", "--yes")
    assert unknown.returncode == 2
    assert "called “Nowhere 9”" in unknown.stderr
    not_confirmed = cli("update", DEMO.free_tag, "--status", "In Repair")
    assert not_confirmed.returncode == 2
    assert mutations(sim) == []


# --- report -------------------------------------------------------------------------------


def test_the_report_totals_match_the_simulator(cli: Runner, sim: Simulator) -> None:
    result = cli("--json", "report", "assignments")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    live = [a for a in sim.state.assets.values() if not a["IsDeleted"]]
    owners: dict[str, int] = {}
    for asset in live:
        if asset["OwnerId"]:
            owners[asset["OwnerId"]] = owners.get(asset["OwnerId"], 0) + 1
    totals = data["Totals"]
    assert totals["DevicesRead"] == len(live)
    assert totals["Unassigned"] == sum(1 for a in live if not a["OwnerId"])
    assert totals["Holders"] == len(owners)
    assert totals["DevicesAssigned"] == sum(owners.values())
    assert totals["HoldingMoreThanOne"] == sum(1 for n in owners.values() if n > 1)
    held = {h["UserId"]: [d["AssetTag"] for d in h["Devices"]] for h in data["Holders"]}
    assert DEMO.assigned_tag in held[DEMO.assigned_owner_id]
    text = cli("report", "assignments", "--role", "Student", "--grade", DEMO.student_grade)
    assert text.returncode == 0, text.stderr
    assert "Totals:" in text.stdout
    bad = cli("report", "assignments", "--role", "Studnet")
    assert bad.returncode == 2 and "“Student”" in bad.stderr


def test_the_new_verbs_have_handlers_and_useful_help(capsys: object) -> None:
    from kiosk import cli

    parser = cli.build_parser()
    verbs = {*cli.ONLINE_VERBS, *cli.LOCAL_VERBS}
    for argv in (
        ["assets", "--status", "A"],
        ["update", "X", "--note", "n"],
        ["bulk", "f.csv"],
        ["report", "assignments"],
    ):
        assert parser.parse_args(argv).verb in verbs
    for verb in (["assets"], ["update"], ["bulk"], ["report", "assignments"]):
        assert cli.main([*verb, "--help"]) == 0
