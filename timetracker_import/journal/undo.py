"""Undo a run: delete exactly the worklogs it created, unless someone edited them since.

The decision (``plan_undo``) is pure. ``run_undo`` performs it with HTTP calls passed in as
async callables, so it runs against any client and is testable without a server. Undo is
idempotent: a second undo finds everything gone and says so.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from timetracker_import.errors import AuthError, TimetrackerError
from timetracker_import.journal.store import CreatedRecord, Journal

FetchWorklog = Callable[[str], Awaitable[Mapping[str, Any] | None]]
"""Return the worklog, or None when it does not exist (404)."""
DeleteWorklog = Callable[[str], Awaitable[bool]]
"""Delete a worklog; True when deleted, False when it was already gone (404)."""

_FRACTION = re.compile(r"^(?P<base>[^.]*?)(?:\.(?P<frac>\d+))?(?P<zone>Z|[+-]\d\d:?\d\d)?$")


@dataclass
class UndoPlan:
    """What undo will do: delete these ids, skip these (edited since creation, with why),
    and report these as already gone."""

    delete: list[str] = field(default_factory=list)
    skipped_edited: list[tuple[str, str]] = field(default_factory=list)
    already_gone: list[str] = field(default_factory=list)


@dataclass
class UndoReport:
    """What undo did (``failed``: ids whose delete the server refused, with the reason)."""

    dry_run: bool
    deleted: list[str] = field(default_factory=list)
    skipped_edited: list[tuple[str, str]] = field(default_factory=list)
    already_gone: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "dry_run": self.dry_run,
            "deleted": list(self.deleted),
            "skipped_edited": [{"id": i, "why": w} for i, w in self.skipped_edited],
            "already_gone": list(self.already_gone),
            "failed": [{"id": i, "why": w} for i, w in self.failed],
        }


def same_edited_timestamp(recorded: str | None, current: str | None) -> bool:
    """Whether two ``editedTimestamp`` texts denote the same moment, tolerating the precision
    the server drops after a database round trip (``.0292991`` vs ``.03``, API §1.6)."""
    if recorded is None or current is None:
        return recorded == current
    a, b = _FRACTION.match(recorded.strip()), _FRACTION.match(current.strip())
    if a is None or b is None:
        return recorded.strip() == current.strip()
    if a["base"] != b["base"] or (a["zone"] or "") != (b["zone"] or ""):
        return False
    frac_a, frac_b = a["frac"] or "", b["frac"] or ""
    digits = min(len(frac_a), len(frac_b))
    return _round_fraction(frac_a, digits) == _round_fraction(frac_b, digits)


def _round_fraction(frac: str, digits: int) -> int:
    # round half up to ``digits`` places, in integers (a carry into the second stays 10**digits)
    if not frac:
        return 0
    value, places = int(frac), len(frac)
    if digits >= places:
        return value * 10 ** (digits - places)
    quotient, remainder = divmod(value, 10 ** (places - digits))
    return quotient + (1 if 2 * remainder >= 10 ** (places - digits) else 0)


def plan_undo(
    created_records: Iterable[CreatedRecord],
    current_worklogs_by_id: Mapping[str, Mapping[str, Any] | None],
) -> UndoPlan:
    """Decide per created worklog: delete, skip (edited since it was created) or already gone
    (missing from ``current_worklogs_by_id`` or mapped to None)."""
    plan = UndoPlan()
    for record in created_records:
        current = current_worklogs_by_id.get(record.worklog_id)
        if current is None:
            plan.already_gone.append(record.worklog_id)
            continue
        edited = current.get("editedTimestamp")
        if record.edited_ts is not None and not same_edited_timestamp(
            record.edited_ts, None if edited is None else str(edited)
        ):
            plan.skipped_edited.append(
                (
                    record.worklog_id,
                    f"edited since the import (editedTimestamp {edited}, "
                    f"was {record.edited_ts}); delete it by hand if it should go",
                )
            )
            continue
        plan.delete.append(record.worklog_id)
    return plan


async def run_undo(
    journal: Journal,
    *,
    fetch_worklog: FetchWorklog,
    delete_worklog: DeleteWorklog,
    dry_run: bool = False,
) -> UndoReport:
    """Undo the run in ``journal``: read each created worklog, delete the unchanged ones and
    record every step in the journal (not in a dry run). A refused delete is reported in
    ``failed`` and the others go on."""
    records = journal.created_records()
    current = {r.worklog_id: await fetch_worklog(r.worklog_id) for r in records}
    plan = plan_undo(records, current)
    report = UndoReport(
        dry_run=dry_run,
        skipped_edited=list(plan.skipped_edited),
        already_gone=list(plan.already_gone),
    )
    if dry_run:
        report.deleted = list(plan.delete)
        return report
    for worklog_id, why in plan.skipped_edited:
        journal.record_undo(worklog_id, "skipped_edited", why)
    for worklog_id in plan.already_gone:
        journal.record_undo(worklog_id, "already_gone")
    for worklog_id in plan.delete:
        try:
            deleted = await delete_worklog(worklog_id)
        except AuthError:
            raise  # a bad token fails every delete: stop, the journal allows running again
        except TimetrackerError as exc:  # one refused delete must not stop the others
            reason = str(exc) or type(exc).__name__
            report.failed.append((worklog_id, reason))
            journal.record_undo(worklog_id, "failed", reason)
            continue
        if deleted:
            report.deleted.append(worklog_id)
            journal.record_undo(worklog_id, "deleted")
        else:
            report.already_gone.append(worklog_id)
            journal.record_undo(worklog_id, "already_gone")
    return report
