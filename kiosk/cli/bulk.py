"""`bulk FILE.csv`: check-outs, check-ins and updates from a file, every row checked first,
then applied through the journal and the change desk; FILE.results.csv says what became
of each row. See `kiosk.core.bulk`."""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

from kiosk.cli.args import add_operator, add_verb, add_yes
from kiosk.cli.output import clean_lines, formula_safe
from kiosk.cli.session import (
    EXIT_API,
    EXIT_NETWORK,
    EXIT_OK,
    EXIT_REFUSED,
    CommandError,
    LocalVerb,
    OnlineVerb,
    Session,
    confirm,
    count,
    send_window,
    set_operator,
    station,
)
from kiosk.core.bulk import (
    COLUMNS,
    BulkFileError,
    BulkRow,
    BulkRun,
    Outcome,
    read_rows,
    run_id,
)
from kiosk.core.files import write_atomically
from kiosk.core.journal import JournalError

#: At most this many rows under way at once (the request rate bounds them further).
BULK_CONCURRENCY = 8
#: Biggest file read (10,000 rows are well under 2 MB).
MAX_FILE_BYTES = 20_000_000


def register(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    bulk = add_verb(
        verbs,
        common,
        "bulk",
        "check-outs, check-ins and updates from a CSV file",
        description="Rows: asset_tag,person[,action[,status[,location]]] (a header row is "
        "optional; action checkout (default), checkin or update with status/location). "
        "Every row is checked against Incident IQ first and every bad row reported by its "
        "line number; then the good ones are applied with the window's rules, through the "
        "journal, at most one new change per [journal] min_interval_s. FILE.results.csv "
        "(beside the file) gives each row's outcome: applied, skipped: already done, "
        "refused: why, failed: why, or queued (saved, sent later by `outbox --send`). "
        "Running the same file again applies nothing twice. Exit 0 every row applied or "
        "already done, 2 some rows refused (or not confirmed), 5 some failed, 6 some "
        "queued (network).",
        epilog="Example file:  asset_tag,person,action,status,location / CB-004512,204518 "
        "/ CB-004513,,checkin / CB-000456,,update,In Repair,Lincoln High School",
    )
    bulk.add_argument("file", metavar="FILE.csv", help="the rows (UTF-8 CSV)")
    bulk.add_argument(
        "--dry-run",
        action="store_true",
        help="check every row and write the results file, change nothing",
    )
    add_yes(bulk)
    add_operator(bulk)


def results_path(source: Path) -> Path:
    if source.suffix.casefold() == ".csv":
        return source.with_name(source.stem + ".results.csv")
    return source.with_name(source.name + ".results.csv")


def _read(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise CommandError(f"{path} is larger than {MAX_FILE_BYTES // 1_000_000} MB.")
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CommandError(f"There is no file {path}.") from None
    except UnicodeDecodeError:
        raise CommandError(
            f"{path} is not UTF-8 text: save it as “CSV UTF-8” and try again."
        ) from None
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror or exc}") from None


def _load(name: str) -> tuple[Path, list[BulkRow], str]:
    """The file, its rows and its run id; a file that cannot be read stops here."""
    source = Path(name).expanduser()
    text = _read(source)
    try:
        rows = read_rows(text)
    except (BulkFileError, csv.Error) as exc:
        raise CommandError(f"{source}: {exc} Nothing was changed.") from None
    if not rows:
        raise CommandError(f"{source} has no rows. Nothing was changed.")
    return source, rows, run_id(text)


async def cmd_bulk(s: Session) -> int:
    source, rows, run = _load(s.args.file)
    set_operator(s)
    interval = s.settings.journal.min_interval_s
    if s.args.dry_run:
        bulk = BulkRun(s.service, None, None, rows, run, interval, BULK_CONCURRENCY)
        to_apply = await bulk.validate()
        _report_checked(s, rows, to_apply)
        await bulk.apply(to_apply)
        return _finish(s, source, rows, dry_run=True)
    async with station(s) as services:
        bulk = BulkRun(
            s.service, services.journal, services.desk, rows, run, interval, BULK_CONCURRENCY
        )
        to_apply = await bulk.validate()
        _report_checked(s, rows, to_apply)
        earlier = [r for r in rows if r.outcome is Outcome.QUEUED]
        if to_apply:
            confirm(s, f"Apply {count(len(to_apply), 'change')}?")
        with s.out.progress(len(to_apply), "Applying") as progress:

            def on_row(row: BulkRow) -> None:
                progress.advance()
                failed = sum(1 for r in to_apply if r.outcome is Outcome.FAILED)
                if failed:
                    progress.note(f"{failed} failed")

            bulk.on_row = on_row
            await bulk.apply(to_apply)
        outbox = services.outbox
        if outbox.counts()["pending"]:
            # What waits (429s, 5xx, a network drop, an earlier run's rows): keep sending
            # while that makes progress, as `outbox --send` does.
            window = send_window(s.settings) + s.settings.outbox.verify_after_s
            before = outbox.counts()["pending"] + 1
            while 0 < outbox.counts()["pending"] < before:
                before = outbox.counts()["pending"]
                await outbox.drain(window)
        await outbox.confirmations(outbox.confirm_after_s + send_window(s.settings))
        for row in [*to_apply, *earlier]:
            if row.change is None:
                continue
            try:
                recorded = await services.journal.get(row.change.id)
            except JournalError:
                recorded = None
            if recorded is not None:
                bulk.settle_change(row, recorded)
    return _finish(s, source, rows, dry_run=False)


def _report_checked(s: Session, rows: list[BulkRow], to_apply: list[BulkRow]) -> None:
    for row in rows:
        if row.outcome in (Outcome.REFUSED, Outcome.FAILED):
            s.out.error(f"Line {row.line}: {row.result}")
    skipped = sum(1 for r in rows if r.outcome is Outcome.SKIPPED)
    refused = sum(1 for r in rows if r.outcome in (Outcome.REFUSED, Outcome.FAILED))
    s.out.say(
        f"{count(len(rows), 'row')}: {len(to_apply)} to apply, {skipped} already done, "
        f"{refused} refused."
    )


def _finish(s: Session, source: Path, rows: list[BulkRow], *, dry_run: bool) -> int:
    target = results_path(source)
    _write_results(target, rows)
    counts = {o: 0 for o in Outcome}
    for row in rows:
        if row.outcome is not None:
            counts[row.outcome] += 1
    if s.out.json_mode:
        s.out.data(
            {
                "Results": str(target),
                "Counts": {o.value: n for o, n in counts.items() if n},
                "Rows": [
                    {
                        "Line": r.line,
                        **r.cells,
                        "Outcome": r.outcome.value if r.outcome else None,
                        "Why": r.why or None,
                    }
                    for r in rows
                ],
            }
        )
    words = ", ".join(f"{n} {o.value}" for o, n in counts.items() if n)
    s.out.say(f"{'Dry run, nothing changed: ' if dry_run else ''}{words}.")
    s.out.say(f"Each row's outcome: {target}")
    if counts[Outcome.QUEUED]:
        s.out.error(
            f"{count(counts[Outcome.QUEUED], 'change')} saved in the journal, not sent yet: "
            "`iiq-kiosk outbox --send` sends them (running this file again does too)."
        )
        return EXIT_NETWORK
    if counts[Outcome.FAILED]:
        return EXIT_API
    if counts[Outcome.REFUSED]:
        return EXIT_REFUSED
    return EXIT_OK


def _write_results(target: Path, rows: list[BulkRow]) -> None:
    """The results file, replaced whole (a half-written one never stays)."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(["line", *COLUMNS, "outcome"])
    for row in rows:
        cells = [clean_lines(row.cells.get(c, "")) for c in COLUMNS]
        writer.writerow([row.line, *(formula_safe(c) for c in cells), formula_safe(row.result)])
    try:
        write_atomically(target, text.getvalue(), encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise CommandError(f"Cannot write {target}: {exc.strerror or exc}") from None


ONLINE_VERBS: dict[str, OnlineVerb] = {"bulk": cmd_bulk}
LOCAL_VERBS: dict[str, LocalVerb] = {}
