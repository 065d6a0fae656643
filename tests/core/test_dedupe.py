from collections import Counter
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from timetracker_import.core.dedupe import (
    existing_from_worklogs,
    find_in_file_duplicates,
    match_existing,
)
from timetracker_import.core.worklog_key import WorklogKey


def key(n: int) -> WorklogKey:
    return WorklogKey("u", f"2024-03-04T08:00:{n:02d}Z", 60, None, "c")


def test_in_file_duplicates_point_to_the_first_row() -> None:
    keys = {9: key(1), 2: key(1), 5: key(2), 7: key(1), 3: key(2)}
    assert find_in_file_duplicates(keys) == {7: 2, 9: 2, 5: 3}


def test_no_duplicates_gives_empty() -> None:
    assert find_in_file_duplicates({2: key(1), 3: key(2)}) == {}


def test_match_existing_is_a_multiset_match() -> None:
    rows = {4: key(1), 2: key(1), 3: key(2)}
    existing = [("w-old", key(1)), ("w-other", key(3))]
    # two identical rows, one identical worklog: only the lowest row is matched
    assert match_existing(rows, existing) == {2: "w-old"}


def test_match_existing_oldest_worklog_first() -> None:
    rows = {2: key(1), 3: key(1), 4: key(1)}
    existing = [("w-a", key(1)), ("w-b", key(1))]
    assert match_existing(rows, existing) == {2: "w-a", 3: "w-b"}


def test_the_same_worklog_read_twice_claims_one_row() -> None:
    rows = {2: key(1), 3: key(1)}
    assert match_existing(rows, [("w", key(1)), ("w", key(1))]) == {2: "w"}


def test_existing_from_worklogs_sorts_oldest_first() -> None:
    def wl(wid: str, created: str) -> dict[str, Any]:
        return {
            "id": wid,
            "createdTimestamp": created,
            "timestamp": "2024-03-04T08:00:01Z",
            "length": 60,
            "comment": "c",
            "user": {"id": "U"},
        }

    items = [wl("b", "2024-03-05T10:00:00.5"), wl("a", "2024-03-05T10:00:00.49"), {"id": None}]
    pairs = existing_from_worklogs(items)
    assert [p[0] for p in pairs] == ["a", "b"]
    assert pairs[0][1] == key(1)
    assert match_existing({2: key(1)}, pairs) == {2: "a"}


keys_strategy = st.dictionaries(st.integers(1, 60), st.integers(0, 4).map(key), max_size=30)
existing_strategy = st.lists(st.integers(0, 4).map(key), max_size=20)


@given(keys_strategy, existing_strategy)
def test_match_existing_multiset_properties(
    rows: dict[int, WorklogKey], existing_keys: list[WorklogKey]
) -> None:
    existing = [(f"w{i}", k) for i, k in enumerate(existing_keys)]
    matched = match_existing(rows, existing)
    # each worklog claimed at most once, and only by a row with its key
    assert len(set(matched.values())) == len(matched)
    by_id = dict(existing)
    assert all(rows[row] == by_id[wid] for row, wid in matched.items())
    # per key: matches = min(rows with the key, worklogs with the key)
    row_counts = Counter(rows.values())
    existing_counts = Counter(existing_keys)
    matched_counts = Counter(rows[r] for r in matched)
    for k in row_counts:
        assert matched_counts[k] == min(row_counts[k], existing_counts[k])
    # the matched rows of a key are its lowest rows
    for k in matched_counts:
        rows_of_k = sorted(r for r, rk in rows.items() if rk == k)
        assert sorted(r for r in matched if rows[r] == k) == rows_of_k[: matched_counts[k]]
    # deterministic
    assert match_existing(rows, existing) == matched


@given(keys_strategy)
def test_in_file_duplicates_properties(rows: dict[int, WorklogKey]) -> None:
    dups = find_in_file_duplicates(rows)
    firsts = set(rows) - set(dups)
    # exactly one first row per distinct key, and each duplicate points to an earlier first row
    assert len(firsts) == len(set(rows.values()))
    for row, first in dups.items():
        assert first in firsts and first < row and rows[first] == rows[row]


def test_same_start_worklogs_pairs_a_changed_row_with_the_worklog_it_would_sit_beside() -> None:
    import pandas as pd

    from timetracker_import.core.dedupe import same_start_worklogs

    stamp = "2024-03-05T11:15:00Z"
    old = WorklogKey("u1", stamp, 3600, 101, "noon")
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(
                [stamp, stamp, "2024-03-05T11:15:00.400Z", "2024-03-05T12:00:00Z"],
                utc=True,
                format="ISO8601",
            ),
            "length_seconds": [5400, 900, 60, 60],
        },
        index=[4, 7, 9, 11],
    )
    users = pd.Series({4: "U1", 7: "u2", 9: "u1", 11: "u1"})
    found = same_start_worklogs(
        frame, users, [("w1", old), ("w0", WorklogKey("u1", stamp, 1, None, "x"))]
    )
    # row 4: same user and second (case of the id ignored); row 7 another user; row 9 the
    # same second (timestamps compare to the second, like the natural key); one worklog each
    assert found == {4: ("w1", old), 9: ("w0", WorklogKey("u1", stamp, 1, None, "x"))}
    # a worklog matched as identical or created by this run is left out
    assert same_start_worklogs(frame, users, [("w1", old)], taken={"w1"}) == {}
