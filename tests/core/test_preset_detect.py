"""Header fingerprints -> presets, and field guesses for unknown headers."""

from __future__ import annotations

import pandas as pd
import pytest

from timetracker_import.core.preset_detect import (
    DateOrderVerdict,
    best_presets,
    choose_preset,
    detect_presets,
    guess_fields,
    infer_date_order,
)


def test_bom_quotes_and_case_do_not_matter() -> None:
    headers = [
        '\ufeff"Description"',
        "duration",
        "Start date",
        "START TIME",
        "Stop date",
        "Stop time",
    ]
    assert [d.preset for d in best_presets(headers)] == ["toggl-2025"]


def test_more_specific_fingerprint_wins() -> None:
    # A 7pace-npm-like file that also happens to have Date + Start: still 7pace-npm.
    headers = ["UserName", "Date", "Start", "Duration", "Comment"]
    found = best_presets(headers)
    assert [d.preset for d in found] == ["7pace-npm"]
    assert found[0].matched == ("Duration", "Date", "Start", "Comment")


def test_setting_dependent_presets_tie() -> None:
    headers = ["Email", "Start Date", "Start Time", "Duration (h)", "Duration (decimal)"]
    assert [d.preset for d in best_presets(headers)] == ["clockify-eu", "clockify-us"]


def test_missing_required_column_is_no_match() -> None:
    assert detect_presets(["Date", "Hours", "First Name"]) == []
    assert best_presets([]) == []


def test_guess_fields_prefers_exact_words_and_drops_date_with_timestamp() -> None:
    guesses = guess_fields(["Mitarbeiter", "Datum", "Beginn", "Dauer (h)", "Bemerkung x"])
    assert guesses == {
        "user": "Mitarbeiter",
        "date": "Datum",
        "start": "Beginn",
        "length": "Dauer (h)",
        "comment": "Bemerkung x",  # "contains" match when no header is exactly a known word
    }
    assert "date" not in guess_fields(["Timestamp", "Date", "Hours"])


# -- issue 13: presets that share a header, told apart by the data of the first rows

CLOCKIFY = ["Email", "Start Date", "Start Time", "Duration (h)", "Duration (decimal)"]


def rows(*cells: list[str]) -> pd.DataFrame:
    return pd.DataFrame([list(c) for c in cells], index=range(2, 2 + len(cells)), dtype=object)


@pytest.mark.parametrize(
    ("dates", "preset", "evidence"),
    [
        (
            ["03/04/2024", "03/18/2024", "03/19/2024"],
            "clockify-us",
            "2 date(s) such as '03/18/2024' (row 3) read only as month/day (US)",
        ),
        (
            ["03/04/2024", "18/03/2024", "19/03/2024"],
            "clockify-eu",
            "2 date(s) such as '18/03/2024' (row 3) read only as day/month",
        ),
        (["04.03.2024"], "clockify-eu", "written with dots"),
        (["2024-03-04", "2024-03-18"], "clockify-us", "read the same"),
        (["03/04/2024", "04/03/2024"], None, "every date reads both ways"),
        (["03/18/2024", "18/03/2024"], None, "the file has both orders"),
        # one date that reads one way only does not decide for dates that read both ways
        (["03/04/2024", "03/18/2024"], None, "one date does not decide a file's order"),
        # ... but it may when no other date reads both ways (nothing else changes meaning)
        (["01/01/2024", "18/03/2024"], "clockify-eu", "read only as day/month"),
    ],
)
def test_clockify_date_order_from_the_data(
    dates: list[str], preset: str | None, evidence: str
) -> None:
    data = rows(*[["a@x", d, "09:00", "1:00", "1.00"] for d in dates])
    choice = choose_preset(CLOCKIFY, data)
    assert choice.preset == preset
    assert choice.candidates == ("clockify-eu", "clockify-us")
    assert any(evidence in e for e in choice.evidence), choice.evidence
    text = choice.explain() if preset else choice.refusal()
    assert evidence in text


def cell_rows(*cells: list[object]) -> pd.DataFrame:
    """``rows`` with native cells, as an Excel sheet gives them."""
    return pd.DataFrame([list(c) for c in cells], index=range(2, 2 + len(cells)), dtype=object)


def test_clockify_excel_date_cells_read_the_same_under_both_presets() -> None:
    # A Clockify Excel export with real date cells: no text to read in either order, so
    # either preset reads them alike; --preset auto refused ("no date ... decides the order")
    # and sent the user to choose between two presets that make no difference.
    import datetime as dt

    data = cell_rows(
        ["a@x", dt.datetime(2024, 3, 4), dt.time(9), "1:00", 1.0],
        ["a@x", dt.datetime(2024, 3, 18), dt.time(9), "1:00", 1.0],
    )
    choice = choose_preset(CLOCKIFY, data)
    assert choice.preset == "clockify-us"
    assert any("every date is a real date cell" in e for e in choice.evidence)
    # a text date among them still has to be read, and decides (or refuses) as before
    mixed = cell_rows(
        ["a@x", dt.datetime(2024, 3, 4), dt.time(9), "1:00", 1.0],
        ["a@x", "03/04/2024", "09:00", "1:00", 1.0],
    )
    assert choose_preset(CLOCKIFY, mixed).preset is None


def test_am_pm_and_decimal_comma_are_reported_but_do_not_decide() -> None:
    data = rows(["a@x", "03/04/2024", "09:00 AM", "1,50", "1.50"])
    choice = choose_preset(CLOCKIFY, data)
    assert choice.preset is None
    joined = " ".join(choice.evidence)
    assert "'09:00 AM' use AM/PM" in joined and "'1,50' use a decimal comma" in joined
    assert "--preset clockify-eu or --preset clockify-us" in choice.hint()


def test_a_header_only_file_cannot_decide() -> None:
    assert choose_preset(CLOCKIFY, None).preset is None


def test_npm_letters_layout_is_told_by_its_first_row() -> None:
    first_row = ["alice@example.com", "03.04.2024 09:15", "1.25", "Development", "x", "101"]
    choice = choose_preset(first_row)
    assert choice.preset == "7pace-npm-letters"
    assert "the first row is data" in choice.explain()
    # a header row of unknown names is not taken for data
    assert choose_preset(["Who", "When", "Hours"]).preset is None


def test_ado_query_date_order_comes_from_changed_date() -> None:
    headers = ["ID", "Work Item Type", "Title", "Completed Work", "Changed Date"]
    data = rows(
        ["1", "Task", "t", "2", "3/4/2024 10:00 AM"],
        ["2", "Task", "u", "1", "3/14/2024"],
        ["3", "Task", "v", "1", "3/15/2024"],
    )
    choice = choose_preset(headers, data)
    assert (choice.preset, choice.date_order) == ("azure-devops-query", "MDY")
    # the data cannot decide: no preset, and the order is what to ask for
    undecided = choose_preset(headers, rows(["1", "Task", "t", "2", "3/4/2024"]))
    assert (undecided.preset, undecided.needs_date_order) == (None, True)
    assert "day/month order is open" in undecided.refusal()
    assert "--date-order MDY" in undecided.hint()
    # the order the user names decides instead
    named = choose_preset(headers, rows(["1", "Task", "t", "2", "3/4/2024"]), date_order="DMY")
    assert (named.preset, named.date_order) == ("azure-devops-query", "DMY")
    # dates that read the same both ways need no order at all
    same = choose_preset(headers, rows(["1", "Task", "t", "2", "3/3/2024"]))
    assert (same.preset, same.date_order) == ("azure-devops-query", None)


def test_infer_date_order_ignores_times_and_iso() -> None:
    assert infer_date_order([(2, "2024-03-18 09:00"), (3, "n/a")]) == DateOrderVerdict(None, False)


def _us_dates(n: int) -> list[tuple[int, str]]:
    """n rows of distinct US dates whose day is above 12 (read only as month/day)."""
    return [(2 + i, f"{1 + i % 12:02d}/{13 + i % 15:02d}/2026") for i in range(n)]


def test_one_dirty_row_is_rejected_not_a_vote() -> None:
    # 40 rows that read only as month/day and one 13/11/2026: US, and the odd row named
    cells = _us_dates(40) + [(42, "13/11/2026")]
    verdict = infer_date_order(cells)
    assert verdict.order == "MDY"
    assert verdict.contradicting == ((42, "13/11/2026"),)
    joined = " ".join(verdict.evidence)
    assert "read only as month/day (US)" in joined
    assert "1 row(s) contradict it and are rejected: '13/11/2026' (row 42)" in joined


def test_one_decisive_row_among_ambiguous_ones_does_not_flip_the_file() -> None:
    # the web app's case: an otherwise US file whose days are all <= 12 and one 13/11/2026
    cells = [(2 + i, f"{1 + i % 12:02d}/{1 + i % 11:02d}/2026") for i in range(40)]
    verdict = infer_date_order([*cells, (42, "13/11/2026")])
    assert verdict.order is None and verdict.undecided
    assert "'13/11/2026' (row 42)" in verdict.evidence[0]
    assert "one date does not decide" in verdict.evidence[0]


def test_many_contradicting_rows_make_the_file_undecided() -> None:
    cells = _us_dates(10) + [(50, "13/11/2026"), (51, "14/11/2026")]
    verdict = infer_date_order(cells)
    assert verdict.undecided and "the file has both orders" in verdict.evidence[-1]


def test_the_web_app_and_the_cli_see_the_same_choice() -> None:
    # one function serves both: the dirty row never turns a US Clockify file into EU
    data = rows(
        *[["a@x", d, "09:00", "1:00", "1.00"] for _, d in _us_dates(30)],
        ["a@x", "13/11/2026", "09:00", "1:00", "1.00"],
    )
    choice = choose_preset(CLOCKIFY, data)
    assert choice.preset == "clockify-us"
    assert choice.contradicting == ((32, "13/11/2026"),)
    assert "contradict it and are rejected" in choice.explain()
