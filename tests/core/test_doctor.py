"""The district self-check against the simulator over loopback: each mode of the
simulator, each kind of refusal, and a report that carries nothing secret or personal."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kiosk.config import Settings
from kiosk.core.doctor import (
    CHECKS,
    OUTCOMES,
    ZERO_ID,
    DoctorReport,
    explanations_markdown,
    run_doctor,
)
from kiosk.simulator import DEMO, Fault, Simulator
from kiosk.simulator.api import owner_changes
from kiosk.wiring import build_client

ALL_CHECKS = list(CHECKS)
#: What the token's account is called in the simulator: never in a report.
ACCOUNT_WORDS = (
    DEMO.api_user_name,
    "Kiosk Service",
    "kiosk.service@example.org",
    "kiosk.service",
    DEMO.api_user_id,
)
READONLY_WORDS = ("Read Only Auditor", "readonly.auditor", DEMO.readonly_user_id)


def settings_for(sim: Simulator, **sections: Any) -> Settings:
    data: dict[str, Any] = {"iiq": {"url": sim.url, "site_id": sim.site_id}}
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return Settings.model_validate(data)


def doctor(
    sim: Simulator,
    *,
    token: str | None = None,
    settings: Settings | None = None,
    lookups: int = 3,
    clock: Callable[[], float] = time.time,
) -> tuple[DoctorReport, list[float]]:
    """Run the doctor with a client built as the app builds it; the waits it asked for."""
    settings = settings or settings_for(sim)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def main() -> DoctorReport:
        client = build_client(settings, token or sim.token)
        async with client:
            return await run_doctor(client, settings, lookups=lookups, sleep=sleep, clock=clock)

    return asyncio.run(main()), waits


def outcomes(report: DoctorReport) -> dict[str, str]:
    return {line.check: line.outcome for line in report.lines}


def assert_nothing_secret(
    report: DoctorReport, tmp_path: Path, sim: Simulator, words: tuple[str, ...]
) -> None:
    path = tmp_path / "doctor-report.json"
    report.write(path)
    written = path.read_text(encoding="utf-8")
    dumped = json.dumps(report.to_dict())
    assert json.loads(written) == report.to_dict()
    for text in (written, dumped, report.render(who=False)):
        for secret in (sim.token, sim.readonly_token, sim.site_id, sim.url, "127.0.0.1", *words):
            assert secret.casefold() not in text.casefold(), secret


def assert_changed_nothing(sim: Simulator) -> None:
    """Only reads, and the two probes of a device that does not exist."""
    changes = owner_changes(sim.requests)
    assert set(changes) <= {ZERO_ID}
    assert not any(request.applied for request in changes.get(ZERO_ID, []))
    posts = {r.path for r in sim.requests if r.method == "POST"}
    assert posts <= {"/assets", "/assets/checkouts/checkin", f"/assets/{ZERO_ID}/remove-owner"}


# --- a good token ------------------------------------------------------------------------


def test_good_token_every_line_ok_and_the_answers(sim: Simulator, tmp_path: Path) -> None:
    report, waits = doctor(sim, lookups=4)

    assert report.level == "OK", report.render()
    assert [line.check for line in report.lines] == ALL_CHECKS
    assert outcomes(report) == {
        "login": "login.ok",
        "status_types": "status_types.ok",
        "locations": "locations.ok",
        "asset_query": "asset_query.ok",
        "page_cap": "page_cap.capped",
        "tag_lookup": "tag_lookup.empty_200",
        "user_search": "user_search.ok",
        "checkout_routes": "checkout_routes.enabled",
        "owner_routes": "owner_routes.present",
        "rights": "rights.ok",
        "round_trip": "round_trip.ok",
        "clock": "clock.ok",
        "rate_limit": "rate_limit.none",
    }
    answers = report.to_dict()["answers"]
    assert answers["tag_not_found"]["status"] == 200
    assert answers["tag_not_found"]["items"] == 0
    assert "Items" in answers["tag_not_found"]["keys"]
    assert answers["checkout_routes_enabled"] is True
    assert answers["owner_routes_present"] is True
    assert answers["page_size_cap"] == {
        "asked": 5000,
        "page_size_reported": 1000,
        "capped_at": 1000,
    }
    assert answers["paging_present"] == {
        "asset_query": True,
        "user_search": True,
        "tag_lookup": False,
    }
    assert answers["rate_limited"] == {"count": 0, "retry_after": [], "checks": []}
    assert answers["mechanism"] == {"configured": "checkout", "will_use": "checkout"}
    assert answers["rights"]["change_owners"] == "unknown until a change is tried"
    assert abs(answers["clock_skew_s"]) < 3
    assert answers["round_trip_ms"]["count"] == 4
    assert answers["round_trip_ms"]["p50"] <= answers["round_trip_ms"]["p95"]
    assert answers["account_role"] == "Agent"
    assert waits == []

    # What a person sees: who the token belongs to, and what it may do, in words.
    text = report.render()
    assert "The token belongs to: Kiosk Service Account (Agent)" in text
    assert report.may_do is not None
    assert report.may_do.startswith("can read devices, people, locations and status types")
    assert "can change owners: not known until a change is tried" in report.may_do
    assert "the site id matches" in report.line("login").finding  # type: ignore[union-attr]
    assert "asked $s=5000, Paging says PageSize 1000" in text
    assert text.rstrip().endswith(f"{report.requests} requests in {report.duration_s:.1f} s)")

    versions = report.to_dict()["versions"]
    assert versions["iiq_kiosk"] and versions["python"] and versions["os"]
    assert report.to_dict()["site"] == {"kind": "this computer (simulator)"}
    assert_nothing_secret(report, tmp_path, sim, ACCOUNT_WORDS)
    assert_changed_nothing(sim)
    # the lookups: the unknown tag once, then a known device's tag for the round trips
    tag_paths = [r.path for r in sim.requests if r.path.startswith("/assets/assettag/")]
    assert len(tag_paths) == 5 and len(set(tag_paths[1:])) == 1 and tag_paths[0] != tag_paths[1]


def test_settings_that_do_not_fit_the_site_fail_naming_them(sim: Simulator) -> None:
    settings = settings_for(
        sim,
        checkin={
            "status_name": "Ready for Students",
            "repair_status_name": "in repair",
            "location_id": "11111111-2222-3333-4444-555555555555",
        },
    )
    report, _ = doctor(sim, settings=settings)

    status = report.line("status_types")
    locations = report.line("locations")
    assert status is not None and status.level == "FAIL"
    assert status.outcome == "status_types.missing"
    assert "'Ready for Students'" in status.finding
    assert "it has: Available, Assigned, In Repair" in status.finding
    assert "in repair" not in status.finding.split(";")[0]  # case does not matter
    assert locations is not None and locations.outcome == "locations.missing"
    assert "[checkin] location_id = 11111111-2222-3333-4444-555555555555" in locations.finding
    assert report.level == "FAIL"


# --- refusals ------------------------------------------------------------------------------


def test_bad_token_stops_at_the_login_and_says_what_to_do(sim: Simulator, tmp_path: Path) -> None:
    report, _ = doctor(sim, token="not-the-token")

    assert [line.outcome for line in report.lines] == [
        "login.bad_token",
        "clock.ok",
        "rate_limit.none",
    ]
    assert report.level == "FAIL"
    text = report.render()
    assert "[FAIL] Connection and token (GET /login): Incident IQ answered 401" in text
    assert "iiq-kiosk token set" in text
    assert [r.path for r in sim.requests] == ["/login"]
    assert_nothing_secret(report, tmp_path, sim, ("not-the-token",))


def test_wrong_site_id_is_named(sim: Simulator) -> None:
    settings = settings_for(sim, iiq={"site_id": "00000000-1111-2222-3333-444444444444"})
    report, _ = doctor(sim, settings=settings)

    login = report.line("login")
    assert login is not None and login.outcome == "login.site_id" and login.level == "FAIL"
    assert "Site ID" in login.action and "IIQ_SITE_ID" in login.action
    assert report.line("status_types") is None


def test_read_only_token_can_read_but_not_change(sim: Simulator, tmp_path: Path) -> None:
    report, _ = doctor(sim, token=sim.readonly_token)

    found = outcomes(report)
    assert found["login"] == "login.ok"
    assert found["checkout_routes"] == "checkout_routes.refused"
    assert found["owner_routes"] == "owner_routes.refused"
    assert found["rights"] == "rights.cannot_change"
    assert report.level == "FAIL"
    assert report.may_do == (
        "can read devices, people, locations and status types; cannot change owners "
        "(Incident IQ refused the check-out routes with 403)"
    )
    assert report.to_dict()["answers"]["rights"]["change_owners"] == "refused"
    assert report.who == "Read Only Auditor (Agent)"
    checkins = [r for r in sim.requests if r.path == "/assets/checkouts/checkin"]
    assert [r.status for r in checkins] == [403]
    assert_nothing_secret(report, tmp_path, sim, READONLY_WORDS)
    assert_changed_nothing(sim)


def test_login_forbidden_is_a_warning_and_the_other_checks_still_run(sim: Simulator) -> None:
    sim.faults.add(Fault("status", path_contains="/login", status=403))
    report, _ = doctor(sim)

    assert outcomes(report)["login"] == "login.forbidden"
    assert report.line("login").level == "WARN"  # type: ignore[union-attr]
    assert [line.check for line in report.lines] == ALL_CHECKS
    assert report.account is None and report.who is None
    assert "The token belongs to" not in report.render()


def test_unreachable_host(sim: Simulator, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again before the doctor connects
    settings = Settings.model_validate(
        {"iiq": {"url": f"http://127.0.0.1:{port}", "site_id": sim.site_id, "connect_timeout": 2}}
    )
    report, _ = doctor(sim, settings=settings)

    assert [line.outcome for line in report.lines] == ["login.unreachable"]
    assert report.requests == 1
    line = report.lines[0]
    assert line.finding.startswith("no answer (GET /login: no reply (ConnectError")
    assert "Check the site address" in line.action
    assert "127.0.0.1" not in line.finding and str(port) not in line.finding
    assert_nothing_secret(report, tmp_path, sim, ())


# --- the simulator's modes -------------------------------------------------------------------


def test_checkout_routes_off_with_the_checkout_mechanism_warns_of_the_fallback(
    sim: Simulator,
) -> None:
    sim.checkout_routes_enabled = False
    report, _ = doctor(sim)

    checkout = report.line("checkout_routes")
    assert checkout is not None and checkout.outcome == "checkout_routes.missing_fallback"
    assert checkout.level == "WARN"
    assert "No HTTP resource was found" in checkout.finding
    assert "<address>" in checkout.finding and sim.url not in checkout.finding
    assert 'transfer_api = "owner"' in checkout.action
    answers = report.to_dict()["answers"]
    assert answers["checkout_routes_enabled"] is False
    assert answers["mechanism"] == {"configured": "checkout", "will_use": "owner"}
    assert outcomes(report)["rights"] == "rights.ok"
    assert "the kiosk will use the owner routes" in (report.may_do or "")
    assert report.level == "WARN"
    assert_changed_nothing(sim)


def test_checkout_routes_off_with_the_owner_mechanism_is_fine(sim: Simulator) -> None:
    sim.checkout_routes_enabled = False
    report, _ = doctor(sim, settings=settings_for(sim, iiq={"transfer_api": "owner"}))

    assert outcomes(report)["checkout_routes"] == "checkout_routes.missing_unused"
    assert report.level == "OK", report.render()
    assert report.to_dict()["answers"]["mechanism"] == {"configured": "owner", "will_use": "owner"}


def test_checkout_routes_on_with_the_owner_mechanism(sim: Simulator) -> None:
    report, _ = doctor(sim, settings=settings_for(sim, iiq={"transfer_api": "owner"}))

    assert outcomes(report)["checkout_routes"] == "checkout_routes.enabled"
    assert report.to_dict()["answers"]["mechanism"]["will_use"] == "owner"


def test_unknown_tag_as_404_with_a_json_body(sim: Simulator) -> None:
    sim.tag_not_found_status = 404
    report, _ = doctor(sim)

    tag = report.line("tag_lookup")
    assert tag is not None and tag.outcome == "tag_lookup.not_found_404" and tag.level == "OK"
    assert tag.finding == "404 with JSON {ErrorKey, Message, StatusCode}, ErrorKey AssetNotFound"
    shape = report.to_dict()["answers"]["tag_not_found"]
    assert shape["status"] == 404
    assert shape["body"] == "json"
    assert shape["error_key"] == "AssetNotFound"
    assert shape["route_missing"] is False
    assert report.level == "OK"
    # the round trips used a known tag: found, so 200
    lookups = [r for r in sim.requests if r.path.startswith("/assets/assettag/")]
    assert [r.status for r in lookups] == [404, 200, 200, 200]


def test_unknown_tag_as_empty_200_is_the_default(sim: Simulator) -> None:
    assert sim.tag_not_found_status == 200
    sim.tag_not_found_status = 404
    sim.reset()
    assert sim.tag_not_found_status == 200
    with pytest.raises(ValueError, match="200 or 404"):
        sim.tag_not_found_status = 500


def test_429_with_retry_after_is_waited_for_and_reported(sim: Simulator, tmp_path: Path) -> None:
    sim.faults.add(
        Fault("rate_limit", method="GET", path_contains="/assets/assettag/", times=2, retry_after=2)
    )
    report, waits = doctor(sim)

    assert waits == [2.0, 2.0]
    assert outcomes(report)["tag_lookup"] == "tag_lookup.empty_200"  # the third try answered
    line = report.line("rate_limit")
    assert line is not None and line.outcome == "rate_limit.seen" and line.level == "WARN"
    assert f"2 of {report.requests} replies were 429 (Retry-After: 2)" == line.finding
    assert report.to_dict()["answers"]["rate_limited"] == {
        "count": 2,
        "retry_after": ["2", "2"],
        "checks": ["tag_lookup"],
    }
    limited = [r for r in sim.requests if r.fault == "rate_limit"]
    assert [r.status for r in limited] == [429, 429]
    assert_nothing_secret(report, tmp_path, sim, ACCOUNT_WORDS)


def test_429_that_does_not_stop_fails_the_check_after_three_tries(sim: Simulator) -> None:
    sim.faults.add(Fault("rate_limit", path_contains="/assets/status/types", times=None))
    report, waits = doctor(sim)

    status = report.line("status_types")
    assert status is not None and status.outcome == "status_types.failed"
    assert status.finding.startswith("Incident IQ answered 429 (too many requests)")
    assert waits == [1.0, 2.0]  # no Retry-After: 1 s, then 2 s
    assert report.to_dict()["answers"]["rate_limited"]["retry_after"] == [None, None, None]
    assert "Retry-After: not sent" in report.line("rate_limit").finding  # type: ignore[union-attr]
    assert outcomes(report)["rights"] == "rights.partial_read"
    assert "cannot read status types" in (report.may_do or "")


def test_clock_skew_is_measured_against_the_date_header(sim: Simulator) -> None:
    report, _ = doctor(sim, clock=lambda: time.time() - 600)

    clock = report.line("clock")
    assert clock is not None and clock.outcome == "clock.skewed" and clock.level == "WARN"
    assert clock.finding == "this PC is 10 min behind Incident IQ"
    assert 597 <= report.to_dict()["answers"]["clock_skew_s"] <= 602
    assert "Set time automatically" in clock.action


def test_slow_lookups_warn(sim: Simulator) -> None:
    sim.faults.add(Fault("latency", path_contains="/assets/assettag/", times=None, latency_ms=1600))
    report, _ = doctor(sim, lookups=1)

    line = report.line("round_trip")
    assert line is not None and line.outcome == "round_trip.slow"
    assert report.to_dict()["answers"]["round_trip_ms"]["p95"] >= 1600


# --- the report itself ------------------------------------------------------------------------


def test_logs_carry_no_token_and_no_names(sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        doctor(sim)
    assert "doctor: OK after" in caplog.text
    for secret in (sim.token, *ACCOUNT_WORDS):
        assert secret not in caplog.text


def test_every_outcome_is_explained_once_for_the_readme() -> None:
    markdown = explanations_markdown()
    for outcome_id, outcome in OUTCOMES.items():
        assert outcome_id.split(".")[0] == outcome.check
        assert outcome.check in CHECKS
        assert markdown.count(f"`{outcome_id}`") == 1
        assert outcome.meaning.endswith((".", ")"))
    assert set(CHECKS) == {outcome.check for outcome in OUTCOMES.values()}
