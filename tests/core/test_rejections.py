from timetracker_import.core.rejections import Rejection, merge_rejections


def test_merge_joins_reasons_per_row_and_sorts() -> None:
    rows = [
        Rejection(5, "validate", "Hours", "0", "length must be > 0"),
        Rejection(2, "map", "Date", "03/04", "ambiguous date"),
        Rejection(5, "validate", "Notes", None, "comment or work item required"),
    ]
    merged = merge_rejections(rows)
    assert [r.source_row for r in merged] == [2, 5]
    assert merged[1].reason == "length must be > 0; comment or work item required"
    assert merged[1].column == "Hours"
    assert merged[0].to_dict()["value"] == "03/04"


def test_where_shows_column_and_value_to_fix() -> None:
    assert Rejection(3, "map", "Date", "31.09.2026", "not a date").where() == (
        " [Date: '31.09.2026']"
    )
    assert Rejection(3, "validate", "Notes", None, "comment required").where() == " [Notes: empty]"
    assert Rejection(3, "resolve", None, None, "unknown").where() == ""
    assert Rejection(3, "map", "C", "x" * 60, "too long").where().endswith("…']")
