"""Render a ``Report`` as one self-contained HTML page: no scripts, no external assets.

Built with small string helpers rather than a template engine: the page is a handful of
tables and every piece of data goes through ``html.escape`` in one place (``_e``).
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from timetracker_import.core.report import (
    Flag,
    Grid,
    RejectionGroup,
    Report,
    format_hours,
)

ACCOUNTING_LABELS = {
    "rows": "Rows read",
    "valid": "Valid",
    "created": "Created",
    "already_existing": "Already existing",
    "rejected": "Rejected",
    "unprocessed": "Unprocessed",
    "skipped": "Skipped",
    "balanced": "Rows add up",
}

_CSS = """
:root { --ink:#1d2330; --muted:#5b6475; --line:#d5d9e0; --bad:#b42318; --bad-bg:#fde8e6;
  --warn:#9a5b00; --ok:#1a7f37; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); margin: 24px auto; max-width: 1200px; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 2px solid var(--line);
  padding-bottom: 4px; }
h3 { font-size: 14px; margin: 16px 0 6px; }
.meta { color: var(--muted); margin: 0 0 12px; }
.cards { display: flex; flex-wrap: wrap; gap: 8px; margin: 8px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 6px 12px; min-width: 110px; }
.card b { display: block; font-size: 20px; }
.card span { color: var(--muted); font-size: 12px; }
.card.bad b { color: var(--bad); }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 4px 0 8px; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f3f5f8; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.grid td.num { min-width: 64px; }
tr.totals td, tr.totals th, td.total { font-weight: 700; background: #f3f5f8; }
td.over { outline: 2px solid var(--bad); outline-offset: -2px; }
td.bad { background: var(--bad-bg); color: var(--bad); font-weight: 600; }
.flag { border-left: 4px solid var(--warn); padding: 2px 0 2px 10px; margin: 10px 0; }
.flag.severe { border-color: var(--bad); }
.flag ul { margin: 4px 0; padding-left: 20px; }
.more, .none { color: var(--muted); font-style: italic; }
.legend { color: var(--muted); font-size: 12px; }
.legend i { display: inline-block; width: 14px; height: 10px; margin: 0 2px 0 8px;
  border: 1px solid var(--line); }
section { break-inside: auto; }
.flag, .rejection { break-inside: avoid; }
@media print {
  body { margin: 0; max-width: none; font-size: 11px; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .scroll { overflow: visible; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; }
  h2 { break-after: avoid; }
}
"""


def _e(value: object) -> str:
    """Escape anything for HTML text and attribute values."""
    return html.escape("" if value is None else str(value), quote=True)


def _cls(name: str, when: bool) -> str:
    return f' class="{name}"' if when else ""


def _h(seconds: int) -> str:
    return format_hours(seconds)


def heat_colour(seconds: int, limit_seconds: int) -> str:
    """Background colour of a grid cell: white at 0, deepening blue up to the weekly
    threshold, red above it."""
    if seconds <= 0:
        return "#ffffff"
    if seconds > limit_seconds:
        return "hsl(4, 75%, 52%)"
    share = seconds / limit_seconds
    lightness = round(96 - share * 50)  # 96% (pale) .. 46% (deep)
    return f"hsl(212, 70%, {lightness}%)"


def _text_colour(background: str) -> str:
    # dark backgrounds get white text
    if background.startswith("hsl(4"):
        return "#ffffff"
    if background.startswith("hsl(212"):
        lightness = int(background.rsplit(",", 1)[1].strip(" %)"))
        return "#ffffff" if lightness < 62 else "#1d2330"
    return "#1d2330"


def render_html(report: Report) -> str:
    """The whole report as an HTML document (a string)."""
    meta = report.meta
    title = f"Timetracker import report — {meta.get('command') or 'run'}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # the page must work offline: forbid every external fetch
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">",
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        _meta_line(report),
        _notes(report.notes),
        _summary(report),
        _grid(report.grid, round(report.settings.week_threshold_hours * 3600)),
        _breakdowns(report),
        _flags(report.flags),
        _rejections(report.rejections),
        _changes(report.changes),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def write_html_report(report: Report, path: str | os.PathLike[str]) -> Path:
    """Write the HTML report to ``path``; returns the path written."""
    from timetracker_import.files.writers import write_text_atomic

    return write_text_atomic(path, render_html(report))


def _meta_line(report: Report) -> str:
    bits = [f"{_e(k.replace('_', ' '))}: {_e(v)}" for k, v in report.meta.items() if k != "command"]
    bits.append(f"timezone: {_e(report.settings.timezone)}")
    return f'<p class="meta">{" · ".join(bits)}</p>'


def _summary(report: Report) -> str:
    cards = []
    for key, count in report.accounting.items():
        label = ACCOUNTING_LABELS.get(key, key.replace("_", " ").capitalize())
        bad = " bad" if key in ("rejected", "unprocessed") and count else ""
        shown = str(count)
        if key == "balanced":  # a check, not a count
            shown = "yes" if count else "NO"
            bad = "" if count else " bad"
        cards.append(
            f'<div class="card{bad}" data-key="{_e(key)}"><b>{shown}</b>'
            f"<span>{_e(label)}</span></div>"
        )
    t = report.totals
    period = f"{t.first_date} – {t.last_date}" if t.first_date else "no dates"
    cards += [
        f'<div class="card" data-key="hours"><b>{_h(t.seconds)}</b><span>hours</span></div>',
        f'<div class="card" data-key="billable_hours"><b>{_h(t.billable_seconds)}</b>'
        "<span>billable hours</span></div>",
        f'<div class="card" data-key="users"><b>{t.users}</b><span>users</span></div>',
        f'<div class="card" data-key="period"><b>{_e(period)}</b><span>dates</span></div>',
    ]
    return (
        f'<section id="summary"><h2>Summary</h2><div class="cards">{"".join(cards)}</div></section>'
    )


def _grid(grid: Grid, limit: int) -> str:
    if not grid.rows:
        return '<section id="grid"><h2>Hours per user and week</h2><p class="none">No valid rows.</p></section>'
    head = "".join(f'<th class="num" scope="col">{_e(w)}</th>' for w in grid.weeks)
    body = []
    for row in grid.rows:
        cells = []
        for week, seconds in zip(grid.weeks, row.seconds, strict=True):
            bg = heat_colour(seconds, limit)
            over = " over" if seconds > limit else ""
            cells.append(
                f'<td class="num{over}" data-week="{_e(week)}" '
                f'style="background:{bg};color:{_text_colour(bg)}">'
                f"{_h(seconds) if seconds else ''}</td>"
            )
        body.append(
            f'<tr data-user="{_e(row.user)}"><th scope="row">{_e(row.user)}</th>{"".join(cells)}'
            f'<td class="num total">{_h(row.total_seconds)}</td></tr>'
        )
    foot = "".join(
        f'<td class="num" data-week="{_e(w)}">{_h(s)}</td>'
        for w, s in zip(grid.weeks, grid.week_totals, strict=True)
    )
    legend = (
        '<p class="legend">Hours per ISO week of the local start date. Shade: '
        f'<i style="background:{heat_colour(1, 4)}"></i>few '
        f'<i style="background:{heat_colour(4, 4)}"></i>up to {_h(limit)} h '
        f'<i style="background:{heat_colour(5, 4)}"></i>over {_h(limit)} h</p>'
    )
    return (
        '<section id="grid"><h2>Hours per user and week</h2><div class="scroll">'
        f'<table class="grid"><thead><tr><th scope="col">User</th>{head}'
        '<th class="num" scope="col">Total</th></tr></thead>'
        f"<tbody>{''.join(body)}</tbody>"
        f'<tfoot><tr class="totals"><th scope="row">Total</th>{foot}'
        f'<td class="num" id="grand-total">{_h(grid.total_seconds)}</td></tr></tfoot>'
        f"</table></div>{legend}</section>"
    )


def _table(headers: Iterable[str], rows: Iterable[Iterable[str]], nums: set[int]) -> str:
    head = "".join(
        f'<th{_cls("num", i in nums)} scope="col">{_e(h)}</th>' for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(f"<td{_cls('num', i in nums)}>{_e(cell)}</td>" for i, cell in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _breakdowns(report: Report) -> str:
    activities = _table(
        ["Activity type", "Rows", "Hours"],
        (
            [a.activity_type or "(user's default)", str(a.rows), _h(a.seconds)]
            for a in report.activities
        ),
        {1, 2},
    )
    items = _table(
        ["Work item", "Rows", "Hours"],
        ([f"#{w.work_item_id}", str(w.rows), _h(w.seconds)] for w in report.work_items),
        {1, 2},
    )
    return (
        '<section id="breakdown"><h2>Activity types and top work items</h2>'
        '<div class="cards" style="align-items:flex-start;gap:24px">'
        f"<div>{activities}</div><div>{items}</div></div></section>"
    )


def _notes(notes: tuple[str, ...]) -> str:
    """What the run's summary said beside its counts; nothing when it said nothing."""
    if not notes:
        return ""
    items = "".join(f"<li>{_e(note)}</li>" for note in notes)
    return f'<section id="notes"><h2>Notes</h2><ul>{items}</ul></section>'


def _flags(flags: Iterable[Flag]) -> str:
    raised = [f for f in flags if f.count]
    if not raised:
        return (
            '<section id="flags"><h2>Flags</h2><p class="none">Nothing looks unusual.</p></section>'
        )
    blocks = []
    for flag in raised:
        severe = " severe" if flag.code in ("day_over_24h", "overlap", "locked_week") else ""
        items = "".join(f"<li>{_e(item.text)}</li>" for item in flag.items)
        more = flag.count - len(flag.items)
        if more > 0:
            items += f'<li class="more">… and {more} more</li>'
        count = "" if flag.code == "rounding_drift" else f" ({flag.count})"
        blocks.append(
            f'<div class="flag{severe}" data-flag="{_e(flag.code)}">'
            f"<h3>{_e(flag.title)}{count}</h3><ul>{items}</ul></div>"
        )
    return f'<section id="flags"><h2>Flags</h2>{"".join(blocks)}</section>'


def _rejections(groups: tuple[RejectionGroup, ...]) -> str:
    if not groups:
        return '<section id="rejections"><h2>Rejected rows</h2><p class="none">None.</p></section>'
    total = sum(g.count for g in groups)
    blocks = [
        f'<section id="rejections"><h2>Rejected rows ({total})</h2>',
    ]
    for group in groups:
        where = " · ".join(x for x in (group.stage, group.column) if x)
        headers: list[str] = []
        filled: list[dict[str, str | None]] = []
        for example in group.examples:
            cells = dict(example.source)
            # without the source row, still show the offending value in its column
            if example.value is not None:
                cells.setdefault(group.column or "Value", example.value)
            filled.append(cells)
            headers += [h for h in cells if h not in headers]
        head = "".join(f'<th scope="col">{_e(h)}</th>' for h in headers)
        rows = []
        for example, cells in zip(group.examples, filled, strict=True):
            source = "".join(
                f"<td{_cls('bad', h == group.column)}>{_e(cells.get(h))}</td>" for h in headers
            )
            rows.append(
                f'<tr><td class="num">{example.source_row}</td><td>{_e(example.reason)}</td>'
                f"{source}</tr>"
            )
        more = group.count - len(group.examples)
        more_line = f'<p class="more">… and {more} more rows like these</p>' if more > 0 else ""
        blocks.append(
            f'<div class="rejection"><h3>{group.count} × {_e(where)} — {_e(group.kind)}</h3>'
            '<div class="scroll"><table><thead><tr><th class="num" scope="col">Row</th>'
            f'<th scope="col">Reason</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
            f"</table></div>{more_line}</div>"
        )
    blocks.append("</section>")
    return "".join(blocks)


def _changes(changes: Any) -> str:
    """``sync``: the "changes" section (updates old -> new, deletes, conflicts, hours)."""
    if changes is None:
        return ""
    blocks = ['<section id="changes"><h2>Changes</h2>']

    def shown(name: str, value: Any) -> str:
        if name in ("length", "billableLength") and isinstance(value, int):
            return _h(value)
        return _e(value)

    rows = [
        (
            str(u.get("source_row")),
            _e(u.get("worklog_id")),
            _e(name),
            f"{shown(name, v.get('old'))} → {shown(name, v.get('new'))}",
        )
        for u in changes.get("updates", [])
        for name, v in (u.get("fields") or {}).items()
    ]
    blocks.append(f"<h3>Updates ({len(changes.get('updates', []))})</h3>")
    blocks.append(_plain_table(("Row", "Worklog", "Field", "Old → new"), rows))
    deletes = changes.get("deletes", [])
    blocks.append(f"<h3>Deletes ({len(deletes)})</h3>")
    blocks.append(
        _plain_table(
            ("Worklog", "Key", "Start (UTC)", "Length"),
            [
                (
                    _e(d.get("worklog_id")),
                    _e(d.get("key")),
                    _e(d.get("timestamp")),
                    _h(int(d.get("length") or 0)),
                )
                for d in deletes
            ],
        )
    )
    conflicts = changes.get("conflicts", [])
    blocks.append(f"<h3>Conflicts ({len(conflicts)})</h3>")
    blocks.append(
        _plain_table(
            ("Row", "Worklog", "Why", "Ours", "Theirs"),
            [
                (
                    _e(c.get("source_row")),
                    _e(c.get("worklog_id")),
                    _e(c.get("reason")),
                    _e(c.get("ours")),
                    _e(c.get("theirs")),
                )
                for c in conflicts
            ],
        )
    )
    hours = changes.get("hours", [])
    blocks.append("<h3>Hours per user and week, before → after</h3>")
    blocks.append(
        _plain_table(
            ("User", "Week of", "Before", "After"),
            [
                (
                    _e(h.get("user")),
                    _e(h.get("week")),
                    f"{h.get('before', 0):.2f}",
                    f"{h.get('after', 0):.2f}",
                )
                for h in hours
            ],
        )
    )
    blocks.append("</section>")
    return "".join(blocks)


def _plain_table(headers: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    if not body:
        return '<p class="none">None.</p>'
    head = "".join(f'<th scope="col">{_e(h)}</th>' for h in headers)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
