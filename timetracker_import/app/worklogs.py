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

from timetracker_import.api.client import ClientFactory, TimetrackerClient, open_client
from timetracker_import.app.stages.edits import EditWrite, gather_limited, worklog_or_none
from timetracker_import.core.actions import Delete, Update
from timetracker_import.core.outcomes import RunKind
from timetracker_import.errors import AuthError, InputError, UsageError

if TYPE_CHECKING:
    from timetracker_import.api.client import TimetrackerClient
    from timetracker_import.api.settings import ConnectionSettings
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
    """What an update or delete run did."""

    run_id: str | None
    dry_run: bool
    items: list[UpdatePlanItem] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """1 when a row failed, was unusable or its id was not found, else 0."""
        bad = self.failed or self.not_found or any(i.error for i in self.items)
        return 1 if bad else 0


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


async def _execute(
    kind: RunKind,
    settings: ConnectionSettings,
    source: str | None,
    client: TimetrackerClient,
    writes: list[EditWrite],
    result: ChangeResult,
) -> None:
    """Journal and send ``writes`` through the one PATCH/DELETE executor; the run is
    finished as ``halted`` when something failed or stays unknown."""
    from timetracker_import.app.stages.edits import EditExecutor, EditState

    journal = _change_journal(kind, settings, source)
    result.run_id = journal.run_id
    try:
        stats = await EditExecutor(client, journal, concurrency=CONCURRENCY).run(writes)
        for o in stats.outcomes:
            wid = o.write.worklog_id
            if o.state == EditState.DONE:
                result.done.append(wid)
            elif o.state == EditState.GONE:
                if kind == RunKind.DELETE:
                    result.done.append(wid)  # already gone: what was asked
                result.not_found.append(wid)
            else:
                result.failed.append((wid, o.detail or o.state.value))
        if isinstance(stats.halt_error, AuthError):
            raise stats.halt_error
    finally:
        journal.finish("complete" if not result.failed else "halted")
        journal.close()


async def run_update(
    settings: ConnectionSettings,
    path: Path,
    *,
    dry_run: bool = False,
    client_factory: ClientFactory | None = None,
) -> ChangeResult:
    """PATCH each row's worklog with only the fields that differ from the server."""
    from timetracker_import.core.roundtrip import RowError, patch_body, patch_for_row

    rows = read_update_file(path)
    result = ChangeResult(run_id=None, dry_run=dry_run)
    async with open_client(settings, client_factory) as client:
        users = {
            str(u.get(k) or "").lower(): u["id"]
            for u in await client.users(expand_display_name=False)
            for k in ("email", "uniqueName")
            if u.get(k)
        }
        types = {
            a["name"].lower(): a["id"] for a in (await client.activity_types())["activityTypes"]
        }
        ids = [str(cells.get("id") or "").strip() for _, cells in rows]
        current = await gather_limited([worklog_or_none(client, i) for i in ids if i], CONCURRENCY)
        by_id = dict(zip([i for i in ids if i], current, strict=True))
        for (source_row, cells), worklog_id in zip(rows, ids, strict=True):
            item = UpdatePlanItem(source_row, worklog_id)
            result.items.append(item)
            if not worklog_id:
                item.error = "no id"
                continue
            server = by_id.get(worklog_id)
            if server is None:
                result.not_found.append(worklog_id)
                item.error = "not found"
                continue
            try:
                item.changes = patch_for_row(cells, server, user_ids=users, activity_type_ids=types)
            except RowError as exc:
                item.error = str(exc)
            if not item.error and not item.changes:
                result.unchanged.append(worklog_id)
        todo = [i for i in result.items if i.changes and not i.error]
        if dry_run or not todo:
            return result
        writes = [
            EditWrite(
                Update(
                    source_row=i.source_row,
                    worklog_id=i.worklog_id,
                    fields=patch_body(i.changes),
                    before={c.field: c.old for c in i.changes},
                ),
                i.source_row,
            )
            for i in todo
        ]
        await _execute(RunKind.UPDATE, settings, str(path), client, writes, result)
    return result


async def run_delete(
    settings: ConnectionSettings,
    ids: Sequence[str],
    *,
    dry_run: bool = False,
    source: str | None = None,
    client_factory: ClientFactory | None = None,
) -> ChangeResult:
    """DELETE the given worklogs (unknown ids are reported as not found)."""
    result = ChangeResult(run_id=None, dry_run=dry_run)
    unique = list(dict.fromkeys(i.strip() for i in ids if i and i.strip()))
    async with open_client(settings, client_factory) as client:
        current = await gather_limited([worklog_or_none(client, i) for i in unique], CONCURRENCY)
        found = {i: w for i, w in zip(unique, current, strict=True) if w is not None}
        result.not_found = [i for i in unique if i not in found]
        if dry_run or not found:
            result.done = list(found) if dry_run else []
            return result
        writes = [EditWrite(Delete(worklog_id=i, before=worklog)) for i, worklog in found.items()]
        await _execute(RunKind.DELETE, settings, source, client, writes, result)
    return result


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
