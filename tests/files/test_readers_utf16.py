"""A UTF-16 CSV without a byte-order mark is refused with the encoding to use, not read as
UTF-8 into headers full of NULs."""

from __future__ import annotations

from pathlib import Path

import pytest

from timetracker_import.errors import InputError
from timetracker_import.files.readers import open_table

TEXT = "User,Date,Hours,Comment\nalice@example.com,2026-09-01,1.5,ok\n"
UMLAUTS = "Mitarbeiter;Datum;Stunden;Notiz\nJürgen Groß;01.09.2026;1,5;Grüße\n"


@pytest.mark.parametrize("text", [TEXT, UMLAUTS], ids=["ascii", "umlauts"])
@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_bomless_utf16_names_the_byte_order(tmp_path: Path, encoding: str, text: str) -> None:
    path = tmp_path / "hours.csv"
    path.write_bytes(text.encode(encoding))
    with pytest.raises(InputError) as info:
        open_table(path)
    assert f"this looks like UTF-16 without a byte-order mark; try --encoding {encoding}" in str(
        info.value
    )
    assert info.value.path == str(path)
    # An explicit utf-8 gets the same advice; the suggested encoding reads the file.
    with pytest.raises(InputError, match=f"try --encoding {encoding}"):
        open_table(path, encoding="utf-8")
    table = open_table(path, encoding=encoding)
    assert table.headers == text.splitlines()[0].split(table.delimiter or ",")
    assert len(table.read_all()) == 1


@pytest.mark.parametrize(
    "raw",
    [
        TEXT.encode("utf-8"),
        b"a,b\n1,2\n",  # tiny files are not mistaken for UTF-16
        ("User,Comment\n" + "x,a\x00b\n" * 3).encode("utf-8"),  # a few stray NULs
    ],
)
def test_utf8_files_are_not_flagged(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(raw)
    assert open_table(path).encoding == "utf-8"
