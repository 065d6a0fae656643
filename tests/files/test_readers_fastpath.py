"""The CSV fast path (pandas' C parser) gives exactly the chunks of the precise reader.

``RawTable.chunks`` tries the C parser first and falls back to the row-by-row reader on any
doubt; ``RawTable._python_chunks`` is the precise reader alone. Both must agree on rows,
``source_row`` numbers, chunk boundaries, cell values and errors, for any input.
"""

from __future__ import annotations

import codecs
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from timetracker_import.errors import InputError
from timetracker_import.files import readers_csv
from timetracker_import.files.readers import RawTable, open_table
from timetracker_import.files.readers_csv import FastCsv


def _outcome(chunks: object) -> tuple[list[pd.DataFrame], str | None]:
    """The chunks produced before an error, and the error (type and message) if any."""
    frames: list[pd.DataFrame] = []
    try:
        for frame in chunks:  # type: ignore[attr-defined]
            frames.append(frame)
    except InputError as exc:
        return frames, f"InputError: {exc.message} row={exc.row} column={exc.column}"
    return frames, None


def assert_same_chunks(table: RawTable, size: int) -> bool:
    """Compare fast (with fallback) and precise chunks; return whether the fast path held."""
    fast_frames, fast_error = _outcome(table.chunks(size))
    slow_frames, slow_error = _outcome(table._python_chunks(size))
    assert fast_error == slow_error
    if fast_error is None:
        assert len(fast_frames) == len(slow_frames)
    else:
        # Before an error the precise reader may stop earlier (it decodes whole blocks
        # ahead); any extra chunk the fast path gave holds only rows above the bad one.
        assert len(fast_frames) >= len(slow_frames)
        row = fast_error.split("row=")[1].split()[0]
        for extra in fast_frames[len(slow_frames) :]:
            assert row != "None" and int(extra.index.max()) < int(row)
    for fast, slow in zip(fast_frames, slow_frames, strict=False):
        pd.testing.assert_frame_equal(fast, slow)
        # Cells are str or None, never NaN or numbers.
        assert all(v is None or type(v) is str for v in fast.to_numpy().ravel())
    probe = FastCsv(table)
    _outcome(probe.chunks(size))
    return not probe.fell_back


def _write(raw: bytes) -> Path:
    with tempfile.NamedTemporaryFile(suffix=".csv", delete=False) as handle:
        handle.write(raw)
    return Path(handle.name)


# Characters that stress the parsers: delimiters, quotes, line breaks, whitespace, NUL,
# a BOM character, non-ASCII.
_ALPHABET = st.sampled_from(list('ab1,;"  \t\n\r\x00\ufeffé€\u00a0\x1c'))
_CELL = st.text(_ALPHABET, max_size=6)
_CLEAN_CELL = st.text(st.sampled_from(list("ab1 é€-.:/")), max_size=6)


def _quoted(cell: str, delimiter: str) -> str:
    if any(c in cell for c in (delimiter, '"', "\n", "\r")) or cell.strip() != cell:
        return '"' + cell.replace('"', '""') + '"'
    return cell


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[bytes, str | None, bool, int, str | None]:
    """(file bytes, explicit encoding or None, has_header, chunk size, explicit delimiter)."""
    delimiter = draw(st.sampled_from([",", ";"]))
    rows = draw(st.lists(st.lists(_CELL, max_size=4), min_size=1, max_size=8))
    quote = draw(st.booleans())  # False: raw text, so malformed quoting happens too
    ending = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    lines = [delimiter.join(_quoted(c, delimiter) if quote else c for c in r) for r in rows]
    text = ending.join(lines) + draw(st.sampled_from(["", ending]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-bom", "utf-16-le-bom", "cp1252"]))
    if encoding == "utf-8":
        raw, explicit = text.encode("utf-8"), None
    elif encoding == "utf-8-bom":
        raw, explicit = codecs.BOM_UTF8 + text.encode("utf-8"), None
    elif encoding == "utf-16-le-bom":
        raw, explicit = codecs.BOM_UTF16_LE + text.encode("utf-16-le"), None
    else:
        raw, explicit = text.encode("cp1252", errors="replace"), "cp1252"
    if draw(st.booleans()):
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + b"\xff" + raw[at:]  # an undecodable byte (in utf-8) somewhere
    # An explicit delimiter skips sniffing, so a bad byte can be met first while chunking.
    given_delimiter = draw(st.sampled_from([None, delimiter]))
    return raw, explicit, draw(st.booleans()), draw(st.integers(1, 4)), given_delimiter


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_files())
@example((b'h1,h2\n"a\nb",c\nd,e\n', None, True, 1, None))  # line break in a cell
@example((b"h1,h2\n\n  , \nx,y\n", None, True, 2, None))  # blank and whitespace-only rows
@example((b"h1,h2\nx,y,z\n", None, True, 1, None))  # stray cell: the precise error
@example((b"h1,h2\nx,y,,\n", None, True, 1, None))  # empty trailing cells are fine
@example((b'\xef\xbb\xbf\xef\xbb\xbf"a,b",c\n1,2\n', None, True, 1, None))  # two BOMs
@example((b"h1,h2\n1,2\n3,\xff\n", None, True, 1, ","))  # decode error after a good chunk
def test_fast_path_gives_the_precise_chunks(
    case: tuple[bytes, str | None, bool, int, str | None],
) -> None:
    raw, encoding, has_header, size, delimiter = case
    path = _write(raw)
    saved = readers_csv._READ_BLOCK
    readers_csv._READ_BLOCK = 8  # decode errors surface while chunking, not in open_table
    try:
        try:
            table = open_table(path, encoding=encoding, has_header=has_header, delimiter=delimiter)
        except InputError:
            event("open_table refused the file")
            return  # open_table does not involve the fast path
        held = assert_same_chunks(table, size)
        event("fast path held" if held else "fell back")
    finally:
        readers_csv._READ_BLOCK = saved
        path.unlink()


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(st.lists(_CLEAN_CELL, min_size=3, max_size=3), min_size=1, max_size=12),
    blank_every=st.integers(0, 4),
    size=st.integers(1, 5),
)
def test_clean_files_stay_on_the_fast_path(
    rows: list[list[str]], blank_every: int, size: int
) -> None:
    """Quoted cells, blank lines and empty cells do not force the slow reader."""
    lines = ["A,B,C"]
    for i, r in enumerate(rows):
        if blank_every and i % blank_every == 0:
            lines.append("")
        lines.append(",".join(_quoted(c, ",") for c in r))
    path = _write(("\r\n".join(lines) + "\r\n").encode())
    try:
        table = open_table(path)
        assert assert_same_chunks(table, size) is True
    finally:
        path.unlink()


def test_fast_path_numbers_rows_by_physical_line(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text('\n\nName;Hours\n\nann;"1,5"\n  ;\nbob;\n', encoding="utf-8")
    table = open_table(path)
    probe = FastCsv(table)
    frames = list(probe.chunks(10))
    assert not probe.fell_back or frames == []
    frame = table.read_all()
    assert list(frame.index) == [5, 7]
    assert frame.to_numpy().tolist() == [["ann", "1,5"], ["bob", None]]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('A,B\n1,2\n"x\ny",3\n4,5\n', "line break in a cell"),
        ("A,B\n1,2\n3,4,5\n", "stray cell"),
        ('A,B\n1,2\n"open,3\n', "unbalanced quote"),
    ],
)
def test_fallback_continues_after_the_chunks_already_given(
    tmp_path: Path, text: str, reason: str
) -> None:
    path = tmp_path / "in.csv"
    path.write_text(text, encoding="utf-8")
    table = open_table(path)
    probe = FastCsv(table)
    given_fast = list(probe.chunks(1))
    assert probe.fell_back, reason
    assert [int(f.index[0]) for f in given_fast] == [2][: len(given_fast)]
    assert assert_same_chunks(table, 1) is False


def test_decode_error_after_good_rows_is_the_precise_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small decode blocks and more lines than open_table samples: the bad byte is met only
    # while chunking, after the fast path has given good chunks.
    monkeypatch.setattr(readers_csv, "_READ_BLOCK", 64)
    good = b"A,B\n" + b"".join(b"%d,x\n" % i for i in range(100))
    path = tmp_path / "in.csv"
    path.write_bytes(good + b"5,\xfc\n")
    table = open_table(path)
    frames = []
    with pytest.raises(InputError) as info:
        for frame in table.chunks(40):
            frames.append(frame)
    assert [len(f) for f in frames] == [40, 40]  # the last, partial chunk never completes
    assert info.value.row == 102
    assert f"line 102, byte offset {len(good) + 2}" in info.value.message
