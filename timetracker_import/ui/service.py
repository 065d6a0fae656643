"""What the pages need from the library, as plain data for the HTML builders.

Request handlers call these functions and render their results; the import logic itself is
the library's (``timetracker_import.validate``, ``import_file``, ``undo_run``, ...). The few
helpers the library has no function for (headers, preset detection, the mapping preview,
the rows of rejected cells) sit here on top of app-layer functions.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from timetracker_import.errors import MappingError, UsageError

#: The 7pace fields of the mapping form, in order, with their kind and a label.
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
UNITS = ("hours", "minutes", "seconds")
DATE_ORDERS = ("", "DMY", "MDY", "YMD")
UPLOAD_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".xls")


@cache
def time_zones() -> tuple[str, ...]:
    """Every IANA zone name this machine knows, sorted."""
    return tuple(sorted(zoneinfo.available_timezones()))


# --------------------------------------------------------------------------- the file


@dataclass(frozen=True)
class FileInfo:
    """The chosen input file and its header row."""

    path: Path
    label: str  # what the user calls it: the uploaded name or the path typed
    sheet: str | None
    headers: tuple[str, ...]
    format: str


def open_file(path: Path, label: str, sheet: str | None = None) -> FileInfo:
    """Check that ``path`` is a readable table and read its header row."""
    from timetracker_import.files.readers import open_table

    if not path.exists():
        raise UsageError(f"{label}: no such file", hint="check the path, or upload the file")
    if not path.is_file():
        raise UsageError(f"{label} is not a file", hint="give the path of a CSV or Excel file")
    table = open_table(path, sheet=sheet or None)
    if not table.headers:
        raise UsageError(f"{label} has no columns", hint="is it the right file or sheet?")
    return FileInfo(path, label, sheet or None, tuple(str(h) for h in table.headers), table.format)


# --------------------------------------------------------------------------- the mapping


@dataclass(frozen=True)
class PresetMatch:
    """A shipped preset that fits the file, and why (the columns that matched)."""

    name: str
    description: str
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class Detected:
    """What the Mapping page offers first."""

    presets: tuple[PresetMatch, ...]
    conversion: str | None  # a message when the file must be converted first
    guesses: dict[str, str]  # field -> header, for the drafted form
    chosen: str | None = None  # the preset the data picks among those sharing the header
    data_evidence: tuple[str, ...] = ()  # why (or why the data cannot decide)


EVIDENCE_ROWS = 1000


def detect(info: FileInfo) -> Detected:
    """Presets whose fingerprint the header row satisfies (best first), and field guesses.
    Where the library can choose among presets from the data (``choose_preset``, the
    evidence of ``--preset auto``), its choice and evidence from the first 1,000 rows."""
    from timetracker_import.core import preset_detect
    from timetracker_import.files.mapping_loader import list_presets

    headers = list(info.headers)
    described = dict(list_presets())
    conversion = preset_detect.detect_conversion(headers)
    note = None
    if conversion is not None:
        note = (
            "this is a Jira issue export (columns " + ", ".join(dict.fromkeys(conversion.matched))
            + f"): convert it first with `timetracker-import convert jira {info.label}`, then "
            "choose the converted file here"
        )  # fmt: skip
    found = [
        PresetMatch(d.preset, described.get(d.preset, ""), tuple(dict.fromkeys(d.matched)))
        for d in preset_detect.best_presets(headers)
    ]
    chosen, evidence = None, ()
    choose = getattr(preset_detect, "choose_preset", None)  # data evidence, where available
    if choose is not None:
        choice = choose(headers, _first_rows(info))
        chosen, evidence = choice.preset, tuple(choice.evidence)
        if chosen and chosen not in {p.name for p in found}:  # e.g. a file without a header
            found.insert(0, PresetMatch(chosen, described.get(chosen, ""), tuple(choice.matched)))
        found.sort(key=lambda p: p.name != chosen)
    return Detected(tuple(found), note, preset_detect.guess_fields(headers), chosen, evidence)


def _first_rows(info: FileInfo) -> Any:
    """The first EVIDENCE_ROWS rows (raw cells by column position), or None."""
    from timetracker_import.files.readers import open_table

    table = open_table(info.path, sheet=info.sheet)
    return next(iter(table.chunks(EVIDENCE_ROWS)), None)


def preset_names() -> list[tuple[str, str]]:
    """(name, description) of every shipped preset."""
    from timetracker_import.files.mapping_loader import list_presets

    return list_presets()


@dataclass(frozen=True)
class MappingChoice:
    """The mapping the wizard uses: a shipped preset, or the form's mapping as data."""

    preset: str | None = None
    data: dict[str, Any] | None = None
    based_on: str | None = None  # the preset a mapping with added user aliases came from

    @property
    def label(self) -> str:
        if self.preset:
            return f"preset {self.preset}"
        if self.based_on:
            return f"preset {self.based_on} with your user aliases"
        return "the mapping drafted on the Mapping page"

    def kwargs(self) -> dict[str, Any]:
        """``mapping=`` / ``preset=`` for the library functions."""
        return {"preset": self.preset} if self.preset else {"mapping": self.data}

    def yaml_text(self) -> str:
        """The mapping file the CLI takes (``--mapping``), or the preset's own YAML."""
        from timetracker_import.files.mapping_loader import preset_text

        if self.preset:
            return preset_text(self.preset)
        head = (
            "# Mapping drafted in `timetracker-import ui`. Use it on the command line with\n"
            "#   timetracker-import validate --mapping THIS_FILE YOUR_FILE\n"
        )
        return head + yaml.safe_dump(self.data, sort_keys=False, allow_unicode=True)


def with_alias(choice: MappingChoice, value: str, target: str) -> MappingChoice:
    """The mapping with one more user alias: ``value`` in the file means user ``target``
    (a ``map`` entry on the user field; values not in the map pass unchanged)."""
    import copy

    from timetracker_import.files.mapping_loader import mapping_from_dict

    data = copy.deepcopy(choice.data) if choice.data else yaml.safe_load(choice.yaml_text())
    user = (data.get("fields") or {}).get("user")
    if isinstance(user, str):
        user = {"column": user}
    if not isinstance(user, dict):
        raise UsageError("the mapping reads no user column, so it has nothing to alias",
                         hint="map the user field on the Mapping page")  # fmt: skip
    user["map"] = {**(user.get("map") or {}), value: target}
    data["fields"]["user"] = user
    mapping_from_dict(data, source="the mapping with the alias")
    return MappingChoice(data=data, based_on=choice.preset or choice.based_on)


def header_column(headers: tuple[str, ...], position: int) -> dict[str, Any]:
    """``{column: header}`` (+ ``occurrence`` for a repeated header) for a header position."""
    from timetracker_import.core.mapping import normalise_header

    text = headers[position]
    key = normalise_header(text)
    before = sum(1 for h in headers[:position] if normalise_header(h) == key)
    return {"column": text, "occurrence": before + 1} if before else {"column": text}


def position_of(headers: tuple[str, ...], spec: Mapping[str, Any] | None) -> int | None:
    """The header position a field spec's ``column`` names (None when unmapped/absent)."""
    from timetracker_import.core.mapping import normalise_header

    if not spec or not isinstance(spec.get("column"), str):
        return None
    key = normalise_header(spec["column"])
    hits = [i for i, h in enumerate(headers) if normalise_header(h) == key]
    n = int(spec.get("occurrence") or 1)
    return hits[n - 1] if len(hits) >= n else None


def mapping_from_form(headers: tuple[str, ...], form: Mapping[str, str]) -> dict[str, Any]:
    """The mapping (as the YAML's data) the Mapping form describes; MappingError when the
    form does not make a valid mapping (the message names the field)."""
    from timetracker_import.files.mapping_loader import mapping_from_dict

    fields: dict[str, Any] = {}
    for name, kind, _label in FORM_FIELDS:
        picked = (form.get(f"{name}.column") or "").strip()
        if not picked:
            continue
        if not picked.isdigit() or int(picked) >= len(headers):
            raise MappingError(f"{name}: pick one of the file's columns")
        spec = header_column(headers, int(picked))
        if kind == "duration":
            unit = form.get(f"{name}.unit") or "hours"
            if unit not in UNITS:
                raise MappingError(f"{name}: unit must be one of {', '.join(UNITS)}")
            spec["unit"] = unit
        if kind == "time" and (fmt := (form.get(f"{name}.format") or "").strip()):
            spec["format"] = fmt
        fields[name] = spec
    data: dict[str, Any] = {"version": 1, "header": True}
    zone = (form.get("timezone") or "").strip()
    if zone:
        data["timezone"] = zone
    order = (form.get("date_order") or "").strip()
    if order:
        data["date_order"] = order
    data["fields"] = fields
    mapping_from_dict(data, source="the mapping form")  # raises MappingError naming the key
    return data


def form_values(choice: MappingChoice, headers: tuple[str, ...]) -> dict[str, str]:
    """The form's field values for a mapping (so a preset can be edited as a form)."""
    data = choice.data
    if choice.preset:
        data = yaml.safe_load(choice.yaml_text())
    out: dict[str, str] = {}
    if not isinstance(data, dict):
        return out
    for name, _kind, _label in FORM_FIELDS:
        spec = (data.get("fields") or {}).get(name)
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
    return out


def drafted_values(guesses: Mapping[str, str], headers: tuple[str, ...]) -> dict[str, str]:
    """Form values from the header guesses (lengths in hours)."""
    out: dict[str, str] = {}
    for name, header in guesses.items():
        if header in headers:
            out[f"{name}.column"] = str(headers.index(header))
            if name in ("length", "billable_length"):
                out[f"{name}.unit"] = "hours"
    return out


@dataclass(frozen=True)
class PreviewRow:
    """One source row and what it becomes (or why it is rejected)."""

    source_row: int
    cells: tuple[str, ...]  # the mapped source columns
    sent: dict[str, str] | None  # user, timestamp (UTC), hours, ... as they will be sent
    reason: str | None


@dataclass(frozen=True)
class Preview:
    columns: tuple[str, ...]
    rows: tuple[PreviewRow, ...]
    timezone: str
    timezone_source: str


def _loaded(info: FileInfo, choice: MappingChoice) -> Any:
    from timetracker_import.files.mapping_loader import (
        LoadedMapping,
        load_preset,
        mapping_from_dict,
    )

    if choice.preset:
        return load_preset(choice.preset)
    return LoadedMapping(mapping_from_dict(choice.data, source="the mapping form"), choice.label)


def text(value: object) -> str:
    """A cell as a person reads it: '' for empty/NaN, Excel dates without a midnight time,
    times as HH:MM, whole floats without ``.0``."""
    import datetime as dt

    import pandas as pd

    if value is None:
        return ""
    try:
        if bool(pd.isna(value)):  # type: ignore[call-overload]
            return ""
    except (TypeError, ValueError):
        pass
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds" if value.second else "minutes")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S" if value.second else "%H:%M")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def preview(info: FileInfo, choice: MappingChoice, rows: int = 8) -> Preview:
    """The first ``rows`` rows through the mapping (nothing is sent)."""
    from timetracker_import.app.validate import choose_timezone, iter_mapped_chunks
    from timetracker_import.core.mapping import resolve_columns
    from timetracker_import.files.readers import open_table

    loaded = _loaded(info, choice)
    zone, zone_source = choose_timezone(loaded.mapping, None)
    table = open_table(info.path, sheet=info.sheet, has_header=loaded.mapping.header)
    chunk = next(iter_mapped_chunks(table, loaded, timezone=zone, chunk_rows=rows), None)
    positions = resolve_columns(loaded.mapping, table.headers, table.has_header)
    cols = sorted(set(positions.values()))
    out: list[PreviewRow] = []
    if chunk is not None:
        rejected = {r.source_row: r.reason for r in chunk.rejections}
        canon = chunk.canonical
        for label, raw in chunk.raw.iterrows():
            row = int(label)  # type: ignore[call-overload]
            sent = None
            if row in canon.index:
                c = canon.loc[row]
                billable = c["billable_seconds"]
                sent = {
                    "user": text(c["user"]) or "(token's own user)",
                    "timestamp": c["timestamp"].strftime("%Y-%m-%d %H:%M UTC"),
                    "hours": f"{c['length_seconds'] / 3600:.2f}",
                    "billable": f"{billable / 3600:.2f}" if text(billable) else "",
                    "work_item": text(c["work_item_id"]),
                    "activity": text(c["activity_type"]),
                    "comment": text(c["comment"]),
                }
            out.append(
                PreviewRow(
                    row,
                    tuple(text(raw[p]) for p in cols),
                    sent,
                    None if sent else rejected.get(row, "skipped (skip_rows)"),
                )
            )
    return Preview(tuple(table.headers[p] for p in cols), tuple(out), zone, zone_source)


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class RejectedRow:
    """A rejected row with all its cells, the offending column and the reason."""

    source_row: int
    cells: tuple[str, ...]
    column: str | None
    stage: str
    reason: str
    kind: str  # the reason with values stripped, for the filter
    column_index: int | None = None  # the offending column's position in the file


@dataclass
class Checked:
    """A validation as the Validate page shows it: the library's result (counts, hours,
    files) and the first rejected rows with their cells."""

    result: Any  # timetracker_import.validate's ValidateResult
    headers: tuple[str, ...]
    rejected_rows: list[RejectedRow] = field(default_factory=list)


SHOWN_REJECTIONS = 500


def rejected_rows(
    info: FileInfo, rejections: Iterable[Any], header: bool = True, limit: int = SHOWN_REJECTIONS
) -> list[RejectedRow]:
    """The first ``limit`` rejections with their rows' cells read back from the file."""
    from timetracker_import.core.report import reason_kind
    from timetracker_import.files.readers import open_table

    chosen = sorted(rejections, key=lambda r: r.source_row)[:limit]
    wanted = {r.source_row for r in chosen}
    cells: dict[int, tuple[str, ...]] = {}
    if wanted:
        table = open_table(info.path, sheet=info.sheet, has_header=header)
        last = max(wanted)
        for chunk in table.chunks(20_000):
            hit = chunk.index.intersection(list(wanted))
            for row in hit:
                cells[int(row)] = tuple(text(v) for v in chunk.loc[row].tolist())
            if len(chunk.index) and int(chunk.index[-1]) >= last:
                break
    width = len(info.headers)
    return [
        RejectedRow(
            r.source_row,
            cells.get(r.source_row, ("",) * width),
            r.column,
            r.stage,
            r.reason,
            reason_kind(r.reason, r.value),
            position_of(info.headers, {"column": r.column}) if r.column else None,
        )
        for r in chosen
    ]


def run_validate(info: FileInfo, choice: MappingChoice, out_dir: Path) -> Checked:
    """Validate the file with the library (blocking: call it in a worker thread); writes
    the rejected file (XLSX with highlighted cells) and the HTML report into ``out_dir``."""
    import timetracker_import as lib

    out_dir.mkdir(parents=True, exist_ok=True)
    result = lib.validate(
        info.path,
        sheet=info.sheet,
        rejected=out_dir / "rejected.xlsx",  # highlighted cells, whatever the input
        report=out_dir / "report.html",
        **choice.kwargs(),
    )
    header = choice.data.get("header", True) if choice.data else True
    rows = rejected_rows(info, result.rejections, header=bool(header))
    return Checked(result, info.headers, rows)


# --------------------------------------------------------------------------- connection


@dataclass(frozen=True)
class Connected:
    """A checked connection: whom the token belongs to, never the token itself."""

    settings: Any  # api.settings.ConnectionSettings
    who: str
    where: str
    token_label: str  # ****abcd (from the keyring)
    stored: bool = False


def profiles() -> list[tuple[str, str]]:
    """(name, server URL) of the profiles in the user's profiles file."""
    from timetracker_import.api.settings import load_profiles, profiles_path

    return [(n, str(p.get("url") or "")) for n, p in sorted(load_profiles(profiles_path()).items())]


def environment_url() -> str | None:
    """$TIMETRACKER_URL when set (the CLI's default server)."""
    import os

    from timetracker_import.api.settings import ENV_URL

    return os.environ.get(ENV_URL) or None


def connect(
    *,
    profile: str | None = None,
    url: str | None = None,
    collection: str | None = None,
    pasted: str | None = None,
    remember: bool = False,
) -> Connected:
    """Resolve the connection as the CLI does (a pasted token wins over the environment,
    profile and keyring), check it with ``me``, and store a pasted token in the OS keyring
    when asked. Blocking: call it in a worker thread."""
    import asyncio as _asyncio

    import timetracker_import as lib
    from timetracker_import.api import settings as conn
    from timetracker_import.app.read import fetch_me

    url = (url or "").strip() or None
    collection = (collection or "").strip() or None
    if url and not url.startswith(("http://", "https://")):
        raise UsageError(
            f"{url!r} is not a server URL",
            hint="write it with http:// or https://, e.g. https://dev.azure.com/myorg",
        )
    token = (pasted or "").strip() or None
    if remember and not token:
        raise UsageError("nothing to remember: no token was pasted",
                         hint="paste the token, or untick 'remember'")  # fmt: skip
    settings = lib.Connection(
        url=url, token=token, collection=collection, profile=profile
    ).settings()
    me = _asyncio.run(fetch_me(settings))
    user = me.get("user") or {}
    who = f"{user.get('displayName') or user.get('name')} <{user.get('uniqueName')}>"
    stored = False
    if token and remember:
        key = conn.keyring_key(settings.url, settings.collection, settings.profile)
        conn.default_token_store().set(key, token)
        stored = True
    where = settings.rest_root + (f" (profile {settings.profile})" if settings.profile else "")
    source = {"keyring": "the OS keyring", "given": "pasted here", "token-file": "a token file",
              "environment": "the environment ($TIMETRACKER_TOKEN)",
              "profile": "the profiles file"}  # fmt: skip
    label = f"{settings.token} (from {source.get(settings.token_source, settings.token_source)})"
    if stored:
        label = f"{settings.token} (pasted here; stored in the OS keyring)"
    return Connected(settings, who, where, label, stored)


# --------------------------------------------------------------------------- dry run, import


@dataclass(frozen=True)
class UnknownUser:
    """A user name the server does not know, its rows and the close matches."""

    value: str
    rows: tuple[int, ...]
    suggestions: tuple[str, ...]  # e-mail addresses (or names) to alias it to


@dataclass
class Plan:
    """The result of a dry run or an import, as the pages show it."""

    run_id: str
    dry_run: bool
    counts: dict[str, int]
    exit_code: int
    rejections: list[RejectedRow]
    unknown_users: list[UnknownUser]
    locked: list[RejectedRow]
    in_file_duplicates: dict[int, int]
    #: what the import does with them: skip, allow or fail
    on_duplicate: str
    existing: dict[int, str]
    grid: dict[str, Any] | None
    flags: list[dict[str, Any]]
    halt: str | None
    notes: list[str]
    run_dir: Path
    files: dict[str, Path]  # name -> path of the run's downloadable files
    users: list[str] = field(default_factory=list)
    seconds: int = 0


_SUGGESTED = re.compile(r"'([^']+)'")


def unknown_users(rejections: Iterable[Any]) -> list[UnknownUser]:
    """Group the ``unknown user`` rejections by the name written in the file."""
    rows: dict[str, list[int]] = {}
    suggestions: dict[str, tuple[str, ...]] = {}
    for r in rejections:
        if r.stage != "resolve" or not r.reason.startswith("unknown user") or not r.value:
            continue
        rows.setdefault(r.value, []).append(r.source_row)
        _, _, tail = r.reason.partition("did you mean ")
        suggestions[r.value] = tuple(_SUGGESTED.findall(tail))
    return [UnknownUser(v, tuple(rows[v]), suggestions[v]) for v in rows]


def _plan(result: Any, info: FileInfo, header: bool, report_json: Path | None) -> Plan:
    import json

    doc: dict[str, Any] = {}
    if report_json is not None and report_json.exists():
        doc = json.loads(report_json.read_text(encoding="utf-8"))
    rows = rejected_rows(info, result.rejections, header=header)
    counts = {
        k: int(getattr(result.counts, k))
        for k in ("rows", "created", "already_existing", "rejected", "unprocessed", "skipped")
    }
    grid = doc.get("grid")
    files = run_files(result.run_dir)
    halt = None
    if result.halt_reason:
        halt = result.halt_reason + (f": {result.halt_message}" if result.halt_message else "")
    return Plan(
        run_id=result.run_id,
        dry_run=result.dry_run,
        counts=counts,
        exit_code=result.exit_code,
        rejections=rows,
        unknown_users=unknown_users(result.rejections),
        locked=[r for r in rows if r.stage == "preflight"],
        in_file_duplicates=dict(result.in_file_duplicates),
        on_duplicate=str(getattr(result, "on_duplicate", "skip")),
        existing=dict(result.existing),
        grid=grid,
        flags=[f for f in doc.get("flags", []) if f.get("count")],
        halt=halt,
        notes=list(result.notes),
        run_dir=result.run_dir,
        files=files,
        users=[r["user"] for r in (grid or {}).get("rows", [])],
        seconds=int((grid or {}).get("total_seconds") or 0),
    )


RUN_FILES = ("report.html", "report.json", "created.csv", "rejected.csv", "rejected.xlsx",
             "mapping.yaml", "summary.json")  # fmt: skip


def run_files(run_dir: Path) -> dict[str, Path]:
    """The downloadable files of a run folder that exist."""
    return {n: run_dir / n for n in RUN_FILES if (run_dir / n).is_file()}


def _keep(run_dir: Path, name: str, source: Path | None) -> None:
    """Move a file we wrote next to the run's journal (private, like the journal)."""
    import os
    import shutil

    if source is not None and source.exists():
        target = run_dir / name
        shutil.move(str(source), target)
        os.chmod(target, 0o600)


def run_import(
    info: FileInfo,
    choice: MappingChoice,
    connected: Connected,
    out_dir: Path,
    *,
    dry_run: bool,
    progress: Any = None,
    cancel: Any = None,
) -> Plan:
    """A dry run (``validateOnly`` on the server, nothing created) or the import, with the
    library (blocking: call it in a worker thread). The report (JSON for the dry run's grid,
    HTML for the import) and the mapping go into the run's folder."""
    import timetracker_import as lib

    out_dir.mkdir(parents=True, exist_ok=True)
    report = out_dir / ("report.json" if dry_run else "report.html")
    report.unlink(missing_ok=True)
    result = lib.import_file(
        info.path,
        sheet=info.sheet,
        connection=connected.settings,
        dry_run=dry_run,
        report=report,
        progress=progress,
        cancel=cancel,
        **choice.kwargs(),
    )
    if not hasattr(result, "run_dir"):  # a file split by organization
        raise UsageError(
            "this file names several organizations; the web app imports into one",
            hint="import it with `timetracker-import import` on the command line",
        )
    header = bool(choice.data.get("header", True)) if choice.data else True
    _keep(result.run_dir, report.name, report)
    json_report = result.run_dir / "report.json" if dry_run else None
    if choice.data:
        (result.run_dir / "mapping.yaml").write_text(choice.yaml_text(), encoding="utf-8")
    return _plan(result, info, header, json_report)


# --------------------------------------------------------------------------- runs, undo


@dataclass(frozen=True)
class RunRow:
    """One journaled run for the Runs page."""

    run_id: str
    status: str
    input_path: str | None
    mapping: str | None
    target: str | None
    started_at: str
    finished_at: str | None
    dry_run: bool
    counts: dict[str, Any]
    directory: Path
    undone: int = 0  # worklogs deleted by undo so far

    @property
    def mapping_label(self) -> str:
        """The mapping as a person recognises it."""
        if (self.directory / "mapping.yaml").is_file() and not (self.mapping or "").startswith(
            "preset "
        ):
            return "made in the web app (mapping.yaml)"
        return self.mapping or "-"


def _undone(directory: Path) -> int:
    """How many worklogs undo deleted in this run (0 when the journal cannot be read)."""
    import contextlib
    import sqlite3

    from timetracker_import.journal.store import Journal, JournalError

    with (
        contextlib.suppress(JournalError, OSError, sqlite3.Error),
        Journal.open(directory.name) as journal,
    ):
        return sum(1 for _id, action, _detail in journal.undo_log() if action == "deleted")
    return 0


def runs() -> list[RunRow]:
    """Every journaled run, newest first."""
    import json

    import timetracker_import as lib

    out = []
    for r in lib.list_runs():
        counts = dict(r.counts or {})
        dry = False
        try:
            summary = json.loads((r.directory / "summary.json").read_text(encoding="utf-8"))
            if isinstance(summary, dict) and summary.get("dry_run") is True:
                dry, counts = True, dict(summary.get("counts") or counts)
        except (OSError, ValueError):
            pass
        out.append(RunRow(r.run_id, r.status, r.input_path, r.mapping_name, r.base_url,
                          r.started_at, r.finished_at, dry, counts, r.directory,
                          0 if dry else _undone(r.directory)))  # fmt: skip
    return out[::-1]


def run_summary(run: RunRow) -> dict[str, Any]:
    """The run's ``summary.json`` (empty when it has none, e.g. a run still open)."""
    import json

    try:
        data = json.loads((run.directory / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def find_run(run_id: str) -> RunRow:
    for r in runs():
        if r.run_id == run_id:
            return r
    raise UsageError(f"no run {run_id!r}", hint="pick one from the Runs page")


@dataclass(frozen=True)
class UndoView:
    """What undo would do or did: ids with the source rows they came from."""

    dry_run: bool
    delete: list[tuple[str, int | None]]
    skipped_edited: list[tuple[str, str]]
    already_gone: list[str]
    failed: list[tuple[str, str]]
    source: str = ""  # the imported file's name


def undo(run_id: str, connected: Connected, *, dry_run: bool) -> UndoView:
    """``undo_run`` through the library (blocking)."""
    import csv

    import timetracker_import as lib

    run = find_run(run_id)
    outcome = lib.undo_run(run_id, connection=connected.settings, dry_run=dry_run)
    report = outcome.report
    if report is None:
        raise UsageError(
            f"run {run_id} is not an import (it changed existing worklogs)",
            hint=f"undo it with `timetracker-import runs undo {run_id}` on the command line",
        )
    rows: dict[str, int] = {}
    created = run.directory / "created.csv"
    if created.exists():
        with created.open(encoding="utf-8", newline="") as fh:
            for rec in csv.DictReader(fh):
                if rec.get("worklog_id") and (rec.get("source_row") or "").isdigit():
                    rows[rec["worklog_id"]] = int(rec["source_row"])
    return UndoView(
        dry_run=dry_run,
        delete=[(i, rows.get(i)) for i in report.deleted],
        skipped_edited=list(report.skipped_edited),
        already_gone=list(report.already_gone),
        failed=list(report.failed),
        source=(run.input_path or "?").rsplit("/", 1)[-1],
    )


def resume_choice(run: RunRow) -> tuple[FileInfo, MappingChoice]:
    """The file and mapping to run again to resume ``run`` (UsageError when they are gone)."""
    if not run.input_path or not Path(run.input_path).is_file():
        raise UsageError(
            f"the input file of run {run.run_id} is no longer at {run.input_path}",
            hint="choose the file again on the File page; the import resumes by itself",
        )
    if run.mapping and run.mapping.startswith("preset "):
        choice = MappingChoice(preset=run.mapping.removeprefix("preset "))
    elif (run.directory / "mapping.yaml").is_file():
        data = yaml.safe_load((run.directory / "mapping.yaml").read_text(encoding="utf-8"))
        choice = MappingChoice(data=data)
    elif run.mapping and Path(run.mapping).is_file():
        data = yaml.safe_load(Path(run.mapping).read_text(encoding="utf-8"))
        choice = MappingChoice(data=data)
    else:
        raise UsageError(
            f"the mapping of run {run.run_id} ({run.mapping}) is not at hand",
            hint="choose the file and mapping again in the wizard; the import resumes by itself",
        )
    return open_file(Path(run.input_path), run.input_path), choice
