"""CSV/TSV/TXT reading: encodings, delimiters, quoting, row numbers, chunking."""

from __future__ import annotations

import codecs
import tracemalloc
from pathlib import Path

import pandas as pd
import pytest

from timetracker_import.errors import InputError
from timetracker_import.files import readers_csv
from timetracker_import.files.readers import column_letter, letter_index, open_table

TEXT = "Name,Stunden,Notiz\nJürgen,1.5,Grüße\nZoë,2,\n"
EXPECTED = {2: ["Jürgen", "1.5", "Grüße"], 3: ["Zoë", "2", None]}


def rows_of(path: Path, **kwargs: object) -> dict[int, list[object]]:
    table = open_table(path, **kwargs)  # type: ignore[arg-type]
    frame = table.read_all()
    return {int(k): list(v) for k, v in zip(frame.index, frame.values.tolist(), strict=True)}


@pytest.mark.parametrize(
    ("raw", "override", "reported"),
    [
        (TEXT.encode("utf-8"), None, "utf-8"),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), None, "utf-8-sig"),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8", "utf-8-sig"),
        (codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), None, "utf-16-le"),
        (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), None, "utf-16-be"),
        (TEXT.encode("utf-16"), "utf-16", "utf-16"),
        (TEXT.encode("cp1252"), "cp1252", "cp1252"),
        (TEXT.encode("cp1252"), "windows-1252", "cp1252"),
    ],
    ids=[
        "utf8",
        "utf8-bom",
        "utf8-bom-override",
        "utf16le",
        "utf16be",
        "utf16-override",
        "cp1252-override",
        "cp1252-alias",
    ],
)
def test_encodings(tmp_path: Path, raw: bytes, override: str | None, reported: str) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(raw)
    table = open_table(path, encoding=override)
    assert table.encoding == reported
    assert table.headers == ["Name", "Stunden", "Notiz"]  # no BOM leaks into "Name"
    assert rows_of(path, encoding=override) == EXPECTED


def test_undecodable_byte_names_line_offset_and_hint(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(TEXT.encode("cp1252"))  # ü = 0xFC at line 2
    with pytest.raises(InputError) as info:
        open_table(path).read_all()
    err = info.value
    offset = len(b"Name,Stunden,Notiz\nJ")
    assert err.row == 2
    assert f"line 2, byte offset {offset}" in err.message
    assert "fc" in err.message
    assert err.hint is not None and "--encoding cp1252" in err.hint
    assert err.path == str(path)


@pytest.mark.parametrize("block", [1, 2, 3, 5, 64, 1 << 20])
def test_decoding_across_blocks(
    tmp_path: Path, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Multi-byte characters and CRLF split across read blocks; error offsets stay exact."""
    monkeypatch.setattr(readers_csv, "_READ_BLOCK", block)
    good = 'a;b\r\nä€;𝄞\r\n\r\nx;"y\r\nz"\r\n'.encode()
    path = tmp_path / "ok.csv"
    path.write_bytes(good)
    assert rows_of(path) == {2: ["ä€", "𝄞"], 4: ["x", "y\r\nz"]}

    bad = good + "ü;ö\n".encode() + b"q;\xff\n"
    path.write_bytes(bad)
    with pytest.raises(InputError) as info:
        open_table(path, delimiter=";").read_all()
    assert info.value.row == 7
    bad_at = bad.index(b"\xff")
    assert f"byte offset {bad_at}" in info.value.message


@pytest.mark.parametrize(
    ("bom", "codec", "override"),
    [
        (codecs.BOM_UTF8, "utf-8", None),
        (codecs.BOM_UTF8, "utf-8", "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16-be", None),
        (codecs.BOM_UTF32_LE, "utf-32-le", None),
    ],
)
def test_offsets_count_the_bom(
    tmp_path: Path, bom: bytes, codec: str, override: str | None
) -> None:
    good = bom + "a,b\nc,d\n".encode(codec)
    bad = {
        "utf-8": b"\xfc",
        "utf-16-le": b"\x00\xdc",
        "utf-16-be": b"\xdc\x00",
        "utf-32-le": b"\x00\x00\x11\x00",
    }[codec]
    path = tmp_path / "in.csv"
    path.write_bytes(good + bad + "x\n".encode(codec))
    with pytest.raises(InputError) as info:
        open_table(path, encoding=override).read_all()
    assert f"line 3, byte offset {len(good)}" in info.value.message


def test_utf16_undecodable_reports_offset(tmp_path: Path) -> None:
    raw = codecs.BOM_UTF16_LE + "a,b\n1,2\n".encode("utf-16-le") + b"\x00\xdc" + b"x\x00"
    path = tmp_path / "in.csv"
    path.write_bytes(raw)
    with pytest.raises(InputError) as info:
        open_table(path).read_all()
    assert info.value.row == 3
    assert f"byte offset {len(raw) - 4}" in info.value.message


@pytest.mark.parametrize("delim", [",", ";", "\t", "|"])
def test_delimiter_sniffed(tmp_path: Path, delim: str) -> None:
    # Decimal commas and a quoted delimiter must not fool the sniffer.
    lines = [["user", "hours", "note"], ["ann", "1,5", f"a{delim}b"], ["bob", "2", "x"]]
    text = "".join(
        delim.join(f'"{c}"' if delim in c or "," in c else c for c in row) + "\n" for row in lines
    )
    path = tmp_path / "in.csv"
    path.write_text(text, encoding="utf-8")
    table = open_table(path)
    assert table.delimiter == delim
    assert table.headers == ["user", "hours", "note"]
    assert rows_of(path) == {2: ["ann", "1,5", f"a{delim}b"], 3: ["bob", "2", "x"]}


@pytest.mark.parametrize(
    ("text", "override", "headers"),
    [
        ("a,b;c\n1,2;3\n", None, ["a", "b;c"]),
        ("a,b;c\n1,2;3\n", ";", ["a,b", "c"]),
        ("Name;Hours\nA;1,5\nB;2,25\n", None, ["Name", "Hours"]),
        ("only\none\n", None, ["only"]),
        ("a|b\n1|2\n", "|", ["a", "b"]),
    ],
)
def test_delimiter_override_and_ties(
    tmp_path: Path, text: str, override: str | None, headers: list[str]
) -> None:
    path = tmp_path / "in.csv"
    path.write_text(text, encoding="utf-8")
    assert open_table(path, delimiter=override).headers == headers


def test_bad_delimiter_override(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("a,b\n", encoding="utf-8")
    with pytest.raises(InputError, match="one character"):
        open_table(path, delimiter=";;")


def test_quoted_newlines_keep_physical_start_line(tmp_path: Path) -> None:
    text = 'h1,h2\n"multi\nline\ntext",x\nnext,y\n\n"a,b",z\r\n,\n"q""uote",end\n'
    path = tmp_path / "in.csv"
    path.write_text(text, encoding="utf-8", newline="")
    assert rows_of(path) == {
        2: ["multi\nline\ntext", "x"],
        5: ["next", "y"],
        7: ["a,b", "z"],
        9: ['q"uote', "end"],
    }


@pytest.mark.parametrize("suffix", [".tsv", ".txt"])
def test_excel_unicode_text(tmp_path: Path, suffix: str) -> None:
    """Excel's "Unicode text" export: UTF-16 LE with BOM, TAB separated, CRLF."""
    text = "Employee\tHours\tComment\r\nJürgen\t1,5\tMit, Komma\r\n"
    path = tmp_path / f"export{suffix}"
    path.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    table = open_table(path)
    assert (table.encoding, table.delimiter) == ("utf-16-le", "\t")
    assert table.headers == ["Employee", "Hours", "Comment"]
    assert rows_of(path) == {2: ["Jürgen", "1,5", "Mit, Komma"]}


def test_headers_stripped_cells_not(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("  Name , Hours\t\n  ann , 1 \n", encoding="utf-8")
    table = open_table(path, delimiter=",")
    assert table.headers == ["Name", "Hours"]
    assert rows_of(path, delimiter=",") == {2: ["  ann ", " 1 "]}


def test_repeated_and_empty_headers_keep_positions(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("a,a,,b\n1,2,3,4\n", encoding="utf-8")
    table = open_table(path)
    assert table.headers == ["a", "a", "", "b"]
    assert rows_of(path) == {2: ["1", "2", "3", "4"]}


def test_trailing_empty_header_cells_trimmed_short_rows_padded(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("a,b,,\n1\n1,2,,\n", encoding="utf-8")
    table = open_table(path)
    assert table.headers == ["a", "b"]
    assert rows_of(path) == {2: ["1", None], 3: ["1", "2"]}


def test_value_beyond_last_column_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("a,b\n1,2\n3,4,,oops\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        open_table(path).read_all()
    assert (info.value.row, info.value.column) == (3, "D")


def test_only_header_gives_empty_table(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("a;b;c\r\n\r\n", encoding="utf-8")
    table = open_table(path)
    assert table.headers == ["a", "b", "c"]
    assert list(table.chunks()) == []
    frame = table.read_all()
    assert frame.empty and list(frame.columns) == [0, 1, 2]  # type: ignore[comparison-overlap]  # pandas-stubs types labels as str
    assert frame.index.name == "source_row"


@pytest.mark.parametrize(
    ("content", "match"),
    [(b"", "is empty"), (b"\n\n  \n", "no data"), (codecs.BOM_UTF8, "no data")],
)
def test_empty_files(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=match):
        open_table(path)


def test_missing_directory_and_unknown_type(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        open_table(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="directory"):
        open_table(tmp_path)
    odd = tmp_path / "data.json"
    odd.write_text("{}", encoding="utf-8")
    with pytest.raises(InputError, match="unsupported"):
        open_table(odd)
    with pytest.raises(InputError, match="unknown encoding"):
        (tmp_path / "x.csv").write_text("a\n", encoding="utf-8")
        open_table(tmp_path / "x.csv", encoding="no-such-codec")


def test_unbalanced_quote_reads_to_end(tmp_path: Path) -> None:
    """csv (non-strict) takes an unclosed quote up to end of file; the record still starts
    on the line where the quote opened, so the user is pointed to the right place."""
    path = tmp_path / "in.csv"
    path.write_text('a,b\n1,"open\n2,3\n', encoding="utf-8")
    assert rows_of(path) == {2: ["1", "open\n2,3\n"]}


def test_no_header_uses_letters_and_starts_at_one(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    row = ",".join(str(i) for i in range(28))
    path.write_text(f"{row}\n\n{row}\n", encoding="utf-8")
    table = open_table(path, has_header=False)
    assert table.headers[:3] == ["A", "B", "C"]
    assert table.headers[-2:] == ["AA", "AB"]
    frame = table.read_all()
    assert list(frame.index) == [1, 3]
    assert frame.loc[1, 27] == "27"


def test_chunks_are_bounded_and_numbered_continuously(tmp_path: Path) -> None:
    lines = ["id,v"]
    expected = []
    for i in range(1, 31):
        if i % 7 == 0:
            lines.append(",")  # a blank row: its number is absent
        else:
            lines.append(f"{i},x")
            expected.append(i + 1)
    path = tmp_path / "in.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    table = open_table(path)
    for _ in range(2):  # chunks() restarts from the top each time
        chunks = list(table.chunks(size=4))
        assert all(len(c) <= 4 for c in chunks)
        assert [len(c) for c in chunks[:-1]] == [4] * (len(chunks) - 1)
        merged = pd.concat(chunks)
        assert list(merged.index) == expected
        assert list(merged[0]) == [str(n - 1) for n in expected]
        assert all((c.dtypes == "object").all() for c in chunks)
        assert all(list(c.columns) == [0, 1] for c in chunks)  # type: ignore[comparison-overlap]  # pandas-stubs types labels as str
    with pytest.raises(ValueError):
        next(table.chunks(size=0))


def test_first_chunk_does_not_load_the_whole_file(tmp_path: Path) -> None:
    """A 12 MB file: opening it and reading a first chunk stays far below its size."""
    path = tmp_path / "big.csv"
    line = "user@example.com;2026-11-02;09:00;1,5;1001;Development;" + "x" * 70 + "\n"
    with path.open("w", encoding="utf-8") as fh:
        fh.write("Employee;Date;Start;Hours;Item;Activity;Notes\n")
        fh.write(line * 100_000)
    assert path.stat().st_size > 12_000_000
    tracemalloc.start()
    try:
        table = open_table(path)
        first = next(table.chunks(size=1000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(first) == 1000 and first.index[0] == 2
    assert peak < 6_000_000


@pytest.mark.parametrize(
    ("index", "letters"),
    [
        (0, "A"),
        (1, "B"),
        (25, "Z"),
        (26, "AA"),
        (27, "AB"),
        (51, "AZ"),
        (52, "BA"),
        (701, "ZZ"),
        (702, "AAA"),
        (16383, "XFD"),
    ],
)
def test_column_letters(index: int, letters: str) -> None:
    assert column_letter(index) == letters
    assert letter_index(letters) == index
    assert letter_index(letters.lower()) == index


@pytest.mark.parametrize("bad", ["", "A1", "1", "Ä", " "])
def test_letter_index_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        letter_index(bad)


def test_column_letter_rejects_negative() -> None:
    with pytest.raises(ValueError):
        column_letter(-1)


def test_wide_tables_get_shorter_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A chunk is bounded in cells, not rows (issue 25 item 4): a 16,384-column header would
    make default chunks of 800 million cells."""
    from timetracker_import.files import readers

    monkeypatch.setattr(readers, "MAX_CHUNK_CELLS", 1000)
    path = tmp_path / "wide.csv"
    header = ",".join(f"c{i}" for i in range(100))
    path.write_text(header + "\n" + "\n".join(",".join(["v"] * 100) for _ in range(35)) + "\n")
    table = readers.open_table(path)
    sizes = [len(chunk) for chunk in table.chunks(50_000)]
    assert sizes == [10, 10, 10, 5]  # 1000 cells / 100 columns
    narrow = tmp_path / "narrow.csv"
    narrow.write_text("a,b\n" + "1,2\n" * 35)
    assert [len(c) for c in readers.open_table(narrow).chunks(50_000)] == [35]
