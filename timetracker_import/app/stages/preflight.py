"""Stage ``preflight``: what the server would refuse or already has, before any write.

Two reads, sent as early as possible (with the setup reads when nothing is to reconcile):
the approval states (rows in Submitted, Approved or Closed weeks are rejected, naming the
week and state) and the baseline of worklogs already on the server over the rows' window
(rows identical to one are skipped, posted anyway or rejected, by ``--on-existing``).
Input: the rows still to check with their user ids and keys; output: rejections and the
``ExistingCheck``. ``PreflightReads`` does the two GETs; the checks themselves are pure.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from timetracker_import.core.rejections import Rejection
from timetracker_import.errors import AuthError

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pandas as pd

    from timetracker_import.api.client import TimetrackerClient
    from timetracker_import.app.stages.prepare import PreparedFile
    from timetracker_import.core.key_table import KeyTable
    from timetracker_import.core.worklog_key import WorklogKey

BASELINE_ROLE_HINT = (
    "reading the existing worklogs of other users (duplicate check) needs the Administrator, "
    "Budget or Product role in 7pace; ask an administrator, or import only your own rows"
)
APPROVALS_UNREADABLE = (
    "approval states were not readable with this token; rows in locked weeks are refused by "
    "the server and isolated"
)


@dataclass
class PreflightReads:
    """The preflight reads in flight: approval states and the baseline of existing worklogs,
    over the window of the rows they were started for."""

    approvals: asyncio.Future[Any]
    baseline: asyncio.Future[Any]
    base_lo: datetime
    base_hi: datetime

    @classmethod
    def start(cls, client: TimetrackerClient, frame: pd.DataFrame) -> PreflightReads:
        """Send both reads for the rows of ``frame`` (not empty)."""
        import pandas as pd

        stamps = pd.to_datetime(frame["timestamp"], utc=True)
        lo, hi = stamps.min(), stamps.max()
        from timetracker_import.core.worklog import query_bounds

        base_lo, base_hi = query_bounds(lo.to_pydatetime(), hi.to_pydatetime())
        approvals = asyncio.ensure_future(
            client.approvals(
                from_ts=(lo - timedelta(days=8)).date(), to_ts=(hi + timedelta(days=8)).date()
            )
        )
        baseline = asyncio.ensure_future(client.worklogs_all(from_ts=base_lo, to_ts=base_hi))
        return cls(approvals, baseline, base_lo, base_hi)

    @property
    def futures(self) -> tuple[asyncio.Future[Any], asyncio.Future[Any]]:
        return self.approvals, self.baseline

    async def read_approvals(self, notes: list[str]) -> list[Any]:
        """The approval states; a token that may not read them (403) gets a note and an
        empty list (the server then refuses locked rows, which the poster isolates)."""
        try:
            return list(await self.approvals)
        except AuthError as exc:
            if exc.status != 403:
                raise
            notes.append(APPROVALS_UNREADABLE)
            return []

    async def read_baseline(self, client: TimetrackerClient, *, self_only: bool) -> list[Any]:
        """The worklogs already on the server in the window. Without the role to read every
        user's (403), a file of the token's own rows falls back to ``workLogs``; any other
        file fails with the role hint."""
        try:
            return list(await self.baseline)
        except AuthError as exc:
            if exc.status != 403:
                raise
            if not self_only:
                raise AuthError(
                    "this token may not read other users' worklogs, which the duplicate "
                    "check needs",
                    status=403,
                    hint=BASELINE_ROLE_HINT,
                ) from None
            return list(await client.worklogs(from_ts=self.base_lo, to_ts=self.base_hi))


def locked_rejections(
    frame: pd.DataFrame,
    user_ids: pd.Series,
    approvals: list[Any],
    *,
    labels: dict[str, str],
    date_header: str | None,
    users: list[dict[str, Any]] | None = None,
    self_id: str = "",
    self_offset: int = 0,
    notes: list[str] | None = None,
    prepared: PreparedFile | None = None,
) -> list[Rejection]:
    """One rejection per row of ``frame`` in a Submitted, Approved or Closed week of its user,
    by the user's local week (``me.timeZone`` for the token user ``self_id``; UTC, with a
    note added to ``notes``, where unknown); unreadable approval items are noted and left to
    the server (core.approval.preflight_locks). With the ``prepared`` file, each rejection
    shows the row's date cell as written (``as_written``)."""
    from timetracker_import.core.approval import preflight_locks

    rejections, lock_notes = preflight_locks(
        frame,
        user_ids,
        approvals,
        users=users or [],
        self_id=self_id,
        self_offset=self_offset,
        user_labels=labels,
        column_header=date_header,
    )
    if notes is not None:
        notes.extend(lock_notes)
    if rejections and prepared is not None:
        rejections = as_written(rejections, frame, prepared)
    return rejections


def as_written(
    rejections: list[Rejection], frame: pd.DataFrame, prepared: PreparedFile
) -> list[Rejection]:
    """``rejections`` (one per row of ``frame``) showing the row's date cell as written in
    the file, as every other rejection shows its cell, else (the cell cannot be read any
    more) the row's date in the file's time zone: a UTC instant such as
    2026-10-05T22:00:00+00:00 stands in no cell of the file, and may not even be its day."""
    import pandas as pd

    rows = [r.source_row for r in rejections]
    written = prepared.date_cells(rows)
    stamps = pd.to_datetime(frame.loc[rows, "timestamp"], utc=True)
    local = dict(zip(rows, stamps.dt.tz_convert(prepared.timezone).dt.date, strict=True))
    return [
        replace(r, value=written.get(r.source_row) or local[r.source_row].isoformat())
        for r in rejections
    ]


#: rows named in the note on rows starting with a worklog of theirs (the rest are counted)
SAME_START_SHOWN = 5


def same_start_note(
    frame: pd.DataFrame,
    user_ids: pd.Series,
    check: ExistingCheck,
    *,
    labels: Mapping[str, str],
) -> str | None:
    """A note on the rows to post that start at the second a worklog of the same user on the
    server starts but differ from it (``core.dedupe.same_start_worklogs``): ``import`` adds
    them beside the worklog, so a corrected row imported again doubles its hours unless the
    user fixes the old worklog. None when there is none. ``check``: the baseline compared
    (its worklogs identical to a row are left out, with ``--on-existing allow`` too)."""
    from timetracker_import.core.dedupe import same_start_worklogs

    found = same_start_worklogs(frame, user_ids, check.pool, taken=check.identical.values())
    if not found:
        return None
    named = list(found.items())[:SAME_START_SHOWN]
    lengths = frame.loc[[row for row, _ in named], "length_seconds"].tolist()
    shown = []
    for (row, (worklog_id, key)), seconds in zip(named, lengths, strict=True):
        mine = int(seconds) / 3600
        user = labels.get(key.user_id, labels.get(str(user_ids.get(row)), key.user_id))
        shown.append(
            f"row {row} ({user}, {key.timestamp_utc}: {mine:.2f} h beside worklog "
            f"{worklog_id} of {key.length_seconds / 3600:.2f} h)"
        )
    more = len(found) - len(shown)
    return (
        f"{len(found)} row(s) start at the same second as a worklog of the same user already "
        "in 7pace but differ from it (length, work item or comment): import adds them beside "
        "it and changes no worklog, so if they correct rows imported before, both will count; "
        "to replace the old worklogs use `timetracker-import sync` (docs/sync.md), or fix them "
        "with `timetracker-import worklogs update` / `worklogs delete`: "
        + "; ".join(shown)
        + (f"; and {more} more" if more > 0 else "")
    )


@dataclass
class ExistingCheck:
    """The baseline compared with the rows: ``existing`` (row -> worklog id of an identical
    worklog already there), ``in_file_duplicates`` (row -> the earlier row it repeats),
    ``rejections`` (with ``--on-existing fail``) and the ids of the baseline's worklogs."""

    existing: dict[int, str] = field(default_factory=dict)
    in_file_duplicates: dict[int, int] = field(default_factory=dict)
    rejections: list[Rejection] = field(default_factory=list)
    baseline_ids: set[str] = field(default_factory=set)
    #: the baseline's worklogs as compared (this run's own left out), ``(id, key)``, and
    #: row -> the identical one, whatever ``--on-existing`` made of it
    pool: list[tuple[str, WorklogKey]] = field(default_factory=list)
    identical: dict[int, str] = field(default_factory=dict)


def check_existing(
    keys: Mapping[int, WorklogKey] | KeyTable,
    baseline: list[Any],
    *,
    ours: set[str],
    naive_offset_minutes: int,
    on_existing: str,
) -> ExistingCheck:
    """Compare the rows' ``keys`` (a ``KeyTable`` of digests, or a mapping of keys) with the
    ``baseline``. Worklogs in ``ours`` (created by this run, including those claimed while
    reconciling) never count as existing: a worklog claimed for one row must not count as
    "existing" for its twin."""
    from timetracker_import.core.dedupe import (
        existing_from_worklogs,
        find_in_file_duplicates,
        match_existing,
    )
    from timetracker_import.core.key_table import KeyTable

    pool = existing_from_worklogs(
        [w for w in baseline if str(w.get("id")) not in ours],
        naive_offset_minutes=naive_offset_minutes,
    )
    if isinstance(keys, KeyTable):
        duplicates, matched = keys.duplicates(), keys.match(pool)
    else:
        duplicates, matched = find_in_file_duplicates(keys), match_existing(keys, pool)
    check = ExistingCheck(
        in_file_duplicates=duplicates,
        baseline_ids={str(w.get("id")) for w in baseline if w.get("id")},
        pool=pool,
        identical=dict(matched),
    )
    if on_existing == "skip":
        check.existing = dict(matched)
    elif on_existing == "fail":
        check.rejections = [
            Rejection(
                row,
                "duplicate",
                None,
                None,
                f"already exists on the server as worklog {wid}; use --on-existing skip or allow",
            )
            for row, wid in matched.items()
        ]
    return check
