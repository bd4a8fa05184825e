"""What an operator may change in the settings dialog, declared once.

Each `SettingField` names one setting by its dotted key ("station.idle_seconds"), the kind
of value (which also picks the dialog's widget), its label, its help text and, for a
choice, the words for each choice. Its default, its allowed choices and its numeric bounds
come from the pydantic models in `kiosk.config` (and `kiosk.core.scan.ScanSettings`), never
repeated here. From this one table come:

* the settings dialog's widgets (`kiosk.ui.settings_dialog`),
* validation: `validate_changes` builds a candidate `Settings` with the changes and turns
  each pydantic error into a sentence for the field it is about,
* the writer: the changes, by dotted key, go to `kiosk.config.write_user_settings`.

A form value is what a widget holds (a bool, a number, the text of a line, the lines of a
list); `SettingField.parse` turns it into the setting's value and `SettingField.form`
back. No Qt here: this module is tested without a window.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel, ValidationError

from kiosk.config import Settings

__all__ = [
    "FIELDS",
    "GROUPS",
    "FieldError",
    "Kind",
    "SettingField",
    "candidate_settings",
    "changed_values",
    "field_for",
    "validate_changes",
]

#: bool: a check box; int / float: a spin box; text: a line edit; choice: a combo box;
#: rules: one "model: tag pattern" rule a line (the charger models).
Kind = Literal["bool", "int", "float", "text", "choice", "rules"]

#: The key under which `validate_changes` reports what belongs to no one field.
GENERAL = ""


class FieldError(ValueError):
    """A form value that cannot be a value of its setting; the message says why in words."""


@dataclass(frozen=True)
class SettingField:
    """One setting an operator may change. See the module for where the rest comes from."""

    key: str
    kind: Kind
    label: str
    help: str
    group: str
    #: Words for each choice, by value (None: "not set"); the values come from the model.
    choice_labels: Mapping[str | None, str] = field(default_factory=dict)
    #: Bounds where the model has none (the scanner's timing is a plain dataclass).
    minimum: float | None = None
    maximum: float | None = None
    decimals: int = 0
    unit: str = ""
    #: Shown in an empty line edit: what leaving it empty means.
    placeholder: str = ""

    @property
    def section(self) -> str | None:
        """The table ("station"), or None for a top-level setting ("accessories")."""
        section, _, name = self.key.partition(".")
        return section if name else None

    @property
    def name(self) -> str:
        return self.key.rpartition(".")[2]

    @property
    def default(self) -> Any:
        """The setting's default, from the model."""
        return _model_default(self.key)

    @property
    def choices(self) -> tuple[str | None, ...]:
        """The allowed values of a choice, from the model's `Literal` (None first when the
        setting may be unset)."""
        args = _flatten(_annotation(self.key))
        values = [a for a in args if a is None or isinstance(a, str)]
        return tuple(sorted(values, key=lambda v: v is not None))

    @property
    def bounds(self) -> tuple[float, float]:
        """The smallest and largest value a number may have (the model's, else the table's)."""
        low, high = _model_bounds(self.key)
        low = self.minimum if low is None else low
        high = self.maximum if high is None else high
        return (0.0 if low is None else low, 1_000_000.0 if high is None else high)

    @property
    def blank(self) -> str | None:
        """What an empty line means: unset (None) when the default is unset, else "" (a
        setting whose empty text means "none", like a cart pattern of "")."""
        return None if self.default is None else ""

    def current(self, settings: Settings) -> Any:
        """This setting's value in `settings`, as the model holds it."""
        value: Any = settings
        for part in self.key.split("."):
            value = getattr(value, part)
        if self.kind == "rules":
            return [{"model": rule.model, "tag_pattern": rule.tag_pattern} for rule in value or ()]
        return value

    def form(self, value: Any) -> Any:
        """The form value that shows `value`: text for a line, lines for rules."""
        if self.kind == "text":
            return "" if value is None else str(value)
        if self.kind == "rules":
            return "\n".join(f"{rule['model']}: {rule['tag_pattern']}" for rule in value or ())
        return value

    def parse(self, form: Any) -> Any:
        """The setting's value for a form value; a FieldError in words when it cannot be."""
        if self.kind == "bool":
            return bool(form)
        if self.kind == "int":
            return int(form)
        if self.kind == "float":
            return round(float(form), self.decimals)
        if self.kind == "choice":
            if form not in self.choices:
                raise FieldError(f"Choose one of the listed values for “{self.label}”.")
            return form
        if self.kind == "rules":
            return _parse_rules(str(form))
        text = str(form).strip()
        return text if text else self.blank


def _parse_rules(text: str) -> list[dict[str, str]]:
    rules: list[dict[str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        model, colon, pattern = line.partition(":")
        if not colon or not model.strip() or not pattern.strip():
            raise FieldError(
                f"Line {number}: write part of the model's name, a colon, then the pattern "
                "of its charger's tag, e.g. Chromebook: ^CHG-"
            )
        rules.append({"model": model.strip(), "tag_pattern": pattern.strip()})
    return rules


_MODES: dict[str | None, str] = {
    None: "Not locked: every mode",
    "checkout": "Check out (F1)",
    "checkin": "Check in (F2)",
    "lookup": "Look up (F3)",
    "batch": "Batch check-out (F4)",
    "line": "Distribution line (F5)",
}

#: The groups of the dialog, in order.
GROUPS: tuple[str, ...] = ("Station", "Check-in", "Repair tickets", "Scanner")

FIELDS: tuple[SettingField, ...] = (
    SettingField(
        "station.mode_lock",
        "choice",
        "Lock the station to one mode",
        "The station stays in this mode: its F-key for any other mode does nothing.",
        "Station",
        choice_labels=_MODES,
    ),
    SettingField(
        "station.idle_seconds",
        "float",
        "Back to Ready after",
        "After this long without a key or a scan, the screen goes back to Ready and every "
        "person's data is cleared from it, also from an open dialog.",
        "Station",
        maximum=3600,
        unit=" seconds",
    ),
    SettingField(
        "station.sound",
        "bool",
        "Sounds",
        "A sound for every success, warning and error (each has its own).",
        "Station",
    ),
    SettingField(
        "station.privacy",
        "bool",
        "Privacy",
        "On screen, people are shown by first name and last initial, with only the last 4 "
        "digits of their ID number.",
        "Station",
    ),
    SettingField(
        "checkin.status_name",
        "text",
        "Status after a good check-in",
        "The Incident IQ status a device gets when it comes back in good condition, by its "
        "name (e.g. Available). Empty: the status is left as it is.",
        "Check-in",
        placeholder="empty: status left as it is",
    ),
    SettingField(
        "checkin.repair_status_name",
        "text",
        "Status after a damaged or broken check-in",
        "The Incident IQ status of a device that comes back damaged or broken, by its name "
        "(e.g. In Repair). Empty: the status is left as it is.",
        "Check-in",
        placeholder="empty: status left as it is",
    ),
    SettingField(
        "checkin.location_id",
        "text",
        "Location of checked-in devices",
        "The Incident IQ id of the location where checked-in devices go (the storeroom). "
        "Empty: the location is left as it is.",
        "Check-in",
        placeholder="empty: location left as it is",
    ),
    SettingField(
        "checkin.location_room_id",
        "text",
        "Room in that location",
        "The Incident IQ id of the room in that location. Empty: no room.",
        "Check-in",
        placeholder="empty: no room",
    ),
    SettingField(
        "checkin.ask_charger",
        "bool",
        "Ask whether the charger came back",
        "The check-in checklist asks whether the charger was returned (key C).",
        "Check-in",
    ),
    SettingField(
        "accessories",
        "rules",
        "Devices that come with a charger",
        "One rule a line: part of the model's name, a colon, then a regular expression the "
        "charger's tag matches, e.g. Chromebook: ^CHG-. The kiosk then asks for the "
        "charger's scan too.",
        "Check-in",
    ),
    SettingField(
        "checkin.cart_pattern",
        "text",
        "Cart label pattern",
        "A regular expression a cart's label matches; scanning such a label in check-in "
        "starts a cart batch. Empty: this station has no carts.",
        "Check-in",
        placeholder="empty: no carts",
    ),
    SettingField(
        "tickets.issue_id",
        "text",
        "Repair ticket: issue",
        "The Incident IQ issue id of the repair ticket filed for a damaged or broken device. "
        "Without it, a damaged check-in is refused.",
        "Repair tickets",
        placeholder="empty: damaged check-ins refused",
    ),
    SettingField(
        "tickets.issue_category_id",
        "text",
        "Repair ticket: issue category",
        "The Incident IQ issue category id of the repair ticket (optional).",
        "Repair tickets",
    ),
    SettingField(
        "tickets.issue_type_id",
        "text",
        "Repair ticket: issue type",
        "The Incident IQ issue type id of the repair ticket (optional).",
        "Repair tickets",
    ),
    SettingField(
        "tickets.wizard_category_id",
        "text",
        "Repair ticket: wizard category",
        "The Incident IQ ticket wizard category id of the repair ticket (optional).",
        "Repair tickets",
    ),
    SettingField(
        "scanner.prefix",
        "text",
        "Prefix to remove",
        "Removed from the start of every scan when present, e.g. a symbology identifier "
        "such as ]C1 that some scanners send first.",
        "Scanner",
        placeholder="empty: none",
    ),
    SettingField(
        "scanner.suffix",
        "text",
        "Suffix to remove",
        "Removed from the end of every scan when present.",
        "Scanner",
        placeholder="empty: none",
    ),
    SettingField(
        "scanner.case",
        "choice",
        "Letter case of a scan",
        "Device tags are compared after this rule.",
        "Scanner",
        choice_labels={
            "upper": "Upper case (cb-4512 becomes CB-4512)",
            "lower": "Lower case",
            "keep": "Keep as scanned",
        },
    ),
    SettingField(
        "scanner.tag_pattern",
        "text",
        "Device tag pattern",
        "A regular expression every device tag or serial number matches (after the case "
        "rule); a scan that does not is refused at once, with no Incident IQ request.",
        "Scanner",
    ),
    SettingField(
        "scanner.burst_max_gap_ms",
        "float",
        "Largest gap between a scan's characters",
        "Characters closer together than this are one scan; a person types slower. Raise "
        "it when the test below shows a real scan as typing.",
        "Scanner",
        minimum=1,
        maximum=1000,
        unit=" ms",
    ),
    SettingField(
        "scanner.burst_min_length",
        "int",
        "Shortest scan",
        "A scan has at least this many characters.",
        "Scanner",
        minimum=1,
        maximum=100,
        unit=" characters",
    ),
    SettingField(
        "scanner.end_pause_ms",
        "float",
        "End of a scan without Enter",
        "A scan that ends without Enter or Tab ends after this pause (some scanners send "
        "no Enter). Not shorter than the largest gap above.",
        "Scanner",
        minimum=1,
        maximum=5000,
        unit=" ms",
    ),
    SettingField(
        "scanner.double_scan_seconds",
        "float",
        "Double scan window",
        "The same code scanned again within this long is a double scan and is ignored.",
        "Scanner",
        minimum=0,
        maximum=60,
        decimals=1,
        unit=" seconds",
    ),
)


def field_for(key: str) -> SettingField:
    """The table's entry for a dotted key; KeyError when an operator may not change it."""
    for entry in FIELDS:
        if entry.key == key:
            return entry
    raise KeyError(key)


def changed_values(
    settings: Settings, parsed: Mapping[str, Any], fields: Sequence[SettingField] = FIELDS
) -> dict[str, Any]:
    """The parsed values that differ from `settings` (compared as a form shows them, so an
    unset cart pattern and an empty one are the same)."""
    changes: dict[str, Any] = {}
    for entry in fields:
        if entry.key not in parsed:
            continue
        now = entry.parse(entry.form(entry.current(settings)))
        if parsed[entry.key] != now:
            changes[entry.key] = parsed[entry.key]
    return changes


def candidate_settings(settings: Settings, changes: Mapping[str, Any]) -> Settings:
    """`settings` with `changes` (dotted key -> value) applied, validated by the models:
    raises pydantic's ValidationError (`validate_changes` puts it in words)."""
    data = settings.model_dump(exclude={"origins", "locked", "ignored_locked"})
    for key, value in changes.items():
        section, _, name = key.partition(".")
        if name:
            data.setdefault(section, {})[name] = value
        else:
            data[section] = value
    return Settings.model_validate(data)


def validate_changes(
    settings: Settings, changes: Mapping[str, Any], fields: Sequence[SettingField] = FIELDS
) -> dict[str, str]:
    """Each problem with `changes`, as a sentence by the dotted key of the field it is
    about ("" for one that belongs to no field); empty when the changes are good."""
    try:
        candidate_settings(settings, changes)
    except ValidationError as exc:
        return _messages(exc, fields)
    return {}


def _messages(exc: ValidationError, fields: Sequence[SettingField]) -> dict[str, str]:
    by_key = {entry.key: entry for entry in fields}
    messages: dict[str, str] = {}
    for error in exc.errors():
        loc = error["loc"]
        where = ".".join(str(part) for part in loc)
        text = error["msg"].removeprefix("Value error, ")
        key = _field_of(where, text, fields)
        entry = by_key.get(key) if key is not None else None
        if entry is None:
            key, text = GENERAL, f"{where}: {text}" if where else text
        elif entry.section is not None:
            text = _with_labels(text, entry.section, fields)
        elif entry.kind == "rules" and len(loc) > 1 and isinstance(loc[1], int):
            text = f"Line {loc[1] + 1}: " + text.replace(f"[[{entry.key}]] ", "")
        messages.setdefault(key or GENERAL, _plain(text))
    return messages


def _field_of(where: str, text: str, fields: Sequence[SettingField]) -> str | None:
    """The field an error is about: its own key, the key above its place ("accessories.0
    .tag_pattern"), or for a whole table's error the first field of that table named in
    the message ("end_pause_ms must not be shorter than burst_max_gap_ms")."""
    for entry in fields:
        if where == entry.key or where.startswith(entry.key + "."):
            return entry.key
    named = [
        (match.start(), entry.key)
        for entry in fields
        if entry.section == where
        and (match := re.search(rf"\b{re.escape(entry.name)}\b", text)) is not None
    ]
    return min(named)[1] if named else None


def _with_labels(text: str, section: str, fields: Sequence[SettingField]) -> str:
    """A model's message with setting names replaced by the labels the operator sees."""
    for entry in fields:
        if entry.section == section:
            text = re.sub(
                rf"(\[{section}\] )?\b{re.escape(entry.name)}\b", f"“{entry.label}”", text
            )
    return text


_PYDANTIC_WORDS: tuple[tuple[str, str], ...] = (
    (r"^Input should be greater than or equal to (\S+)$", r"Must be \1 or more"),
    (r"^Input should be less than or equal to (\S+)$", r"Must be \1 or less"),
    (r"^Input should be greater than (\S+)$", r"Must be more than \1"),
    (r"^Input should be less than (\S+)$", r"Must be less than \1"),
    (r"^Input should be ", "Must be "),
    (r"^Value error, ", ""),
    (r"^Field required$", "Needed"),
)


def _plain(message: str) -> str:
    """A pydantic message as a plain sentence."""
    for pattern, words in _PYDANTIC_WORDS:
        message = re.sub(pattern, words, message)
    message = message[:1].upper() + message[1:]
    return message if message.endswith((".", "?", "!")) else message + "."


# --- what the models say ------------------------------------------------------------------


def _owner(key: str) -> tuple[type, str]:
    """The model (or dataclass) that holds a dotted setting, and the setting's name there."""
    section, _, name = key.partition(".")
    if not name:
        return Settings, section
    kind = Settings.model_fields[section].annotation
    if not isinstance(kind, type):
        raise KeyError(key)
    return kind, name


def _model_default(key: str) -> Any:
    owner, name = _owner(key)
    if issubclass(owner, BaseModel):
        return owner.model_fields[name].get_default(call_default_factory=True)
    for entry in dataclasses.fields(owner):  # type: ignore[arg-type]
        if entry.name == name:
            if entry.default is not dataclasses.MISSING:
                return entry.default
            if entry.default_factory is not dataclasses.MISSING:
                return entry.default_factory()
    raise KeyError(key)


def _annotation(key: str) -> Any:
    owner, name = _owner(key)
    if issubclass(owner, BaseModel):
        return owner.model_fields[name].annotation
    return typing.get_type_hints(owner)[name]


def _flatten(annotation: Any) -> tuple[Any, ...]:
    """The values a Literal (or an optional Literal) allows; None for NoneType."""
    if annotation is type(None):
        return (None,)
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return tuple(v for arg in typing.get_args(annotation) for v in _flatten(arg))
    return ()


def _model_bounds(key: str) -> tuple[float | None, float | None]:
    owner, name = _owner(key)
    if not issubclass(owner, BaseModel):
        return None, None
    low: float | None = None
    high: float | None = None
    for item in owner.model_fields[name].metadata:
        if isinstance(item, annotated_types.Ge):
            low = float(item.ge)  # type: ignore[arg-type]
        elif isinstance(item, annotated_types.Gt):
            low = float(item.gt) + 10.0**-6  # type: ignore[arg-type]
        elif isinstance(item, annotated_types.Le):
            high = float(item.le)  # type: ignore[arg-type]
        elif isinstance(item, annotated_types.Lt):
            high = float(item.lt) - 10.0**-6  # type: ignore[arg-type]
    return low, high
