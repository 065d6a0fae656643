"""``timetracker-import validate``: check a file offline against a mapping."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from timetracker_import.cli import evidence
from timetracker_import.cli.options import (
    STDIN_META,
    date_order_option,
    input_file_argument,
    input_options,
    json_option,
    lookup_dir_option,
    notify_options,
    report_option,
)
from timetracker_import.cli.render import rejection_lines

if TYPE_CHECKING:
    from timetracker_import.library import ValidateResult


def _hours(seconds: int) -> str:
    return f"{seconds / 3600:.2f} h"


_OUTCOME_TEXT = {
    "passed on": "passed on as written, for the server to resolve (email, uniqueName or "
    "display name)",
    "key in comment": "no work item; the key is kept in the comment ([KEY] ...)",
}


def _rows(rows: list[int], count: int) -> str:
    shown = ", ".join(str(r) for r in rows[:5])
    if count == 1:
        return f"row {shown}"
    return f"{count} rows: {shown}" + (" ..." if count > 5 else "")


def render_lookups(result: ValidateResult) -> list[str]:
    """Lines on the lookups: files not found, and the values without an entry (what became
    of them and what still needs the server or a lookup entry)."""
    lines: list[str] = []
    for name, file in result.missing_lookup_files.items():
        lines.append(f"lookup {name!r}: {file} not found; its values pass on (see below)")
    by_field: dict[tuple[str, str, str], list[tuple[str, list[int], int]]] = {}
    for miss in result.lookup_misses:
        by_field.setdefault((miss.field, miss.lookup, miss.outcome), []).append(
            (miss.value, miss.rows, miss.count)
        )
    for (field, lookup, outcome), values in by_field.items():
        lines.append(
            f"{field}: {len(values)} value(s) not in lookup {lookup!r}: "
            + _OUTCOME_TEXT.get(outcome, outcome)
        )
        for value, rows, count in values[:10]:
            lines.append(f"  {value!r} ({_rows(rows, count)})")
        if len(values) > 10:
            lines.append(f"  ... and {len(values) - 10} more")
        if outcome == "passed on":
            file = result.lookup_files.get(lookup, f"the {lookup!r} lookup file")
            lines.append(
                "  these still need the server: `import --dry-run` checks them; to pin one, "
                f"add it with its 7pace user to {file}"
            )
    return lines


def render_summary(result: ValidateResult, path: Path) -> str:
    """The human summary printed to stderr."""
    skipped_filter = result.skipped - result.skipped_duplicates - len(result.replaced)
    parts = []
    if skipped_filter:
        parts.append(f"{skipped_filter} skipped by skip_rows")
    if result.skipped_duplicates:
        parts.append(f"{result.skipped_duplicates} skipped as copies of an earlier row")
    if result.replaced:
        parts.append(f"{len(result.replaced)} skipped as corrected by a later row")
    lines = []
    if result.detection:
        lines.append(result.detection)
    lines += [
        f"{path.name}: {result.rows} rows, {result.valid} valid, {result.rejected} rejected"
        + "".join(f", {p}" for p in parts),
        f"total {_hours(result.total_seconds)} valid time",
    ]
    for user, seconds in sorted(result.seconds_per_user.items()):
        lines.append(f"  {user}: {_hours(seconds)}")
    lines.append(
        f"times without an offset read in {result.zone.describe()}; "
        f"mapping: {result.mapping_source}"
    )
    if result.repeats:
        what = {"skip": "skipped", "fail": "rejected", "allow": "kept (both imported)"}
        pairs = ", ".join(f"{r} (= row {f})" for r, f in sorted(result.repeats.items())[:10])
        more = len(result.repeats) - 10
        why = {
            "--on-duplicate": f"--on-duplicate {result.on_duplicate}",
            "mapping": f"the mapping's on_duplicate: {result.on_duplicate}",
        }.get(result.on_duplicate_from, "--on-duplicate allow keeps both")
        lines.append(
            f"identical rows within the file, {what[result.on_duplicate]} ({why}): {pairs}"
            + (f" and {more} more" if more > 0 else "")
        )
    lines.extend(render_lookups(result))
    lines.extend(f"note: {n}" for n in result.notes)
    if result.note:
        lines.append(f"note: {result.note.strip()}")
    if result.long_comments:
        from timetracker_import.api.protocol import MAX_COMMENT_CHARS

        shown = ", ".join(str(r) for r in result.long_comments[:10])
        more = len(result.long_comments) - 10
        count = len(result.long_comments)
        rows_have = "1 row has" if count == 1 else f"{count} rows have"
        lines.append(
            f"warning: {rows_have} a comment over {MAX_COMMENT_CHARS:,} characters (row {shown}"
            f"{f' and {more} more' if more > 0 else ''}): 7pace may refuse "
            f"{'it' if count == 1 else 'them'}; an import then rejects such a row with the "
            "server's reason"
        )
    if result.billable_over_length:
        lines.append(
            f"note: {result.billable_over_length} rows have billable length > length "
            "(7pace accepts this)"
        )
    if result.rejected_path is not None:
        lines.append(f"rejected rows written to {result.rejected_path}")
        lines += rejection_lines(result.rejections)
    return "\n".join(lines)


def json_document(result: ValidateResult) -> dict[str, Any]:
    """The ``--json`` document printed to stdout."""
    doc = {
        "rows": result.rows,
        "valid": result.valid,
        "rejected": result.rejected,
        "skipped": result.skipped,
        "total_seconds": result.total_seconds,
        "seconds_per_user": result.seconds_per_user,
        "skipped_duplicates": result.skipped_duplicates,
        "timezone": result.timezone,
        "zone": result.zone.to_dict(),
        "on_duplicate": result.on_duplicate,
        "in_file_duplicates": [
            {"source_row": r, "same_as_row": f} for r, f in sorted(result.repeats.items())
        ],
        "missing_lookup_files": result.missing_lookup_files,
        "lookup_misses": [m.to_dict() for m in result.lookup_misses],
        "detection": result.detection,
        "note": result.note,
        "notes": list(result.notes),
        "replaced_by_key": [
            {"source_row": r, "replaced_by_row": by} for r, by in sorted(result.replaced.items())
        ],
        "self_rows": result.self_rows,
        "long_comments": list(result.long_comments),
        "rejected_path": str(result.rejected_path) if result.rejected_path else None,
        "rejections": [
            {
                "source_row": r.source_row,
                "stage": r.stage,
                "column": r.column,
                "value": r.value,
                "reason": r.reason,
            }
            for r in result.rejections
        ],
        "exit_code": result.exit_code,
    }
    return doc


@click.command("validate")
@input_file_argument
@input_options
@date_order_option
@lookup_dir_option
@click.option(
    "--rejected",
    "rejected_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write rejected rows (default: <file>.rejected.<ext>).",
)
@json_option()
@report_option(
    "Also write a report: PATH.html (a page to read or print) or PATH.json (docs/report-schema.md)."
)
@notify_options
def validate(
    file: Path,
    mapping_path: Path | None,
    preset: str | None,
    sheet: str | None,
    timezone: str | None,
    encoding: str | None,
    delimiter: str | None,
    date: str | None,
    on_duplicate: str,
    date_order: str | None,
    lookup_dir: Path | None,
    rejected_path: Path | None,
    as_json: bool,
    report_path: Path | None,
) -> int:
    """Check FILE against a mapping without sending anything.

    Exit 0 when every row is valid, 1 when some rows were rejected (they are written to the
    rejected-rows file with source_row, stage and reason), 2 for usage, mapping or
    unreadable-file errors.
    """
    from timetracker_import.library import validate as run

    if rejected_path is None and STDIN_META in click.get_current_context().meta:
        rejected_path = Path(f"stdin.rejected{file.suffix}")  # not beside a temporary file
    result = run(
        file,
        mapping=mapping_path,
        preset=preset,
        sheet=sheet,
        timezone=timezone,
        encoding=encoding,
        delimiter=delimiter,
        rejected=rejected_path,
        report=report_path,
        on_duplicate=on_duplicate,
        date=date,
        date_order=date_order,
        lookup_dir=lookup_dir,
        keep_rows=False,
    )
    click.echo(render_summary(result, file), err=True)
    if result.report_path is not None:
        click.echo(f"report written to {result.report_path}", err=True)
    evidence.emit(json_document(result))
    return result.exit_code
