"""Stage ``prepare``: the file read, mapped and validated offline, every row accounted for."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import make_rows, offline_settings, write_rows
from timetracker_import.app.stages.prepare import prepare


def test_valid_rows_become_the_canonical_frame_numbered_as_the_user_sees_them(
    tmp_path: Path,
) -> None:
    path = write_rows(tmp_path / "in.csv", make_rows(3))
    prepared = prepare(offline_settings(path, tmp_path))
    assert list(prepared.canonical.index) == [2, 3, 4]  # header = row 1
    assert prepared.canonical["length_seconds"].tolist() == [900, 900, 900]
    assert prepared.canonical["user"].tolist() == [
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
    ]
    assert str(prepared.canonical["timestamp"].dt.tz) == "UTC"
    assert prepared.rejections == [] and prepared.skipped == []
    assert (prepared.user_header, prepared.date_header) == ("User", "Start")


def test_a_bad_row_is_rejected_once_with_its_column_and_the_rest_stay(tmp_path: Path) -> None:
    rows = make_rows(3)
    rows[1]["Minutes"] = "lots"
    path = write_rows(tmp_path / "in.csv", rows)
    prepared = prepare(offline_settings(path, tmp_path))
    (rejection,) = prepared.rejections
    assert (rejection.source_row, rejection.column, rejection.value) == (3, "Minutes", "lots")
    assert list(prepared.canonical.index) == [2, 4]
    # every row ends in one place: valid, rejected or skipped
    assert sorted([*prepared.canonical.index, rejection.source_row]) == list(prepared.raw.index)


def test_a_repeated_row_is_skipped_by_default_and_named(tmp_path: Path) -> None:
    rows = make_rows(2)
    path = write_rows(tmp_path / "in.csv", [*rows, rows[0]])
    prepared = prepare(offline_settings(path, tmp_path))
    assert prepared.skipped == [4] and prepared.duplicate_skips == {4: 2}
    assert "row 2" in prepared.skip_reasons()[4]


def test_the_fingerprint_follows_the_file_and_the_options(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "in.csv", make_rows(2))
    first = prepare(offline_settings(path, tmp_path)).fingerprint
    assert prepare(offline_settings(path, tmp_path)).fingerprint == first
    assert prepare(offline_settings(path, tmp_path, dry_run=True)).fingerprint != first
    write_rows(path, make_rows(3))
    assert prepare(offline_settings(path, tmp_path)).fingerprint != first
