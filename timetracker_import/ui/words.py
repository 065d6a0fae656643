"""The pages' words for what the library says in the command line's: its messages and hints
name options (``--window``, ``--max-delete 30``) and commands; a page names the field or
the button instead. Applied to every page error, job error and note a page shows."""

from __future__ import annotations

import re

#: an option (with its value when the option takes one) -> what the pages call it
_OPTIONS: tuple[tuple[str, str], ...] = (
    (r"give --timezone with their zone", "fill in the time zone field with their zone"),
    (r" today \(me\.timeZone\)", " today (their 7pace profile)"),
    (r"--max-delete\s+(\d+%)", r"a deletion limit of \1 of the worklogs"),
    (r"--max-delete\s+(\d+)\b", r"a limit of \1 deletions (the “Allow \1 deletions” button)"),
    (r"--max-delete\s+all", "no deletion limit"),
    (r"--max-delete(?:\s+N\|P%\|all)?", "the deletion guard's limit"),
    (r"--window(?:\s+FROM\.\.TO)?", "the period"),
    (r"--prune", "deleting (“Delete worklogs that left the file”)"),
    (r"--source\s+NAME", "the source name"),
    (r"--source\s+([\w.-]+)", r"the source name \1"),
    (r"--source", "the source name"),
    (r"add --timezone ([\w/+-]+)", r"fill in the time zone field (e.g. \1)"),
    (r"--timezone(?:\s+ZONE)?", "the time zone field"),
    (r"--key(?:\s+COLUMN)?", "the id column"),
    (r"--on-duplicate-key(?:\s+\w+)?", "the rule for repeated ids (in the mapping)"),
    (r"--on-duplicate(?:\s+\w+)?", "the rule for repeated rows (in the mapping)"),
    (r"--overwrite-edited", "overwriting edits made in 7pace (not offered here)"),
    (r"--ledger(?:\s+PATH)?", "the ledger"),
    (r"--wait(?:\s+SECONDS)?", "waiting"),
    (r"--mapping(?:\s+PATH)?", "the mapping"),
    (r"--preset(?:\s+NAME)?", "the mapping"),
    (r"--token-file(?:\s+PATH)?", "the token"),
    (r"--token", "the token"),
    (r"--url(?:\s+\S+)?", "the server address"),
    (r"--dry-run", "the plan"),
    (r"--yes", "the confirmation"),
    (r"--json", "the summary"),
    (r"--sheet(?:\s+NAME)?", "the sheet"),
)
_REWRITES = [(re.compile(p), r) for p, r in _OPTIONS]
#: mapping-file advice that names a key path and a command: on a page, the place to say it
_MAPPING_ADVICE = (
    (
        re.compile(r"with `default: me` on fields\.user \(in a copy of the preset: `[^`]*`\)"),
        "on the Mapping page (copy the mapping into the form; in More settings, under "
        "fields: add user: default: me)",
    ),
    (
        re.compile(r"\(the mapping says so: `default: me` on fields\.user, or no user field\)"),
        "(the mapping says so)",
    ),
    (  # rows that start beside a worklog: on a page, the Sync page replaces them
        re.compile(
            r"use `timetracker-import sync` \(docs/sync\.md\), or fix them with "
            r"`timetracker-import worklogs update` / `worklogs delete`"
        ),
        "use the Sync page (it changes worklogs in place), or correct them in 7pace",
    ),
    (  # an unknown user's fix: on a page it is the dry run's alias (a value map, the same)
        re.compile(
            r"turn it into a 7pace user's e-mail with `map: \{[^`]*\}` on fields\.user in "
            r"(?:a mapping of your own \(`[^`]*`, then --mapping [^)\s]+\)|the mapping|\S+?)"
            r"(?=,|;|$)"
        ),
        "name the 7pace user it stands for (on the dry run's page: an alias)",
    ),
)
#: a preset's description naming a conversion command (Jira's is a button on the File page)
_CONVERT = (
    (re.compile(r"converted by `convert jira`"), "converted on the File page"),
    (re.compile(r"`convert ([\w-]+)`"), r"the command line's \1 conversion"),
)
#: a period as the command line writes it ("2026-11-30..2026-12-06 (week:current)")
_PERIOD = re.compile(
    r"(\d{4}-\d\d-\d\d)\.\.(\d{4}-\d\d-\d\d)"
    r"(?: \(((?:week|month):(?:current|previous)|last:\d+[dw])\))?"
)
_SPECS = {
    "week:current": "this week",
    "week:previous": "last week",
    "month:current": "this month",
    "month:previous": "last month",
}
#: "the period ... this sync is about (--window)": on a page there is one period, the setup's
_ABOUT = re.compile(r" this sync is about \(--window\)")


def _period(m: re.Match[str]) -> str:
    spec = m[3]
    if spec is None:
        return f"{m[1]} to {m[2]}"
    last = re.fullmatch(r"last:(\d+)([dw])", spec)
    said = f"the last {last[1]} {'days' if last[2] == 'd' else 'weeks'}" if last else _SPECS[spec]
    return f"{m[1]} to {m[2]} ({said})"


#: the error name of a 7pace answer ("401 UnauthorizedError: ...") is not for people
_ERROR_NAME = re.compile(r"\b(\d{3}) [A-Z][A-Za-z]*(?:Error|Exception): ")
_COMMAND = re.compile(r"`timetracker-import [^`]*`|timetracker-import [a-z][\w -]*?(?=[;,.)]|$)")
#: a date/time format code ('%m/%d/%Y') and how a person writes it (MM/DD/YYYY)
_FORMAT = re.compile(r"%[a-zA-Z](?:[^'\s%]*%[a-zA-Z])*[^'\s%]*")
_CODES = {
    "d": "DD",
    "m": "MM",
    "Y": "YYYY",
    "y": "YY",
    "H": "hh",
    "I": "hh",
    "M": "mm",
    "S": "ss",
    "p": "AM/PM",
    "b": "Mon",
    "B": "Month",
    "f": "ffffff",
    "z": "+hhmm",
    "j": "day of the year",
    "a": "Mon",
    "A": "Monday",
}
_LEFT = re.compile(r"(?<![\w-])--([a-z][\w-]+)")
#: "run again with X" in a hint: on a page the fix is a button or a field
_RUN_AGAIN = re.compile(r"\b(?:run|try) (?:it |the same command )?again with\b")


def for_page(text: str) -> str:
    """``text`` with every option and command rewritten into the pages' words."""
    out = text
    for pattern, said in _MAPPING_ADVICE:
        out = pattern.sub(said, out)
    out = _ERROR_NAME.sub(r"\1: ", out)
    for pattern, said in _CONVERT:
        out = pattern.sub(said, out)
    out = _ABOUT.sub(" this sync is about", _PERIOD.sub(_period, out))
    out = out.replace("declare a period", "choose a period")
    out = _COMMAND.sub("the command line", out)
    out = _FORMAT.sub(lambda m: re.sub(r"%([a-zA-Z])", lambda c: _CODES.get(c[1], c[1]), m[0]), out)
    out = _RUN_AGAIN.sub("plan again with", out)
    for pattern, words in _REWRITES:
        out = pattern.sub(words, out)
    return _LEFT.sub(lambda m: "the “" + m.group(1).replace("-", " ") + "” setting", out)


def problem(error: tuple[str, str | None] | None) -> tuple[str, str | None] | None:
    """A (message, hint) pair in the pages' words."""
    if error is None:
        return None
    message, hint = error
    return for_page(message), None if hint is None else for_page(hint)
