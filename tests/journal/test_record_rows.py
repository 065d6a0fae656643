"""``Journal.record_rows`` without keys (one INSERT over a JSON array) keeps the semantics of
the keyed path: new rows pending, rows already known keep their outcome and key."""

from __future__ import annotations

from timetracker_import.core.worklog_key import WorklogKey
from timetracker_import.journal.store import Journal


def test_rows_only_registers_pending_and_keeps_known_outcomes() -> None:
    key = WorklogKey("u1", "2026-09-01T06:00:00Z", 900, 7, "x")
    with Journal.create(fingerprint="f" * 64) as journal:
        journal.record_rows([2, 3], {2: key})
        journal.mark_existing({3: "w-3"})
        journal.record_rows(iter([5, 2, 3, 4, 5]))  # repeats and known rows are fine
        outcomes = journal.row_outcomes()
        assert outcomes == {
            2: ("pending", None),
            3: ("existing", "w-3"),
            4: ("pending", None),
            5: ("pending", None),
        }
        assert journal.row_keys() == {2: key}
        assert journal.pending_rows() == [2, 4, 5]


def test_rows_only_accepts_numpy_ints_and_nothing() -> None:
    import numpy as np

    with Journal.create(fingerprint="e" * 64) as journal:
        journal.record_rows([])
        journal.record_rows(np.array([10, 11], dtype="int64"))
        assert journal.pending_rows() == [10, 11]


def test_stored_bodies_read_back_equal() -> None:
    from datetime import UTC, datetime

    import numpy as np

    from timetracker_import.core.planning import PlannedBatch

    t0 = datetime(2026, 9, 1, tzinfo=UTC)

    body = {"timeStamp": "2026-09-01T06:00:00Z", "length": 900, "comment": 'é ü \u2028 "q"'}
    odd = {"length": np.int64(60), "userId": "u"}  # a non-JSON type is stored as its str()
    with Journal.create(fingerprint="d" * 64) as journal:
        journal.record_rows([2, 3])
        journal.record_plan([PlannedBatch(1, (2, 3), "u", t0, t0)])
        journal.mark_created(1, [(2, "w2", None), (3, "w3", None)], {2: body, 3: odd})
        records = {r.source_row: r.body for r in journal.created_records()}
        assert records == {2: body, 3: {"length": "60", "userId": "u"}}
