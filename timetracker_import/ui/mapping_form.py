"""The Mapping page's form as mapping data and back.

The form has a column picker (and a unit or format) per 7pace field, a time zone and a
day/month order. Everything else a mapping can say (a work-item ``regex``, value ``map``s,
``lookup``s, skip rules, a note) rides along as the form's *base*: the mapping the form was
filled from, shown as YAML under "More settings" and kept when the form is sent, so copying a
preset into the form loses nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from timetracker_import import library as lib
from timetracker_import.errors import MappingError, UsageError

#: The 7pace fields of the form, in order, with their kind and a label.
FORM_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("user", "text", "User (e-mail, login or display name; empty = the token's own user)"),
    ("timestamp", "time", "Start date and time in one cell"),
    ("date", "time", "Date"),
    ("start", "time", "Start time"),
    ("end", "time", "End time"),
    ("length", "duration", "Length"),
    ("billable_length", "duration", "Billable length"),
    ("work_item", "text", "Work item id"),
    ("comment", "text", "Comment"),
    ("activity_type", "text", "Activity type"),
)
FIELD_NAMES = frozenset(name for name, _kind, _label in FORM_FIELDS)
UNITS = ("hours", "minutes", "seconds")
#: the keys of a field the form itself sets (the rest comes from the base)
_FORM_KEYS = ("column", "occurrence", "unit", "format")


@dataclass(frozen=True)
class MappingChoice:
    """The mapping the wizard uses: a shipped preset, a saved mapping, or mapping data."""

    preset: str | None = None
    data: dict[str, Any] | None = None
    saved: str | None = None  # the saved mapping's name
    based_on: str | None = None  # where data with added user aliases came from

    @property
    def label(self) -> str:
        if self.preset:
            return f"preset {self.preset}"
        if self.saved:
            return f"your saved mapping {self.saved}"
        if self.based_on:
            return f"{self.based_on} with your user aliases"
        return "the mapping made on the Mapping page"

    def kwargs(self) -> dict[str, Any]:
        """``mapping=`` / ``preset=`` for the library functions."""
        return {"preset": self.preset} if self.preset else {"mapping": self.as_data()}

    def as_data(self) -> dict[str, Any]:
        if self.preset:
            return lib.preset_mapping(self.preset)
        return copy.deepcopy(self.data or {})

    def yaml_text(self) -> str:
        """The mapping as a YAML file (what ``--mapping`` takes)."""
        head = "# Mapping made in the timetracker-import web app.\n"
        return head + yaml.safe_dump(self.as_data(), sort_keys=False, allow_unicode=True)


def named_choice(source: str) -> MappingChoice | None:
    """The mapping a ``preset:NAME`` or ``saved:NAME`` choice names (None for neither;
    UsageError for an unknown preset or saved mapping)."""
    if source.startswith("preset:"):
        name = source.removeprefix("preset:")
        if name not in {p.name for p in lib.presets()}:
            raise UsageError(f"unknown preset {name!r}", hint="choose one from the list")
        return MappingChoice(preset=name)
    if source.startswith("saved:"):
        name = source.removeprefix("saved:")
        return MappingChoice(data=lib.saved_mapping(name), saved=name)
    return None


def with_alias(choice: MappingChoice, value: str, target: str) -> MappingChoice:
    """The mapping with one more user alias: ``value`` in the file means user ``target``
    (a ``map`` entry on the user field; values not in the map pass unchanged)."""
    data = choice.as_data()
    user = (data.get("fields") or {}).get("user")
    if isinstance(user, str):
        user = {"column": user}
    if not isinstance(user, dict):
        raise UsageError(
            "the mapping reads no user column, so it has nothing to alias",
            hint="choose the user column on the Mapping page",
        )
    user["map"] = {**(user.get("map") or {}), value: target}
    data["fields"]["user"] = user
    lib.check_mapping(data)
    return MappingChoice(data=data, based_on=choice.label.removeprefix("your saved mapping "))


def header_column(headers: tuple[str, ...], position: int) -> dict[str, Any]:
    """``{column: header}`` (+ ``occurrence`` for a repeated header) for a position."""
    key = _norm(headers[position])
    before = sum(1 for h in headers[:position] if _norm(h) == key)
    return (
        {"column": headers[position], "occurrence": before + 1}
        if before
        else {"column": headers[position]}
    )


def _norm(text: str) -> str:
    return " ".join(str(text).split()).casefold()


def parse_base(text: str) -> dict[str, Any]:
    """The "More settings" YAML (empty: none); MappingError when it is not a mapping."""
    if not text.strip():
        return {}
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise MappingError(
            f"the settings under 'More settings' are not valid YAML{where}"
        ) from None
    if not isinstance(data, dict):
        raise MappingError("the settings under 'More settings' must be a mapping (key: value)")
    return data


def mapping_from_form(headers: tuple[str, ...], form: Mapping[str, str]) -> dict[str, Any]:
    """The mapping the form describes: its base (``form['base']``, YAML) with the fields,
    time zone and date order the form sets; MappingError naming the field when it is not a
    valid mapping."""
    base = parse_base(form.get("base") or "")
    data: dict[str, Any] = {k: v for k, v in base.items() if k not in ("fields",)}
    data.setdefault("version", 1)
    data.setdefault("header", True)
    base_fields = base.get("fields") if isinstance(base.get("fields"), dict) else {}
    fields: dict[str, Any] = {
        k: v for k, v in (base_fields or {}).items() if k not in FIELD_NAMES
    }  # fields the form has no row for (e.g. organization)
    for name, kind, _label in FORM_FIELDS:
        picked = (form.get(f"{name}.column") or "").strip()
        if not picked:
            continue
        if not picked.isdigit() or int(picked) >= len(headers):
            raise MappingError(f"{name}: pick one of the file's columns")
        old = (base_fields or {}).get(name)
        spec: dict[str, Any] = {}
        if isinstance(old, dict):
            spec = {k: v for k, v in old.items() if k not in _FORM_KEYS}
        spec = {**header_column(headers, int(picked)), **spec}
        if kind == "duration":
            unit = form.get(f"{name}.unit") or "hours"
            if unit not in UNITS:
                raise MappingError(f"{name}: the unit must be one of {', '.join(UNITS)}")
            spec["unit"] = unit
        if kind == "time" and (fmt := (form.get(f"{name}.format") or "").strip()):
            spec["format"] = fmt
        fields[name] = spec
    for key in ("timezone", "date_order"):
        value = (form.get(key) or "").strip()
        if value:
            data[key] = value
        else:
            data.pop(key, None)
    data["fields"] = fields
    lib.check_mapping(data)
    return data


def form_values(data: Mapping[str, Any], headers: tuple[str, ...]) -> dict[str, str]:
    """The form's values for mapping data (so any mapping can be edited as a form); the
    data itself becomes the base (``base``, YAML) so nothing the form lacks is lost."""
    out: dict[str, str] = {}
    fields = data.get("fields") if isinstance(data.get("fields"), dict) else {}
    for name, _kind, _label in FORM_FIELDS:
        spec = (fields or {}).get(name)
        if isinstance(spec, str):
            spec = {"column": spec}
        if not isinstance(spec, dict) or (pos := position_of(headers, spec)) is None:
            continue
        out[f"{name}.column"] = str(pos)
        for key in ("unit", "format"):
            if isinstance(spec.get(key), str):
                out[f"{name}.{key}"] = spec[key]
    for key in ("timezone", "date_order"):
        if isinstance(data.get(key), str):
            out[key] = data[key]
    out["base"] = base_text(data)
    return out


def base_text(data: Mapping[str, Any]) -> str:
    """The settings of ``data`` beyond what the form shows, as YAML (empty: none)."""
    rest: dict[str, Any] = {
        k: v for k, v in data.items() if k not in ("fields", "timezone", "date_order")
    }
    fields = data.get("fields") if isinstance(data.get("fields"), dict) else {}
    extra: dict[str, Any] = {}
    for name, spec in (fields or {}).items():
        if isinstance(spec, dict):
            keep = {k: v for k, v in spec.items() if k not in _FORM_KEYS or name not in FIELD_NAMES}
            if keep:
                extra[name] = keep
        elif name not in FIELD_NAMES:
            extra[name] = spec
    if extra:
        rest["fields"] = extra
    if set(rest) <= {"version", "header"} and rest.get("header", True) is True:
        return ""
    return yaml.safe_dump(rest, sort_keys=False, allow_unicode=True)


def position_of(headers: tuple[str, ...], spec: Mapping[str, Any] | None) -> int | None:
    """The header position a field's ``column`` names (None when unmapped or absent)."""
    if not spec or not isinstance(spec.get("column"), str):
        return None
    key = _norm(spec["column"])
    hits = [i for i, h in enumerate(headers) if _norm(h) == key]
    n = int(spec.get("occurrence") or 1)
    return hits[n - 1] if len(hits) >= n else None


def drafted_values(guesses: Mapping[str, str], headers: tuple[str, ...]) -> dict[str, str]:
    """Form values from the header guesses (lengths in hours)."""
    out: dict[str, str] = {}
    for name, header in guesses.items():
        if header in headers:
            out[f"{name}.column"] = str(headers.index(header))
            if name in ("length", "billable_length"):
                out[f"{name}.unit"] = "hours"
    return out
