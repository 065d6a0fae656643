"""Use cases: ``worklogs update FILE`` and ``worklogs delete``, journaled for ``runs undo``.

Each run is a journal run (``journal.store.Journal``) whose options carry ``kind``
(``worklogs-update`` or ``worklogs-delete``); the old worklogs live beside the journal in
``changes.sqlite`` (0600), written **before** the PATCH/DELETE is sent, so an undo can
always restore them: PATCH back the old values, or re-create a deleted worklog (with a new
id: the API cannot restore ids).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from timetracker_import.api.client import ClientFactory, TimetrackerClient, open_client
from timetracker_import.errors import (
    AmbiguousOutcome,
    ApiError,
    AuthError,
    InputError,
    UsageError,
)

if TYPE_CHECKING:
    from timetracker_import.api.client import TimetrackerClient
    from timetracker_import.api.settings import ConnectionSettings
    from timetracker_import.core.roundtrip import FieldChange
    from timetracker_import.journal.store import Journal

KIND_UPDATE = "worklogs-update"
KIND_DELETE = "worklogs-delete"
RUN_KINDS = (KIND_UPDATE, KIND_DELETE)
CHANGES_DB = "changes.sqlite"
CONCURRENCY = 8
RECREATED_NOTE = "re-created worklogs get new ids (the API cannot restore an id)"
RECREATING = "recreating"
RECREATING_UNKNOWN = (
    "an earlier undo re-created it but its answer was lost; check whether it exists before "
    "re-creating it by hand"
)


class ChangeLog:
    """``changes.sqlite`` in a run directory: per worklog the old state, what was done, and
    the undo outcome."""

    def __init__(self, directory: Path) -> None:
        from timetracker_import.journal.store import ensure_private_file

        path = ensure_private_file(directory / CHANGES_DB)
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS change (worklog_id TEXT PRIMARY KEY, action TEXT NOT NULL,"
            " old_json TEXT NOT NULL, changes_json TEXT, state TEXT NOT NULL, detail TEXT,"
            " undo TEXT)"
        )

    def close(self) -> None:
        """Close the database."""
        self.conn.close()

    def intend(self, worklog_id: str, action: str, old: Any, changes: Any = None) -> None:
        """Record the old state before the request leaves (state ``sending``)."""
        self.conn.execute(
            "INSERT OR REPLACE INTO change VALUES (?,?,?,?, 'sending', NULL, NULL)",
            (worklog_id, action, json.dumps(old), json.dumps(changes)),
        )

    def settle(self, worklog_id: str, state: str, detail: str | None = None) -> None:
        """``done`` or ``failed`` (with the reason)."""
        self.conn.execute(
            "UPDATE change SET state = ?, detail = ? WHERE worklog_id = ?",
            (state, detail, worklog_id),
        )

    def mark_undo(self, worklog_id: str, outcome: str | None) -> None:
        """Record the undo outcome of one worklog."""
        self.conn.execute("UPDATE change SET undo = ? WHERE worklog_id = ?", (outcome, worklog_id))

    def entries(self) -> list[tuple[str, str, dict[str, Any], list[Any] | None, str, str | None]]:
        """``(worklog_id, action, old, changes, state, undo)`` for every recorded change."""
        cur = self.conn.execute(
            "SELECT worklog_id, action, old_json, changes_json, state, undo FROM change"
            " ORDER BY rowid"
        )
        return [(r[0], r[1], json.loads(r[2]), json.loads(r[3]), r[4], r[5]) for r in cur]


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


async def _get_or_none(client: TimetrackerClient, worklog_id: str) -> dict[str, Any] | None:
    try:
        return await client.worklog(worklog_id)
    except AuthError:
        raise
    except ApiError as exc:
        if exc.status == 404 or (exc.status == 400 and exc.error_code == "ApiVersionError"):
            return None  # unknown, or not even a well-formed id
        raise


async def _gather_limited(calls: Iterable[Any], limit: int = CONCURRENCY) -> list[Any]:
    slots = asyncio.Semaphore(limit)

    async def one(call: Any) -> Any:
        async with slots:
            return await call

    return list(await asyncio.gather(*(one(c) for c in calls)))


@contextlib.contextmanager
def _change_run(
    kind: str,
    settings: ConnectionSettings,
    source: str | None,
    result: ChangeResult,
    intents: Iterable[tuple[str, str, Any, Any]],
) -> Iterator[ChangeLog]:
    """A new journal run of ``kind`` whose change log has every ``(worklog_id, action, old,
    changes)`` intent recorded before the block sends anything; finished as ``halted`` when
    ``result`` has failures."""
    from timetracker_import.journal.store import Journal, new_run_id

    run_id = new_run_id()
    journal = Journal.create(
        fingerprint=f"{kind}:{run_id}",
        input_path=source,
        options={"kind": kind},
        base_url=settings.rest_root,
        run_id=run_id,
    )
    log = ChangeLog(journal.directory)
    result.run_id = journal.run_id
    try:
        for worklog_id, action, old, changes in intents:
            log.intend(worklog_id, action, old, changes)
        yield log
    finally:
        log.close()
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
        current = await _gather_limited(_get_or_none(client, i) for i in ids if i)
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
        intents = [
            (
                i.worklog_id,
                "update",
                by_id[i.worklog_id],
                [[c.field, c.old, c.new] for c in i.changes],
            )
            for i in todo
        ]
        with _change_run(KIND_UPDATE, settings, str(path), result, intents) as log:

            async def patch(item: UpdatePlanItem) -> None:
                try:
                    await client.patch_worklog(item.worklog_id, patch_body(item.changes))
                except AuthError:
                    raise
                except AmbiguousOutcome as exc:
                    # maybe applied: stays "sending", so that undo restores the old values
                    log.settle(item.worklog_id, "sending", exc.message)
                    result.failed.append((item.worklog_id, exc.message))
                    return
                except ApiError as exc:
                    log.settle(item.worklog_id, "failed", exc.message)
                    result.failed.append((item.worklog_id, exc.message))
                    return
                log.settle(item.worklog_id, "done")
                result.done.append(item.worklog_id)

            await _gather_limited(patch(i) for i in todo)
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
        current = await _gather_limited(_get_or_none(client, i) for i in unique)
        found = {i: w for i, w in zip(unique, current, strict=True) if w is not None}
        result.not_found = [i for i in unique if i not in found]
        if dry_run or not found:
            result.done = list(found) if dry_run else []
            return result
        intents = [(i, "delete", worklog, None) for i, worklog in found.items()]
        with _change_run(KIND_DELETE, settings, source, result, intents) as log:

            async def delete(worklog_id: str) -> None:
                try:
                    await client.delete_worklog(worklog_id)
                except AuthError:
                    raise
                except ApiError as exc:
                    if exc.status == 404:
                        log.settle(worklog_id, "done", "already gone")
                        result.not_found.append(worklog_id)
                        return
                    log.settle(worklog_id, "failed", exc.message)
                    result.failed.append((worklog_id, exc.message))
                    return
                log.settle(worklog_id, "done")
                result.done.append(worklog_id)

            await _gather_limited(delete(i) for i in found)
    return result


def input_lock(
    settings: ConnectionSettings,
    *,
    file: Path | None = None,
    ids: Sequence[str] = (),
    dry_run: bool = False,
    wait: float = 0.0,
) -> contextlib.AbstractContextManager[Any]:
    """The lock of changing one input's worklogs on one server (``journal.lock``): the
    input is the file's content, else the set of ids. A dry run changes nothing and takes
    none."""
    if dry_run:
        return contextlib.nullcontext()
    import hashlib

    from timetracker_import.journal.lock import worklogs_lock

    if file is not None:
        from timetracker_import.app.importer import file_sha256

        input_id = file_sha256(file)
    else:
        listed = "\n".join(sorted({i.strip() for i in ids if i and i.strip()}))
        input_id = "ids:" + hashlib.sha256(listed.encode("utf-8")).hexdigest()
    return worklogs_lock(settings.rest_root, input_id, wait=wait)


def ids_from_file(path: Path) -> list[str]:
    """The ``id`` column of a CSV/XLSX file."""
    return [str(c.get("id") or "").strip() for _, c in read_update_file(path)]


@dataclass
class ChangeUndoReport:
    """What ``runs undo`` did for an update/delete run."""

    dry_run: bool
    restored: list[str] = field(default_factory=list)
    recreated: list[tuple[str, str]] = field(default_factory=list)  # (old id, new id)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "dry_run": self.dry_run,
            "restored": self.restored,
            "recreated": [{"old_id": o, "new_id": n} for o, n in self.recreated],
            "skipped": [{"id": i, "why": w} for i, w in self.skipped],
            "failed": [{"id": i, "why": w} for i, w in self.failed],
            "note": self.note,
        }

    def render(self) -> str:
        """A short human summary."""
        lines = [
            f"{'would restore' if self.dry_run else 'restored'} {len(self.restored)}, "
            f"{'would re-create' if self.dry_run else 're-created'} {len(self.recreated)}, "
            f"skipped {len(self.skipped)}, failed {len(self.failed)}"
        ]
        lines += [f"  re-created {o} as {n}" for o, n in self.recreated if n]
        lines += [f"  skipped {i}: {w}" for i, w in self.skipped]
        lines += [f"  failed {i}: {w}" for i, w in self.failed]
        if self.note:
            lines.append(f"note: {self.note}")
        return "\n".join(lines)


def run_kind(journal: Journal) -> str | None:
    """``worklogs-update``/``worklogs-delete`` for this helper's runs, else None (import)."""
    kind = journal.options.get("kind")
    return str(kind) if kind in RUN_KINDS else None


async def undo_changes(
    journal: Journal, client: TimetrackerClient, *, dry_run: bool = False
) -> ChangeUndoReport:
    """Undo an update run (PATCH the old values back) or a delete run (re-create the
    worklogs). Entries already undone or never applied are skipped, so undo is idempotent."""
    from timetracker_import.core.roundtrip import FieldChange, recreate_body, restore_body

    log = ChangeLog(journal.directory)
    report = ChangeUndoReport(dry_run=dry_run)
    try:
        for worklog_id, action, old, changes, state, undone in log.entries():
            if undone == RECREATING:
                # an earlier undo sent the POST but never learnt its outcome: re-sending it
                # could create the worklog twice
                report.skipped.append((worklog_id, RECREATING_UNKNOWN))
                continue
            if undone:
                report.skipped.append((worklog_id, f"already undone ({undone})"))
                continue
            # "sending": the PATCH may have been applied (crash, unknown outcome); putting the
            # old values back is harmless if it was not. Only a refused PATCH is skipped.
            if state == "failed" and action == "update":
                report.skipped.append((worklog_id, f"the update was not applied ({state})"))
                continue
            try:
                if action == "update":
                    body = restore_body([FieldChange(*c) for c in changes or []])
                    if not dry_run:
                        await client.patch_worklog(worklog_id, body)
                        log.mark_undo(worklog_id, "restored")
                    report.restored.append(worklog_id)
                else:
                    if state != "done" and await _get_or_none(client, worklog_id) is not None:
                        report.skipped.append((worklog_id, "still exists"))
                        continue
                    new_id = ""
                    if not dry_run:
                        log.mark_undo(worklog_id, RECREATING)  # intent, before the POST
                        try:
                            created = await client.create_worklog(recreate_body(old))
                        except AmbiguousOutcome:
                            raise  # the intent stays: a later undo does not send it again
                        except ApiError:
                            log.mark_undo(worklog_id, None)  # refused: a later undo may retry
                            raise
                        new_id = str(created.get("id"))
                        log.mark_undo(worklog_id, f"recreated as {new_id}")
                    report.recreated.append((worklog_id, new_id))
            except AuthError:
                raise
            except ApiError as exc:
                report.failed.append((worklog_id, exc.message))
    finally:
        log.close()
    if report.recreated:
        report.note = RECREATED_NOTE
    return report


def check_ids(ids: Sequence[str], path: Path | None) -> None:
    """Exactly one of ``--id`` and FILE."""
    if bool(ids) == (path is not None):
        raise UsageError("give a FILE with an id column or --id ID (one or more), not both")


def summary_lines(result: ChangeResult, verb: str) -> list[str]:
    """Human lines for an update/delete result."""
    lines: list[str] = []
    for item in result.items:
        if item.error:
            lines.append(f"row {item.source_row}: {item.worklog_id or '-'}: {item.error}")
        for c in item.changes:
            lines.append(f"{item.worklog_id}: {c.field}: {c.old!r} -> {c.new!r}")
    for worklog_id, why in result.failed:
        lines.append(f"failed {worklog_id}: {why}")
    for worklog_id in result.not_found:
        if not any(i.worklog_id == worklog_id for i in result.items):
            lines.append(f"not found: {worklog_id}")
    if result.dry_run:
        n = (
            len(result.done)
            if verb == "deleted"
            else sum(1 for i in result.items if i.changes and not i.error)
        )
        head = f"would be {verb}: {n}"
    else:
        head = f"{verb}: {len(result.done)}"
    counts = (
        f"{head}, unchanged {len(result.unchanged)}, not found {len(result.not_found)}, "
        f"failed {len(result.failed)}"
    )
    lines.append(counts)
    if result.run_id:
        lines.append(f"run {result.run_id} (undo: timetracker-import runs undo {result.run_id})")
    return lines
