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
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.conftest import REPO, cli_command, invoke, mapping_file, subprocess_env

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
            b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
            b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
        )  # fmt: skip
        files["xl/_rels/workbook.xml.rels"] = files["xl/_rels/workbook.xml.rels"].replace(
            b"</Relationships>", b'<Relationship Id="rIdSst" Type="http://schemas.openxml'
            b'formats.org/officeDocument/2006/relationships/sharedStrings" '
            b'Target="sharedStrings.xml"/></Relationships>',
        )  # fmt: skip
    files.update(parts)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for name, data in files.items():
            kind = zipfile.ZIP_STORED if stored and name in parts else zipfile.ZIP_DEFLATED
            dst.writestr(name, data, compress_type=kind)
    return path


_MAIN = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def _shared_strings(items: int, text: str = "{n}") -> bytes:
    """A shared-strings part of ``items`` texts; the header's five come first."""
    head = "".join(f"<si><t>{h}</t></si>" for h in ("User", "Start", "Minutes", "WorkItem",
                                                      "Comment"))  # fmt: skip
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
    path = _xlsx_with_parts(tmp_path / "strings.xlsx", {"xl/sharedStrings.xml": part},
                            stored=True)  # fmt: skip
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
        tmp_path / "strings.xlsx", {"xl/sharedStrings.xml": part,
                                    "xl/worksheets/sheet1.xml": _sheet(rows)}, stored=True,
    )  # fmt: skip
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
