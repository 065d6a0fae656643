"""Benchmark: peak memory of `validate` on large XLSX sheets, and the workbook limits.

Writes deterministic workbooks the way Excel stores them (text in the shared-strings part,
one unique comment per row, numbers and date serials as numbers) straight as XML, so a
million rows take seconds to make. Then runs `timetracker-import validate` on each in a
subprocess and prints wall time, CPU time and peak RSS (psutil polling), next to the
baseline of the same rows as CSV. RSS that stays flat from 250,000 to 1,000,000 rows is the
point: the sheet is streamed, only the shared strings are held.

It also times how long the refusals take: a sheet declaring more rows than the limit, and a
shared-strings part past its size limit (both refused before the part is read).

    .venv/bin/python bench/bench_xlsx_memory.py                   # 250,000 and 1,000,000 rows
    .venv/bin/python bench/bench_xlsx_memory.py --rows 100000 --repeat 1
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_import import MAPPING  # noqa: E402  (the same layout: User, Start, Minutes, ...)
from bench_validate import Figures, measure  # noqa: E402

HEADERS = ["User", "Start", "Minutes", "WorkItem", "Comment"]
USERS = [f"user{i}@example.com" for i in range(50)]
_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006"


#: True: every row's comment is its own text (the shared strings grow with the rows, as in
#: a real export); False: 100 comments repeat (only the streamed sheet grows)
DISTINCT_COMMENTS = True


def _rows(count: int) -> Iterator[tuple[str, float, int, int, str]]:
    rnd = random.Random(42)
    for i in range(count):
        # an Excel date serial (days since 1899-12-30) in 2026, on a quarter hour
        serial = 46023 + rnd.randint(0, 360) + rnd.randint(28, 72) / 96
        comment = f"c{i}" if DISTINCT_COMMENTS else f"c{i % 100}"
        yield rnd.choice(USERS), serial, rnd.choice((15, 30, 60, 90)), 1000 + i % 5000, comment


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_xlsx(path: Path, rows: int, *, extra_strings: int = 0) -> None:
    """A workbook of ``rows`` data rows (+ header); ``extra_strings`` adds that many unused
    short texts to the shared strings (for the limit check)."""
    strings: dict[str, int] = {}

    def sst(text: str) -> int:
        return strings.setdefault(text, len(strings))

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr(
            "[Content_Types].xml",
            (
                f'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="{_PKG}/content-types">'
                '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
                'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
                '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
                'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
                'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
                'worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/><Override '
                'PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.'
                'spreadsheetml.styles+xml"/></Types>'
            ),
        )
        zf.writestr(
            "_rels/.rels",
            (
                f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG}/relationships">'
                f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
                "</Relationships>"
            ),
        )
        zf.writestr(
            "xl/workbook.xml",
            (
                f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{_NS}" xmlns:r="{_REL}">'
                '<sheets><sheet name="Worklogs" sheetId="1" r:id="rId1"/></sheets></workbook>'
            ),
        )
        zf.writestr(
            "xl/_rels/workbook.xml.rels",
            (
                f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG}/relationships">'
                f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
                f'<Relationship Id="rId2" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/>'
                f'<Relationship Id="rId3" Type="{_REL}/styles" Target="styles.xml"/>'
                "</Relationships>"
            ),
        )
        # style 1: a date-time number format, so the Start serials read as datetimes
        zf.writestr(
            "xl/styles.xml",
            (
                f'<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="{_NS}"><numFmts count="1">'
                '<numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm"/></numFmts><fonts count="1">'
                '<font><sz val="11"/><name val="Calibri"/></font></fonts><fills count="1"><fill>'
                '<patternFill patternType="none"/></fill></fills><borders count="1"><border><left/>'
                '<right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1">'
                '<xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
                '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
                '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" '
                'applyNumberFormat="1"/></cellXfs><cellStyles count="1"><cellStyle name="Normal" '
                'xfId="0" builtinId="0"/></cellStyles></styleSheet>'
            ),
        )
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(
                f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_NS}">'
                f'<dimension ref="A1:E{rows + 1}"/><sheetData>'.encode()
            )
            cells = "".join(
                f'<c r="{chr(65 + i)}1" t="s"><v>{sst(h)}</v></c>' for i, h in enumerate(HEADERS)
            )
            sheet.write(f'<row r="1">{cells}</row>'.encode())
            buffer: list[str] = []
            for n, (user, serial, minutes, item, comment) in enumerate(_rows(rows), start=2):
                buffer.append(
                    f'<row r="{n}"><c r="A{n}" t="s"><v>{sst(user)}</v></c>'
                    f'<c r="B{n}" s="1"><v>{serial!r}</v></c><c r="C{n}"><v>{minutes}</v></c>'
                    f'<c r="D{n}"><v>{item}</v></c><c r="E{n}" t="s"><v>{sst(comment)}</v></c>'
                    "</row>"
                )
                if len(buffer) >= 10_000:
                    sheet.write("".join(buffer).encode())
                    buffer.clear()
            sheet.write(("".join(buffer) + "</sheetData></worksheet>").encode())
        with zf.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            part.write(f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{_NS}">'.encode())
            items = [f"<si><t>{_escape(s)}</t></si>" for s in strings]
            for start in range(0, len(items), 50_000):
                part.write("".join(items[start : start + 50_000]).encode())
            for start in range(0, extra_strings, 50_000):
                stop = min(extra_strings, start + 50_000)
                part.write("".join(f"<si><t>x{n}</t></si>" for n in range(start, stop)).encode())
            part.write(b"</sst>")


def write_csv(path: Path, rows: int) -> None:
    """The same rows as CSV (the baseline)."""
    import datetime as dt

    epoch = dt.datetime(1899, 12, 30)
    with path.open("w", encoding="utf-8") as fh:
        fh.write(",".join(HEADERS) + "\n")
        for user, serial, minutes, item, comment in _rows(rows):
            start = epoch + dt.timedelta(days=serial)
            fh.write(f"{user},{start:%Y-%m-%dT%H:%M:%S},{minutes},{item},{comment}\n")


def validate_cmd(path: Path, mapping: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "timetracker_import",
        "validate",
        str(path),
        "--mapping",
        str(mapping),
    ]


def run_size(tmp: Path, rows: int, repeat: int) -> Figures:
    mapping = tmp / "mapping.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    xlsx, csv = tmp / f"rows{rows}.xlsx", tmp / f"rows{rows}.csv"
    write_xlsx(xlsx, rows)
    write_csv(csv, rows)
    x = measure(validate_cmd(xlsx, mapping), repeat)
    c = measure(validate_cmd(csv, mapping), repeat)
    print(
        f"rows {rows:,}  xlsx {xlsx.stat().st_size / 2**20:.1f} MB  "
        f"csv {csv.stat().st_size / 2**20:.1f} MB  (best of {repeat})"
    )
    print(f"{'':28}{'wall s':>10}{'cpu s':>10}{'peak RSS MB':>14}")
    for label, f in (
        (f"validate xlsx (exit {x.exit_code})", x),
        (f"validate csv (exit {c.exit_code})", c),
    ):
        print(f"{label:28}{f.wall:>10.2f}{f.cpu:>10.2f}{f.rss:>14.0f}")
    print(
        f"ratio xlsx/csv: wall {x.wall / c.wall:.2f}x, cpu {x.cpu / c.cpu:.2f}x, "
        f"RSS {x.rss / c.rss:.2f}x\n"
    )
    xlsx.unlink()
    csv.unlink()
    return x


def run_refusals(tmp: Path) -> None:
    """How fast the limits refuse a workbook (nothing is read but the zip directory and the
    first bytes of the sheet)."""
    from timetracker_import.files.readers_excel import (
        MAX_XLSX_PART_BYTES,
        MAX_XLSX_ROWS,
        MAX_XLSX_SHARED_STRINGS,
        MAX_XLSX_SHARED_STRINGS_BYTES,
    )

    mapping = tmp / "mapping.yaml"
    too_many = tmp / "too_many_rows.xlsx"
    write_xlsx(too_many, MAX_XLSX_ROWS)  # + the header row: one past the limit
    many_texts = tmp / "many_shared_strings.xlsx"
    write_xlsx(many_texts, 10, extra_strings=MAX_XLSX_SHARED_STRINGS)
    print(
        f"limits: {MAX_XLSX_ROWS:,} rows per sheet; shared strings {MAX_XLSX_SHARED_STRINGS:,} "
        f"texts and {MAX_XLSX_SHARED_STRINGS_BYTES >> 20} MiB; {MAX_XLSX_PART_BYTES >> 20} MiB "
        "for any other part read whole"
    )
    for label, path in (
        (f"sheet of {MAX_XLSX_ROWS + 1:,} rows", too_many),
        (f"over {MAX_XLSX_SHARED_STRINGS:,} shared strings", many_texts),
    ):
        f = measure(validate_cmd(path, mapping), 1)
        size = path.stat().st_size / 2**20
        print(
            f"refused {label} ({size:.1f} MB): exit {f.exit_code}, {f.wall:.2f} s, "
            f"peak RSS {f.rss:.0f} MB"
        )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[250_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=2, help="runs per command (best kept)")
    parser.add_argument("--no-refusals", action="store_true", help="skip the limit checks")
    parser.add_argument(
        "--repeated-comments",
        action="store_true",
        help="100 comments that repeat instead of one per row",
    )
    args = parser.parse_args()
    global DISTINCT_COMMENTS
    DISTINCT_COMMENTS = not args.repeated_comments
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        results = {rows: run_size(tmp, rows, max(1, args.repeat)) for rows in args.rows}
        if len(results) > 1:
            small, large = min(results), max(results)
            low, high = results[small].rss, results[large].rss
            print(
                f"validate xlsx peak RSS {low:.0f} MB at {small:,} rows -> {high:.0f} MB at "
                f"{large:,} rows ({high / low:.2f}x for {large / small:.0f}x the rows)\n"
            )
        if not args.no_refusals:
            run_refusals(tmp)


if __name__ == "__main__":
    main()
