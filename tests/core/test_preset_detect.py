"""Header fingerprints -> presets, and field guesses for unknown headers."""

from __future__ import annotations

import pandas as pd
import pytest

from timetracker_import.core.preset_detect import (
    best_presets,
    choose_preset,
    date_order_evidence,
    detect_presets,
    guess_fields,
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
        (["03/04/2024", "03/18/2024"], "clockify-us", "'03/18/2024' have a part > 12 second"),
        (["03/04/2024", "18/03/2024"], "clockify-eu", "'18/03/2024' have a part > 12 first"),
        (["04.03.2024"], "clockify-eu", "written with dots"),
        (["2024-03-04", "2024-03-18"], "clockify-us", "read the same"),
        (["03/04/2024", "04/03/2024"], None, "every date reads both ways"),
        (["03/18/2024", "18/03/2024"], None, "contradicts itself"),
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
    data = rows(["1", "Task", "t", "2", "3/4/2024 10:00 AM"], ["2", "Task", "u", "1", "3/14/2024"])
    choice = choose_preset(headers, data)
    assert (choice.preset, choice.date_order) == ("azure-devops-query", "MDY")
    undecided = choose_preset(headers, rows(["1", "Task", "t", "2", "3/4/2024"]))
    assert (undecided.preset, undecided.date_order) == ("azure-devops-query", None)


def test_date_order_evidence_ignores_times_and_iso() -> None:
    assert date_order_evidence(["2024-03-18 09:00", "n/a"]) == (None, [])
