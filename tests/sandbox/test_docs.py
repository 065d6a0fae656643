"""docs/sandbox.md stays in step with the tests and the fault grammar."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from timetracker_import.sandbox import parse_fault
from timetracker_import.sandbox.seed import EMPTY_GUID
from timetracker_import.sandbox.store import Store, WorklogFilter, WorklogRow

HERE = Path(__file__).resolve().parent
DOC = HERE.parent.parent / "docs" / "sandbox.md"


def test_every_decision_has_a_row_and_every_named_test_exists() -> None:
    doc = DOC.read_text(encoding="utf-8")
    table = doc.split("## Test coverage by decision", 1)[1]
    for n in range(1, 25):
        assert re.search(rf"^\| D{n} ", table, re.MULTILINE), f"D{n} missing"
    source = "\n".join(p.read_text(encoding="utf-8") for p in HERE.glob("test_*.py"))
    defined = set(re.findall(r"def (test_\w+)", source))
    for name in set(re.findall(r"(test_\w+?)(?:\*|\[|`)", table)):
        if name.endswith("_") or name.endswith("grammar"):  # prefixes written as test_d12_*
            assert any(d.startswith(name) for d in defined), name
        else:
            assert name in defined, name


def test_every_recorded_decision_has_a_row_with_tests() -> None:
    """Each ``**Sn.`` under "Decisions made here" has a ``| Sn `` row naming at least one
    test (the names themselves are checked above), and no row names a missing decision."""
    doc = DOC.read_text(encoding="utf-8")
    decisions_part, table = doc.split("## Test coverage by decision", 1)
    decisions_part = decisions_part.split("## Decisions made here", 1)[1]
    decided = re.findall(r"^- \*\*(S\d+)\.", decisions_part, re.MULTILINE)
    rows = dict(re.findall(r"^\| (S\d+) [^|]*\|([^\n]*)\|$", table, re.MULTILINE))
    assert len(decided) >= 16 and len(set(decided)) == len(decided), decided
    assert set(rows) == set(decided)
    for number, tests in rows.items():
        assert re.search(r"test_\w+", tests), number


def test_documented_fault_examples_parse() -> None:
    doc = DOC.read_text(encoding="utf-8")
    examples = re.findall(r"^\| `([^`]+)`(?: / `([^`]+)`)? \|", doc, re.MULTILINE)
    specs = [s for pair in examples for s in pair if s and ("#" in s or s.startswith("*:"))]
    assert len(specs) >= 10
    for spec in specs:
        parse_fault(spec)


@pytest.mark.slow
def test_paging_100000_worklogs_is_quick(tmp_path: Path) -> None:
    from timetracker_import.sandbox import load_seed

    seed = load_seed("demo")
    store = Store(tmp_path / "big.sqlite", seed)
    user = seed.users[1].id
    rows = [
        WorklogRow(
            f"{i:08d}-0000-0000-0000-000000000000",
            user,
            user,
            user,
            "t",
            i // 3,
            60,
            None,
            i,
            None,
            EMPTY_GUID,
            0,
            0,
        )
        for i in range(100_000)
    ]
    store.insert_worklogs(rows)
    started = time.perf_counter()
    seen = 0
    for skip in range(0, 100_000, 500):
        seen += len(store.list_worklogs(WorklogFilter(), skip=skip, count=500))
    elapsed = time.perf_counter() - started
    assert seen == 100_000
    print(f"paged 100,000 worklogs in {elapsed:.2f}s")
    plan = store.conn.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM worklogs ORDER BY ts_key, id LIMIT 500 OFFSET 0"
    ).fetchall()
    assert "worklogs_order" in str(plan)  # the ordered index, not a sort


def test_the_contract_checklist_adds_up_and_names_only_existing_tests() -> None:
    """docs/sandbox.md "Contract checklist": every row's tests exist (below tests/), and
    the totals the text states are the table's."""
    doc = DOC.read_text(encoding="utf-8")
    part = doc.split("## Contract checklist", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (C\d+) \| [^|]* \| (.*) \| ([^|]*) \| ([^|]*) \|$", part, re.M)
    assert [r[0] for r in rows] == [f"C{n}" for n in range(1, len(rows) + 1)]
    tests_dir = HERE.parent
    for number, _, _, tests in rows:
        for path, name in re.findall(r"`([\w/]+\.py)::(test_\w+)`", tests):
            source = (tests_dir / path).read_text(encoding="utf-8")
            assert re.search(rf"def {name}\(", source), f"{number}: {path}::{name}"
    verdicts = [r[2].strip() for r in rows]
    counts = (
        len(rows),
        sum(v in ("sandbox", "both") for v in verdicts),
        sum(v in ("client", "both") for v in verdicts),
        sum(v.startswith("not emulated") for v in verdicts),
        sum("::test_" in r[3] for r in rows),
        sum("*fixed*" in r[1] for r in rows),
    )
    stated = re.search(
        r"\*\*Totals:\*\* (\d+) statements: (\d+) enforced by the sandbox, (\d+) held on the "
        r"client side, (\d+) not\s+emulated; (\d+) with tests; (\d+) divergences fixed",
        part,
    )
    assert stated is not None
    assert tuple(int(n) for n in stated.groups()) == counts
