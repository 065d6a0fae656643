"""``timetracker-import mapping``: the mapping file format and the shipped presets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from timetracker_import.cli.options import (
    connection_options,
    date_order_option,
    lookup_dir_option,
    mapping_options,
    reading_options,
    timezone_option,
)

if TYPE_CHECKING:
    from timetracker_import.cli.options import ConnectionOptions


@click.group("mapping")
def mapping() -> None:
    """Mapping files: JSON Schema, shipped presets."""


@mapping.command("schema")
def schema() -> None:
    """Print the JSON Schema of mapping files (for editor validation)."""
    from timetracker_import.core.mapping import mapping_json_schema

    click.echo(json.dumps(mapping_json_schema(), indent=2))


@mapping.command("presets")
def presets() -> None:
    """List the shipped presets (use one with --preset NAME)."""
    from timetracker_import import library

    for preset in library.presets():
        click.echo(f"{preset.name:<22} {preset.description}")


@mapping.command("show")
@click.argument("name")
def show(name: str) -> None:
    """Print the YAML of a shipped preset (a starting point for your own mapping)."""
    from timetracker_import import library

    click.echo(library.preset_text(name), nl=False)


def _draft_mapping(headers: list[str], file_name: str) -> str:
    """A commented mapping YAML drafted from the header row with guessed fields."""
    from timetracker_import.core.preset_detect import guess_fields

    guesses = guess_fields(headers)
    lines = [
        f"# Drafted by `timetracker-import mapping init` from the header row of {file_name}.",
        "# The fields below are GUESSES: check each one, then try it with",
        "#   timetracker-import mapping check --mapping THIS_FILE " + file_name,
        "# Columns in the file: " + ", ".join(headers),
        "# docs/mapping.md describes every key.",
        "version: 1",
        "header: true",
        "# date_order: DMY    # MDY | DMY | YMD: needed when dates look like 03/04/2026",
        "# timezone: Europe/Berlin",
        "fields:",
    ]
    for name in GUESS_ORDER:
        if name in guesses:
            column = guesses[name].replace('"', '\\"')
            extra = ", unit: hours" if name in ("length", "billable_length") else ""
            lines.append(f'  {name}: {{column: "{column}"{extra}}}   # guessed')
        else:
            lines.append(f"  # {name}: {{column: ...}}   # no header looked like it")
    if "timestamp" not in guesses and "date" not in guesses:
        lines.append("  # TODO: a start time is required: timestamp, or date (+ start)")
    if "length" not in guesses and "end" not in guesses:
        lines.append("  # TODO: a length is required: length, or start + end")
    return "\n".join(lines) + "\n"


GUESS_ORDER = (
    "user",
    "timestamp",
    "date",
    "start",
    "end",
    "length",
    "billable_length",
    "work_item",
    "comment",
    "activity_type",
)


@mapping.command("init")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the mapping here (default: print it), and the lookup templates beside it.",
)
@reading_options
@date_order_option
@connection_options
def init(
    file: Path,
    output: Path | None,
    sheet: str | None,
    encoding: str | None,
    delimiter: str | None,
    date_order: str | None,
    connection: ConnectionOptions,
) -> int:
    """Recognise a shipped preset from FILE (its header row, and where presets share a
    header the data of the first 1,000 rows), or draft a mapping from the header.

    Says which columns matched and what in the data decided; with -o writes the preset's
    YAML as a starting point and, beside it, a template for each lookup file the preset
    uses, listing the file's distinct values with an empty value column (fill in what you
    want to pin; empty lines pass on as written). With --url, --org or --profile the
    organisation's users are read and the user values they match are filled in.

    The day/month order of dates such as 03/04/2024 is read from all the file's dates;
    when they cannot decide it, nothing is written (exit 2) until --date-order names it.
    """
    from timetracker_import import library
    from timetracker_import.core.preset_detect import detect_conversion
    from timetracker_import.errors import UsageError

    if output is not None and output.exists():
        raise UsageError(f"{output} exists; choose another -o path or remove it")
    table = library.inspect_table(file, sheet=sheet, encoding=encoding, delimiter=delimiter)
    headers = list(table.headers)
    conversion = detect_conversion(headers)
    if conversion is not None:
        click.echo(
            "this is a Jira issue export (matched columns "
            + ", ".join(dict.fromkeys(conversion.matched))
            + f"): run `timetracker-import convert jira {file}` first, then import the result "
            "with --preset jira-worklogs; no mapping written",
            err=True,
        )
        return 0
    order = date_order.upper() if date_order else None
    choice = library.choose_preset(
        file, sheet=sheet, encoding=encoding, delimiter=delimiter, date_order=order
    )
    preset: str | None = None
    if choice.preset is not None:
        preset = choice.preset
        click.echo(choice.explain(), err=True)
        click.echo(
            f"use --preset {preset}"
            + ("" if order else " (or --preset auto)")
            + (f" or the mapping written to {output}" if output is not None else ""),
            err=True,
        )
    elif choice.candidates:
        cols = ", ".join(dict.fromkeys(choice.matched))
        raise UsageError(
            f"the header fits {' and '.join(choice.candidates)} (matched columns {cols}), "
            "and the data cannot decide the day/month order: "
            + "; ".join(choice.evidence)
            + "; nothing written",
            hint=f"name the order: timetracker-import mapping init {file} --date-order MDY "
            "(month/day, US) or --date-order DMY (day/month)"
            + (f" -o {output}" if output is not None else ""),
        )
    if preset is not None:
        text = library.preset_text(preset)
        written = order if order and len(choice.candidates) == 1 else choice.date_order
        declared = library.preset_date_order(preset)
        if order and declared and declared != order:
            click.echo(
                f"note: preset {preset} declares date_order {declared}; --date-order {order} "
                f"is not written into it (edit date_order in the mapping to change it)",
                err=True,
            )
        if written is not None and "\ndate_order:" not in text:
            source = "--date-order" if order else "read from the data by `mapping init`"
            text = text.replace(
                "\nheader: true\n",
                f"\nheader: true\ndate_order: {written}   # {source}\n",
                1,
            )
    else:
        click.echo("no shipped preset matches this header row; drafting a mapping", err=True)
        text = _draft_mapping(headers, file.name)
    if output is None:
        click.echo(text, nl=False)
    else:
        library.write_mapping_file(output, text)
        click.echo(f"mapping written to {output}", err=True)
    if preset is not None:
        _lookup_templates(preset, file, output, sheet, encoding, delimiter, connection)
    if output is not None:
        click.echo(
            f"next: timetracker-import validate {file} --mapping {output}, then "
            f"timetracker-import import {file} --mapping {output} --dry-run",
            err=True,
        )
    return 0


def _lookup_templates(
    preset: str,
    file: Path,
    output: Path | None,
    sheet: str | None,
    encoding: str | None,
    delimiter: str | None,
    connection: ConnectionOptions,
) -> None:
    """Write (with -o) the preset's lookup templates beside the mapping and say so."""
    from timetracker_import import library

    found = library.preset_lookups(
        preset, file, sheet=sheet, encoding=encoding, delimiter=delimiter
    )
    if found.note:
        click.echo(f"note: {found.note.strip()}", err=True)
    if not found.files:
        return
    if output is None:
        names = ", ".join(found.files)
        click.echo(
            f"the preset reads the lookup file(s) {names}; with -o, templates listing this "
            "file's values are written beside the mapping",
            err=True,
        )
        return
    users = None
    if connection.url or connection.org or connection.profile:
        settings = connection.resolve()
        users = library.users(settings)
        click.echo(f"read {len(users)} users from {settings.rest_root}", err=True)
    written = library.write_lookup_templates(
        preset,
        file,
        output.parent,
        users=users,
        sheet=sheet,
        encoding=encoding,
        delimiter=delimiter,
    )
    for item in written:
        if item.existed:
            click.echo(f"lookup {item.lookup!r}: {item.path} exists; left as it is", err=True)
            continue
        line = f"lookup {item.lookup!r}: template {item.path} written with {item.values} value(s)"
        if item.field == "user" and users is not None:
            line += f", {item.matched} matched to a 7pace user"
            if item.unmatched:
                shown = ", ".join(repr(v) for v in item.unmatched[:5])
                line += f"; {len(item.unmatched)} not matched (marked FILL IN): {shown}"
                line += " ..." if len(item.unmatched) > 5 else ""
        elif item.field == "user":
            line += (
                " and the value column empty: optional, the server resolves the names as "
                "written (fill in a uniqueName or e-mail to pin one)"
            )
        elif item.field == "work_item":
            line += (
                " and the value column empty: optional, a key without an id goes into the "
                "comment (fill in the Azure DevOps work item id)"
            )
        click.echo(line, err=True)


def _cell(value: object) -> str:
    import pandas as pd

    if value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value))):  # type: ignore[call-overload]
        return ""
    text = str(value).replace("\n", " ")
    return text if len(text) <= 28 else text[:27] + "…"


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


@mapping.command("check")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@mapping_options
@click.option("--rows", "n_rows", type=click.IntRange(min=1), default=10, show_default=True)
@reading_options
@timezone_option
@date_order_option
@lookup_dir_option
def check(
    file: Path,
    mapping_path: Path | None,
    preset: str | None,
    n_rows: int,
    sheet: str | None,
    encoding: str | None,
    delimiter: str | None,
    timezone: str | None,
    date_order: str | None,
    lookup_dir: Path | None,
) -> int:
    """Preview the first N rows of FILE mapped: the source cells next to the mapped worklog,
    or the reason a row is rejected. Sends nothing; exit 0 even when rows are rejected."""
    from timetracker_import import library

    shown = library.preview(
        file,
        mapping=mapping_path,
        preset=preset,
        rows=n_rows,
        sheet=sheet,
        encoding=encoding,
        delimiter=delimiter,
        timezone=timezone,
        date_order=date_order,
        lookup_dir=lookup_dir,
        notify=lambda line: click.echo(line, err=True),
    )
    if not shown.rows:
        click.echo("the file has no data rows", err=True)
        return 0
    head = ["row", *shown.columns, "|", "user", "timestamp (UTC)"]
    head += ["hours", "billable", "work item", "activity", "comment"]
    rows = [head]
    for row in shown.rows:
        cells = [str(row.source_row), *[_cell(v) for v in row.cells], "|"]
        if row.sent is not None:
            c, billable = row.sent, row.sent["billable_seconds"]
            cells += [
                _cell(c["user"]) or "(token's user)",
                c["timestamp"].strftime("%Y-%m-%d %H:%M:%S"),
                f"{c['length_seconds'] / 3600:.2f}",
                _cell(billable) and f"{billable / 3600:.2f}",
                _cell(c["work_item"]),
                _cell(c["activity"]),
                _cell(c["comment"]),
            ]
        elif not row.skipped:
            # The reason goes last so it does not widen the other columns.
            cells += ["REJECTED", "", "", "", "", "", row.reason or ""]
        else:
            cells += ["skipped (skip_rows)", "", "", "", "", "", ""]
        rows.append(cells)
    mapped = sum(1 for r in shown.rows if r.sent is not None)
    rejected = sum(1 for r in shown.rows if r.sent is None and not r.skipped)
    click.echo(_table(rows))
    click.echo(
        f"{len(shown.rows)} rows previewed: {mapped} mapped, {rejected} rejected; times "
        f"without an offset read as {shown.timezone} ({shown.timezone_source}); "
        f"mapping: {shown.mapping_source}",
        err=True,
    )
    return 0
