"""The mapping model (pydantic) and ``apply_mapping``: a raw chunk -> the canonical frame.

``core`` gets plain data: the mapping is validated from a dict, lookup tables arrive as dicts
(``files/mapping_loader.py`` reads YAML and CSV). Everything here is vectorised over a chunk;
Python loops only touch rows that already failed.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from timetracker_import.core import durations, timestamps
from timetracker_import.core.durations import is_text
from timetracker_import.core.rejections import Rejection, merge_rejections
from timetracker_import.errors import MappingError

Scalar = str | int | float | bool

CANONICAL_COLUMNS = [
    "user",
    "timestamp",
    "length_seconds",
    "billable_seconds",
    "work_item_id",
    "comment",
    "activity_type",
    "organization",
]
TEXT_FIELDS = ("user", "comment", "activity_type", "organization", "work_item")
TIME_FIELDS = ("timestamp", "date", "start", "end", "end_date")
DURATION_FIELDS = ("length", "billable_length")
#: ``user: {..., default: me}``: an empty user cell means the token's own user
ME = "me"
#: texts a ``billable`` column may hold (case-insensitive); ``map`` turns others into these
BILLABLE_YES = frozenset({"yes", "y", "true", "1", "x", "billable"})
BILLABLE_NO = frozenset({"no", "n", "false", "0", "non-billable", "not billable"})
_LETTERS = re.compile(r"^[A-Z]{1,3}$")


def _path_error(path: str, message: str) -> PydanticCustomError:
    """An error whose key path is carried in ``ctx['path']`` (model validators have none)."""
    return PydanticCustomError("mapping", "{path}: {message}", {"path": path, "message": message})


class _FieldBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    column: str | None = Field(None, description="Header text (case/space-insensitive) or letter")
    occurrence: int = Field(1, ge=1, description="Which of several same-named headers (1 = first)")
    value: Scalar | None = Field(None, description="A constant for every row")
    default: Scalar | None = Field(None, description="Used when the cell is empty")
    map: dict[str, Scalar] | None = Field(None, description="Value map, case-insensitive keys")
    regex: str | None = Field(None, description="Extract the first group (or the whole match)")
    lookup: str | None = Field(None, description="Name of an entry under `lookups`")
    optional: bool = Field(
        False, description="The column may be absent: the field is then unmapped"
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        # `user: UserName` is short for `user: {column: UserName}`.
        return {"column": data} if isinstance(data, str) else data

    @field_validator("regex")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                compiled = re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
            if compiled.groups > 1:
                raise ValueError("use at most one capture group (the value to keep)")
        return value

    @model_validator(mode="after")
    def _column_or_value(self) -> _FieldBase:
        if (self.column is None) == (self.value is None):
            raise ValueError("give exactly one of `column` or `value`")
        return self


class TextField(_FieldBase):
    """A text field (user, comment, activity type, organization, work item)."""

    join: list[str] | None = Field(
        None,
        description="Further columns whose text is appended with `separator`, before regex/"
        "map/lookup (e.g. First Name + Last Name)",
    )
    separator: str = Field(" ", description="Put between the `join`ed parts (empty parts left out)")
    fallback: TextField | None = Field(
        None,
        description="Where the value comes from when this field gives nothing for a row (an "
        "empty cell, or an optional column the file lacks): another field spec, e.g. "
        "`{column: Project, join: [Task], separator: ' / '}` for rows without notes",
    )

    def chain(self) -> list[TextField]:
        """This spec and its fallbacks, in the order they are tried."""
        out: list[TextField] = []
        spec: TextField | None = self
        while spec is not None:
            out.append(spec)
            spec = spec.fallback
        return out


class TimeField(_FieldBase):
    """A date, time or date-time field."""

    format: str | list[str] | None = Field(
        None, description="strptime format(s), e.g. '%d.%m.%Y %H:%M'; tried in order"
    )

    def formats(self) -> list[str] | None:
        if self.format is None:
            return None
        return [self.format] if isinstance(self.format, str) else list(self.format)


class DurationField(_FieldBase):
    """A duration field (length, billable length)."""

    unit: Literal["hours", "minutes", "seconds"] = Field(
        "hours", description="Unit of plain numbers; 1:30, 1h30m, PT1H30M always say their unit"
    )


class FlagField(_FieldBase):
    """A yes/no field: ``billable`` (Yes/No, true/false, 1/0, x; ``map`` turns other texts
    into these). Yes: billable for the whole length; no: billable length 0; empty: not
    given (unless ``default``)."""


class Fields(BaseModel):
    """Canonical field -> where its value comes from."""

    model_config = ConfigDict(extra="forbid")

    user: TextField | None = None
    timestamp: TimeField | None = None
    date: TimeField | None = None
    start: TimeField | None = None
    end: TimeField | None = None
    end_date: TimeField | None = None
    length: DurationField | None = None
    billable_length: DurationField | None = None
    billable: FlagField | None = None
    work_item: TextField | None = None
    comment: TextField | None = None
    activity_type: TextField | None = None
    organization: TextField | None = None

    @model_validator(mode="after")
    def _timestamp_alternatives(self) -> Fields:
        if self.timestamp is not None:
            for name in ("date", "start", "end"):
                # An optional timestamp column may have date/start as the fallback.
                if getattr(self, name) is not None and not self.timestamp.optional:
                    raise _path_error(
                        f"fields.{name}", "give either `timestamp` or date/start/end, not both"
                    )
        elif self.date is None and self.start is None:
            raise _path_error(
                "fields.timestamp",
                "required: give `timestamp`, or `date` (+ `start`), or `start` + `end`",
            )
        if self.end is not None and self.start is None:
            raise _path_error("fields.start", "required when `end` is given")
        if self.length is None and self.end is None:
            raise _path_error("fields.length", "required (or give `start` + `end`)")
        if self.length is not None and self.end is not None:
            raise _path_error("fields.end", "give either `length` or `end`, not both")
        if self.start is not None and self.date is None and self.end is None:
            raise _path_error("fields.date", "required with `start` (or give `timestamp`)")
        if self.end_date is not None and (self.date is None or self.end is None):
            raise _path_error(
                "fields.end_date", "goes with `date` + `start` + `end` (times of day)"
            )
        if self.billable is not None and self.billable_length is not None:
            raise _path_error(
                "fields.billable", "give either `billable` (yes/no) or `billable_length`, not both"
            )
        return self


class Lookup(BaseModel):
    """A CSV file of alias -> value, relative to the mapping file.

    Not required (the default): a missing file, or a value it has no entry for, does not
    reject the row. A user (or activity type, organization) keeps the value as written, for
    the server to resolve; a work item is left empty and its key is put in front of the
    comment (``[WEB-101] Homepage hero layout``). ``required: true`` rejects such rows."""

    model_config = ConfigDict(extra="forbid")

    file: str
    key: str = Field(description="Header of the alias column")
    value: str = Field(description="Header of the value column")
    required: bool = Field(
        False,
        description="true: a value without an entry (or a missing file) rejects the row; "
        "false: it passes on (users to server resolution; a work item key into the comment)",
    )


class Rounding(BaseModel):
    """How durations are rounded to whole seconds or coarser steps."""

    model_config = ConfigDict(extra="forbid")

    unit: Literal[
        "exact",
        "second",
        "minute",
        "five_minutes",
        "six_minutes",
        "ten_minutes",
        "quarter_hour",
        "half_hour",
        "hour",
    ] = "exact"
    mode: Literal["nearest", "up", "down"] = "nearest"


class RowFilter(BaseModel):
    """Skip rows whose cell in ``column`` equals (case-insensitively) one of the given texts,
    or rows whose cells in all the ``empty`` columns are empty (e.g. a totals row)."""

    model_config = ConfigDict(extra="forbid")

    column: str | None = None
    occurrence: int = Field(1, ge=1)
    equals: str | list[str] | None = None
    empty: list[str] | None = Field(
        None, description="Skip a row when every one of these columns is empty"
    )
    optional: bool = Field(False, description="The column may be absent: the filter is unused")

    @model_validator(mode="after")
    def _one_form(self) -> RowFilter:
        if self.empty is not None:
            if self.column is not None or self.equals is not None:
                raise ValueError("give either `empty` or `column` + `equals`, not both")
            if not self.empty:
                raise ValueError("`empty` needs at least one column")
        elif self.column is None or self.equals is None:
            raise ValueError("give `column` + `equals`, or `empty: [columns]`")
        return self

    def values(self) -> list[str]:
        items = [self.equals] if isinstance(self.equals, str) else (self.equals or [])
        return [v.strip().casefold() for v in items]

    def columns(self) -> list[str]:
        """Every column the filter reads."""
        return list(self.empty) if self.empty is not None else [str(self.column)]


class Mapping(BaseModel):
    """A mapping file: how the columns of an input table become 7pace worklogs."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    description: str | None = Field(None, description="One line shown by `mapping presets`")
    note: str | None = Field(
        None,
        description="What the source cannot tell (e.g. no date per entry); printed by "
        "`mapping init` and `validate`",
    )
    header: bool = Field(True, description="false: no header row, columns named by letter")
    timezone: str | None = Field(None, description="IANA zone for times without an offset")
    date_order: Literal["MDY", "DMY", "YMD"] | None = None
    dst_ambiguous: Literal["reject", "earlier", "later"] = "reject"
    max_hours: float = Field(
        24,
        gt=0,
        description="Longer worklogs are rejected (`convert split-days` makes one per day)",
    )
    end_before_start: Literal["reject", "next_day"] = Field(
        "reject",
        description="date + start + end as times of day, without `end_date`: an end before "
        "the start is rejected, or (`next_day`) read as the next day's time (night shifts)",
    )
    rounding: Rounding = Field(default_factory=Rounding)
    fields: Fields
    lookups: dict[str, Lookup] = Field(default_factory=dict)
    skip_rows: list[RowFilter] = Field(default_factory=list)
    key: list[str] | None = Field(
        None,
        description="Source column(s) whose values identify an entry (an entry id), for `sync`;"
        " without it sync identifies a row by its slot (user + start + work item)",
    )
    source: str | None = Field(
        None,
        description="`sync`: the name of this feed (a source owns the worklogs it wrote); "
        "default: the input file's name",
    )
    window: str | None = Field(
        None,
        description="`sync`: the period the source is about (FROM..TO, last:14d, "
        "week:previous, month:previous, ...); rows outside it are rejected and deletes "
        "never leave it",
    )

    on_duplicate: Literal["skip", "allow", "fail"] | None = Field(
        None,
        description="A row identical in every field to an earlier row of the file: `skip` it "
        "(the default), `allow` it (two equal entries are real work, e.g. in a date-only "
        "export), or `fail` (reject the copy); --on-duplicate beats it",
    )

    on_duplicate_key: Literal["reject", "last"] | None = Field(
        None,
        description="Rows sharing a `key` in import and sync: `reject` them all, or `last`: "
        "the later row is a correction that replaces the earlier ones (those are skipped)",
    )

    @field_validator("key", mode="before")
    @classmethod
    def _one_key(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("key")
    @classmethod
    def _key_not_empty(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and (not value or not all(str(c).strip() for c in value)):
            raise ValueError("`key` needs at least one column name")
        return value

    @field_validator("skip_rows", mode="before")
    @classmethod
    def _one_filter(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value

    @field_validator("timezone")
    @classmethod
    def _iana(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                zoneinfo.ZoneInfo(value)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    f"unknown time zone {value!r}; use an IANA name such as Europe/Berlin"
                ) from None
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> Mapping:
        if self.on_duplicate_key is not None and not self.key:
            raise _path_error("on_duplicate_key", "needs `key` (the column(s) with the entry id)")
        for name, spec in self.all_specs():
            if spec.lookup is not None and spec.lookup not in self.lookups:
                known = ", ".join(sorted(self.lookups)) or "none defined"
                raise _path_error(
                    f"fields.{name}.lookup", f"no lookup named {spec.lookup!r} ({known})"
                )
            if not self.header and spec.column is not None and not _LETTERS.match(spec.column):
                raise _path_error(
                    f"fields.{name}.column",
                    f"{spec.column!r} is not a column letter (header: false needs A, B, ...)",
                )
        for i, flt in enumerate(self.skip_rows):
            if not self.header and not all(_LETTERS.match(c) for c in flt.columns()):
                raise _path_error(f"skip_rows.{i}.column", "header: false needs a column letter")
        for name, spec in self.all_specs():
            joined = getattr(spec, "join", None) or []
            if not self.header and not all(_LETTERS.match(c) for c in joined):
                raise _path_error(f"fields.{name}.join", "header: false needs column letters")
            if joined and spec.column is None:
                raise _path_error(f"fields.{name}.join", "`join` needs `column`")
        return self

    def field_specs(self) -> dict[str, _FieldBase]:
        """The fields given, by canonical name."""
        return {
            name: spec
            for name in Fields.model_fields
            if (spec := getattr(self.fields, name)) is not None
        }

    def all_specs(self) -> list[tuple[str, _FieldBase]]:
        """Every field spec with its fallbacks, as (key path below ``fields``, spec)."""
        out: list[tuple[str, _FieldBase]] = []
        for name, spec in self.field_specs().items():
            out.append((name, spec))
            if isinstance(spec, TextField):
                out += [(f"{name}.fallback", fb) for fb in spec.chain()[1:]]
        return out

    def used_lookups(self) -> Mapping:
        """This mapping without the lookups no field refers to (e.g. after
        ``effective_mapping`` dropped the optional column that used one)."""
        used = {spec.lookup for _, spec in self.all_specs() if spec.lookup is not None}
        return self.model_copy(
            update={"lookups": {k: v for k, v in self.lookups.items() if k in used}}
        )

    def books_blank_user_to_me(self) -> bool:
        """True when an empty user means the token's own user: ``default: me`` on the user
        field, or no user field at all (every row is the token's own)."""
        user = self.fields.user
        return user is None or str(user.default or "").strip().casefold() == ME


def mapping_json_schema() -> dict[str, Any]:
    """JSON Schema of the mapping file format (for editors)."""
    schema = Mapping.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "timetracker-import mapping"
    return schema


# --------------------------------------------------------------------------- columns


def normalise_header(text: str) -> str:
    """Header matching key: BOM stripped, whitespace collapsed, case-folded."""
    return " ".join(str(text).replace("\ufeff", "").split()).casefold()


def find_column(
    headers: list[str], column: str, occurrence: int, *, has_header: bool, key_path: str
) -> int:
    """Position of a mapped column; MappingError (with the headers found) when absent."""
    if not has_header:
        letters = [h.upper() for h in headers]
        if column.upper() in letters:
            return letters.index(column.upper())
        raise MappingError(
            f"column {column} does not exist (the file has columns {letters[0]}..{letters[-1]})"
            if letters
            else f"column {column} does not exist (the file has no columns)",
            key_path=key_path,
        )
    wanted = normalise_header(column)
    hits = [i for i, h in enumerate(headers) if normalise_header(h) == wanted]
    if len(hits) >= occurrence:
        return hits[occurrence - 1]
    found = ", ".join(repr(h) for h in headers)
    what = f"column {column!r}" + (f" (occurrence {occurrence})" if occurrence > 1 else "")
    raise MappingError(
        f"{what} not found in the file; its headers are: {found}",
        key_path=key_path,
        hint="fix the header name in the mapping (case and spaces do not matter)",
    )


def effective_mapping(mapping: Mapping, headers: list[str], has_header: bool) -> Mapping:
    """The mapping for this file: optional fields whose column is absent are dropped (or
    replaced by their first ``fallback`` the file has), and an optional ``timestamp`` that
    is present wins over date/start/end. MappingError when what is left cannot give a
    timestamp and a length."""

    def present(name: str, spec: _FieldBase) -> bool:
        if not spec.optional or spec.column is None:
            return True
        try:
            find_column(
                headers,
                spec.column,
                spec.occurrence,
                has_header=has_header,
                key_path=f"fields.{name}.column",
            )
        except MappingError:
            return False
        return True

    dropped: dict[str, None] = {}
    replaced: dict[str, dict[str, Any]] = {}
    for name, spec in mapping.field_specs().items():
        if present(name, spec):
            continue
        dropped[name] = None
        if isinstance(spec, TextField):
            there = next((fb for fb in spec.chain()[1:] if present(name, fb)), None)
            if there is not None:
                replaced[name] = there.model_dump(exclude_none=True)
    fields = mapping.fields
    if fields.timestamp is not None and "timestamp" not in dropped:
        dropped.update(
            {n: None for n in ("date", "start", "end", "end_date") if getattr(fields, n)}
        )
    if not dropped:
        return mapping
    data = fields.model_dump(exclude_none=True)
    for name in dropped:
        data.pop(name, None)
    data.update(replaced)
    try:
        new_fields = Fields.model_validate(data)
    except ValueError:
        when = ("timestamp", "date", "start", "end", "end_date", "length")
        absent = [
            f"{s.column!r} (fields.{n})"
            for n, s in mapping.field_specs().items()
            if n in dropped and n in when and s.column
        ]
        lacks = [
            what
            for what, names in (
                ("start time", ("timestamp", "date", "start")),
                ("length", ("length", "end")),
            )
            if not any(n in data for n in names)
        ]
        raise MappingError(
            f"the file has no column for the {' or the '.join(lacks) or 'start time'}: the "
            f"mapping looks for {', '.join(absent)}, which the file lacks; its headers are: "
            + ", ".join(headers),
            key_path="fields",
            hint="fix the column names in the mapping"
            + (
                "; for a file without dates give --date YYYY-MM-DD" if "start time" in lacks else ""
            ),
        ) from None
    return mapping.model_copy(update={"fields": new_fields})


def resolve_columns(mapping: Mapping, headers: list[str], has_header: bool) -> dict[str, int]:
    """Canonical field name -> column position, for every field read from a column (after
    ``effective_mapping``)."""
    mapping = effective_mapping(mapping, headers, has_header)
    resolved: dict[str, int] = {}
    for name, spec in mapping.field_specs().items():
        if spec.column is not None:
            resolved[name] = find_column(
                headers,
                spec.column,
                spec.occurrence,
                has_header=has_header,
                key_path=f"fields.{name}.column",
            )
    return resolved


# --------------------------------------------------------------------------- apply

#: What happened to a value a lookup had no entry for (lookup not ``required``).
PASSED_ON = "passed on"  # kept as written: the server resolves it (users by email/name)
KEY_IN_COMMENT = "key in comment"  # work item left empty, the key put before the comment


MISS_ROWS_KEPT = 10  # rows named per value (the count covers them all)


@dataclass
class LookupMiss:
    """One distinct value a lookup had no entry for: how many rows have it and the first
    ``MISS_ROWS_KEPT`` of them."""

    field: str
    lookup: str
    value: str
    outcome: str  # PASSED_ON or KEY_IN_COMMENT
    rows: list[int]
    count: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``validate --json``'s ``lookup_misses`` items)."""
        return {
            "field": self.field,
            "lookup": self.lookup,
            "value": self.value,
            "outcome": self.outcome,
            "rows": self.count,
            "first_rows": self.rows[:MISS_ROWS_KEPT],
        }


@dataclass
class LookupMisses:
    """Collects lookup misses over the chunks of one file: (field, value) -> rows."""

    items: dict[tuple[str, str], LookupMiss] = dc_field(default_factory=dict)

    def add(self, field: str, lookup: str, outcome: str, keys: pd.Series) -> None:
        """Record the non-empty ``keys`` (index = source_row) as misses of ``lookup``."""
        keys = keys.dropna()
        if keys.empty:
            return
        for value, rows in keys.groupby(keys, sort=False).groups.items():
            item = self.items.setdefault(
                (field, str(value)), LookupMiss(field, lookup, str(value), outcome, [])
            )
            item.count += len(rows)
            room = MISS_ROWS_KEPT - len(item.rows)
            if room > 0:
                item.rows.extend(sorted(int(r) for r in rows[:room]))

    def in_order(self) -> list[LookupMiss]:
        """By field, then by first row."""
        return sorted(self.items.values(), key=lambda m: (m.field, m.rows[0]))


class _Problems:
    """Collects map-stage rejections as (row index -> first reason) plus column and value."""

    def __init__(self, chunk: pd.DataFrame, headers: list[str]) -> None:
        self.chunk = chunk
        self.headers = headers
        self.items: list[Rejection] = []
        self.bad = pd.Series(False, index=chunk.index)

    def add(self, mask: pd.Series, reason: pd.Series | str, position: int | None) -> None:
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return
        if not mask.index.equals(self.bad.index):  # a part of the chunk (a fallback's rows)
            mask = mask.reindex(self.bad.index, fill_value=False)
        self.bad |= mask
        header = self.headers[position] if position is not None else None
        rows = mask[mask].index
        for row in rows:
            value = self.chunk.at[row, position] if position is not None else None
            text = reason if isinstance(reason, str) else str(reason[row])
            self.items.append(
                Rejection(
                    int(row), "map", header, None if value is None else str(value).strip(), text
                )
            )


def _text(values: pd.Series) -> pd.Series:
    """Cells as stripped text, empty -> None (Excel numbers like 123.0 -> '123')."""
    factorized = durations.text_uniques(values)
    if factorized is not None:  # few distinct texts (users, activities): strip each once
        codes, uniques = factorized
        return durations.spread(_text_cells(uniques), codes, values.index)
    return _text_cells(values)


def _text_cells(values: pd.Series) -> pd.Series:
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) == "string":
        # Only str and missing cells (every CSV column): one plain loop, no masks.
        cleaned = [c.strip() or None if type(c) is str else None for c in values.tolist()]
        return pd.Series(cleaned, index=values.index, dtype=object)
    is_str = is_text(values)
    mask = is_str.to_numpy(dtype=bool)
    cells = np.full(len(values), None, dtype=object)
    # A plain loop over str.strip beats the .str accessor by ~3x on large columns.
    cells[mask] = [c.strip() or None for c in values.to_numpy(dtype=object)[mask]]
    out = pd.Series(cells, index=values.index, dtype=object)
    others = values[~is_str & values.notna()]
    if not others.empty:
        out[others.index] = [
            str(int(v)) if isinstance(v, float) and v.is_integer() else str(v) for v in others
        ]
    return out


_BLANK_CELL = re.compile(r"\x00\s*\x00")  # in NUL-joined cells: an empty/whitespace one


def _verbatim_text(values: pd.Series) -> pd.Series:
    """Cells as text kept exactly as written (comments reach 7pace verbatim); a cell that is
    empty or only whitespace -> None. Non-text Excel cells are formatted like :func:`_text`."""
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) == "string":
        # Only str and missing cells (every CSV column). Comments are mostly distinct, so
        # one regex pass over the joined text finds blank cells faster than a cell loop.
        cells = values.to_numpy(dtype=object)
        missing = pd.isna(cells)
        texts = cells[~missing] if missing.any() else cells
        if not _BLANK_CELL.search("\x00" + "\x00".join(texts.tolist()) + "\x00"):
            out = cells.copy()
            out[missing] = None
            return pd.Series(out, index=values.index, dtype=object)
    is_str = is_text(values).to_numpy(dtype=bool)
    cells = values.to_numpy(dtype=object)
    out = np.full(len(values), None, dtype=object)
    out[is_str] = [c if c.strip() else None for c in cells[is_str]]
    result = pd.Series(out, index=values.index, dtype=object)
    others = ~is_str & values.notna().to_numpy(dtype=bool)
    if others.any():
        result[others] = _text_cells(values[others])
    return result


def _raw(chunk: pd.DataFrame, spec: _FieldBase, position: int | None) -> pd.Series:
    if position is None:
        value = spec.value
        return pd.Series(None if value is None else str(value), index=chunk.index, dtype=object)
    return chunk[position]


def _transform_text(
    name: str,
    spec: _FieldBase,
    values: pd.Series,
    lookups: dict[str, dict[str, str]],
    problems: _Problems,
    position: int | None,
    lookup_specs: dict[str, Lookup] | None = None,
    misses: LookupMisses | None = None,
) -> tuple[pd.Series, pd.Series | None]:
    """regex -> map -> lookup -> default, in this order (docs/mapping.md).

    Every field is trimmed except ``comment``, which keeps its surrounding whitespace (a
    leading TAB or CR included): 7pace stores the comment as written in the file.

    Returns the text and, for a work item whose (not required) lookup has no entry, the keys
    that missed (index as ``values``; None elsewhere), for the caller to put in the comment.
    """
    lookup_specs = lookup_specs or {}
    verbatim = name == "comment"
    text = _verbatim_text(values) if verbatim else _text(values)
    missed_keys: pd.Series | None = None
    if spec.regex is not None:
        pattern = spec.regex if re.compile(spec.regex).groups == 1 else f"({spec.regex})"
        extracted = text.str.extract(pattern, expand=False)
        text = extracted.where(extracted.notna(), None).astype(object)
    if spec.map:
        table = {str(k).strip().casefold(): str(v) for k, v in spec.map.items()}
        keys = (text.str.strip() if verbatim else text).str.casefold()
        mapped = keys.map(table)
        text = mapped.where(mapped.notna(), text).astype(object)
    if spec.lookup is not None:
        table = lookups.get(spec.lookup, {})
        lookup_spec = lookup_specs.get(spec.lookup)
        keys = (text.str.strip() if verbatim else text).str.casefold()
        looked = keys.map(table)
        missing = text.notna() & looked.isna()
        if lookup_spec is None or lookup_spec.required:
            if table:
                reason = (
                    f"not found in lookup {spec.lookup!r}, which the mapping marks required; "
                    "add it to the lookup file or fix the cell"
                )
            else:
                file = lookup_spec.file if lookup_spec is not None else "its file"
                reason = (
                    f"lookup {spec.lookup!r} is empty: {file} was not found or has no rows "
                    "(a preset reads it beside the input file, or from --lookup-dir)"
                )
            problems.add(missing, reason, position)
            text = looked.where(looked.notna(), None).astype(object)
        elif name == "work_item":
            # No id for this key: the worklog goes without a work item, the key into the comment.
            if missing.any():
                missed_keys = text.where(missing, None).astype(object)
                if misses is not None:
                    misses.add(name, spec.lookup, KEY_IN_COMMENT, missed_keys)
            text = looked.where(looked.notna(), None).astype(object)
        else:
            # The value goes on as written: users are resolved by the server (email,
            # uniqueName or display name), as without a lookup.
            if misses is not None and missing.any():
                misses.add(name, spec.lookup, PASSED_ON, text.where(missing, None))
            text = looked.where(looked.notna(), text).astype(object)
    if spec.default is not None:
        text = text.where(text.notna(), str(spec.default)).astype(object)
    if spec.regex is not None or spec.map or spec.lookup is not None:
        # pandas may infer a string dtype on the way, whose missing value is NaN: back to
        # None, as the canonical frame holds (plain trimmed text is None already).
        text = text.astype(object)
        text = text.where(text.notna(), None)
    return text, missed_keys


def lookup_keys(
    mapping: Mapping, headers: list[str], chunk: pd.DataFrame
) -> dict[str, dict[str, None]]:
    """Lookup name -> the distinct texts of this chunk that would be looked up in it (after
    join, regex and map; in order of appearance). For ``mapping init``'s lookup templates."""
    mapping = effective_mapping(mapping, headers, mapping.header)
    positions = resolve_columns(mapping, headers, mapping.header)
    skip = _skipped(mapping, chunk, headers)
    if skip.any():
        chunk = chunk[~skip]
    problems = _Problems(chunk, headers)
    out: dict[str, dict[str, None]] = {}
    for name, spec in mapping.field_specs().items():
        if spec.lookup is None:
            continue
        pos = positions.get(name)
        bare = spec.model_copy(update={"lookup": None, "default": None})
        raw = _joined(mapping, name, spec, headers, chunk, pos)
        text, _ = _transform_text(name, bare, raw, {}, problems, pos)
        found = out.setdefault(spec.lookup, {})
        for value in text.dropna():
            if str(value).strip():
                found.setdefault(str(value).strip(), None)
    return out


def _key_in_comment(comment: pd.Series, keys: pd.Series) -> pd.Series:
    """``[KEY] comment`` where a work item key had no id (``[KEY]`` without a comment)."""
    has_key = keys.notna()
    if not has_key.any():
        return comment
    out = comment.astype(object).copy()
    for row in has_key[has_key].index:
        text = out.at[row]
        prefix = f"[{keys.at[row]}]"
        out.at[row] = f"{prefix} {text}" if isinstance(text, str) and text.strip() else prefix
    return out


def _work_item_numbers(text: pd.Series) -> pd.Series:
    """Whole numbers as Int64; NA where the text is empty or not a whole number."""
    factorized = durations.text_uniques(text)
    if factorized is not None:  # work item ids repeat: check each distinct text once
        codes, uniques = factorized
        return durations.spread(_work_item_cells(uniques), codes, text.index)
    return _work_item_cells(text)


def _work_item_cells(text: pd.Series) -> pd.Series:
    # at most 18 digits: every such number fits Int64 (a longer one raised TypeError); a
    # zero fraction ("101.0": a column pandas or a spreadsheet wrote as floats) is the number
    ok = text.str.fullmatch(r"[+-]?0*\d{1,18}(?:\.0*)?").fillna(False).astype(bool)
    whole = text.where(ok, None).str.replace(r"\.0*$", "", regex=True)
    return pd.to_numeric(whole, errors="coerce").astype("Int64")


#: 7pace's numbers are .NET ``int`` (32 bits): a larger work item id is refused by the server
WORK_ITEM_MAX = 2**31 - 1


def _work_items(text: pd.Series, problems: _Problems, position: int | None) -> pd.Series:
    numbers = _work_item_numbers(text)
    too_long = text.str.fullmatch(r"[+-]?0*\d{19,}(?:\.0*)?").fillna(False).astype(bool)
    beyond = (numbers.abs() > WORK_ITEM_MAX).fillna(False).astype(bool)
    if beyond.any():
        too_long |= beyond
        numbers = numbers.mask(beyond)
    bad = text.notna() & numbers.isna() & ~too_long
    problems.add(bad, "work item must be a whole number such as 1234", position)
    problems.add(too_long, "work item is too large to be a work item id", position)
    return numbers


def _durations(
    mapping: Mapping,
    name: str,
    spec: DurationField,
    values: pd.Series,
    problems: _Problems,
    position: int | None,
    *,
    required: bool,
) -> pd.Series:
    seconds, empty = durations.parse_durations_and_blanks(values, spec.unit)
    if spec.default is not None:
        fill = durations.parse_durations(
            pd.Series([str(spec.default)], dtype=object), spec.unit
        ).iloc[0]
        seconds = seconds.where(~empty, fill)
        empty = empty & pd.isna(fill)
    label = "length" if name == "length" else "billable length"
    problems.add(
        seconds.isna() & ~empty,
        f"{label} is not a duration (use e.g. 1.5, 1:30, 1h 30m or PT1H30M)",
        position,
    )
    if required:
        problems.add(empty, f"{label} is empty; 7pace requires a length > 0", position)
    seconds = durations.round_seconds(seconds, mapping.rounding.unit, mapping.rounding.mode)
    too_long = seconds > mapping.max_hours * 3600
    problems.add(
        too_long,
        f"{label} is over {mapping.max_hours:g} hours; check it, raise max_hours in the "
        "mapping, or make one worklog per day with `timetracker-import convert split-days`",
        position,
    )
    return seconds


#: why a row is rejected when its end is not after its start
END_EQUALS_START = "end equals start: the entry has no length (7pace requires a length > 0)"
END_BEFORE_START = "end is before start; check the times"
END_BEFORE_START_SAME_DAY = (
    "end is before start on the same day; if the work ran past midnight map the end date "
    "(fields.end_date) or set `end_before_start: next_day` in the mapping, else fix the times"
)


#: a cell that marks a row as the file's sum, not an entry ("Total", "Grand total", "Summe")
_TOTALS_WORD = re.compile(r"(grand\s+)?(sub)?totals?|sum|summe|gesamt(summe)?|total\s+hours", re.I)


def _totals_hint(
    chunk: pd.DataFrame, headers: list[str], rows: pd.Series, said: str
) -> pd.Series | str:
    """``said`` for the rows without a date, told in addition when a row is the file's totals
    row (a cell reads "Total"): it is no entry to fix but one to skip, and how."""
    mask = rows.fillna(False).astype(bool)
    if not mask.any():
        return said
    reasons = pd.Series(said, index=chunk.index, dtype=object)
    dateless = chunk.loc[mask.reindex(chunk.index, fill_value=False)]
    named: dict[Any, str] = {}
    for at in dateless.columns:  # the first cell of a row that reads "Total" names it
        cells = dateless[at]
        texts = cells[cells.map(lambda c: isinstance(c, str))].astype(str).str.strip()
        hits = texts[texts.str.rstrip(":").str.fullmatch(_TOTALS_WORD)]
        where = headers[at] if isinstance(at, int) and at < len(headers) else str(at)
        for row, word in hits.items():
            if row in named:
                continue
            named[row] = (
                f"{said}: this looks like the file's totals row ({word!r} in {where}), "
                f"not an entry; skip it with `skip_rows: {{column: {_yaml_plain(where)}, "
                f"equals: [{_yaml_plain(word)}]}}` in the mapping, or delete the row from the "
                "export"
            )
    reasons.update(pd.Series(named, dtype=object))
    return reasons


def _yaml_plain(text: str) -> str:
    """``text`` as a YAML scalar in a flow mapping: as it is where YAML reads it back as that
    text ("Total", "Email"), else double-quoted ("Grand Total:", "2026", "yes")."""
    if re.fullmatch(r"\w[\w .-]*\w|\w", text) and not re.fullmatch(
        r"[-+.\d ]+|yes|no|true|false|on|off|null|y|n", text, re.I
    ):
        return text
    return json.dumps(text, ensure_ascii=False)


def _timestamps(
    mapping: Mapping,
    chunk: pd.DataFrame,
    positions: dict[str, int],
    problems: _Problems,
    timezone: str,
    memo: timestamps.DateMemo | None = None,
    naive_rows: list[int] | None = None,
) -> tuple[pd.Series, pd.Series | None]:
    """UTC start timestamps and, with an end, the true length in seconds: end - start as
    instants (each localised in ``timezone``), so a night shift, several days and a DST
    change all count as the clock on the wall says (``naive_rows`` gets how many rows had a
    time without an offset, read in ``timezone``)."""
    fields = mapping.fields
    order = mapping.date_order
    index = chunk.index
    naive = pd.Series(pd.NaT, index=index, dtype="datetime64[ns]")
    aware = pd.Series(pd.NaT, index=index, dtype="datetime64[ns, UTC]")
    end_naive: pd.Series | None = None
    end_aware: pd.Series | None = None
    said = pd.Series(False, index=index)  # rows already told their end is before the start
    implied: pd.Series | None = None  # rows whose time of day nobody wrote: the day's start
    main = "timestamp" if fields.timestamp is not None else ("date" if fields.date else "start")
    # A DST problem is blamed on the column that holds the time of day.
    main_pos = positions.get("start" if fields.start is not None else main)
    end_pos = positions.get("end")

    def parse(name: str, spec: TimeField, with_time: bool, *, required: bool = True) -> Any:
        pos = positions.get(name)
        parsed = timestamps.parse_datetimes(
            _raw(chunk, spec, pos),
            formats=spec.formats(),
            date_order=order,
            with_time=with_time,
            memo=memo,
        )
        problems.add(parsed.error.notna(), parsed.error, pos)
        if required:
            empty = parsed.naive.isna() & parsed.aware.isna() & parsed.error.isna()
            said = f"{name} is empty; 7pace needs when the work started"
            problems.add(empty, _totals_hint(chunk, problems.headers, empty, said), pos)
        return parsed

    if fields.timestamp is not None:
        p = parse("timestamp", fields.timestamp, True)
        naive, aware = p.naive, p.aware
    elif fields.date is not None:
        p = parse("date", fields.date, True)
        day = p.naive.dt.normalize()
        naive = day
        aware = p.aware
        implied = pd.Series(True, index=index)
        if fields.start is not None:
            start_pos = positions.get("start")
            start_raw = _raw(chunk, fields.start, start_pos)
            offset, err = timestamps.parse_times_of_day(start_raw)
            problems.add(err.notna(), err, start_pos)
            # An empty Start means the start of the day, as the old importer did.
            naive = day + offset.fillna(pd.Timedelta(0))
            implied = offset.isna() & err.isna()
            if fields.end is not None:
                end_off, end_err = timestamps.parse_times_of_day(_raw(chunk, fields.end, end_pos))
                problems.add(end_err.notna(), end_err, end_pos)
                problems.add(end_off.isna() & end_err.isna(), "end is empty", end_pos)
                end_day = day
                if fields.end_date is not None:
                    # an empty end date: the start's day
                    ed = parse("end_date", fields.end_date, True, required=False)
                    end_day = ed.naive.dt.normalize().where(ed.naive.notna(), day)
                end_naive = end_day + end_off
                if fields.end_date is None:
                    before = end_naive < naive
                    if mapping.end_before_start == "next_day":
                        end_naive = end_naive.where(~before, end_naive + pd.Timedelta(days=1))
                    else:
                        problems.add(before, END_BEFORE_START_SAME_DAY, end_pos)
                        said = before.fillna(False)
    else:
        assert fields.start is not None and fields.end is not None
        s = parse("start", fields.start, True)
        e = parse("end", fields.end, True)
        naive, aware = s.naive, s.aware
        end_naive, end_aware = e.naive, e.aware
    utc, err = timestamps.localize(naive, timezone, mapping.dst_ambiguous, day_start=implied)
    problems.add(err.notna(), err, main_pos)
    if naive_rows is not None:
        naive_rows.append(int(naive.notna().sum()))
    start = utc.where(utc.notna(), aware)
    if end_naive is None:
        return start, None
    e_utc, e_err = timestamps.localize(end_naive, timezone, mapping.dst_ambiguous)
    problems.add(e_err.notna(), e_err, end_pos)
    if end_aware is not None:
        e_utc = e_utc.where(e_utc.notna(), end_aware)
    length = (e_utc - start).dt.total_seconds()
    problems.add((length == 0) & ~said, END_EQUALS_START, end_pos)
    problems.add((length < 0) & ~said, END_BEFORE_START, end_pos)
    problems.add(
        length.isna() & ~problems.bad, "the length cannot be computed from start and end", end_pos
    )
    return start, length


def _skipped(mapping: Mapping, chunk: pd.DataFrame, headers: list[str]) -> pd.Series:
    skip = pd.Series(False, index=chunk.index)
    for i, flt in enumerate(mapping.skip_rows):
        if flt.optional and not all(
            any(normalise_header(h) == normalise_header(c) for h in headers) for c in flt.columns()
        ):
            continue
        if flt.empty is not None:
            # Every listed column empty: a totals or separator row, not a worklog.
            all_empty = pd.Series(True, index=chunk.index)
            for column in flt.empty:
                pos = find_column(
                    headers, column, 1, has_header=mapping.header, key_path=f"skip_rows.{i}.empty"
                )
                all_empty &= _text(chunk[pos]).isna()
            skip |= all_empty
            continue
        assert flt.column is not None
        pos = find_column(
            headers,
            flt.column,
            flt.occurrence,
            has_header=mapping.header,
            key_path=f"skip_rows.{i}.column",
        )
        skip |= _text(chunk[pos]).str.casefold().isin(flt.values())
    return skip


def _joined(
    mapping: Mapping,
    name: str,
    spec: _FieldBase,
    headers: list[str],
    chunk: pd.DataFrame,
    position: int | None,
) -> pd.Series:
    """The field's raw cells, with the text of its ``join`` columns appended (each part's
    whitespace collapsed, empty parts left out, ``separator`` between; all empty -> empty)."""
    values = _raw(chunk, spec, position)
    joined = getattr(spec, "join", None)
    if not joined:
        return values
    separator = getattr(spec, "separator", " ")
    parts = [_text(values)]
    for column in joined:
        pos = find_column(
            headers, column, 1, has_header=mapping.header, key_path=f"fields.{name}.join"
        )
        parts.append(_text(chunk[pos]))
    text = pd.Series("", index=chunk.index, dtype=object)
    some = pd.Series(False, index=chunk.index)
    for part in parts:
        has = part.notna()
        clean = part.fillna("").astype(str).str.replace(r"\s+", " ", regex=True)
        glue = pd.Series(np.where(some & has, separator, ""), index=chunk.index, dtype=object)
        text = text + glue + clean.where(has, "")
        some |= has
    return text.where(some, None).astype(object)


def _field_position(
    mapping: Mapping, headers: list[str], path: str, spec: _FieldBase
) -> tuple[bool, int | None]:
    """(usable, column position) of a fallback spec: a constant has no position; an optional
    column the file lacks is not usable."""
    if spec.column is None:
        return True, None
    try:
        pos = find_column(
            headers,
            spec.column,
            spec.occurrence,
            has_header=mapping.header,
            key_path=f"fields.{path}.column",
        )
    except MappingError:
        if spec.optional:
            return False, None
        raise
    return True, pos


def _field_text(
    mapping: Mapping,
    name: str,
    spec: _FieldBase,
    headers: list[str],
    chunk: pd.DataFrame,
    position: int | None,
    context: tuple[dict[str, dict[str, str]], _Problems, dict[str, Lookup], LookupMisses | None],
    path: str | None = None,
) -> tuple[pd.Series, pd.Series | None]:
    """A text field's values (join, regex, map, lookup, default) and, for rows where that
    gives nothing, its ``fallback``'s. Returns the text and the work item keys a lookup
    missed (``_transform_text``)."""
    lookups, problems, lookup_specs, misses = context
    raw = _joined(mapping, name, spec, headers, chunk, position)
    text, missed = _transform_text(
        name, spec, raw, lookups, problems, position, lookup_specs, misses
    )
    fallback = spec.fallback if isinstance(spec, TextField) else None
    if fallback is None:
        return text, missed
    gap = text.isna() if missed is None else text.isna() & missed.isna()
    path = f"{path or name}.fallback"
    usable, pos = _field_position(mapping, headers, path, fallback)
    if not usable or not gap.any():
        return text, missed
    more, more_missed = _field_text(
        mapping, name, fallback, headers, chunk[gap], pos, context, path
    )
    text = text.astype(object).copy()
    text.loc[more.index] = more
    if more_missed is not None:
        missed = more_missed.reindex(text.index) if missed is None else missed.copy()
        missed.loc[more_missed.index] = more_missed
    return text.where(text.notna(), None).astype(object), missed


BLANK_USER = (
    "user is empty: write who did the work, or book such rows to the token's own user with "
    "`default: me` on fields.user (in a copy of the preset: `timetracker-import mapping show "
    "PRESET > my.yaml`)"
)


def _flags(
    text: pd.Series,
    length: pd.Series,
    problems: _Problems,
    position: int | None,
) -> pd.Series:
    """Billable seconds from yes/no texts: yes -> the length, no -> 0, empty -> NaN."""
    keys = text.str.casefold()
    yes, no = keys.isin(BILLABLE_YES), keys.isin(BILLABLE_NO)
    problems.add(
        text.notna() & ~yes & ~no,
        "billable must be Yes or No (also true/false, 1/0, x); turn other texts into these "
        "with `map:` on fields.billable",
        position,
    )
    out = pd.Series(np.nan, index=text.index)
    out[yes] = length[yes]
    out[no] = 0.0
    return out


#: what ``apply_mapping(partial=...)`` keeps of a rejected row
PARTIAL_COLUMNS = ("user", "timestamp", "work_item_id")


def apply_mapping(
    mapping: Mapping,
    headers: list[str],
    chunk: pd.DataFrame,
    *,
    lookups: dict[str, dict[str, str]] | None = None,
    timezone: str = "UTC",
    memo: timestamps.DateMemo | None = None,
    misses: LookupMisses | None = None,
    partial: list[pd.DataFrame] | None = None,
    naive_rows: list[int] | None = None,
) -> tuple[pd.DataFrame, list[Rejection]]:
    """Map one raw chunk (columns = positions, index = source_row) to the canonical frame.

    Returns the canonical rows that mapped cleanly and one map-stage rejection per failed row.
    Rows matched by ``skip_rows`` appear in neither (the caller counts them). ``lookups``
    holds lookup name -> {case-folded alias: value}. ``memo`` is what date parsing learnt
    from earlier chunks of the same run (the caller creates one per run; results do not
    depend on it). ``misses`` collects the values a lookup that is not ``required`` had no
    entry for. ``partial`` collects, for the rejected rows, what could be read of them
    (``PARTIAL_COLUMNS``: user, timestamp, work item; missing values where a cell failed),
    so that ``sync`` knows which worklog a rejected row may stand for; ``naive_rows`` gets
    how many rows had a time without an offset (read in ``timezone``). Raises MappingError
    when a mapped column is missing from ``headers``.
    """
    lookups = lookups or {}
    mapping = effective_mapping(mapping, headers, mapping.header)
    positions = resolve_columns(mapping, headers, mapping.header)
    skip = _skipped(mapping, chunk, headers)
    if skip.any():
        chunk = chunk[~skip]
    problems = _Problems(chunk, headers)
    specs = mapping.field_specs()
    specs_of = dict(mapping.lookups)
    out = pd.DataFrame(index=chunk.index)
    out.index.name = "source_row"

    context = (lookups, problems, specs_of, misses)
    for name in ("user", "comment", "activity_type", "organization"):
        spec = specs.get(name)
        if spec is None:
            # A list of None: pd.Series(None, dtype=object) would hold NaN, not None.
            out[name] = pd.Series([None] * len(chunk), index=chunk.index, dtype=object)
            continue
        pos = positions.get(name)
        if name == "user" and mapping.books_blank_user_to_me():
            spec = spec.model_copy(update={"default": None})  # `me`: an empty user stays empty
            out[name], _ = _field_text(mapping, name, spec, headers, chunk, pos, context)
            continue
        out[name], _ = _field_text(mapping, name, spec, headers, chunk, pos, context)
        if name == "user":
            problems.add(out[name].isna() & ~problems.bad, BLANK_USER, pos)

    wi_spec = specs.get("work_item")
    if wi_spec is None:
        out["work_item_id"] = pd.Series(pd.NA, index=chunk.index, dtype="Int64")
    else:
        pos = positions.get("work_item")
        text, missed = _field_text(mapping, "work_item", wi_spec, headers, chunk, pos, context)
        out["work_item_id"] = _work_items(text, problems, pos)
        if missed is not None:
            out["comment"] = _key_in_comment(out["comment"], missed)

    stamp, derived = _timestamps(mapping, chunk, positions, problems, timezone, memo, naive_rows)
    out["timestamp"] = stamp

    fields = mapping.fields
    if fields.length is not None:
        pos = positions.get("length")
        length = _durations(
            mapping,
            "length",
            fields.length,
            _raw(chunk, fields.length, pos),
            problems,
            pos,
            required=True,
        )
    else:
        assert derived is not None
        length = durations.round_seconds(derived, mapping.rounding.unit, mapping.rounding.mode)
        pos = positions.get("end")
        problems.add(
            length > mapping.max_hours * 3600,
            f"end - start is over {mapping.max_hours:g} hours; check the times, raise "
            "max_hours in the mapping, or make one worklog per day with `timetracker-import "
            "convert split-days`",
            pos,
        )
    if fields.billable_length is not None:
        pos = positions.get("billable_length")
        billable = _durations(
            mapping,
            "billable_length",
            fields.billable_length,
            _raw(chunk, fields.billable_length, pos),
            problems,
            pos,
            required=False,
        )
    elif fields.billable is not None:
        pos = positions.get("billable")
        flag, _ = _field_text(mapping, "billable", fields.billable, headers, chunk, pos, context)
        billable = _flags(flag, length, problems, pos)
    else:
        billable = pd.Series(np.nan, index=chunk.index)

    good = ~problems.bad
    if not good.all():  # filtering copies every column: skip it when all rows mapped
        if partial is not None:
            partial.append(out.loc[~good, list(PARTIAL_COLUMNS)])
        out, length, billable = out[good], length[good], billable[good]
    out["length_seconds"] = length.astype("int64")
    out["billable_seconds"] = billable.round().astype("Int64")
    return out[CANONICAL_COLUMNS], merge_rejections(problems.items)
