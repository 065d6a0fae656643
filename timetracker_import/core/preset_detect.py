"""Recognise a shipped preset from a file's header row (fingerprints from
../shared/docs/export-formats.md §11) and, where presets share a header, from the data of
the first rows (``choose_preset``); guess canonical fields from unknown headers.

Pure functions over header texts and raw cells: matching ignores case, spaces, quotes and a
UTF-8 BOM.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
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
    # the file `convert split-days` writes (core.split_days.SPLIT_HEADERS)
    Fingerprint("split-days", ("source_row", "part", "user", "timestamp_utc", "length_seconds")),
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


#: a day/month order is chosen from at least this many distinct dates that read only one way
MIN_DECIDING_DATES = 2
#: ... and when the dates that read only the other way are at most this share of them (they
#: are then rows to reject, not votes)
MAX_CONTRADICTING_SHARE = 0.1

ORDER_WORDS = {"MDY": "month/day (US)", "DMY": "day/month"}


@dataclass(frozen=True)
class DateOrderVerdict:
    """What a file's dates say about their day/month order (``infer_date_order``).

    ``order``: "MDY" or "DMY" when the rows agree (None otherwise); ``needed``: some date
    reads both ways, so an order must be known; ``evidence``: lines a person reads;
    ``contradicting``: (row, text) of the dates that read only the other way (rejected
    under ``order``)."""

    order: str | None
    needed: bool
    evidence: tuple[str, ...] = ()
    contradicting: tuple[tuple[int, str], ...] = ()

    @property
    def undecided(self) -> bool:
        """An order is needed and the data cannot give it: ask the user."""
        return self.needed and self.order is None


def _example(found: dict[str, int]) -> str:
    text, row = next(iter(found.items()))
    return f"{text!r} (row {row})"


def infer_date_order(cells: Iterable[tuple[int, str]]) -> DateOrderVerdict:
    """The day/month order of ``(row, text)`` date cells such as ``03/14/2024``, from all
    of them, never from one: an order is chosen when at least ``MIN_DECIDING_DATES``
    distinct dates read only that way and the dates that read only the other way are at
    most ``MAX_CONTRADICTING_SHARE`` of those (they become rejections, named in the
    evidence). ISO dates and times are ignored; when no date reads both ways the order
    does not matter, and one date may decide."""
    first_over: dict[str, int] = {}  # date text -> first row: only day/month reads it
    second_over: dict[str, int] = {}  # only month/day reads it
    both = 0
    rows_of: dict[str, dict[int, None]] = {}
    for row, cell in cells:
        m = _DMY_LIKE.match(cell)
        if not m:
            continue
        a, b, text = int(m.group(1)), int(m.group(3)), m.group(0).strip()
        rows_of.setdefault(text, {})[row] = None  # a row's start and end date count once
        if a > 12 and b <= 12:
            first_over.setdefault(text, row)
        elif b > 12 and a <= 12:
            second_over.setdefault(text, row)
        elif a <= 12 and b <= 12 and a != b:
            both += 1
    if not first_over and not second_over:
        if not both:
            return DateOrderVerdict(None, False)
        return DateOrderVerdict(
            None, True, ("every date reads both ways (day and month both <= 12)",)
        )
    major, minor = (first_over, second_over)
    order, other = "DMY", "MDY"
    if len(second_over) > len(first_over):
        major, minor, order, other = second_over, first_over, "MDY", "DMY"
    needed = bool(both or minor)
    said = f"{len(major)} date(s) such as {_example(major)} read only as {ORDER_WORDS[order]}"
    if minor and (
        len(major) < MIN_DECIDING_DATES or len(minor) > MAX_CONTRADICTING_SHARE * len(major)
    ):
        return DateOrderVerdict(
            None,
            True,
            (
                said,
                f"{len(minor)} such as {_example(minor)} only as {ORDER_WORDS[other]}",
                "the file has both orders: fix the odd dates or name the order",
            ),
        )
    if needed and len(major) < MIN_DECIDING_DATES:
        return DateOrderVerdict(
            None,
            True,
            (
                f"only {_example(major)} reads only as {ORDER_WORDS[order]} and the other "
                "dates read both ways: one date does not decide a file's order",
            ),
        )
    evidence = [said]
    contradicting = tuple((r, t) for t in minor for r in rows_of[t])
    if contradicting:
        shown = ", ".join(f"{t!r} (row {r})" for r, t in contradicting[:5])
        evidence.append(
            f"{len(contradicting)} row(s) contradict it and are rejected: {shown}"
            + (" ..." if len(contradicting) > 5 else "")
        )
    return DateOrderVerdict(order, needed, tuple(evidence), contradicting)


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
    #: the day/month order is what the data cannot decide: ask for it (``--date-order``
    #: on ``mapping init``, a choice in the web app) rather than name a preset
    needs_date_order: bool = False
    #: rows whose dates contradict the order chosen (they are rejected)
    contradicting: tuple[tuple[int, str], ...] = ()
    #: the order the user named (``date_order=``), which decided instead of the data
    order_given: str | None = None

    def explain(self) -> str:
        """What was chosen and why: ``recognised preset X: matched columns ...``, then the
        evidence from the data (when presets share the header)."""
        cols = ", ".join(dict.fromkeys(self.matched))
        text = f"recognised preset {self.preset}"
        text += f": matched columns {cols}" if cols else ""
        decides = f"--date-order {self.order_given}" if self.order_given else "the data"
        if len(self.candidates) > 1:
            others = ", ".join(c for c in self.candidates if c != self.preset)
            text += f"; {others} shares the header, and {decides} decides"
        if self.date_order is not None:
            text += f"; date order {self.date_order} from {decides}"
        why = "; ".join(self.evidence)
        return text + (f": {why}" if why else "")

    def refusal(self) -> str:
        """The message when no preset was chosen."""
        if not self.candidates:
            return "--preset auto: no shipped preset matches this file's header row"
        names = " or ".join(self.candidates)
        why = "; ".join(self.evidence) or "nothing in the data decides"
        if len(self.candidates) == 1:
            return f"--preset auto: the file fits {names}, but its day/month order is open: {why}"
        return f"--preset auto: the file fits {names} and its data cannot decide: {why}"

    def hint(self) -> str:
        if not self.candidates:
            return "`timetracker-import mapping init FILE -o my.yaml` drafts a mapping"
        order = (
            "write a mapping with the order: `timetracker-import mapping init FILE "
            "--date-order MDY -o my.yaml` (or DMY), then use --mapping my.yaml"
        )
        if len(self.candidates) == 1:
            return order
        return (
            "name one: "
            + " or ".join(f"--preset {c}" for c in self.candidates)
            + " (docs/presets.md says which setting each one matches)"
        )


def _column(rows: pd.DataFrame | None, headers: list[str], name: str) -> list[tuple[int, str]]:
    """(row, text) of the non-empty text cells of a header's column in ``rows``."""
    if rows is None or rows.empty:
        return []
    key = normalise_header(name)
    for pos, header in enumerate(headers):
        if normalise_header(str(header)).strip('"') == key and pos in rows.columns:
            return [
                (int(r), str(v).strip())
                for r, v in zip(rows.index.tolist(), rows[pos].tolist(), strict=True)
                if isinstance(v, str) and v.strip()
            ]
    return []


def _date_cells(rows: pd.DataFrame | None, headers: list[str], name: str) -> int:
    """How many cells of a header's column in ``rows`` are real dates (an Excel date cell),
    which read the same whatever the date order."""
    if rows is None or rows.empty:
        return 0
    key = normalise_header(name)
    for pos, header in enumerate(headers):
        if normalise_header(str(header)).strip('"') == key and pos in rows.columns:
            return sum(isinstance(v, (dt.date, pd.Timestamp)) for v in rows[pos].tolist())
    return 0


def _texts(cells: list[tuple[int, str]]) -> list[str]:
    return [t for _, t in cells]


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


def _clockify(
    headers: list[str], rows: pd.DataFrame | None, date_order: str | None
) -> tuple[str | None, DateOrderVerdict]:
    dates = _column(rows, headers, "Start Date") + _column(rows, headers, "End Date")
    names = {"MDY": "clockify-us", "DMY": "clockify-eu"}
    if date_order in names:
        return names[date_order], DateOrderVerdict(date_order, True)
    cells = _date_cells(rows, headers, "Start Date") + _date_cells(rows, headers, "End Date")
    if cells and not dates:
        return "clockify-us", DateOrderVerdict(
            None,
            False,
            (
                f"every date is a real date cell ({cells} read), which clockify-us and "
                "clockify-eu read the same",
            ),
        )
    if dates and all(_ISO_DATE.match(d) for d in _texts(dates)):
        return "clockify-us", DateOrderVerdict(
            None,
            False,
            (
                f"every date is YYYY-MM-DD (e.g. {dates[0][1]!r}), which clockify-us and "
                "clockify-eu read the same",
            ),
        )
    verdict = infer_date_order(dates)
    if verdict.order is None:
        shaped = [t for t in _texts(dates) if _DMY_LIKE.match(t)]
        if shaped and all("." in t.split()[0] for t in shaped):
            # Clockify's only dotted date format is DD.MM.YYYY: a format, not a vote of rows
            dotted = "dates are written with dots such as " + repr(shaped[0])
            return "clockify-eu", DateOrderVerdict(
                "DMY", True, (f"{dotted} (Clockify's DD.MM.YYYY, a day-first format)",)
            )
        if not verdict.evidence:
            n = len(rows) if rows is not None else 0
            verdict = DateOrderVerdict(
                None, True, (f"no date in the {n} rows read decides the order",)
            )
        times = _column(rows, headers, "Start Time")
        hints = _hints(_texts(times), _texts(_column(rows, headers, "Duration (h)")))
        return None, DateOrderVerdict(None, True, verdict.evidence + tuple(hints))
    return names[verdict.order], verdict


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


def date_columns(presets: Iterable[str]) -> list[str]:
    """The columns whose dates decide the day/month order among ``presets`` (for reading
    the whole file's evidence, not only its first rows)."""
    names = set(presets)
    out: list[str] = []
    if names & {"clockify-us", "clockify-eu"}:
        out += ["Start Date", "End Date"]
    out += [c for p, c in _OPEN_DATE_ORDER.items() if p in names]
    return out


def choose_preset(
    headers: list[str], rows: pd.DataFrame | None = None, *, date_order: str | None = None
) -> Choice:
    """Choose the preset for a file from its header and (for presets that share a header,
    or leave the day/month order open) its rows: ``rows`` holds raw cells by column
    position, as ``RawTable.chunks`` gives them (the more rows, the more evidence).
    ``date_order`` ("MDY" | "DMY"): the order the user named, which decides instead of the
    data. ``Choice.preset`` is None when nothing fits or the data cannot decide; then
    ``needs_date_order`` says whether naming the order would."""
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
        if column is None:
            return Choice(names[0], names, matched)
        if date_order is not None:
            return Choice(names[0], names, matched, (), date_order, order_given=date_order)
        verdict = infer_date_order(_column(rows, headers, column))
        if verdict.undecided:
            return Choice(None, names, matched, verdict.evidence, needs_date_order=True)
        return Choice(
            names[0],
            names,
            matched,
            verdict.evidence,
            verdict.order,
            contradicting=verdict.contradicting,
        )
    decide = _BY_DATA.get(frozenset(names))
    if decide is None:
        return Choice(None, names, matched, ("these presets share the header",))
    preset, verdict = decide(headers, rows, date_order)
    return Choice(
        preset,
        names,
        matched,
        verdict.evidence,
        needs_date_order=preset is None,
        contradicting=verdict.contradicting,
        order_given=date_order if preset is not None else None,
    )
