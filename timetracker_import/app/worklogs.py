"""Use cases: ``worklogs update FILE`` and ``worklogs delete``, journaled for ``runs undo``.

Each run is a journal run (``journal.store.Journal``, kind ``worklogs-update`` or
``worklogs-delete``) whose PATCH and DELETE actions go through the one executor of updates
and deletes (``app.stages.edits``): every action, with the values before it, is journaled
before its request, so ``runs undo`` (``app.undo``, the same for every run) can restore the
old values or re-create a deleted worklog (with a new id: the API cannot restore ids).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from timetracker_import.app.stages.edits import EditWrite, gather_limited, worklog_or_none
from timetracker_import.core.actions import Delete, Update
from timetracker_import.core.outcomes import RunKind
from timetracker_import.errors import (
    EXIT_TEMPFAIL,
    AuthError,
    InputError,
    UsageError,
    stop_exit_code,
)

if TYPE_CHECKING:
    import threading

    from timetracker_import.api.client import RetryingClientFactory, TimetrackerClient
    from timetracker_import.api.settings import ConnectionSettings
    from timetracker_import.app.stages.sequence import Planner, Sequencer
    from timetracker_import.core.roundtrip import FieldChange
    from timetracker_import.journal.store import Journal

KIND_UPDATE = RunKind.UPDATE.value
KIND_DELETE = RunKind.DELETE.value
CONCURRENCY = 8


@dataclass
class UpdatePlanItem:
    """One file row: the worklog id, its changes, or why it cannot be used."""

    source_row: int
    worklog_id: str
    changes: list[FieldChange] = field(default_factory=list)
    error: str | None = None


@dataclass
class ChangeResult:
    """What an update or delete run did. ``unsent``: the worklogs of writes never sent
    because the run stopped (``stop_signal``/``interrupted``) or halted first."""

    run_id: str | None
    dry_run: bool
    items: list[UpdatePlanItem] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    unsent: list[str] = field(default_factory=list)
    interrupted: bool = False
    stop_signal: int | None = None

    @property
    def exit_code(self) -> int:
        """130 (or 128 + the signal) when stopped; 75 when writes were left unsent (the
        server kept failing); 1 when a row failed, was unusable or its id was not found;
        else 0."""
        if self.interrupted:
            return stop_exit_code(self.stop_signal)
        if self.unsent:
            return EXIT_TEMPFAIL
        bad = self.failed or self.not_found or any(i.error for i in self.items)
        return 1 if bad else 0


@dataclass
class EditPlan:
    """What an update or delete run will do: the rows as planned (``items``, update only),
    the writes, and the ids with nothing to write (not found, already as the file says)."""

    writes: list[EditWrite]
    items: list[UpdatePlanItem] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class UpdateReads:
    """What the update plan is made from: users and activity types by name, and each id's
    worklog as the server holds it (None: not found)."""

    user_ids: dict[str, str]
    activity_type_ids: dict[str, str]
    worklogs: dict[str, dict[str, Any] | None]


class UpdatePlanner:
    """``worklogs update``'s planner (``app.stages.sequence.Planner``): the rows of an edited
    export become PATCHes of only the fields that differ from the server."""

    async def read_server(
        self, client: TimetrackerClient, rows: list[tuple[int, dict[str, Any]]]
    ) -> UpdateReads:
        from timetracker_import.app.stages.sequence import all_or_cancel

        ids = [i for i in (_id_of(cells) for _, cells in rows) if i]
        users, activity, current = await all_or_cancel(
            client.users(expand_display_name=False),
            client.activity_types(),
            gather_limited([worklog_or_none(client, i) for i in ids], CONCURRENCY),
        )
        return UpdateReads(
            user_ids={
                str(u.get(k) or "").lower(): u["id"]
                for u in users
                for k in ("email", "uniqueName")
                if u.get(k)
            },
            activity_type_ids={a["name"].lower(): a["id"] for a in activity["activityTypes"]},
            worklogs=dict(zip(ids, current, strict=True)),
        )

    def plan(self, rows: list[tuple[int, dict[str, Any]]], reads: UpdateReads) -> EditPlan:
        from timetracker_import.core.roundtrip import RowError, patch_body, patch_for_row

        plan = EditPlan(writes=[])
        for source_row, cells in rows:
            worklog_id = _id_of(cells)
            item = UpdatePlanItem(source_row, worklog_id)
            plan.items.append(item)
            if not worklog_id:
                item.error = "no id"
                continue
            server = reads.worklogs.get(worklog_id)
            if server is None:
                plan.not_found.append(worklog_id)
                item.error = "not found"
                continue
            try:
                item.changes = patch_for_row(
                    cells,
                    server,
                    user_ids=reads.user_ids,
                    activity_type_ids=reads.activity_type_ids,
                )
            except RowError as exc:
                item.error = str(exc)
            if not item.error and not item.changes:
                plan.unchanged.append(worklog_id)
            elif not item.error:
                plan.writes.append(
                    EditWrite(
                        Update(
                            source_row=source_row,
                            worklog_id=worklog_id,
                            fields=patch_body(item.changes),
                            before={c.field: c.old for c in item.changes},
                        ),
                        source_row,
                    )
                )
        return plan


class DeletePlanner:
    """``worklogs delete``'s planner: each id found on the server becomes a DELETE that keeps
    the worklog as it was (``runs undo`` re-creates it)."""

    async def read_server(
        self, client: TimetrackerClient, ids: list[str]
    ) -> dict[str, dict[str, Any] | None]:
        current = await gather_limited([worklog_or_none(client, i) for i in ids], CONCURRENCY)
        return dict(zip(ids, current, strict=True))

    def plan(self, ids: list[str], reads: dict[str, dict[str, Any] | None]) -> EditPlan:
        found = {i: w for i in ids if (w := reads.get(i)) is not None}
        return EditPlan(
            writes=[EditWrite(Delete(worklog_id=i, before=w)) for i, w in found.items()],
            not_found=[i for i in ids if i not in found],
        )


def _id_of(cells: dict[str, Any]) -> str:
    return str(cells.get("id") or "").strip()


def read_update_file(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """``(source_row, {column: cell})`` of an edited export (CSV/XLSX); an ``id`` column is
    required."""
    from timetracker_import.files.readers import open_table

    table = open_table(path)
    headers = [h.strip().lower() for h in table.headers]
    if "id" not in headers:
        raise InputError(
            f"{path.name} has no id column", path=str(path), hint="start from an `export` file"
        )
    rows: list[tuple[int, dict[str, Any]]] = []
    for chunk in table.chunks():
        # itertuples keeps the reader's cells; iterrows would coerce a row of text and empty
        # cells to a string Series, turning None into NaN (an empty id read as "nan")
        cells_of = chunk.itertuples(index=False, name=None)
        for source_row, cells in zip(chunk.index, cells_of, strict=True):
            rows.append((int(source_row), dict(zip(headers, cells, strict=True))))
    return rows


def _change_journal(kind: RunKind, settings: ConnectionSettings, source: str | None) -> Journal:
    """A new journal run of ``kind`` (its actions are journaled by the edit executor)."""
    from timetracker_import.journal.store import Journal, new_run_id

    run_id = new_run_id()
    return Journal.create(
        fingerprint=f"{kind.value}:{run_id}",
        input_path=source,
        options={"kind": kind.value},
        base_url=settings.rest_root,
        run_id=run_id,
    )


async def _run_edits(
    kind: RunKind,
    settings: ConnectionSettings,
    planner: Planner[Any, Any, EditPlan],
    rows: Any,
    *,
    dry_run: bool,
    source: str | None,
    client_factory: RetryingClientFactory | None,
    cancel: threading.Event | None,
) -> ChangeResult:
    """The one sequencer's steps with an edit planner: read, plan, then (unless a dry run)
    journal and send the writes through the one PATCH/DELETE executor. A stop before the
    writes raises ``Interrupted`` (nothing changed); during them, the writes in flight get
    their outcome and the rest is ``unsent`` (exit 130 or 128 + the signal)."""
    from timetracker_import.api.client import retrying_client
    from timetracker_import.app.stages.sequence import Sequencer

    verb = "update" if kind == RunKind.UPDATE else "delete"
    seq = Sequencer(settings, what=f"worklogs {verb}", cancel=cancel)

    async def body(client: TimetrackerClient) -> ChangeResult:
        plan = await seq.plan(planner, client, rows)
        result = ChangeResult(
            run_id=None,
            dry_run=dry_run,
            items=plan.items,
            not_found=plan.not_found,
            unchanged=plan.unchanged,
        )
        if dry_run:
            if kind == RunKind.DELETE:
                result.done = [w.worklog_id for w in plan.writes]  # what would be deleted
            return result
        if plan.writes:
            await _execute(kind, settings, source, client, plan.writes, result, seq)
        return result

    return await seq.run(
        client_factory or retrying_client,
        body,
        nothing_sent="nothing was changed; run the same command again",
    )


async def _execute(
    kind: RunKind,
    settings: ConnectionSettings,
    source: str | None,
    client: TimetrackerClient,
    writes: list[EditWrite],
    result: ChangeResult,
    seq: Sequencer,
) -> None:
    """Journal and send ``writes`` through the one PATCH/DELETE executor; the run is
    finished as ``halted`` when something failed, stays unknown or was left unsent."""
    from timetracker_import.app.stages.edits import EditExecutor, EditState
    from timetracker_import.core.outcomes import Halt

    journal = _change_journal(kind, settings, source)
    result.run_id = journal.run_id
    try:
        executor = EditExecutor(client, journal, concurrency=CONCURRENCY)
        with seq.writing(executor.interrupt):
            stats = await executor.run(writes)
        for o in stats.outcomes:
            wid = o.write.worklog_id
            if o.state == EditState.DONE:
                result.done.append(wid)
            elif o.state == EditState.GONE:
                if kind == RunKind.DELETE:
                    result.done.append(wid)  # already gone: what was asked
                result.not_found.append(wid)
            elif o.state == EditState.UNSENT:
                result.unsent.append(wid)
            else:
                result.failed.append((wid, o.detail or o.state.value))
        if stats.halt == Halt.INTERRUPTED and result.unsent:  # not when all was done
            result.interrupted, result.stop_signal = True, seq.stop_signal
        if isinstance(stats.halt_error, AuthError):
            raise stats.halt_error
    finally:
        bad = result.failed or result.unsent
        journal.finish("complete" if not bad else "halted")
        journal.close()


async def run_update(
    settings: ConnectionSettings,
    path: Path,
    *,
    dry_run: bool = False,
    client_factory: RetryingClientFactory | None = None,
    cancel: threading.Event | None = None,
) -> ChangeResult:
    """PATCH each row's worklog with only the fields that differ from the server."""
    return await _run_edits(
        RunKind.UPDATE,
        settings,
        UpdatePlanner(),
        read_update_file(path),
        dry_run=dry_run,
        source=str(path),
        client_factory=client_factory,
        cancel=cancel,
    )


async def run_delete(
    settings: ConnectionSettings,
    ids: Sequence[str],
    *,
    dry_run: bool = False,
    source: str | None = None,
    client_factory: RetryingClientFactory | None = None,
    cancel: threading.Event | None = None,
) -> ChangeResult:
    """DELETE the given worklogs (unknown ids are reported as not found)."""
    unique = list(dict.fromkeys(i.strip() for i in ids if i and i.strip()))
    return await _run_edits(
        RunKind.DELETE,
        settings,
        DeletePlanner(),
        unique,
        dry_run=dry_run,
        source=source,
        client_factory=client_factory,
        cancel=cancel,
    )


def input_lock(
    settings: ConnectionSettings,
    *,
    file: Path | None = None,
    ids: Sequence[str] = (),
    dry_run: bool = False,
    wait: float = 0.0,
) -> contextlib.AbstractContextManager[Any]:
    """The lock of writing to one server (``journal.lock.target_lock``, held by every
    command that writes there; ``file``/``ids`` name the input in older versions and are
    kept for callers). A dry run changes nothing and takes none."""
    if dry_run:
        return contextlib.nullcontext()
    from timetracker_import.journal.lock import target_lock

    return target_lock(settings.rest_root, what="writing to this server (worklogs)", wait=wait)


def ids_from_file(path: Path) -> list[str]:
    """The ``id`` column of a CSV/XLSX file."""
    return [str(c.get("id") or "").strip() for _, c in read_update_file(path)]


def check_ids(ids: Sequence[str], path: Path | None) -> None:
    """Exactly one of ``--id`` and FILE."""
    if bool(ids) == (path is not None):
        raise UsageError("give a FILE with an id column or --id ID (one or more), not both")
