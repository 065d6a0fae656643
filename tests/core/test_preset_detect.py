"""Header fingerprints -> presets, and field guesses for unknown headers."""

from __future__ import annotations

from timetracker_import.core.preset_detect import best_presets, detect_presets, guess_fields


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
