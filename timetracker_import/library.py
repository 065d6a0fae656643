"""The Python API: what the command line does, callable from a program.

```python
from timetracker_import import Connection, validate, import_file, export_worklogs
result = validate("hours.csv", preset="toggl", timezone="Europe/Berlin")
conn = Connection.from_env()
run = import_file("hours.csv", preset="toggl", connection=conn, dry_run=True)
```

No click, no printing, no ``sys.exit``: results are data, problems are the ``errors`` tree
(``UsageError``, ``InputError``, ``MappingError``, ``ConfigError``, ``AuthError``, ...; each
has an ``exit_code``), progress is a callback. The command line calls these functions.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import threading

    from timetracker_import.api.settings import ConnectionSettings, TokenStore
    from timetracker_import.app.export import ExportResult
    from timetracker_import.app.importer import (
        ConfirmInfo,
        ImportResult,
        ImportSettings,
        PreparedFile,
    )
    from timetracker_import.app.multi_org import RoutedResult, RoutePlan
    from timetracker_import.app.sync import SyncConfirm, SyncResult
    from timetracker_import.app.undo import UndoOutcome
    from timetracker_import.app.validate import ValidateResult
    from timetracker_import.files.mapping_loader import LoadedMapping
    from timetracker_import.journal.store import RunInfo

__all__ = [
    "Connection",
    "export_worklogs",
    "import_file",
    "list_runs",
    "sync_file",
    "undo_run",
    "validate",
]

#: a mapping: a YAML file's path, or the same content as data (a dict)
MappingSource = str | os.PathLike[str] | Mapping[str, Any]


@dataclass(frozen=True)
class Connection:
    """Where and how to reach 7pace. ``Connection(url=..., token=...)`` takes them as given;
    ``from_env()`` and ``from_profile(name)`` find them as the command line does (environment,
    profile file, OS keyring). The token never shows in ``repr`` or ``str``."""

    url: str | None = None
    token: str | None = field(default=None, repr=False)
    collection: str | None = None
    api_version: str | None = None
    auth: str | None = None
    profile: str | None = None
    token_file: str | os.PathLike[str] | None = None
    username: str | None = None
    password_file: str | os.PathLike[str] | None = None
    _env: Mapping[str, str] | None = field(default=None, repr=False, compare=False)
    _store: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, token_store: TokenStore | None = None
    ) -> Connection:
        """``TIMETRACKER_URL`` / ``TIMETRACKER_TOKEN`` (or the default profile, the keyring)."""
        return cls(_env=env, _store=token_store)

    @classmethod
    def from_profile(
        cls, name: str, *, env: Mapping[str, str] | None = None,
        token_store: TokenStore | None = None,
    ) -> Connection:  # fmt: skip
        """The named profile of ``profiles.toml`` (its token, or the keyring's)."""
        return cls(profile=name, _env=env, _store=token_store)

    def settings(self) -> ConnectionSettings:
        """The resolved settings (raises ``ConfigError`` naming what is missing)."""
        from timetracker_import.api import settings as s
        from timetracker_import.api.redact import register_secret

        env: Mapping[str, str] = os.environ if self._env is None else self._env
        if self.token is None:
            return s.resolve_connection(
                url=self.url,
                collection=self.collection,
                api_version=self.api_version,
                profile=self.profile,
                token_file=_path(self.token_file),
                auth_scheme=self.auth,
                env=env,
                token_store=self._store,
                username=self.username,
                password_file=_path(self.password_file),
            )
        target = s.resolve_target(
            url=self.url,
            collection=self.collection,
            api_version=self.api_version,
            profile=self.profile,
            auth_scheme=self.auth,
            env=env,
        )
        if target.auth_scheme == "ntlm":
            from timetracker_import.errors import UsageError

            raise UsageError(
                "a Connection with a token is for bearer or basic authentication",
                hint="for NTLM give username= and password_file= instead of token=",
            )
        token = self.token.strip()
        register_secret(token)
        return s.with_token(target, token)


def _mapping_args(
    mapping: MappingSource | None, preset: str | None
) -> tuple[Path | None, str | None, LoadedMapping | None]:
    """(mapping_path, preset, loaded) for the settings objects."""
    if mapping is not None and preset is not None:
        from timetracker_import.errors import UsageError

        raise UsageError("give exactly one of mapping= and preset=")
    if mapping is None or isinstance(mapping, str | os.PathLike):
        return (Path(mapping) if mapping is not None else None), preset, None
    from timetracker_import.files.mapping_loader import mapping_from_data

    return None, preset, mapping_from_data(dict(mapping))


def _path(value: str | os.PathLike[str] | None) -> Path | None:
    return None if value is None else Path(value)


def validate(
    path: str | os.PathLike[str],
    *,
    mapping: MappingSource | None = None,
    preset: str | None = None,
    sheet: str | None = None,
    timezone: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    rejected: str | os.PathLike[str] | None = None,
    report: str | os.PathLike[str] | None = None,
    on_duplicate: str = "skip",
    date: str | None = None,
) -> ValidateResult:
    """Read, map and validate ``path`` offline (nothing is sent). Give exactly one of
    ``mapping`` (a YAML path, or its content as a dict) and ``preset`` (``"auto"``: recognised
    from the file; ``result.detection`` says why). The rejected rows are
    written to ``rejected`` (default: ``<stem>.rejected.<ext>`` beside the input) when there
    are any; ``report``: an ``.html`` or ``.json`` report. ``on_duplicate``: what to do with
    a row identical to an earlier one (``skip``, ``allow``, ``fail``); ``date``: YYYY-MM-DD
    for every row of a file without dates."""
    from timetracker_import.app.validate import ValidateSettings, run_validate

    mapping_path, preset, loaded = _mapping_args(mapping, preset)
    return run_validate(
        ValidateSettings(
            path=Path(path),
            mapping_path=mapping_path,
            preset=preset,
            sheet=sheet,
            timezone=timezone,
            encoding=encoding,
            delimiter=delimiter,
            rejected_path=_path(rejected),
            report_path=_path(report),
            loaded=loaded,
            on_duplicate=on_duplicate,
            date=date,
        ),
        notify=lambda _line: None,  # result.detection holds what --preset auto chose
    )


def import_file(
    path: str | os.PathLike[str],
    *,
    connection: Connection | ConnectionSettings,
    mapping: MappingSource | None = None,
    preset: str | None = None,
    sheet: str | None = None,
    timezone: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    dry_run: bool = False,
    batch_size: int = 500,
    concurrency: int | str = "auto",
    max_concurrency: int | None = None,
    on_existing: str = "skip",
    rejected: str | os.PathLike[str] | None = None,
    report: str | os.PathLike[str] | None = None,
    new_run: bool = False,
    on_duplicate: str = "skip",
    date: str | None = None,
    progress: bool | Callable[[int, int], None] | None = None,
    confirm: Callable[[ConfirmInfo], bool] | None = None,
    cancel: threading.Event | None = None,
    confirm_routes: Callable[[RoutePlan], bool] | None = None,
    on_route: Callable[[str, Any], None] | None = None,
    wait: float = 0.0,
) -> ImportResult | RoutedResult:
    """Import ``path`` into 7pace (or, with ``dry_run``, check every row on the server with
    ``validateOnly`` and create nothing). The run is journaled: calling it again with the
    same file and mapping resumes an unfinished run (``new_run=True`` starts afresh).

    ``progress(rows_done, rows_to_send)`` is called as batches finish (from the thread
    running the import; ``True``: a progress bar on stderr); ``confirm(info)`` is asked once before a real import creates
    anything (False cancels with ``UsageError``; None: no question); setting ``cancel`` stops
    like Ctrl-C: requests in flight finish, the rest stays resumable (exit code 130).

    Returns an ``ImportResult`` (``run_id``, ``counts``, ``exit_code``, ``rejections``, ...).
    A file with an organization column naming other profiles is split by organization and
    gives a ``RoutedResult`` (one run per organization; ``counts`` is their total): it asks
    ``confirm_routes(plan)`` (else ``confirm`` with the totals) once before anything is sent,
    and ``on_route("start"|"done", route_or_outcome)`` follows its steps. ``on_duplicate``
    and ``date`` as for ``validate`` (a copy skipped is counted as skipped). One run at a
    time imports a file into a server: another one holding it makes this wait up to
    ``wait`` seconds, then raise ``RunLocked`` (exit code 75). ``concurrency``: ``"auto"``
    (requests in flight follow the server, at most ``max_concurrency``, default 64) or a
    fixed number."""
    from timetracker_import.app.importer import (
        load_import_mapping,
        prepare,
        run_import,
    )
    from timetracker_import.app.multi_org import plan_routes, run_planned

    settings = _import_settings(
        path, connection, mapping, preset, sheet=sheet, timezone=timezone, encoding=encoding,
        delimiter=delimiter, dry_run=dry_run, batch_size=batch_size, concurrency=concurrency,
        max_concurrency=max_concurrency, on_existing=on_existing, rejected=rejected,
        report=report, new_run=new_run, on_duplicate=on_duplicate, date=date, wait=wait,
    )  # fmt: skip
    loaded = load_import_mapping(settings)
    if loaded.mapping.fields.organization is None:
        # one destination: the file is read while the setup reads are on the wire
        return run_import(dataclasses.replace(settings, loaded=loaded), progress=progress,
                          confirm=confirm, cancel=cancel)  # fmt: skip
    prepared: PreparedFile = prepare(settings, loaded)  # read once: routes, then the import
    plan = plan_routes(settings, prepared=prepared)
    if plan is not None:
        if (
            not dry_run
            and (confirm_routes or confirm)
            and not _confirm_plan(plan, confirm_routes, confirm)
        ):
            from timetracker_import.errors import UsageError

            raise UsageError(
                "import cancelled; nothing was sent", hint="run again to resume, or add --yes"
            )
        return run_planned(
            plan,
            progress=progress is True,
            on_start=(lambda r: on_route("start", r)) if on_route else None,
            on_done=(lambda o: on_route("done", o)) if on_route else None,
        )
    return run_import(
        settings, progress=progress, confirm=confirm, prepared=prepared, cancel=cancel
    )


def _confirm_plan(
    plan: RoutePlan,
    confirm_routes: Callable[[RoutePlan], bool] | None,
    confirm: Callable[[ConfirmInfo], bool] | None,
) -> bool:
    if confirm_routes is not None:
        return confirm_routes(plan)
    assert confirm is not None
    from timetracker_import.app.importer import ConfirmInfo as Info

    return confirm(
        Info(
            rows=sum(len(r.rows) for r in plan.routes),
            seconds=sum(r.seconds for r in plan.routes),
            users=(),
            batches=0,
            target=", ".join(r.connection.rest_root for r in plan.routes),
        )
    )


def _import_settings(
    path: str | os.PathLike[str],
    connection: Connection | ConnectionSettings,
    mapping: MappingSource | None,
    preset: str | None,
    **options: Any,
) -> ImportSettings:
    from timetracker_import.app.importer import ImportSettings

    conn = connection.settings() if isinstance(connection, Connection) else connection
    mapping_path, preset, loaded = _mapping_args(mapping, preset)
    rejected = options.pop("rejected")
    report = options.pop("report")
    return ImportSettings(
        path=Path(path),
        connection=conn,
        mapping_path=mapping_path,
        preset=preset,
        loaded=loaded,
        rejected_path=_path(rejected),
        report_path=_path(report),
        **options,
    )


def export_worklogs(
    connection: Connection | ConnectionSettings | Sequence[tuple[str, Connection]],
    *,
    first: dt.date | None = None,
    last: dt.date | None = None,
    timezone: str | None = None,
    mine: bool = False,
    users: Sequence[str] = (),
    work_items: Sequence[int] = (),
    activity_types: Sequence[str] = (),
    concurrency: int = 8,
    output: str | os.PathLike[str] | None = None,
    fmt: str | None = None,
    on_page: Callable[[int], None] | None = None,
) -> ExportResult:
    """Read the worklogs of ``first``..``last`` (inclusive local days in ``timezone``, default
    this machine's; default the last 30 days) from ``workLogs/all`` (or, ``mine``, the token's
    own). ``connection`` may be a list of ``(organization name, Connection)`` to merge
    several organizations (an organization column is added). The rows are in the result
    (``rows``, ``columns``; ``count``, and ``iter_rows()`` one at a time); with ``output`` they
    are also written there (csv, xlsx, json or ndjson by ``fmt`` or the extension). Beyond
    100,000 rows they wait in a temporary file until read (``result.close()`` removes it;
    ``rows`` reads them all into memory, ``iter_rows()`` does not)."""
    import asyncio

    from timetracker_import.app.export import (
        ExportSettings,
        choose_format,
        run_export,
        write_export,
    )
    from timetracker_import.app.validate import local_timezone

    settings = ExportSettings(
        timezone=timezone or local_timezone(),
        first=first,
        last=last,
        mine=mine,
        users=tuple(users),
        work_items=tuple(work_items),
        activity_types=tuple(activity_types),
        concurrency=concurrency,
    )
    connections: list[tuple[str | None, ConnectionSettings]]
    if isinstance(connection, Connection):
        connections = [(None, connection.settings())]
    elif isinstance(connection, Sequence):
        connections = [(name, c.settings()) for name, c in connection]
    else:
        connections = [(None, connection)]
    result = asyncio.run(run_export(connections, settings, on_page=on_page))
    if output is not None:
        out = str(output)
        write_export(result, out, choose_format(fmt, out))
    return result


def undo_run(
    run_id: str,
    *,
    connection: Connection | ConnectionSettings,
    dry_run: bool = False,
    wait: float = 0.0,
) -> UndoOutcome:
    """Undo a run: delete exactly the worklogs an import created (skipping those edited
    since), or restore what a ``worklogs update/delete`` run changed. ``dry_run``: only say
    what would be done. Calling it again is harmless."""
    from timetracker_import.app.undo import undo_run as run

    conn = connection.settings() if isinstance(connection, Connection) else connection
    return run(run_id, conn, dry_run=dry_run, wait=wait)


def list_runs() -> list[RunInfo]:
    """The journaled runs in the state directory, oldest first (run ids sort by time)."""
    from timetracker_import.journal.store import list_runs as runs

    return runs()


def sync_file(
    path: str | os.PathLike[str],
    *,
    connection: Connection | ConnectionSettings,
    mapping: MappingSource | None = None,
    preset: str | None = None,
    confirm: Callable[[SyncConfirm], bool] | None = None,
    **options: Any,
) -> SyncResult:
    """Make 7pace equal to ``path`` for the period it covers (``sync``, docs/sync.md):
    rows are created, corrected rows updated, and with ``prune=True`` worklogs sync wrote
    whose key left the file are deleted. ``options`` are ``SyncSettings`` fields: ``keys``,
    ``prune``, ``window`` (a pair of dates), ``ledger_path``, ``overwrite_edited``,
    ``on_duplicate_key``, ``dry_run``, ``sheet``, ``timezone``, ``encoding``, ``delimiter``,
    ``batch_size``, ``concurrency``, ``rejected_path``, ``report_path``. ``confirm(info)`` is
    asked before anything is written. Returns a ``SyncResult`` (``summary_dict()`` is the
    command's ``--json``)."""
    from timetracker_import.app.sync import SyncSettings
    from timetracker_import.app.sync import sync_file as run

    conn = connection.settings() if isinstance(connection, Connection) else connection
    mapping_path, preset, loaded = _mapping_args(mapping, preset)
    for name in ("ledger_path", "rejected_path", "report_path"):
        if options.get(name) is not None:
            options[name] = Path(options[name])
    settings = SyncSettings(
        path=Path(path), connection=conn, mapping_path=mapping_path, preset=preset,
        loaded=loaded, **options,
    )  # fmt: skip
    return run(settings, confirm=confirm)
