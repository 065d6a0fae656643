"""Every exit code the tool uses has its few words (evidence documents, notifications)."""

from __future__ import annotations

from timetracker_import import errors


def test_every_exit_code_has_a_meaning() -> None:
    codes = {v for k, v in vars(errors).items() if k.startswith("EXIT_") and isinstance(v, int)}
    assert errors.EXIT_PROTOCOL in codes and len(codes) >= 10
    unnamed = sorted(c for c in codes if errors.exit_meaning(c) == "failed")
    assert not unnamed, f"exit codes without words: {unnamed}"
    assert errors.exit_meaning(99) == "failed"  # an unknown code still reads as a failure
