"""Look up (F3): scan a device, see its card and recent history. Changes nothing, so the
same device may be scanned again at once."""

from __future__ import annotations

from kiosk.ui.flows.base import Flow


class LookupFlow(Flow):
    mode = "lookup"
    repeats_allowed = True

    def show_ready(self) -> None:
        self.screens.ready(
            "Scan a device to look it up",
            "Shows the device, who has it and what happened to it. Changes nothing.",
        )

    def on_scan(self, text: str) -> None:
        if self.device_tag_ok(text):
            self.runner.start(self._lookup(text))

    async def _lookup(self, text: str) -> None:
        with self.runner.working("looking up the device"):
            found = await self.find_device(text)
            if found is None:
                return
            asset, seen_at = found
            self.screens.card(asset, seen_at, names=self.names)
            self.screens.step(
                "Scan another device", "Type another asset tag, then Enter", lookup=True
            )
            items = await self.ctx.service.recent_activity(asset)
            self.screens.activity(items, names=self.names)
