"""An import reads the file without keeping every raw cell (``prepare(keep_raw=False)``):
the cells of rows rejected later come from the file again, and every row is accounted for."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tests.helpers import MAPPING, make_rows, write_rows
from timetracker_import.api.redact import Secret
from timetracker_import.api.settings import ConnectionSettings
from timetracker_import.app.stages.model import ImportSettings
from timetracker_import.app.stages.prepare import prepare


def _settings(tmp_path: Path, path: Path) -> ImportSettings:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    connection = ConnectionSettings(url="http://127.0.0.1:9", token=Secret("lean-read-token"))
    return ImportSettings(path=path, connection=connection, mapping_path=mapping, chunk_rows=4)


def test_only_the_rows_rejected_while_reading_keep_their_cells(tmp_path: Path) -> None:
    rows = make_rows(10)
    rows[2]["Minutes"] = 0  # rejected while reading (row 4)
    rows[7] = dict(rows[1])  # a copy of row 3 (row 9): skipped
    path = write_rows(tmp_path / "in.csv", rows)
    settings = _settings(tmp_path, path)
    full, lean = prepare(settings), prepare(settings, keep_raw=False)
    assert lean.row_numbers() == full.row_numbers() == list(range(2, 12))
    assert list(lean.raw.index) == [4]
    assert lean.canonical.equals(full.canonical)
    assert lean.rejections == full.rejections and lean.skipped == full.skipped == [9]
    assert lean.repeats == full.repeats == {9: 3}
    # any other row's cells are read again from the file, exactly as they were read
    again = lean.raw_rows([6, 4, 11])
    pd.testing.assert_frame_equal(again.sort_index(), full.raw.loc[[4, 6, 11]])


def test_a_file_changed_since_it_was_read_gives_no_cells_rather_than_other_ones(
    tmp_path: Path,
) -> None:
    path = write_rows(tmp_path / "in.csv", make_rows(5))
    lean = prepare(_settings(tmp_path, path), keep_raw=False)
    write_rows(path, make_rows(5, users=("someone@else.example",)))
    assert lean.raw_rows([3]).empty
