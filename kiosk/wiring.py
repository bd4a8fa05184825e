"""Builds the services once (client, transactions, journal, outbox, change desk) for the
window, the command line, the tests and the screens tool, and closes them in order.

Nothing else constructs these pieces. `build_services` must run inside the asyncio loop
that will use them (the httpx client and the journal's worker belong to it).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from kiosk.config import Settings
from kiosk.core.changes import ChangeService
from kiosk.core.desk import ChangeDesk
from kiosk.core.journal import AsyncJournal
from kiosk.core.outbox import Outbox
from kiosk.core.transactions import TransactionService
from kiosk.iiq.client import IIQClient, RetryPolicy

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    client: IIQClient
    journal: AsyncJournal
    transactions: TransactionService
    outbox: Outbox
    desk: ChangeDesk
    #: False when the client belongs to the caller (the command line's session).
    owns_client: bool = True
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def start(self) -> None:
        """Start the background work of a long-running station: the watched sender, and
        the retention purge (off the path to the first window)."""
        self._spawn(self.outbox.serve(), "outbox-sender")
        self._spawn(self._purge(), "journal-purge")

    async def _purge(self) -> None:
        days = self.settings.journal.retention_days
        try:
            purged = await self.journal.purge_personal_data(timedelta(days=days))
        except Exception as exc:  # retention never stops a station
            log.warning("journal: personal data not purged this time (%s)", exc)
            return
        if purged:
            log.info("journal: personal data purged from %d old rows", purged)

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    async def aclose(self) -> None:
        """Stop the background work and the sends under way (they stay pending in the
        journal), then close the client and the journal."""
        tasks = [*self._tasks, *self.desk.shutdown()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.outbox.stop()
        try:
            if self.owns_client:
                await self.client.aclose()
        finally:
            await self.journal.aclose()


def build_client(
    settings: Settings, token: str | None, *, retry: RetryPolicy | None = None
) -> IIQClient:
    """The Incident IQ client on `settings` (call it inside the loop that will use it).
    Raises ConfigError when a setting is missing."""
    return IIQClient(
        settings.connection(token),
        retry=retry,
        transfer_api=settings.iiq.transfer_api,
        update_asset_with_user_location=settings.iiq.update_asset_with_user_location,
    )


def build_transactions(
    settings: Settings, client: IIQClient, *, confirm_pause_s: float = 0.5
) -> TransactionService:
    """Lookups, rules and plans for this station, on `client`."""
    return TransactionService(
        client,
        station=settings.station.name,
        checkin=settings.checkin_policy(),
        changes=ChangeService(client, confirm_pause_s=confirm_pause_s),
    )


async def build_services(
    settings: Settings,
    token: str | None,
    *,
    journal_path: Path | None = None,
    retry: RetryPolicy | None = None,
    outbox_options: dict[str, Any] | None = None,
    confirm_pause_s: float = 0.5,
    transactions: TransactionService | None = None,
) -> Services:
    """Everything a station needs, built on `settings`. Raises ConfigError (a setting
    missing) or JournalError (the journal cannot be opened, or is in use elsewhere).
    With `transactions`, its client is used (and left open by `aclose`)."""
    client_is_ours = transactions is None
    if transactions is None:
        settings.connection(token)  # a missing setting fails before the journal opens
    journal = await AsyncJournal.open(journal_path or settings.journal_path)
    if transactions is None:
        client = build_client(settings, token, retry=retry)
        transactions = build_transactions(settings, client, confirm_pause_s=confirm_pause_s)
    options: dict[str, Any] = {
        "min_interval_s": settings.journal.min_interval_s,
        "verify_after_s": settings.outbox.verify_after_s,
    }
    options.update(outbox_options or {})
    outbox = Outbox(journal, transactions.apply, confirm=transactions.changes.confirm, **options)
    await outbox.load()  # damaged rows are set aside, never a reason not to start
    desk = ChangeDesk(outbox, journal, undo_minutes=settings.station.undo_minutes)
    return Services(
        settings,
        transactions.client,
        journal,
        transactions,
        outbox,
        desk,
        owns_client=client_is_ours,
    )
