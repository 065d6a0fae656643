"""Mapping and lookup files that cannot be read end in a MappingError, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from timetracker_import.errors import MappingError
from timetracker_import.files.mapping_loader import load_lookup, load_mapping


def test_mapping_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    path.write_bytes(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\xc7\xff binary")
    with pytest.raises(MappingError, match="is not UTF-8 text") as info:
        load_mapping(path)
    assert info.value.hint and "UTF-8" in info.value.hint


def test_lookup_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_bytes("name,email\nJürgen,j@example.com\n".encode("cp1252"))
    with pytest.raises(MappingError, match="lookup file .* is not UTF-8 text") as info:
        load_lookup(path, "name", "email", key_path="lookups.users.file")
    assert info.value.key_path == "lookups.users.file"


def test_mapping_file_missing(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="cannot read mapping file"):
        load_mapping(tmp_path / "nope.yaml")


def test_lookup_lines_with_an_empty_value_are_no_entry(tmp_path: Path) -> None:
    # a template line not filled in yet must not map the name to an empty user (the token's)
    (tmp_path / "u.csv").write_text(
        "Name,User,note\nAlice Admin,alice@example.com,\nBob Builder,,FILL IN\n , x,\n",
        encoding="utf-8",
    )
    assert load_lookup(tmp_path / "u.csv", "Name", "User", key_path="k") == {
        "alice admin": "alice@example.com"
    }


def test_missing_lookup_file_is_recorded_not_an_error(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(
        "fields: {user: {column: U, lookup: users}, timestamp: T, length: L}\n"
        "lookups: {users: {file: people.csv, key: Name, value: User}}\n",
        encoding="utf-8",
    )
    loaded = load_mapping(tmp_path / "m.yaml")
    assert loaded.lookups == {"users": {}}
    assert loaded.missing_lookups == ("users",)
    assert loaded.lookup_files == {"users": str(tmp_path / "people.csv")}
