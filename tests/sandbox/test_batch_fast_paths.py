"""The sandbox's shortcuts on the batch path give the same answers as the plain versions."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from timetracker_import.sandbox.context import ApiFail, parse_guid
from timetracker_import.sandbox.timeparse import from_key
from timetracker_import.sandbox.weeks import LOCKED_STATES, is_locked, week_start_of

# 1900-01-01 .. 2100-01-01 in microseconds since the epoch
KEYS = st.integers(min_value=-2_208_988_800_000_000, max_value=4_102_444_800_000_000)


@given(KEYS)
def test_integer_week_lookup_matches_week_start_of(key: int) -> None:
    monday = week_start_of(from_key(key))
    assert monday.weekday() == 0
    for state in (1, 2, 3, 99):
        states = {("u", monday): state}
        assert is_locked(states, "u", key) is (state in LOCKED_STATES)
        assert is_locked(states, "other", key) is False
    assert is_locked({("u", date(1800, 1, 6)): 3}, "u", key) is False
    assert is_locked({}, "u", key) is False


def test_cached_guid_parsing_still_canonicalises_and_refuses() -> None:
    text = "{8F0E4C1E-0000-0000-0000-00000000000A}"
    assert parse_guid(text, "userId") == "8f0e4c1e-0000-0000-0000-00000000000a"
    assert parse_guid(text, "userId") == "8f0e4c1e-0000-0000-0000-00000000000a"  # cached
    for _ in range(2):  # a cached refusal is still a refusal
        with pytest.raises(ApiFail) as caught:
            parse_guid("nope", "userId")
        assert caught.value.status == 400
