"""Recognise a shipped preset from a file's header row (fingerprints from
../shared/docs/export-formats.md §11), and guess canonical fields from unknown headers.

Pure functions over header texts: matching ignores case, spaces, quotes and a UTF-8 BOM.
"""

from __future__ import annotations

from dataclasses import dataclass

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
