"""Compact terminal rendering of a ``Report``: fits 100 columns, colour only on a terminal."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TextIO

import click

if TYPE_CHECKING:
    from collections.abc import Sequence

    from timetracker_import.core.rejections import Rejection
    from timetracker_import.core.report import Report

WIDTH = 100
_SEVERE = ("day_over_24h", "overlap", "locked_week")


def rejection_lines(
    rejections: Sequence[Rejection], limit: int = 10, *, cells: bool = True
) -> list[str]:
    """``  row N [Column: 'value']: reason`` (without the cell when ``cells`` is False) for
    the first ``limit`` rejections, then how many more there are."""
    lines = [
        f"  row {r.source_row}{r.where() if cells else ''}: {r.reason}" for r in rejections[:limit]
    ]
    if len(rejections) > limit:
        lines.append(f"  ... and {len(rejections) - limit} more")
    return lines


def fit(text: str, width: int = WIDTH) -> str:
    """Cut ``text`` to ``width`` characters, ending with '…' when cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


def render_summary(
    report: Report, *, color: bool = False, width: int = WIDTH, max_users: int = 12
) -> str:
    """The report as a few lines of text no wider than ``width`` (styling excluded).

    Shows the accounting, totals, the user × week grid (the latest weeks that fit and the
    ``max_users`` users with most hours), one line per raised flag and one per rejection
    group. ``color`` adds ANSI styles; decide it with ``stream.isatty()`` (``echo_summary``).
    """
    from timetracker_import.core.report import format_hours

    def style(text: str, **kw: object) -> str:
        return click.style(text, **kw) if color else text  # type: ignore[arg-type]

    lines: list[str] = []
    counts = " · ".join(f"{v} {k.replace('_', ' ')}" for k, v in report.accounting.items())
    lines.append(style(fit(f"Run: {counts}", width), bold=True))
    t = report.totals
    period = f"{t.first_date} – {t.last_date}" if t.first_date else "no dates"
    lines.append(
        fit(
            f"Hours: {format_hours(t.seconds)} h (billable {format_hours(t.billable_seconds)} h)"
            f" · {t.users} users · {period} · {report.settings.timezone}",
            width,
        )
    )

    grid = report.grid
    if grid.rows:
        name_w, cell_w, total_w = 26, 9, 10
        room = max(1, (width - name_w - total_w) // cell_w)
        shown = list(range(len(grid.weeks)))[-room:]
        limit = round(report.settings.week_threshold_hours * 3600)
        lines.append("")
        header = "User".ljust(name_w) + "".join(grid.weeks[i].rjust(cell_w) for i in shown)
        lines.append(style(header + "Total".rjust(total_w), bold=True))
        rows = sorted(grid.rows, key=lambda r: -r.total_seconds)[:max_users]
        for row in sorted(rows, key=lambda r: grid.rows.index(r)):
            cells = []
            for i in shown:
                seconds = row.seconds[i]
                text = (format_hours(seconds) if seconds else "·").rjust(cell_w)
                cells.append(style(text, fg="red", bold=True) if seconds > limit else text)
            name = fit(row.user, name_w - 1).ljust(name_w)
            lines.append(name + "".join(cells) + format_hours(row.total_seconds).rjust(total_w))
        footer = "Total".ljust(name_w) + "".join(
            format_hours(grid.week_totals[i]).rjust(cell_w) for i in shown
        )
        lines.append(style(footer + format_hours(grid.total_seconds).rjust(total_w), bold=True))
        notes = []
        if len(shown) < len(grid.weeks):
            notes.append(f"{len(grid.weeks) - len(shown)} earlier weeks")
        if len(rows) < len(grid.rows):
            notes.append(f"{len(grid.rows) - len(rows)} more users")
        if notes:
            lines.append(fit(f"(not shown: {', '.join(notes)}; see --report PATH.html)", width))

    raised = [f for f in report.flags if f.count]
    if raised:
        lines.append("")
        lines.append(style("Flags:", bold=True))
        for flag in raised:
            first = flag.items[0].text if flag.items else ""
            head = flag.title if flag.code == "rounding_drift" else f"{flag.title}: {flag.count}"
            lead = "e.g. " if flag.count > 1 else ""
            text = fit(f"  ! {head} — {lead}{first}", width)
            fg = "red" if flag.code in _SEVERE else "yellow"
            lines.append(style(text, fg=fg))
    if report.rejections:
        lines.append("")
        lines.append(style(f"Rejected rows ({report.rejected_rows}):", bold=True, fg="red"))
        for group in report.rejections:
            where = " · ".join(x for x in (group.stage, group.column) if x)
            rows_text = ", ".join(str(e.source_row) for e in group.examples)
            if group.count > len(group.examples):
                rows_text += ", …"
            label = "rows" if len(group.examples) > 1 or group.count > 1 else "row"
            lines.append(
                fit(f"  {group.count:>5} × {where} — {group.kind} ({label} {rows_text})", width)
            )
    return "\n".join(lines)


def echo_summary(report: Report, *, err: bool = False, stream: TextIO | None = None) -> None:
    """Print the summary to stdout (or stderr with ``err``), coloured only on a terminal."""
    out = stream or (sys.stderr if err else sys.stdout)
    color = bool(getattr(out, "isatty", lambda: False)())
    click.echo(render_summary(report, color=color), file=out, color=color)


@contextlib.contextmanager
def progress_counter(
    show: bool | None, *, desc: str, unit: str
) -> Iterator[Callable[[int, int], None] | None]:
    """A tqdm bar on stderr, given as a ``(done, total)`` callback (the total may change),
    drawn from its first call on - so a question asked before it (``sync``'s confirmation)
    stands alone; None when not shown (``show`` None: shown when stderr is a terminal).
    Closed even when the block fails."""
    if show is None:
        show = sys.stderr.isatty()
    if not show:
        yield None
        return
    from tqdm import tqdm

    bars: list[Any] = []

    def update(done: int, total: int) -> None:
        if not bars:
            bars.append(tqdm(total=total, unit=unit, file=sys.stderr, desc=desc))
        bar = bars[0]
        if bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        for bar in bars:
            bar.close()


@contextlib.contextmanager
def progress_bar(
    show: bool, *, desc: str, unit: str, total: int | None = None
) -> Iterator[Callable[[int], None] | None]:
    """A tqdm bar on stderr while the block runs (``show``), given as its ``update``
    callback; None when not shown. Closed even when the block fails."""
    if not show:
        yield None
        return
    from tqdm import tqdm

    bar = tqdm(total=total, unit=unit, file=sys.stderr, desc=desc)

    def update(n: int) -> None:
        bar.update(n)

    try:
        yield update
    finally:
        bar.close()
