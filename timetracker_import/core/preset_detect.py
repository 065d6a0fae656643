"""Recognise a shipped preset from a file's header row (fingerprints from
../shared/docs/export-formats.md §11) and, where presets share a header, from the data of
the first rows (``choose_preset``); guess canonical fields from unknown headers.

Pure functions over header texts and raw cells: matching ignores case, spaces, quotes and a
UTF-8 BOM.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from timetracker_import.core.mapping import normalise_header


@dataclass(frozen=True)
class Fingerprint:
    """A preset is recognised when the header has every ``required`` column and, for each
    group in ``one_of``, every column of at least one alternative."""

    preset: str
    required: tuple[str, ...]
    one_of: tuple[tuple[tuple[str, ...], ...], ...] = ()


@dataclass(frozen=True)
class Detection:
    """A recognised preset and the header texts (as written in the file) that matched."""

    preset: str
    matched: tuple[str, ...]
    score: int


FINGERPRINTS: tuple[Fingerprint, ...] = (
    Fingerprint(
        "toggl",
        (
            "User",
            "Email",
            "Description",
            "Start date",
            "Start time",
            "End date",
            "End time",
            "Duration",
        ),
    ),
    Fingerprint("toggl-2025", ("Start date", "Start time", "Stop date", "Stop time")),
    # US and EU settings share the header: both are returned, the user picks by setting.
    Fingerprint("clockify-us", ("Start Date", "Start Time", "Duration (h)", "Duration (decimal)")),
    Fingerprint("clockify-eu", ("Start Date", "Start Time", "Duration (h)", "Duration (decimal)")),
    Fingerprint("harvest", ("Date", "Hours", "Billable?", "First Name", "Last Name")),
    Fingerprint("tempo", ("Issue Key", "Hours", "Work date", "Work Description")),
    # the flat file `convert jira` writes (core.jira.OUTPUT_HEADERS)
    Fingerprint("jira-worklogs", ("Issue Key", "Author", "Started", "Time Spent (seconds)")),
    Fingerprint("kimai", ("Date", "From", "To", "Duration", "Customer", "Project", "Activity")),
    Fingerprint("bamboohr-hours", ("Employee #", "Hours Worked Date", "Rate Type", "Hours Worked")),
    Fingerprint("7pace-export", ("user_email", "timestamp_utc", "length_seconds")),
    # sample_data/payroll_hours.xlsx, the file the README's walkthrough imports
    Fingerprint(
        "payroll-demo",
        ("Employee Email", "Date", "Start", "Hours", "Billable Hours", "Work Item", "Notes"),
    ),
    Fingerprint("azure-devops-query", ("ID", "Work Item Type", "Completed Work")),
    Fingerprint(
        "7pace-npm",
        ("Duration",),
        ((("TimeStamp",), ("Date", "Start")), (("WorkItem",), ("Comment",))),
    ),
)


# Exports no preset reads as they are: a `convert` step reshapes them first.
JIRA_ISSUES = Fingerprint("jira-issues", ("Issue key", "Summary", "Log Work"))


def detect_conversion(headers: list[str]) -> Detection | None:
    """A raw Jira issue export (``Issue key``, ``Summary``, repeated ``Log Work``), which
    needs ``convert jira`` before ``--preset jira-worklogs`` can read it; else None."""
    found = detect_presets(headers, (JIRA_ISSUES,))
    return found[0] if found else None


def _index(headers: list[str]) -> dict[str, str]:
    """normalised header -> first original text (quotes around a header are dropped)."""
    out: dict[str, str] = {}
    for h in headers:
        key = normalise_header(str(h)).strip('"')
        out.setdefault(key, str(h))
    return out


def detect_presets(
    headers: list[str], fingerprints: tuple[Fingerprint, ...] = FINGERPRINTS
) -> list[Detection]:
    """Every preset whose fingerprint the header row satisfies, best first: more matched
    columns first (the more specific layout wins), then by name."""
    index = _index(headers)
    found: list[Detection] = []
    for fp in fingerprints:
        keys = [normalise_header(c) for c in fp.required]
        if not all(k in index for k in keys):
            continue
        matched = [index[k] for k in keys]
        ok = True
        for group in fp.one_of:
            hit = next(
                (alt for alt in group if all(normalise_header(c) in index for c in alt)), None
            )
            if hit is None:
                ok = False
                break
            matched += [index[normalise_header(c)] for c in hit]
        if ok:
            found.append(Detection(fp.preset, tuple(matched), len(matched)))
    return sorted(found, key=lambda d: (-d.score, d.preset))


def best_presets(headers: list[str]) -> list[Detection]:
    """The top-scoring detections (several when a setting, not the header, decides, as with
    clockify-us / clockify-eu); empty when nothing fits."""
    found = detect_presets(headers)
    return [d for d in found if d.score == found[0].score] if found else []


# Canonical field -> header words that suggest it (normalised), most specific first.
GUESSES: dict[str, tuple[str, ...]] = {
    "user": (
        "email",
        "e-mail",
        "user email",
        "username",
        "user name",
        "user",
        "employee",
        "mitarbeiter",
        "benutzer",
        "name",
    ),
    "timestamp": ("timestamp", "started", "start datetime", "work date"),
    "date": ("date", "datum", "day", "start date", "tag"),
    "start": ("start time", "start", "from", "begin", "beginn", "von"),
    "end": ("end time", "stop time", "end", "stop", "to", "bis", "ende"),
    # before "length", so a "Billable Hours" column is not taken for the length
    "billable_length": ("billable hours", "billable duration", "billable time", "billable length"),
    "length": ("duration", "hours", "time spent", "length", "dauer", "stunden", "dauer (h)"),
    "work_item": ("work item", "workitem", "work item id", "issue key", "issue", "ticket", "id"),
    "comment": (
        "comment",
        "description",
        "notes",
        "note",
        "summary",
        "beschreibung",
        "kommentar",
        "bemerkung",
        "notiz",
        "text",
    ),
    "activity_type": ("activity type", "activity", "tätigkeit", "task"),
}


def guess_fields(headers: list[str]) -> dict[str, str]:
    """Canonical field -> the header it most likely comes from (each header used once).
    Exact word matches win over 'contains'; a file with ``timestamp`` gets no date/start."""
    index = _index(headers)
    used: set[str] = set()
    out: dict[str, str] = {}
    for field, words in GUESSES.items():
        pick = next((index[w] for w in words if w in index and index[w] not in used), None)
        if pick is None:
            pick = next(
                (
                    h
                    for w in words
                    if len(w) > 3
                    for k, h in index.items()
                    if w in k and h not in used
                ),
                None,
            )
        if pick is not None:
            out[field] = pick
            used.add(pick)
    if "timestamp" in out:
        for name in ("date", "start"):
            if name in out:
                del out[name]
    if "length" in out:
        out.pop("end", None)
    return out


# --------------------------------------------------------------------------- data evidence

_DMY_LIKE = re.compile(r"^\s*(\d{1,2})([./-])(\d{1,2})\2(\d{2}|\d{4})\b")
_ISO_DATE = re.compile(r"^\s*\d{4}-\d{1,2}-\d{1,2}\b")
_AM_PM = re.compile(r"\b[AaPp]\.?[Mm]\.?\s*$")
_DECIMAL_COMMA = re.compile(r"^\s*\d+,\d+\s*$")


@dataclass(frozen=True)
class Choice:
    """What detection made of a file: the preset chosen (None when it cannot decide), the
    candidates it chose among, the header columns that matched, and the evidence from the
    data (lines a person reads)."""

    preset: str | None
    candidates: tuple[str, ...]
    matched: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    #: the day/month order the data shows, for a preset that leaves it open (None: keep)
    date_order: str | None = None

    def explain(self) -> str:
        """What was chosen and why: ``recognised preset X: matched columns ...``, then the
        evidence from the data (when presets share the header)."""
        cols = ", ".join(dict.fromkeys(self.matched))
        text = f"recognised preset {self.preset}"
        text += f": matched columns {cols}" if cols else ""
        if len(self.candidates) > 1:
            others = ", ".join(c for c in self.candidates if c != self.preset)
            text += f"; {others} shares the header, and the data decides"
        if self.date_order is not None:
            text += f"; date order {self.date_order} from the data"
        why = "; ".join(self.evidence)
        return text + (f": {why}" if why else "")

    def refusal(self) -> str:
        """The message when no preset was chosen."""
        if not self.candidates:
            return "--preset auto: no shipped preset matches this file's header row"
        names = " or ".join(self.candidates)
        why = "; ".join(self.evidence) or "nothing in the data decides"
        return f"--preset auto: the file fits {names} and its data cannot decide: {why}"

    def hint(self) -> str:
        if not self.candidates:
            return "`timetracker-import mapping init FILE -o my.yaml` drafts a mapping"
        return (
            "name one: "
            + " or ".join(f"--preset {c}" for c in self.candidates)
            + (" (docs/presets.md says which setting each one matches)")
        )


def _column(rows: pd.DataFrame | None, headers: list[str], name: str) -> list[str]:
    """The non-empty text cells of a header's column in ``rows`` (positional columns)."""
    if rows is None or rows.empty:
        return []
    key = normalise_header(name)
    for pos, header in enumerate(headers):
        if normalise_header(str(header)).strip('"') == key and pos in rows.columns:
            return [str(v).strip() for v in rows[pos].tolist() if isinstance(v, str) and v.strip()]
    return []


def date_order_evidence(cells: list[str]) -> tuple[str | None, list[str]]:
    """("MDY" | "DMY" | None, evidence lines) from date texts such as 03/14/2024. Only a
    part above 12 decides; a dotted date (14.03.2024) is a day-first format. Both orders
    seen: None, with both pieces of evidence."""
    first_over: list[str] = []
    second_over: list[str] = []
    dotted: str | None = None
    for cell in cells:
        m = _DMY_LIKE.match(cell)
        if not m:
            continue
        a, sep, b = int(m.group(1)), m.group(2), int(m.group(3))
        if a > 12:
            first_over.append(cell)
        if b > 12:
            second_over.append(cell)
        if sep == "." and dotted is None:
            dotted = cell
    evidence = []
    if first_over:
        evidence.append(
            f"{len(first_over)} date cell(s) such as {first_over[0]!r} have a part > 12 first "
            "(day/month order)"
        )
    if second_over:
        evidence.append(
            f"{len(second_over)} date cell(s) such as {second_over[0]!r} have a part > 12 second "
            "(month/day order)"
        )
    if first_over and second_over:
        evidence.append("the file contradicts itself: fix the odd dates or name the preset")
        return None, evidence
    if dotted and not second_over:
        evidence.append(f"date {dotted!r} is written with dots (a day-first format)")
        return "DMY", evidence
    if first_over:
        return "DMY", evidence
    if second_over:
        return "MDY", evidence
    return None, evidence


def _hints(times: list[str], durations_: list[str]) -> list[str]:
    """Weaker evidence, reported but not deciding: AM/PM times, decimal commas."""
    out = []
    am_pm = next((t for t in times if _AM_PM.search(t)), None)
    if am_pm:
        out.append(
            f"times such as {am_pm!r} use AM/PM (a 12-hour clock is a separate setting from "
            "the date order, so this does not decide)"
        )
    comma = next((d for d in durations_ if _DECIMAL_COMMA.match(d)), None)
    if comma:
        out.append(f"durations such as {comma!r} use a decimal comma (does not decide alone)")
    return out


def _clockify(headers: list[str], rows: pd.DataFrame | None) -> tuple[str | None, list[str]]:
    dates = _column(rows, headers, "Start Date") + _column(rows, headers, "End Date")
    if dates and all(_ISO_DATE.match(d) for d in dates):
        return "clockify-us", [
            f"every date is YYYY-MM-DD (e.g. {dates[0]!r}), which clockify-us and clockify-eu "
            "read the same"
        ]
    order, evidence = date_order_evidence(dates)
    if order is None:
        if not evidence:
            n = len(rows) if rows is not None else 0
            evidence.append(
                f"in the first {n} rows every date reads both ways (day and month both <= 12)"
            )
        times = _column(rows, headers, "Start Time")
        evidence += _hints(times, _column(rows, headers, "Duration (h)"))
        return None, evidence
    return ("clockify-us" if order == "MDY" else "clockify-eu"), evidence


# Presets whose date order follows the exporting user's profile: the column it is read from.
_OPEN_DATE_ORDER = {"azure-devops-query": "Changed Date"}

# Presets that share a header, told apart by their data.
_BY_DATA = {frozenset({"clockify-us", "clockify-eu"}): _clockify}

_DATE_TIME = re.compile(r"^\s*\d{1,4}[./-]\d{1,2}[./-]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2})?)?")
_HOURS = re.compile(r"^\s*\d+([.,]\d+)?\s*$")


def _npm_letters(headers: list[str]) -> list[str] | None:
    """Evidence that the file has no header row and uses the old importer's letter layout
    (A=UserName, B=TimeStamp, C=Duration, ...): the 'header' is a data row."""
    cells = [str(h).replace("\ufeff", "").strip().strip('"') for h in headers]
    if len(cells) < 3 or len(cells) > 8:
        return None
    stamp, hours = cells[1], cells[2]
    if not (_DATE_TIME.match(stamp) and _HOURS.match(hours)):
        return None
    return [
        f"the first row is data, not a header: B = {stamp!r} reads as a date-time and "
        f"C = {hours!r} as hours (the old importer's layout without a header row)"
    ]


def choose_preset(headers: list[str], rows: pd.DataFrame | None = None) -> Choice:
    """Choose the preset for a file from its header and (for presets that share a header)
    its first rows: ``rows`` holds raw cells by column position, as ``RawTable.chunks``
    gives them. ``Choice.preset`` is None when nothing fits or the data cannot decide."""
    found = best_presets(headers)
    if not found:
        letters = _npm_letters(headers)
        if letters:
            return Choice("7pace-npm-letters", ("7pace-npm-letters",), (), tuple(letters))
        return Choice(None, ())
    names = tuple(d.preset for d in found)
    matched = found[0].matched
    if len(found) == 1:
        column = _OPEN_DATE_ORDER.get(names[0])
        if column is not None:
            order, evidence = date_order_evidence(_column(rows, headers, column))
            if order is None and not evidence:
                evidence = [f"no {column} reads only one way: ambiguous dates stay rejected"]
            return Choice(names[0], names, matched, tuple(evidence), order)
        return Choice(names[0], names, matched)
    decide = _BY_DATA.get(frozenset(names))
    if decide is None:
        return Choice(None, names, matched, ("these presets share the header",))
    preset, evidence = decide(headers, rows)
    return Choice(preset, names, matched, tuple(evidence))
