"""``ImportSettings.on_duplicate`` (issue 13) through ``run_import`` against the sandbox:
the later copy of a row is skipped by default (counted, reported with the row it repeats,
not posted), rejected with ``fail``, posted too with ``allow``; a resume keeps the choice."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from tests.helpers import (
    invoke_cli,
    make_rows,
    mapping_file,
    server_comments,
    settings_for,
    write_rows,
)
from timetracker_import.app.importer import run_import
from timetracker_import.sandbox import RunningSandbox


def _file(tmp_path: Path) -> Path:
    rows = make_rows(4)
    return write_rows(tmp_path / "in.csv", [*rows, dict(rows[1]), dict(rows[1])])  # rows 6, 7


@pytest.mark.parametrize(
    ("policy", "created", "skipped", "rejected", "copies_on_server", "code"),
    [("skip", 4, 2, 0, 1, 0), ("fail", 4, 0, 2, 1, 1), ("allow", 6, 0, 0, 3, 0)],
)
def test_policy(
    sandbox: RunningSandbox,
    tmp_path: Path,
    policy: str,
    created: int,
    skipped: int,
    rejected: int,
    copies_on_server: int,
    code: int,
) -> None:
    path = _file(tmp_path)
    result = run_import(settings_for(sandbox, path, tmp_path, on_duplicate=policy))
    c = result.accounting
    assert (c.created, c.skipped, c.rejected) == (created, skipped, rejected)
    assert c.is_balanced() and result.exit_code == code
    assert result.in_file_duplicates == {6: 3, 7: 3}
    assert c.in_file_duplicates == 2
    assert server_comments(sandbox)["row-1"] == copies_on_server
    summary = result.summary_dict()
    assert summary["on_duplicate"] == policy
    if policy == "fail":
        assert {r.source_row for r in result.rejections} == {6, 7}
        assert all("repeats row 3" in r.reason for r in result.rejections)


def test_dry_run_counts_the_copies_as_skipped(sandbox: RunningSandbox, tmp_path: Path) -> None:
    result = run_import(settings_for(sandbox, _file(tmp_path), tmp_path, dry_run=True))
    assert (result.accounting.created, result.accounting.skipped) == (4, 2)
    assert sum(server_comments(sandbox).values()) == 0


def _mapping_with(tmp_path: Path, policy: str) -> Path:
    """MAPPING with ``on_duplicate: POLICY`` (a date-only payroll export's way to say that
    two equal entries are both real work)."""
    path = mapping_file(tmp_path)
    path.write_text(path.read_text(encoding="utf-8") + f"on_duplicate: {policy}\n")
    return path


def test_the_mapping_declares_what_identical_rows_get(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """Before: only --on-duplicate could keep two equal entries; a mapping could not, so a
    scheduled sync of a date-only file (where two equal shifts are real) dropped one."""
    path = _file(tmp_path)
    settings = settings_for(sandbox, path, tmp_path)
    result = run_import(replace(settings, mapping_path=_mapping_with(tmp_path, "allow")))
    assert (result.accounting.created, result.accounting.skipped) == (6, 0)
    assert result.summary_dict()["on_duplicate"] == "allow"
    assert server_comments(sandbox)["row-1"] == 3


def test_the_option_beats_the_mapping(sandbox: RunningSandbox, tmp_path: Path) -> None:
    path = _file(tmp_path)
    settings = settings_for(sandbox, path, tmp_path, on_duplicate="skip")
    result = run_import(replace(settings, mapping_path=_mapping_with(tmp_path, "fail")))
    assert (result.accounting.created, result.accounting.skipped) == (4, 2)
    assert result.accounting.rejected == 0 and result.summary_dict()["on_duplicate"] == "skip"


def test_validate_and_sync_follow_the_mapping_too(sandbox: RunningSandbox, tmp_path: Path) -> None:
    from timetracker_import import library

    path = _file(tmp_path)
    mapping = _mapping_with(tmp_path, "fail")
    checked = library.validate(path, mapping=mapping)
    assert checked.on_duplicate == "fail" and checked.rejected == 2
    code, out, err = invoke_cli(
        sandbox,
        "sync",
        str(path),
        "--mapping",
        str(_mapping_with(tmp_path, "allow")),
        "--source",
        "payroll",
        "--timezone",
        "UTC",
        "--yes",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["counts"]["created"] == 6
    assert server_comments(sandbox)["row-1"] == 3


@pytest.mark.parametrize(
    ("mapping_policy", "option", "said"),
    [
        (None, None, "skipped (--on-duplicate allow keeps both)"),
        ("fail", None, "rejected (the mapping's on_duplicate: fail)"),
        ("fail", "allow", "kept (both imported) (--on-duplicate allow)"),
    ],
)
def test_validate_names_where_the_duplicate_rule_came_from(
    sandbox: RunningSandbox,
    tmp_path: Path,
    mapping_policy: str | None,
    option: str | None,
    said: str,
) -> None:
    """validate's summary said "(--on-duplicate fail)" for a rule the mapping declared, an
    option the user never typed; it names the mapping's key, or the option, or (the default)
    how to keep both."""
    path = _file(tmp_path)
    mapping = _mapping_with(tmp_path, mapping_policy) if mapping_policy else mapping_file(tmp_path)
    args = ["validate", str(path), "--mapping", str(mapping)]
    if option:
        args += ["--on-duplicate", option]
    _, _, err = invoke_cli(sandbox, *args)
    assert f"identical rows within the file, {said}: 6 (= row 3), 7 (= row 3)" in err
