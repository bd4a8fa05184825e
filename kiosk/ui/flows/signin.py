"""Sign-in at the start of a shift (`[station] require_operator = true`).

While nobody is signed in, the shell hands every scan and typed entry to this flow instead
of the mode's. A scan that matches `[operators] badge_pattern` is a staff badge: it is looked
up as an ID card is (an exact school ID number, email or username). Typed text + Enter is a
name: the staff members who fit are listed to pick from (an exact identifier picks at once).
Whoever is found is checked by the one rule, `kiosk.core.operators.check_operator`; every
refusal says why in its own words. On success the shell is told (`on_signed_in`) and takes
over: the strip, the operator on every change, the mode's first screen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from kiosk.core.operators import Operator, check_operator, is_badge, role_of
from kiosk.core.text import clean_text
from kiosk.iiq.models import Person
from kiosk.ui import feedback
from kiosk.ui.dialogs import PickerDialog
from kiosk.ui.flows.base import Flow, FlowContext
from kiosk.ui.views import shown

log = logging.getLogger(__name__)

HEADING = "Staff: scan your badge, or type your name"
PLACEHOLDER = "Your name, email or username, then Enter"
TRY_AGAIN = "Scan a staff badge, or type your name and press Enter."


class SignInFlow(Flow):
    mode = "signin"
    #: Scanning one's badge twice is harmless (and after a refusal it must work again).
    repeats_allowed = True

    def __init__(
        self,
        ctx: FlowContext,
        *,
        badge_pattern: str,
        on_signed_in: Callable[[Operator], None],
    ) -> None:
        super().__init__(ctx)
        self.badge_pattern = badge_pattern
        self._on_signed_in = on_signed_in

    def show_ready(self) -> None:
        how = (
            "Scan your staff badge, or type your name, email or username and press Enter."
            if self.badge_pattern
            else "Type your name, email or username and press Enter."
        )
        self.screens.panel(
            HEADING,
            f"{how} The kiosk records who hands out and takes back each device.",
            placeholder=PLACEHOLDER,
        )

    # --- input -----------------------------------------------------------------------

    def on_scan(self, text: str) -> None:
        if is_badge(text, self.badge_pattern):
            self.runner.start(self._badge(text))
            return
        log.info("sign-in: a scan that is not a staff badge (%d characters)", len(text))
        if self.badge_pattern:
            said = feedback.warning(
                "Not a staff badge",
                f"“{shown(text)}” is not a staff badge. Sign in first, then scan devices.",
                TRY_AGAIN,
            )
        else:
            said = feedback.warning(
                "Badges are not used here",
                "This station signs staff in by name, not by badge.",
                "Type your name, email or username and press Enter.",
            )
        self.show(said)

    def on_entry(self, raw: str) -> None:
        text = clean_text(raw).strip()
        if text:
            self.runner.start(self._by_name(text))
        else:
            self.screens.toast(TRY_AGAIN)
            self.screens.panel_focus()

    # --- steps -----------------------------------------------------------------------

    async def _badge(self, text: str) -> None:
        with self.runner.working("looking up the badge"):
            match = await self.ctx.service.find_person(text)
            self.ctx.set_online(match.seen_at is None)
            if match.exact is not None:
                self._check(match.exact)
            elif match.ambiguous_exact:
                log.info("sign-in: a badge that %d people share", len(match.candidates))
                self.show(
                    feedback.error(
                        "Badge on more than one person",
                        f"More than one person in Incident IQ has the badge “{shown(text)}”.",
                        "Type your name and press Enter, and ask IT to fix the badge numbers.",
                    )
                )
            else:
                log.info("sign-in: a badge nobody has (%d characters)", len(text))
                self.show(
                    feedback.error(
                        "Badge not found",
                        f"No one in Incident IQ has the badge “{shown(text)}”.",
                        "Type your name and press Enter, or ask IT to add the badge number "
                        "to your account.",
                    )
                )

    async def _by_name(self, text: str) -> None:
        with self.runner.working("looking up the name"):
            match = await self.ctx.service.find_person(text)
            self.ctx.set_online(match.seen_at is None)
            if match.exact is not None:
                self._check(match.exact)
                return
            staff = [p for p in match.candidates if check_operator(p).allowed]
            if not staff:
                log.info("sign-in: no staff among %d people found", len(match.candidates))
                self.show(
                    feedback.error(
                        "No staff member found",
                        f"No staff member in Incident IQ matches “{shown(text)}”. Only "
                        "faculty, staff and agents can sign in.",
                        "Try your last name or your email, or scan your staff badge.",
                    )
                )
                return
            self.runner.busy(False)
            dialog = PickerDialog(
                self.screens.window,
                f"Who is signing in? Staff who fit “{shown(text)}”:",
                staff,
                [self._row(person) for person in staff],
                title="Sign in",
                guard_ms=self.ctx.options.guard_ms,
            )
            if await self.screens.ask(dialog) and (person := dialog.chosen()) is not None:
                self._check(person)
            else:
                self.screens.toast("Nobody was signed in.")
                self.screens.panel_focus()

    def _check(self, person: Person) -> None:
        """The rule decides; the shell signs the operator in."""
        check = check_operator(person)
        if check.operator is None:
            reason = check.refusal.value if check.refusal else "unknown"
            log.info("sign-in refused (%s): user %s", reason, person.user_id)
            self.show(feedback.error(check.title, check.message, TRY_AGAIN))
            return
        self._on_signed_in(check.operator)

    def _row(self, person: Person) -> str:
        """A line of the pick list: the name, the role and the school or office (no ID
        number: the list is read by whoever typed the name)."""
        parts = [shown(self.names.person_name(person))]
        role = person.role_label or (role_of(person) or "").capitalize()
        if role:
            parts.append(shown(role, 24))
        if person.location_name:
            parts.append(shown(person.location_name, 60))
        return ", ".join(parts)
