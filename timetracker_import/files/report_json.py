"""Write a ``Report`` as JSON (schema: docs/report-schema.md), or pick the format by suffix."""

from __future__ import annotations

import json
import os
from pathlib import Path

from timetracker_import.core.report import Report
from timetracker_import.errors import UsageError
from timetracker_import.files.writers import write_text_atomic

REPORT_SUFFIXES = (".html", ".htm", ".json")


def report_to_json(report: Report) -> str:
    """The report as a JSON document (UTF-8 text, indented, ends with a newline)."""
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


def write_json_report(report: Report, path: str | os.PathLike[str]) -> Path:
    """Write the report as JSON to ``path``; returns the path written."""
    return write_text_atomic(path, report_to_json(report))


def write_report(report: Report, path: str | os.PathLike[str]) -> Path:
    """Write the report as HTML (``.html``/``.htm``) or JSON (``.json``) by the file's suffix.

    Raises ``UsageError`` for any other suffix, before anything is written.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".json":
        return write_json_report(report, target)
    if suffix in (".html", ".htm"):
        from timetracker_import.files.report_html import write_html_report

        return write_html_report(report, target)
    raise UsageError(
        f"--report {target}: unknown report format {suffix or '(no suffix)'!r}",
        hint="name the report file .html (a page to open or print) or .json (for programs)",
    )


def check_report_path(path: str | os.PathLike[str]) -> Path:
    """Validate a ``--report`` path up front (suffix known, folder exists) so a long run does
    not fail at the very end."""
    target = Path(path)
    if target.suffix.lower() not in REPORT_SUFFIXES:
        raise UsageError(
            f"--report {target}: unknown report format {target.suffix or '(no suffix)'!r}",
            hint="name the report file .html (a page to open or print) or .json (for programs)",
        )
    from timetracker_import.files.writers import check_parent

    check_parent(target)  # a missing folder is created when the report is written
    return target
