"""Hostile inputs (issue 8, part 3): every one ends in a clear error (exit 2) or row rejections
(exit 0/1), within bounded memory and time, and never with a traceback.

Random inputs go through ``validate`` in-process (``CliRunner``, hypothesis with few examples
and no deadline for a 2-core CI); the ones built to exhaust memory (zip bomb, billion laughs,
100k columns) run in a subprocess under an address-space limit and a timeout.
"""

from __future__ import annotations

import resource
import subprocess
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import mapping_file
from tests.reliability.conftest import REPO, cli_command, invoke, subprocess_env

HEADER = "User,Start,Minutes,WorkItem,Comment\n"
GOOD_ROW = "alice@example.com,2026-09-01T06:00:00Z,15,100,ok\n"
MEMORY_LIMIT = 3 << 30  # bytes of address space for a hostile-input subprocess
TIME_LIMIT = 60  # seconds

HYPOTHESIS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)


def validate(path: Path, tmp_path: Path, *extra: str) -> tuple[int, str]:
    """Run ``validate`` in-process; assert no traceback and a documented exit code."""
    code, out, err = invoke(
        ["validate", str(path), "--mapping", str(mapping_file(tmp_path)), *extra]
    )
    text = out + err
    assert "Traceback" not in text, text[-2000:]
    assert code in (0, 1, 2), (code, text[-2000:])
    if code == 2:
        assert "error:" in err  # a one-line message, not a crash
    return code, text


def validate_bounded(path: Path, tmp_path: Path) -> tuple[int, str]:
    """Run ``validate`` in a subprocess with limited memory and time."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    env = subprocess_env(None, tmp_path / "state") | {"OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.run(
        cli_command("validate", str(path), "--mapping", str(mapping_file(tmp_path))),
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT,
        preexec_fn=limit,
    )
    text = proc.stdout + proc.stderr
    assert "Traceback" not in text and "MemoryError" not in text, text[-2000:]
    assert proc.returncode in (0, 1, 2), (proc.returncode, text[-2000:])
    return proc.returncode, text


@HYPOTHESIS
@given(data=st.binary(max_size=4096))
def test_random_bytes(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    tmp = tmp_path_factory.mktemp("bytes")
    path = tmp / "in.csv"
    path.write_bytes(data)
    validate(path, tmp)


@HYPOTHESIS
@given(
    text=st.text(max_size=400),
    encoding=st.sampled_from(["utf-16-le", "utf-16-be", "cp1252", "latin-1", "utf-32"]),
)
def test_wrong_encodings(
    tmp_path_factory: pytest.TempPathFactory, text: str, encoding: str
) -> None:
    tmp = tmp_path_factory.mktemp("enc")
    path = tmp / "in.csv"
    path.write_bytes((HEADER + GOOD_ROW + text).encode(encoding, errors="replace"))
    validate(path, tmp)


@HYPOTHESIS
@given(cells=st.lists(st.text(max_size=30), min_size=5, max_size=5), rows=st.integers(1, 5))
def test_random_cells_in_a_valid_layout(
    tmp_path_factory: pytest.TempPathFactory, cells: list[str], rows: int
) -> None:
    import csv

    tmp = tmp_path_factory.mktemp("cells")
    path = tmp / "in.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["User", "Start", "Minutes", "WorkItem", "Comment"])
        writer.writerows([cells] * rows)
    validate(path, tmp)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_is_a_clear_error_or_read(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes((HEADER + GOOD_ROW).encode(encoding))
    code, text = validate(path, tmp_path)
    # NULs are valid UTF-8: the reader spots their pattern and names the encoding to use
    assert code == 2
    assert f"this looks like UTF-16 without a byte-order mark; try --encoding {encoding}" in text
    code, _ = validate(path, tmp_path, "--encoding", encoding)
    assert code == 0


def test_nul_bytes(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(
        (HEADER + "alice@example.com,2026-09-01T06:00:00Z,1\x005,100,a\x00b\n").encode()
    )
    code, _ = validate(path, tmp_path)
    assert code in (1, 2)


def test_huge_cell(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(
        HEADER
        + GOOD_ROW
        + "alice@example.com,2026-09-01T07:00:00Z,15,100,"
        + "x" * (8 << 20)
        + "\n",
        encoding="utf-8",
    )
    code, _ = validate_bounded(path, tmp_path)
    assert code in (0, 1, 2)


def test_hundred_thousand_columns(tmp_path: Path) -> None:
    extra = ",".join(f"c{i}" for i in range(100_000))
    path = tmp_path / "in.csv"
    path.write_text(
        HEADER.rstrip("\n") + "," + extra + "\n" + GOOD_ROW.rstrip("\n") + "," * 100_000 + "\n",
        encoding="utf-8",
    )
    code, text = validate_bounded(path, tmp_path)
    assert code in (0, 2), text[-500:]


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_formula_prefixes_in_cells(tmp_path: Path, prefix: str) -> None:
    import csv

    payload = f"{prefix}cmd|' /C calc'!A0"
    path = tmp_path / "in.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerow(["User", "Start", "Minutes", "WorkItem", "Comment"])
        # the Start cell is not a date, so the row is rejected and copied to the rejected file
        csv.writer(handle).writerow([payload, f"{prefix}SUM(A1)", "15", "100", payload])
    rejected = tmp_path / "rejected.csv"
    code, _ = validate(path, tmp_path, "--rejected", str(rejected))
    assert code == 1
    with rejected.open(newline="", encoding="utf-8") as handle:
        _, row = list(csv.reader(handle))
    for cell in row[:5]:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row
    assert row[0].endswith(payload) and row[4].endswith(payload)  # neutralised, not altered


def _xlsx_with_sheet(path: Path, sheet_xml: bytes) -> Path:
    """A minimal workbook whose only sheet is ``sheet_xml`` (a template from openpyxl)."""
    import openpyxl

    template = path.with_suffix(".template.xlsx")
    wb = openpyxl.Workbook()
    wb.active.append(["User", "Start", "Minutes", "WorkItem", "Comment"])
    wb.save(template)
    with zipfile.ZipFile(template) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            dst.writestr(
                info.filename, sheet_xml if info.filename == "xl/worksheets/sheet1.xml" else data
            )
    return path


def test_xlsx_zip_bomb(tmp_path: Path) -> None:
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("xl/worksheets/sheet1.xml", "w") as member:
            block = b"\0" * (1 << 20)
            for _ in range(64):  # 64 MiB that deflate to about 64 KiB
                member.write(block)
    code, text = validate_bounded(path, tmp_path)
    assert code == 2 and "zip bomb" in text


def test_xlsx_billion_laughs(tmp_path: Path) -> None:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    sheet = (
        f'<?xml version="1.0"?><!DOCTYPE worksheet [{entities}]>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
        "</sheetData></worksheet>"
    ).encode()
    path = _xlsx_with_sheet(tmp_path / "laughs.xlsx", sheet)
    code, text = validate_bounded(path, tmp_path)
    assert code == 2, text[-500:]


def test_formula_cell_without_cached_value(tmp_path: Path) -> None:
    import openpyxl

    path = tmp_path / "formula.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["User", "Start", "Minutes", "WorkItem", "Comment"])
    ws.append(["alice@example.com", "2026-09-01T06:00:00Z", "=10+5", 100, "formula"])
    ws.append(["alice@example.com", "2026-09-01T07:00:00Z", 15, 100, "plain"])
    wb.save(path)  # openpyxl stores no cached value for the formula
    code, text = validate(path, tmp_path)
    assert code == 1, text
    assert "row 2" in text.lower() or "2" in text


# -- workbooks past the documented limits (issue 25 item 4) -----------------------------------


def _xlsx_with_parts(path: Path, parts: dict[str, bytes], *, stored: bool = False) -> Path:
    """A one-sheet workbook (header row only, from openpyxl) with ``parts`` replacing its
    own; ``stored``: those parts uncompressed (so no compression ratio can refuse them)."""
    import openpyxl

    template = path.with_suffix(".template.xlsx")
    wb = openpyxl.Workbook()
    wb.active.append(["User", "Start", "Minutes", "WorkItem", "Comment"])
    wb.save(template)
    with zipfile.ZipFile(template) as src:
        files = {name: src.read(name) for name in src.namelist()}
    if "xl/sharedStrings.xml" in parts:  # openpyxl writes inline strings: declare the part
        files["[Content_Types].xml"] = files["[Content_Types].xml"].replace(
            b"</Types>",
            b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
            b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
        )
        files["xl/_rels/workbook.xml.rels"] = files["xl/_rels/workbook.xml.rels"].replace(
            b"</Relationships>",
            b'<Relationship Id="rIdSst" Type="http://schemas.openxml'
            b'formats.org/officeDocument/2006/relationships/sharedStrings" '
            b'Target="sharedStrings.xml"/></Relationships>',
        )
    files.update(parts)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for name, data in files.items():
            kind = zipfile.ZIP_STORED if stored and name in parts else zipfile.ZIP_DEFLATED
            dst.writestr(name, data, compress_type=kind)
    return path


_MAIN = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def _shared_strings(items: int, text: str = "{n}") -> bytes:
    """A shared-strings part of ``items`` texts; the header's five come first."""
    head = "".join(
        f"<si><t>{h}</t></si>" for h in ("User", "Start", "Minutes", "WorkItem", "Comment")
    )
    body = "".join(f"<si><t>{text.format(n=n)}</t></si>" for n in range(items - 5))
    return f'<?xml version="1.0"?><sst {_MAIN}>{head}{body}</sst>'.encode()


def _sheet(rows: str, dimension: str | None = None) -> bytes:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    header = "".join(
        f'<c r="{c}1" t="inlineStr"><is><t>{h}</t></is></c>'
        for c, h in zip("ABCDE", ("User", "Start", "Minutes", "WorkItem", "Comment"), strict=True)
    )
    return (
        f'<?xml version="1.0"?><worksheet {_MAIN}>{dim}<sheetData><row r="1">{header}</row>'
        f"{rows}</sheetData></worksheet>"
    ).encode()


def test_xlsx_more_shared_strings_than_the_limit_is_refused_before_reading(
    tmp_path: Path,
) -> None:
    """The issue's shared-strings bomb in small: millions of tiny texts (openpyxl keeps ~100
    bytes per item). Counted while streaming, refused before openpyxl parses them."""
    from timetracker_import.files.readers import MAX_XLSX_SHARED_STRINGS

    part = _shared_strings(MAX_XLSX_SHARED_STRINGS + 1)
    path = _xlsx_with_parts(tmp_path / "strings.xlsx", {"xl/sharedStrings.xml": part}, stored=True)
    code, text = validate_bounded(path, tmp_path)
    assert code == 2, text[-500:]
    assert f"hold more than {MAX_XLSX_SHARED_STRINGS:,} texts" in text
    assert len([line for line in text.splitlines() if line.strip()]) == 2  # error + hint


@pytest.mark.slow  # openpyxl parses 2 million texts twice (~40 s)
def test_xlsx_shared_strings_exactly_at_the_count_limit_are_read(tmp_path: Path) -> None:
    from timetracker_import.files.readers import MAX_XLSX_SHARED_STRINGS

    part = _shared_strings(MAX_XLSX_SHARED_STRINGS)
    rows = '<row r="2"><c r="A2" t="s"><v>5</v></c></row>'  # a row naming text #5 ("0")
    path = _xlsx_with_parts(
        tmp_path / "strings.xlsx",
        {"xl/sharedStrings.xml": part, "xl/worksheets/sheet1.xml": _sheet(rows)},
        stored=True,
    )
    code, text = validate_bounded(path, tmp_path)
    assert code == 1 and "refused" not in text, text[-500:]  # read; the row is rejected


@pytest.mark.parametrize(
    ("limit", "part", "what"),
    [
        ("MAX_XLSX_SHARED_STRINGS_BYTES", "xl/sharedStrings.xml", "its shared strings"),
        ("MAX_XLSX_PART_BYTES", "xl/styles.xml", "part xl/styles.xml"),
        ("MAX_XLSX_PART_BYTES", "xl/workbook.xml", "part xl/workbook.xml"),
        ("MAX_XLSX_PART_BYTES", "xl/_rels/workbook.xml.rels", "part xl/_rels/workbook.xml.rels"),
    ],
)
def test_xlsx_part_read_whole_past_its_size_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: str, part: str, what: str
) -> None:
    """Parts openpyxl reads whole are refused by the size the zip directory gives, before a
    byte of them is read (limits lowered here so the files stay small)."""
    from timetracker_import.files import readers_excel

    monkeypatch.setattr(readers_excel, limit, 64 << 10)
    import openpyxl

    template = tmp_path / "t.xlsx"
    openpyxl.Workbook().save(template)
    with zipfile.ZipFile(template) as zf:
        original = zf.read(part) if part in zf.namelist() else _shared_strings(5)
    comment = b"<!--" + b"x" * (80 << 10) + b"-->"  # past the lowered limit, valid XML
    if original.startswith(b"<?xml"):
        padded = original.replace(b"?>", b"?>" + comment, 1)
    else:
        padded = comment + original
    path = _xlsx_with_parts(tmp_path / "big.xlsx", {part: padded}, stored=True)
    code, text = validate(path, tmp_path)
    assert code == 2 and f"refused: {what}" in text, text
    assert "would inflate to" in text


def test_xlsx_sheet_declaring_more_rows_than_excel_holds_is_refused(tmp_path: Path) -> None:
    """The issue's 4.77M-row sheet: its <dimension> says so, refused before any row."""
    rows = '<row r="2"><c r="C2"><v>15</v></c></row>'
    sheet = _sheet(rows, dimension="A1:E4770000")
    path = _xlsx_with_parts(tmp_path / "tall.xlsx", {"xl/worksheets/sheet1.xml": sheet})
    code, text = validate(path, tmp_path)
    assert code == 2
    assert "xl/worksheets/sheet1.xml declares 4,770,000 rows, more than the 1,048,576" in text


def test_xlsx_rows_past_the_limit_without_a_dimension_are_refused(tmp_path: Path) -> None:
    """No <dimension> (or a wrong one): the count stops at the first row past the limit."""
    rows = (
        '<row r="2"><c r="A2" t="inlineStr"><is><t>alice@example.com</t></is></c></row>'
        '<row r="1048577"><c r="C1048577"><v>15</v></c></row>'
    )
    path = _xlsx_with_parts(tmp_path / "tall.xlsx", {"xl/worksheets/sheet1.xml": _sheet(rows)})
    code, text = validate_bounded(path, tmp_path)
    assert code == 2, text[-500:]
    assert "has a row 1,048,577, more than the 1,048,576 rows a sheet can hold" in text


@pytest.mark.parametrize("part", ["xl/worksheets/sheet1.xml", "xl/workbook.xml"])
def test_xlsx_with_an_external_entity_is_one_clear_line(tmp_path: Path, part: str) -> None:
    """XXE: refused by defusedxml; said in one line (openpyxl's own message was three lines
    pointing at an exception it did not show)."""
    import openpyxl

    template = tmp_path / "t.xlsx"
    openpyxl.Workbook().save(template)
    with zipfile.ZipFile(template) as zf:
        original = zf.read(part)
    doctype = b'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    if original.startswith(b"<?xml"):
        hostile = original.replace(b"?>", b"?>" + doctype, 1)
    else:
        hostile = doctype + original
    path = _xlsx_with_parts(tmp_path / "xxe.xlsx", {part: hostile})
    code, text = validate(path, tmp_path)
    assert code == 2
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 2 and lines[1].strip().startswith("hint:"), text
    assert "declares entities or a DTD, which Excel never writes" in lines[0]
    assert "see the exception" not in text and "root:" not in text


# -- every value has a clean outcome (issue 25 item 3) ----------------------------------------

OUT_OF_RANGE = [
    "0001-01-01T10:00:00Z",
    "1600-01-01T10:00:00",
    "2263-01-01 10:00",
    "9999-12-31T23:59:59Z",
    "1899-12-31T08:00:00+01:00",
    "31.12.9999 10:00",
]
HUGE_WORK_ITEM = "99999999999999999999"  # above int64


def _dated_rows() -> list[dict[str, object]]:
    from tests.helpers import make_rows

    rows = make_rows(len(OUT_OF_RANGE) + 3, users=("alice@example.com",))
    for row, start in zip(rows, OUT_OF_RANGE, strict=False):
        row["Start"] = start
    rows[len(OUT_OF_RANGE)]["WorkItem"] = HUGE_WORK_ITEM
    return rows


def _xlsx_rows(path: Path, rows: list[dict[str, object]], cells: Mapping[int, object]) -> Path:
    """The rows as a workbook; ``cells``: row index -> a native Start cell (a date cell)."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["User", "Start", "Minutes", "WorkItem", "Comment"])
    for i, row in enumerate(rows):
        start = cells.get(i, row["Start"])
        work_item = row["WorkItem"]
        ws.append(
            [
                row["User"],
                start,
                row["Minutes"],
                float(str(work_item)) if work_item == HUGE_WORK_ITEM else work_item,
                row["Comment"],
            ]
        )
    wb.save(path)
    return path


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_out_of_range_dates_and_numbers_are_row_rejections_in_validate(
    tmp_path: Path, fmt: str
) -> None:
    """Years 0001, 1600, 2263, 9999 (text, or an Excel date cell) and a work item above
    int64 raised OutOfBoundsDatetime / TypeError; now each is its row's rejection."""
    import datetime as dt
    import json

    from tests.helpers import write_rows

    rows = _dated_rows()
    if fmt == "csv":
        path = write_rows(tmp_path / "in.csv", rows)
    else:
        natives = {
            0: dt.datetime(1600, 1, 1, 10),
            1: dt.datetime(9999, 12, 31, 10),
            2: dt.datetime(1, 1, 1),
            3: dt.date(2263, 1, 1),
        }
        path = _xlsx_rows(tmp_path / "in.xlsx", rows, natives)
    code, text = validate(path, tmp_path, "--json")
    assert code == 1, text
    doc, _ = json.JSONDecoder().raw_decode(text[text.index("{") :])  # stdout, then stderr
    reasons = {r["source_row"]: r["reason"] for r in doc["rejections"]}
    assert doc["rows"] == len(rows) and doc["valid"] == 2
    assert doc["rows"] == doc["valid"] + doc["rejected"] + doc["skipped"]
    assert len(reasons) == doc["rejected"] == len(OUT_OF_RANGE) + 1
    for i in range(len(OUT_OF_RANGE)):
        assert "out of range: worklog dates must lie between 1900 and 2199" in reasons[i + 2]
    assert reasons[len(OUT_OF_RANGE) + 2] == "work item is too large to be a work item id"


def test_out_of_range_values_are_rejected_by_import_and_nothing_else_changes(
    tmp_path: Path,
) -> None:
    from tests.helpers import balanced, settings_for, write_rows
    from tests.reliability.conftest import expected_worklogs, run_quick, server_worklogs
    from timetracker_import.sandbox import run_sandbox_in_thread

    rows = _dated_rows()
    path = write_rows(tmp_path / "in.csv", rows)
    with run_sandbox_in_thread() as box:
        result = run_quick(settings_for(box, path, tmp_path))
        assert result.exit_code == 1 and balanced(result), result.summary_dict()
        assert result.accounting.rejected == len(OUT_OF_RANGE) + 1
        assert result.accounting.created == 2
        assert server_worklogs(box) == expected_worklogs(rows[-2:])


def _limited(limit: int) -> None:
    """A child whose files may not grow past ``limit`` bytes: writes fail with EFBIG, as on a
    full disk (SIGXFSZ ignored, so the write returns an error instead of killing it)."""
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_disk_full_mid_import_is_one_line_exit_75_and_the_resume_is_exact(
    tmp_path: Path,
) -> None:
    """The journal cannot grow mid-import (sqlite3.OperationalError was a traceback): one
    line naming the journal, exit 75; once there is room the same command resumes exactly
    and undo removes every worklog."""
    import json

    from tests.helpers import make_rows, write_rows
    from tests.reliability.conftest import expected_worklogs, server_worklogs
    from timetracker_import.sandbox import run_sandbox_in_thread

    rows = make_rows(600)
    path = write_rows(tmp_path / "in.csv", rows)
    args = cli_command(
        "import",
        str(path),
        "--mapping",
        str(mapping_file(tmp_path)),
        "--yes",
        "--json",
        "--batch-size",
        "20",
        "--concurrency",
        "2",
    )
    with run_sandbox_in_thread() as box:
        env = subprocess_env(box, tmp_path / "state")
        full = subprocess.run(
            args,
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=TIME_LIMIT,
            preexec_fn=lambda: _limited(300_000),
        )
        assert full.returncode == 75, full.stderr[-2000:]
        assert "Traceback" not in full.stderr
        lines = full.stderr.strip().splitlines()
        assert len(lines) == 2 and lines[1].strip().startswith("hint: free some space"), lines
        assert lines[0].startswith("error: cannot write ") and "journal.sqlite" in lines[0]
        stored = sum(server_worklogs(box).values())
        assert 0 < stored < 600  # it stopped mid-import
        again = subprocess.run(
            args, env=env, cwd=REPO, capture_output=True, text=True, timeout=TIME_LIMIT
        )
        assert again.returncode == 0, again.stderr[-2000:]
        doc = json.loads(again.stdout)
        assert doc["resumed"] and doc["counts"]["created"] == 600
        assert server_worklogs(box) == expected_worklogs(rows)
        undo = subprocess.run(
            cli_command("runs", "undo", "--yes", doc["run_id"], "--json"),
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=TIME_LIMIT,
        )
        assert undo.returncode == 0, undo.stderr
        assert sum(server_worklogs(box).values()) == 0


@pytest.mark.parametrize("where", ["a file", "under a file", "unreadable"])
def test_a_state_directory_that_cannot_be_created_is_one_line(tmp_path: Path, where: str) -> None:
    from tests.helpers import make_rows, write_rows

    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    state = {
        "a file": blocker,
        "under a file": blocker / "state",
        "unreadable": Path("/proc/no-such-dir/state"),
    }[where]
    path = write_rows(tmp_path / "in.csv", make_rows(3))
    env = subprocess_env(None, state) | {
        "TIMETRACKER_URL": "http://127.0.0.1:9",
        "TIMETRACKER_TOKEN": "state-test-token-1",
    }
    proc = subprocess.run(
        cli_command("import", str(path), "--mapping", str(mapping_file(tmp_path)), "--yes"),
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("error: cannot write ") and str(state.parent) in lines[0]
    assert "TIMETRACKER_STATE_DIR" in lines[1]


# -- a generated fuzz over the cell values of every mapped field ------------------------------

#: every field a mapping can map, in two layouts (a start timestamp and a length; a date with
#: start and end times)
FUZZ_LAYOUTS = {
    "timestamp": (
        ["User", "Start", "Minutes", "Billable", "WorkItem", "Comment", "Activity", "Org"],
        "timezone: UTC\nfields:\n  user: {column: User}\n  timestamp: {column: Start}\n"
        "  length: {column: Minutes, unit: minutes}\n"
        "  billable_length: {column: Billable, unit: minutes}\n"
        "  work_item: {column: WorkItem}\n  comment: {column: Comment}\n"
        "  activity_type: {column: Activity}\n  organization: {column: Org}\n",
    ),
    "date": (
        ["User", "Day", "From", "To", "WorkItem", "Comment"],
        "timezone: Europe/Berlin\nfields:\n  user: {column: User}\n  date: {column: Day}\n"
        "  start: {column: From}\n  end: {column: To}\n  work_item: {column: WorkItem}\n"
        "  comment: {column: Comment}\n",
    ),
}
#: texts that broke, or nearly broke, something once
EDGE_TEXTS = [
    "",
    " ",
    "0",
    "-0",
    "-1",
    "1e400",
    "-1e400",
    "NaN",
    "inf",
    "-inf",
    "1,5",
    "1.5.5",
    HUGE_WORK_ITEM,
    "9" * 40,
    "0001-01-01",
    "9999-12-31T23:59:59Z",
    "1677-09-21 00:12",
    "2262-04-11T23:47:16.854775807",
    "2262-04-12",
    "1600-02-29",
    "2026-02-29",
    "31.09.2026",
    "03/04/2026",
    "24:00",
    "25:61",
    "23:59:60",
    "12:00 PM",
    "PT999999999H",
    "P1Y",
    "99:99",
    "2026-03-29T02:30:00",
    "2026-10-25 02:30",
    "=1+1",
    "@SUM(A1)",
    "\x00",
    "\ufeff",
    "Ã©",
    "alice@example.com",
    "[Not Set]",
    "x" * 5000,
]
CELL_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**25), max_value=10**25),
    st.floats(allow_nan=True, allow_infinity=True),
    st.datetimes(min_value=__import__("datetime").datetime(1, 1, 1)),
    st.dates(),
    st.times(),
    st.timedeltas(),
    st.text(max_size=30),
    st.sampled_from(EDGE_TEXTS),
)
FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)


def _fuzz_file(tmp: Path, fmt: str, headers: list[str], rows: list[list[object]]) -> Path:
    """The rows as CSV (each value as text) or XLSX (native cells where openpyxl can hold
    them, else as text)."""
    import csv

    if fmt == "csv":
        path = tmp / "fuzz.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(headers)
            writer.writerows([["" if v is None else str(v) for v in row] for row in rows])
        return path
    import openpyxl
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    def cell(value: object) -> object:
        if isinstance(value, float) and (value != value or abs(value) == float("inf")):
            return str(value)  # Excel has no NaN or infinity
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
            return float(value)  # Excel holds doubles
        if isinstance(value, str):
            return ILLEGAL_CHARACTERS_RE.sub("", value)  # control characters: not in XML
        return value

    path = tmp / "fuzz.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(headers)
    for row in rows:
        ws.append([cell(v) for v in row])
    try:
        wb.save(path)
    except (ValueError, OverflowError):  # a date openpyxl cannot write: as text instead
        return _fuzz_file(
            tmp, fmt, headers, [[None if v is None else str(v) for v in row] for row in rows]
        )
    return path


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip().strip("\x00\ufeff"))


@FUZZ
@given(
    layout=st.sampled_from(sorted(FUZZ_LAYOUTS)),
    fmt=st.sampled_from(["csv", "xlsx"]),
    data=st.data(),
)
def test_fuzz_cell_values_of_every_mapped_field(
    tmp_path_factory: pytest.TempPathFactory, layout: str, fmt: str, data: st.DataObject
) -> None:
    """No value in any mapped field makes a traceback; every row ends in exactly one of
    valid, rejected or skipped (or the file is refused as a whole, exit 2, one line)."""
    import json

    headers, mapping = FUZZ_LAYOUTS[layout]
    row = st.lists(CELL_VALUES, min_size=len(headers), max_size=len(headers))
    rows = data.draw(st.lists(row, min_size=1, max_size=4))
    tmp = tmp_path_factory.mktemp("fuzz")
    path = _fuzz_file(tmp, fmt, headers, rows)
    (tmp / "fuzz.yaml").write_text(mapping, encoding="utf-8")
    code, out, err = invoke(["validate", str(path), "--mapping", str(tmp / "fuzz.yaml"), "--json"])
    assert "Traceback" not in out + err, (out + err)[-3000:]
    assert code in (0, 1, 2), (code, (out + err)[-3000:])
    if code == 2:
        lines = [line for line in err.splitlines() if line.strip()]
        assert lines and lines[0].startswith("error: ") and len(lines) <= 2, err
        return
    doc = json.loads(out)
    rejected = [r["source_row"] for r in doc["rejections"]]
    assert len(rejected) == len(set(rejected)) == doc["rejected"]  # one record per row
    assert doc["rows"] == doc["valid"] + doc["rejected"] + doc["skipped"], doc
    # CSV text may have made some rows blank ("" for None); never more rows than written
    assert doc["rows"] <= len(rows)


@pytest.fixture(scope="module")
def fuzz_box() -> Any:
    from timetracker_import.sandbox import run_sandbox_in_thread

    with run_sandbox_in_thread() as box:
        yield box


@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_fuzz_import_accounts_for_every_row(
    tmp_path_factory: pytest.TempPathFactory,
    fuzz_box: Any,
    data: st.DataObject,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same cell values through ``import`` into the sandbox: an ImportResult that
    balances (created + existing + rejected + unprocessed + skipped = rows), or a one-line
    error; what the server gained is what the run says it created."""
    from dataclasses import replace

    from tests.helpers import balanced
    from tests.reliability.conftest import run_quick, stored_count
    from timetracker_import.api.settings import resolve_connection
    from timetracker_import.app.importer import ImportSettings
    from timetracker_import.errors import TimetrackerError

    headers, mapping = FUZZ_LAYOUTS["timestamp"]
    good = ["alice@example.com", "2026-09-01T06:00:00Z", 15, "", 100, "good", "", ""]
    fuzzed = data.draw(
        st.lists(
            st.lists(CELL_VALUES, min_size=len(headers), max_size=len(headers)),
            min_size=1,
            max_size=3,
        )
    )
    mixed = [list(good)] + [
        # the user and the organization stay sane (routing is not what is fuzzed here)
        ["alice@example.com", *cells[1:7], ""]
        for cells in fuzzed
    ]
    mixed[0][5] = f"good-{data.draw(st.integers(0, 10**9))}"  # not already on the server
    tmp = tmp_path_factory.mktemp("fuzzimport")
    monkeypatch.setenv("TIMETRACKER_STATE_DIR", str(tmp / "state"))
    path = _fuzz_file(tmp, data.draw(st.sampled_from(["csv", "xlsx"])), headers, mixed)
    (tmp / "m.yaml").write_text(mapping, encoding="utf-8")
    connection = resolve_connection(
        url=fuzz_box.url,
        env={"TIMETRACKER_TOKEN": fuzz_box.tokens["alice@example.com"]},
        config_dir=tmp / "cfg",
    )
    settings_ = ImportSettings(path=path, connection=connection, mapping_path=tmp / "m.yaml")
    before = stored_count(fuzz_box)
    try:
        result = run_quick(replace(settings_))
    except TimetrackerError as exc:
        assert exc.exit_code == 2 and "\n" not in exc.message, exc
        assert stored_count(fuzz_box) == before
        return
    assert result.exit_code in (0, 1), result.summary_dict()
    assert balanced(result), result.summary_dict()
    assert stored_count(fuzz_box) - before == result.accounting.created
