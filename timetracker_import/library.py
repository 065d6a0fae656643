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

import contextlib
import dataclasses
import datetime as dt
import functools
import os
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:
    import pandas as pd

    from timetracker_import.api.settings import ConnectionSettings as ConnectionSettings
    from timetracker_import.api.settings import Target, TokenStore
    from timetracker_import.app.export import ExportResult
    from timetracker_import.app.importer import (
        ConfirmInfo,
        ImportResult,
        ImportSettings,
        PreparedFile,
    )
    from timetracker_import.app.multi_org import RoutedResult, RoutePlan
    from timetracker_import.app.sync import SyncConfirm as SyncConfirm
    from timetracker_import.app.sync import SyncResult as SyncResult
    from timetracker_import.app.undo import UndoOutcome
    from timetracker_import.app.validate import ValidateResult as ValidateResult
    from timetracker_import.files.mapping_loader import LoadedMapping
    from timetracker_import.journal.actions import ActionRecord
    from timetracker_import.journal.runs import RunSummary
    from timetracker_import.journal.store import RunInfo

__all__ = [
    "Connection",
    "export_worklogs",
    "import_file",
    "list_runs",
    "run_summaries",
    "run_summary",
    "runs_frame",
    "sync_file",
    "undo_run",
    "validate",
]

#: a mapping: a YAML file's path, or the same content as data (a dict)
MappingSource = str | os.PathLike[str] | Mapping[str, Any]

_P = ParamSpec("_P")
_T = TypeVar("_T")
#: the signals a run stops on (those this platform has)
_STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


def _off_the_loop(func: Callable[_P, _T]) -> Callable[_P, _T]:
    """Make ``func`` (a function that runs its own event loop with ``asyncio.run``) callable
    where an event loop is running already: a Jupyter cell, code inside ``asyncio.run``.

    No running loop: ``func`` runs where it is called. A running loop: it runs on a worker
    thread while the caller waits. A run installs its signal handlers only from the main
    thread, so on the worker it is stopped through its ``cancel`` event (one is made when
    the caller gave none); while waiting, SIGINT, SIGTERM and SIGHUP set that event, so
    Ctrl-C (a notebook's stop button) stops the run as the command's Ctrl-C does (exit code
    130, resumable). After SIGTERM or SIGHUP the signal is raised again once the run has
    closed its journal, so the process ends as it would have; a second signal raises
    ``KeyboardInterrupt`` at once. A function without ``cancel`` finishes, then the signal
    is acted on (SIGINT: ``KeyboardInterrupt``)."""
    import inspect

    stoppable = "cancel" in inspect.signature(func).parameters

    @functools.wraps(func)
    def call(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        import asyncio

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return func(*args, **kwargs)
        event = kwargs.get("cancel") if stoppable else None
        if not isinstance(event, threading.Event):
            event = threading.Event()
        if stoppable:
            kwargs["cancel"] = event
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                outcome["result"] = func(*args, **kwargs)
            except BaseException as exc:  # handed to the caller's thread
                outcome["error"] = exc

        worker = threading.Thread(target=work, name=f"timetracker-{func.__name__}", daemon=True)
        with _signals_set(event) as received:
            worker.start()
            while worker.is_alive():
                worker.join(0.05)
        signo = received[0] if received else None
        if signo is not None and signo != _signal_number("SIGINT"):
            import signal

            signal.raise_signal(signo)  # the handlers in place before the call decide
        if "error" in outcome:
            raise outcome["error"]
        if signo is not None and not stoppable:
            raise KeyboardInterrupt
        return outcome["result"]  # type: ignore[no-any-return]

    return call


def _signal_number(name: str) -> int | None:
    import signal

    value = getattr(signal, name, None)
    return None if value is None else int(value)


@contextlib.contextmanager
def _signals_set(event: threading.Event) -> Iterator[list[int]]:
    """While the block runs (on the main thread), the stop signals set ``event``; a second
    one raises ``KeyboardInterrupt``. Yields the signals received; the handlers in place
    before are put back afterwards. Elsewhere than the main thread: nothing is installed."""
    import signal

    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def on_signal(signo: int, _frame: Any) -> None:
        if received:
            raise KeyboardInterrupt
        received.append(signo)
        event.set()

    previous: list[tuple[int, Any]] = []
    for name in _STOP_SIGNALS:
        signo = _signal_number(name)
        if signo is None:
            continue
        try:
            previous.append((signo, signal.signal(signo, on_signal)))
        except (OSError, ValueError):
            continue
    try:
        yield received
    finally:
        for signo, handler in previous:
            signal.signal(signo, signal.SIG_DFL if handler is None else handler)


def _is_frame(value: object) -> bool:
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)


@dataclass(frozen=True)
class _Input:
    """The file a run reads: the path given, or the CSV a DataFrame was written to."""

    path: Path
    frame: bool


def _input(
    source: Any,
    *,
    sheet: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> _Input:
    """``source`` as a file to read: a path as given; a DataFrame written as UTF-8 CSV to
    ``<state dir>/frames`` (``app.dataframes``); anything else is a ``UsageError``."""
    from timetracker_import.errors import UsageError

    if isinstance(source, str | os.PathLike):
        return _Input(Path(source), frame=False)
    if _is_frame(source):
        given = [
            f"{name}="
            for name, value in (("sheet", sheet), ("encoding", encoding), ("delimiter", delimiter))
            if value is not None
        ]
        if given:
            raise UsageError(
                f"{' and '.join(given)} cannot be used with a DataFrame",
                hint="they say how to read a file; a DataFrame is read as it is",
            )
        from timetracker_import.app.dataframes import frame_file

        return _Input(frame_file(source), frame=True)
    raise UsageError(
        f"the input must be a file path or a pandas DataFrame, not {type(source).__name__}",
        hint="give the path of a CSV or Excel file (str or pathlib.Path), or a DataFrame",
    )


def _lookup_base(given: _Input, lookup_dir: str | os.PathLike[str] | None) -> Path:
    """Where a mapping given as data (or a preset) reads its lookup files: ``lookup_dir``,
    else beside the input file; for a DataFrame the current directory."""
    if lookup_dir is not None:
        return Path(lookup_dir)
    return Path.cwd() if given.frame else given.path.resolve().parent


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
        cls,
        name: str,
        *,
        env: Mapping[str, str] | None = None,
        token_store: TokenStore | None = None,
    ) -> Connection:
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


def _settings(connection: Connection | ConnectionSettings) -> ConnectionSettings:
    """A ``Connection`` resolved; settings as they are."""
    return connection.settings() if isinstance(connection, Connection) else connection


def _mapping_args(
    mapping: MappingSource | None, preset: str | None, *, base: Path | None = None
) -> tuple[Path | None, str | None, LoadedMapping | None]:
    """(mapping_path, preset, loaded) for the settings objects; a mapping given as data
    reads its lookup files in ``base`` (default: the current directory)."""
    if mapping is not None and preset is not None:
        from timetracker_import.errors import UsageError

        raise UsageError("give exactly one of mapping= and preset=")
    if mapping is None or isinstance(mapping, str | os.PathLike):
        return (Path(mapping) if mapping is not None else None), preset, None
    from timetracker_import.files.mapping_loader import mapping_from_data

    return None, preset, mapping_from_data(dict(mapping), base=base)


def _path(value: str | os.PathLike[str] | None) -> Path | None:
    return None if value is None else Path(value)


def _lookup_dir(
    given: _Input, lookup_dir: str | os.PathLike[str] | None, mapping: MappingSource | None
) -> Path | None:
    """``--lookup-dir`` for the settings: as given; for a DataFrame with a preset the current
    directory (a preset's default, the input's folder, is the state directory's)."""
    if lookup_dir is not None:
        return Path(lookup_dir)
    return Path.cwd() if given.frame and mapping is None else None


def validate(
    path: str | os.PathLike[str] | pd.DataFrame,
    *,
    mapping: MappingSource | None = None,
    preset: str | None = None,
    sheet: str | None = None,
    timezone: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    rejected: str | os.PathLike[str] | None = None,
    report: str | os.PathLike[str] | None = None,
    on_duplicate: str | None = None,
    date: str | None = None,
    date_order: str | None = None,
    lookup_dir: str | os.PathLike[str] | None = None,
    keep_rows: bool = True,
) -> ValidateResult:
    """Read, map and validate ``path`` (a file, or a pandas DataFrame) offline (nothing is
    sent). Give exactly one of
    ``mapping`` (a YAML path, or its content as a dict) and ``preset`` (``"auto"``: recognised
    from the file; ``result.detection`` says why). The rejected rows are
    written to ``rejected`` (default: ``<stem>.rejected.<ext>`` beside the input) when there
    are any; ``report``: an ``.html`` or ``.json`` report. ``on_duplicate``: what to do with
    a row identical to an earlier one (``skip``, ``allow``, ``fail``; None: the mapping's
    ``on_duplicate``, else ``skip``); ``date``: YYYY-MM-DD
    for every row of a file without dates; ``date_order``: ``MDY``, ``DMY`` or ``YMD`` for
    dates such as 03/04/2026 (beats the mapping's); ``lookup_dir``: where lookup files are
    read (default: beside a mapping file; for a preset or a mapping given as data, beside
    the input file, or the current directory for a DataFrame). ``keep_rows``: keep the
    valid rows for ``result.rows_frame()`` (False saves their memory).

    A DataFrame is written as UTF-8 CSV to ``<state dir>/frames`` and read from there
    (``sheet``, ``encoding`` and ``delimiter`` do not apply); row numbers are the CSV's:
    the header is row 1, so the frame's i-th row (from 0) is ``source_row`` i + 2."""
    from timetracker_import.app.validate import ValidateSettings, run_validate

    given = _input(path, sheet=sheet, encoding=encoding, delimiter=delimiter)
    mapping_path, preset, loaded = _mapping_args(
        mapping, preset, base=_lookup_base(given, lookup_dir)
    )
    return run_validate(
        ValidateSettings(
            path=given.path,
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
            date_order=date_order,
            lookup_dir=_lookup_dir(given, lookup_dir, mapping),
            keep_rows=keep_rows,
        ),
        notify=lambda _line: None,  # result.detection holds what --preset auto chose
    )


@_off_the_loop
def import_file(
    path: str | os.PathLike[str] | pd.DataFrame,
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
    on_duplicate: str | None = None,
    date: str | None = None,
    progress: bool | Callable[[int, int], None] | None = None,
    confirm: Callable[[ConfirmInfo], bool] | None = None,
    cancel: threading.Event | None = None,
    confirm_routes: Callable[[RoutePlan], bool] | None = None,
    on_route: Callable[[str, Any], None] | None = None,
    wait: float = 0.0,
    unattended: bool = False,
    date_order: str | None = None,
    lookup_dir: str | os.PathLike[str] | None = None,
) -> ImportResult | RoutedResult:
    """Import ``path`` (a file, or a DataFrame as for ``validate``) into 7pace (or, with
    ``dry_run``, check every row on the server with
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
    time writes to a server: another one holding it makes this wait up to ``wait`` seconds,
    then raise ``RunLocked`` (exit code 75). ``unattended`` (a schedule, ``--yes``): times
    without an offset need a declared zone (``timezone=`` or the mapping's), never this
    machine's (``UsageError`` before anything is sent). ``concurrency``: ``"auto"``
    (requests in flight follow the server, at most ``max_concurrency``, default 64) or a
    fixed number. ``date_order`` and ``lookup_dir`` as for ``validate``. Inside a running
    event loop (a notebook) it runs on a worker thread: see "In a notebook or async code"
    in docs/library.md."""
    from timetracker_import.app.importer import (
        load_import_mapping,
        prepare,
        run_import,
    )
    from timetracker_import.app.multi_org import plan_routes, run_planned

    given = _input(path, sheet=sheet, encoding=encoding, delimiter=delimiter)
    settings = _import_settings(
        given,
        connection,
        mapping,
        preset,
        sheet=sheet,
        timezone=timezone,
        encoding=encoding,
        delimiter=delimiter,
        dry_run=dry_run,
        batch_size=batch_size,
        concurrency=concurrency,
        max_concurrency=max_concurrency,
        on_existing=on_existing,
        rejected=rejected,
        report=report,
        new_run=new_run,
        on_duplicate=on_duplicate,
        date=date,
        wait=wait,
        unattended=unattended,
        date_order=date_order,
        lookup_dir=_lookup_dir(given, lookup_dir, mapping),
        lookup_base=_lookup_base(given, lookup_dir),
    )
    loaded = load_import_mapping(settings)
    if loaded.mapping.fields.organization is None:
        # one destination: the file is read while the setup reads are on the wire
        return run_import(
            dataclasses.replace(settings, loaded=loaded),
            progress=progress,
            confirm=confirm,
            cancel=cancel,
        )
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
    given: _Input,
    connection: Connection | ConnectionSettings,
    mapping: MappingSource | None,
    preset: str | None,
    **options: Any,
) -> ImportSettings:
    from timetracker_import.app.importer import ImportSettings

    conn = _settings(connection)
    mapping_path, preset, loaded = _mapping_args(mapping, preset, base=options.pop("lookup_base"))
    rejected = options.pop("rejected")
    report = options.pop("report")
    return ImportSettings(
        path=given.path,
        connection=conn,
        mapping_path=mapping_path,
        preset=preset,
        loaded=loaded,
        rejected_path=_path(rejected),
        report_path=_path(report),
        **options,
    )


@_off_the_loop
def export_worklogs(
    connection: Connection
    | ConnectionSettings
    | Sequence[tuple[str, Connection | ConnectionSettings]],
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
    cancel: threading.Event | None = None,
) -> ExportResult:
    """Read the worklogs of ``first``..``last`` (inclusive local days in ``timezone``, default
    this machine's; default the last 30 days) from ``workLogs/all`` (or, ``mine``, the token's
    own). ``connection`` may be a list of ``(organization name, Connection)`` to merge
    several organizations (an organization column is added). The rows are in the result
    (``rows``, ``columns``; ``count``, and ``iter_rows()`` one at a time); with ``output`` they
    are also written there (csv, xlsx, json or ndjson by ``fmt`` or the extension). Beyond
    100,000 rows they wait in a temporary file until read (``result.close()`` removes it;
    ``rows`` reads them all into memory, ``iter_rows()`` does not). Setting ``cancel``
    (a ``threading.Event``) stops the reads: ``Interrupted`` (exit code 130), nothing is
    written. ``result.to_pandas()`` gives the rows as a DataFrame."""
    import asyncio

    from timetracker_import.app.export import (
        ExportSettings,
        choose_format,
        run_export,
        write_export,
    )
    from timetracker_import.app.validate import local_timezone

    chosen = None if output is None else choose_format(fmt, str(output))  # before any request
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
    if isinstance(connection, Sequence):
        connections = [(name, _settings(c)) for name, c in connection]
    else:
        connections = [(None, _settings(connection))]
    export = run_export(connections, settings, on_page=on_page)
    result = asyncio.run(export if cancel is None else _until_cancelled(export, cancel))
    if output is not None and chosen is not None:
        try:
            write_export(result, str(output), chosen)
        except BaseException:
            result.close()  # the temporary file of a large export is not left behind
            raise
    return result


def choose_export_format(fmt: str | None, output: str | os.PathLike[str] | None) -> str:
    """The format ``export_worklogs`` writes: ``fmt`` if given, else by the extension of
    ``output``, else csv (``UsageError`` when they contradict each other)."""
    from timetracker_import.app.export import choose_format

    return choose_format(fmt, None if output is None else str(output))


def local_timezone() -> str:
    """This machine's IANA time zone name (TZ, /etc/timezone, /etc/localtime), else UTC: the
    zone ``export_worklogs`` and ``validate`` use when none is given."""
    from timetracker_import.app.validate import local_timezone as zone

    return zone()


async def _until_cancelled(work: Coroutine[Any, Any, _T], cancel: threading.Event) -> _T:
    """Await ``work`` unless ``cancel`` is set first: then cancel it and raise
    ``Interrupted`` (exit code 130)."""
    import asyncio

    from timetracker_import.errors import Interrupted

    task = asyncio.ensure_future(work)

    async def watch() -> None:
        while not cancel.is_set():
            await asyncio.sleep(0.05)
        task.cancel()

    watcher = asyncio.ensure_future(watch())
    try:
        return await task
    except asyncio.CancelledError:
        if not cancel.is_set():
            raise
        raise Interrupted("export interrupted", hint="nothing was written; run it again") from None
    finally:
        watcher.cancel()


@_off_the_loop
def undo_run(
    run_id: str,
    *,
    connection: Connection | ConnectionSettings,
    dry_run: bool = False,
    wait: float = 0.0,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> UndoOutcome:
    """Undo a run of any kind: delete what it created, put back what it updated, re-create
    what it deleted - skipping what was edited since (reported). ``dry_run``: only say what
    would be done. Calling it again is harmless. Waits up to ``wait`` seconds for another
    writer of the server (the run itself, if still running), then ``RunLocked``.
    ``progress(done, total)`` is called as changes are undone (from the calling thread);
    setting ``cancel`` stops before the next change: the report then says ``cancelled``
    and how many are ``left`` (exit code 130), and undoing again does the rest. A stop
    signal (Ctrl-C, SIGTERM, SIGHUP) sets ``cancel`` too (exit code 128 + the signal), also
    inside a running event loop, where it runs on a worker thread."""
    from timetracker_import.app.undo import undo_run as run

    conn = _settings(connection)
    return run(run_id, conn, dry_run=dry_run, wait=wait, progress=progress, cancel=cancel)


def list_runs() -> list[RunInfo]:
    """The journaled runs in the state directory, oldest first (run ids sort by time)."""
    from timetracker_import.journal.store import list_runs as runs

    return runs()


@_off_the_loop
def sync_file(
    path: str | os.PathLike[str] | pd.DataFrame,
    *,
    connection: Connection | ConnectionSettings,
    mapping: MappingSource | None = None,
    preset: str | None = None,
    keys: Sequence[str] = (),
    source: str | None = None,
    window: str | tuple[dt.date, dt.date] | None = None,
    prune: bool = False,
    max_delete: str | int | None = None,
    ledger: str | os.PathLike[str] | None = None,
    overwrite_edited: bool = False,
    on_duplicate_key: str | None = None,
    on_duplicate: str | None = None,
    dry_run: bool = False,
    sheet: str | None = None,
    timezone: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    date: str | None = None,
    batch_size: int = 500,
    concurrency: int | str = "auto",
    max_concurrency: int | None = None,
    rejected: str | os.PathLike[str] | None = None,
    report: str | os.PathLike[str] | None = None,
    wait: float = 0.0,
    today: dt.date | None = None,
    confirm: Callable[[SyncConfirm], bool] | None = None,
    cancel: threading.Event | None = None,
    progress: Callable[[int, int], None] | None = None,
    ledger_path: str | os.PathLike[str] | None = None,
    rejected_path: str | os.PathLike[str] | None = None,
    report_path: str | os.PathLike[str] | None = None,
    date_order: str | None = None,
    lookup_dir: str | os.PathLike[str] | None = None,
) -> SyncResult:
    """Make 7pace equal to ``path`` inside a declared period (``sync``, docs/sync.md): rows
    are created, corrected rows updated, and with ``prune=True`` the worklogs this
    ``source`` wrote whose key left the file are deleted inside ``window`` (``FROM..TO``,
    ``last:14d``, ``month:previous``, ... or a pair of dates) - unless more than
    ``max_delete`` (N, "P%" or "all"; default 5 or 20%) would go, which stops the run before
    its first write. ``keys``: the source's id columns (default: the mapping's ``key:``,
    else the slot). ``confirm(info)`` is asked before anything is written; setting
    ``cancel`` stops like Ctrl-C; ``progress(done, total)`` is called as the writes (creates,
    updates, deletes) get their outcomes. ``concurrency``: ``"auto"`` (requests in flight
    follow the server, at most ``max_concurrency``, default 64; one limit for the run's
    creates, updates and deletes) or a fixed number. Returns a ``SyncResult`` (``summary_dict()`` is the
    command's ``--json``). ``ledger_path``, ``rejected_path`` and ``report_path`` are the
    earlier names of ``ledger``, ``rejected`` and ``report``. ``date_order`` and
    ``lookup_dir`` as for ``validate``. ``path`` may be a DataFrame (as for ``validate``);
    then the feed needs a name, ``source=`` or the mapping's ``source:`` (else every changed
    frame would be a new feed whose worklogs are never pruned)."""
    from timetracker_import.app.sync import SyncSettings
    from timetracker_import.app.sync import sync_file as run

    given = _input(path, sheet=sheet, encoding=encoding, delimiter=delimiter)
    conn = _settings(connection)
    mapping_path, preset, loaded = _mapping_args(
        mapping, preset, base=_lookup_base(given, lookup_dir)
    )
    if given.frame and not (source or "").strip():
        loaded = _frame_feed_mapping(
            given,
            mapping_path,
            preset,
            loaded,
            lookup_dir=_lookup_dir(given, lookup_dir, mapping),
            date_order=date_order,
        )
    settings = SyncSettings(
        path=given.path,
        connection=conn,
        mapping_path=mapping_path,
        preset=preset,
        loaded=loaded,
        keys=tuple(keys),
        source=source,
        window=window,
        prune=prune,
        max_delete=None if max_delete is None else str(max_delete),
        ledger_path=_path(ledger if ledger is not None else ledger_path),
        overwrite_edited=overwrite_edited,
        on_duplicate_key=on_duplicate_key,
        on_duplicate=on_duplicate,
        dry_run=dry_run,
        sheet=sheet,
        timezone=timezone,
        encoding=encoding,
        delimiter=delimiter,
        date=date,
        batch_size=batch_size,
        concurrency=concurrency,
        max_concurrency=max_concurrency,
        rejected_path=_path(rejected if rejected is not None else rejected_path),
        report_path=_path(report if report is not None else report_path),
        wait=wait,
        today=today,
        date_order=date_order,
        lookup_dir=_lookup_dir(given, lookup_dir, mapping),
    )
    return run(settings, confirm=confirm, cancel=cancel, progress=progress)


def _frame_feed_mapping(
    given: _Input,
    mapping_path: Path | None,
    preset: str | None,
    loaded: LoadedMapping | None,
    *,
    lookup_dir: Path | None,
    date_order: str | None,
) -> LoadedMapping:
    """The mapping of a sync of a DataFrame without ``source=``, loaded once: it must name
    the feed (``source:``), else ``UsageError``."""
    from timetracker_import.app.validate import ValidateSettings, load_mapping_for
    from timetracker_import.errors import UsageError

    found = load_mapping_for(
        ValidateSettings(
            path=given.path,
            mapping_path=mapping_path,
            preset=preset,
            loaded=loaded,
            lookup_dir=lookup_dir,
            date_order=date_order,
        ),
        notify=lambda _line: None,
    )
    if not (getattr(found.mapping, "source", None) or "").strip():
        raise UsageError(
            "a sync of a DataFrame needs the name of its feed",
            hint='give source="NAME" (or `source:` in the mapping): the same name every '
            "time, so that rows which left the frame can be pruned",
        )
    return found


def run_summaries() -> list[RunSummary]:
    """Every journaled run as ``runs list`` and the web app show it (kind, status, counts
    from its journal, whether undo has anything to reverse), oldest first."""
    from timetracker_import.journal.runs import list_runs as runs
    from timetracker_import.journal.runs import run_summary

    return [run_summary(info) for info in runs()]


def runs_frame() -> pd.DataFrame:
    """Every journaled run as a DataFrame indexed by ``run_id`` (oldest first): ``kind``,
    ``status``, ``dry_run``, ``input_path``, ``mapping``, ``target``, ``started_at`` and
    ``finished_at`` (UTC datetimes), ``halt_reason``, ``undoable``, ``directory`` and the
    counts (``rows``, ``created``, ``rejected``, ...)."""
    from timetracker_import.app.frames import runs_frame as frame

    return frame(run_summaries())


def run_summary(run_id: str) -> RunSummary:
    """One run's summary (``UsageError`` naming the runs directory when there is none)."""
    from timetracker_import.app.undo import open_run
    from timetracker_import.journal.runs import run_summary as summary

    with open_run(run_id) as journal:
        return summary(journal.info())


# --- for the web app ---
# What the web app (``timetracker_import.ui``) needs besides the functions above: the header
# row and sheets of a file, preset detection, a preview of the first rows, the user's saved
# mappings, the Jira conversion, a corrected copy of a file, the identity behind a token,
# and the runs with what undo needs. Typed results, no printing; problems are the errors
# tree. The web app imports nothing else of the package (tests/ui/test_layers.py).

if TYPE_CHECKING:
    from timetracker_import.app.convert import ConvertResult as ConvertResult


@dataclass(frozen=True)
class TableInfo:
    """A readable table: its format, header row and (Excel) the sheets of its workbook."""

    path: Path
    format: str  # csv | xlsx | xls
    headers: tuple[str, ...]
    sheet: str | None  # the sheet read (Excel)
    sheets: tuple[str, ...] = ()  # every sheet of the workbook (Excel)


def inspect_table(
    path: str | os.PathLike[str],
    *,
    sheet: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> TableInfo:
    """The header row of ``path`` (``sheet``: an Excel sheet's name or 1-based position),
    and its workbook's sheet names. ``InputError`` for a missing, empty or unreadable
    file."""
    from timetracker_import.files.readers import open_table
    from timetracker_import.files.readers_excel import sheet_names

    table = open_table(Path(path), sheet=sheet or None, encoding=encoding, delimiter=delimiter)
    sheets: tuple[str, ...] = ()
    if table.format in ("xlsx", "xls"):
        sheets = tuple(sheet_names(Path(path)))
    return TableInfo(
        Path(path), table.format, tuple(str(h) for h in table.headers), table.sheet, sheets
    )


@dataclass(frozen=True)
class PresetInfo:
    """A shipped preset: its name and one-line description."""

    name: str
    description: str


def presets() -> list[PresetInfo]:
    """Every shipped preset, sorted by name."""
    from timetracker_import.files.mapping_loader import list_presets

    return [PresetInfo(n, d) for n, d in list_presets()]


def preset_text(name: str) -> str:
    """A shipped preset's YAML, as the file holds it (``MappingError`` when there is none)."""
    from timetracker_import.files.mapping_loader import preset_text as text

    return text(name)


def preset_mapping(name: str) -> dict[str, Any]:
    """A shipped preset as mapping data (what its YAML file holds); ``MappingError`` when
    there is no such preset."""
    import yaml

    from timetracker_import.files.mapping_loader import preset_text

    data = yaml.safe_load(preset_text(name))
    return dict(data) if isinstance(data, dict) else {}


def check_mapping(data: Mapping[str, Any]) -> None:
    """Raise ``MappingError`` (naming the key) when ``data`` is not a valid mapping."""
    from timetracker_import.files.mapping_loader import mapping_from_dict

    mapping_from_dict(dict(data), source="the mapping")


@dataclass(frozen=True)
class PresetMatch:
    """A shipped preset whose fingerprint the header row satisfies, with the matching
    columns."""

    name: str
    description: str
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class PresetDetection:
    """What a file looks like: the fitting presets (best first), the one its data picks
    (None when the data cannot decide among several, or none fits) and why, the
    day/month order the data shows, the columns of a Jira issue export (empty: not one),
    and field -> header guesses for a mapping drafted from the headers."""

    matches: tuple[PresetMatch, ...]
    chosen: str | None
    evidence: tuple[str, ...]
    date_order: str | None
    jira_columns: tuple[str, ...]
    guesses: dict[str, str]


def detect_preset(path: str | os.PathLike[str], *, sheet: str | None = None) -> PresetDetection:
    """Recognise ``path``'s layout as ``--preset auto`` does (header, then the first rows'
    data); refuses nothing: an undecided file gives ``chosen=None`` with the candidates."""
    from timetracker_import.app.validate import detect_preset_for
    from timetracker_import.core import preset_detect
    from timetracker_import.files.readers import open_table

    headers = list(open_table(Path(path), sheet=sheet or None).headers)
    described = dict((p.name, p.description) for p in presets())
    jira = preset_detect.detect_conversion(headers)
    found = [
        PresetMatch(d.preset, described.get(d.preset, ""), tuple(dict.fromkeys(d.matched)))
        for d in preset_detect.best_presets(headers)
    ]
    choice = detect_preset_for(Path(path), sheet=sheet or None)
    if choice.preset and choice.preset not in {p.name for p in found}:
        found.insert(
            0,
            PresetMatch(
                choice.preset,
                described.get(choice.preset, ""),
                tuple(dict.fromkeys(choice.matched)),
            ),
        )
    found.sort(key=lambda p: p.name != choice.preset)
    return PresetDetection(
        tuple(found),
        choice.preset,
        tuple(choice.evidence),
        getattr(choice, "date_order", None),
        tuple(dict.fromkeys(jira.matched)) if jira is not None else (),
        preset_detect.guess_fields(headers),
    )


@dataclass(frozen=True)
class PreviewRow:
    """One source row: its cells in the mapped columns and what is sent (None: rejected,
    with ``reason``)."""

    source_row: int
    cells: tuple[Any, ...]
    sent: dict[str, Any] | None
    reason: str | None
    skipped: bool = False  # left out by the mapping's skip rules (not rejected)


@dataclass(frozen=True)
class Preview:
    """The first rows of a file through a mapping (nothing is sent)."""

    columns: tuple[str, ...]
    rows: tuple[PreviewRow, ...]
    timezone: str
    timezone_source: str
    mapping_source: str = ""  # where the mapping came from (a file, a preset)


def preview(
    path: str | os.PathLike[str],
    *,
    mapping: MappingSource | None = None,
    preset: str | None = None,
    sheet: str | None = None,
    rows: int = 8,
    encoding: str | None = None,
    delimiter: str | None = None,
    timezone: str | None = None,
    date_order: str | None = None,
    lookup_dir: str | os.PathLike[str] | None = None,
    notify: Callable[[str], None] | None = None,
) -> Preview:
    """The first ``rows`` rows of ``path`` as they would be sent: ``sent`` holds ``user``,
    ``timestamp`` (UTC datetime), ``length_seconds``, ``billable_seconds``, ``work_item``,
    ``activity`` and ``comment``; a rejected row has the reason instead. ``encoding``,
    ``delimiter``, ``timezone``, ``date_order`` and ``lookup_dir`` as for ``validate``;
    ``notify(line)`` is told which preset ``preset="auto"`` chose (default: nothing)."""
    from timetracker_import.app.validate import (
        ValidateSettings,
        choose_timezone,
        iter_mapped_chunks,
        load_mapping_for,
    )
    from timetracker_import.core.mapping import resolve_columns
    from timetracker_import.files.readers import open_table

    given = _Input(Path(path), frame=False)
    mapping_path, preset, loaded = _mapping_args(
        mapping, preset, base=_lookup_base(given, lookup_dir)
    )
    loaded = load_mapping_for(
        ValidateSettings(
            path=given.path,
            mapping_path=mapping_path,
            preset=preset,
            sheet=sheet,
            encoding=encoding,
            delimiter=delimiter,
            date_order=date_order,
            lookup_dir=_path(lookup_dir),
            loaded=loaded,
        ),
        notify=notify or (lambda _line: None),
    )
    zone, zone_source = choose_timezone(loaded.mapping, timezone)
    table = open_table(
        given.path,
        sheet=sheet or None,
        encoding=encoding,
        delimiter=delimiter,
        has_header=loaded.mapping.header,
    )
    chunk = next(iter_mapped_chunks(table, loaded, timezone=zone, chunk_rows=rows), None)
    positions = resolve_columns(loaded.mapping, table.headers, table.has_header)
    cols = sorted(set(positions.values()))
    out: list[PreviewRow] = []
    if chunk is not None:
        rejected = {r.source_row: r.reason for r in chunk.rejections}
        canon = chunk.canonical
        for label, raw in chunk.raw.iterrows():
            row = int(label)  # type: ignore[call-overload]
            sent = None
            if row in canon.index:
                c = canon.loc[row]
                sent = {
                    "user": c["user"],
                    "timestamp": c["timestamp"],
                    "length_seconds": c["length_seconds"],
                    "billable_seconds": c["billable_seconds"],
                    "work_item": c["work_item_id"],
                    "activity": c["activity_type"],
                    "comment": c["comment"],
                }
            skipped = sent is None and row not in rejected
            reason = None if sent else rejected.get(row, "left out by the mapping's skip rules")
            out.append(PreviewRow(row, tuple(raw[p] for p in cols), sent, reason, skipped))
    columns = tuple(table.headers[p] for p in cols)
    return Preview(columns, tuple(out), zone, zone_source, str(loaded.source))


def check_file(
    path: str | os.PathLike[str],
    *,
    mapping: MappingSource | None = None,
    preset: str | None = None,
    sheet: str | None = None,
    rejected: str | os.PathLike[str] | None = None,
    report: str | os.PathLike[str] | None = None,
    keep_cells: int = 5000,
) -> ValidateResult:
    """``validate``, keeping the original cells of the first ``keep_cells`` rejected rows
    in ``result.rejected_cells`` (source row -> cells in file order), for a page that shows
    and fixes them."""
    from timetracker_import.app.validate import ValidateSettings, run_validate

    mapping_path, preset, loaded = _mapping_args(mapping, preset, base=Path(path).resolve().parent)
    return run_validate(
        ValidateSettings(
            path=Path(path),
            mapping_path=mapping_path,
            preset=preset,
            sheet=sheet,
            rejected_path=_path(rejected),
            report_path=_path(report),
            loaded=loaded,
            keep_rejected_cells=keep_cells,
        ),
        notify=lambda _line: None,
    )


@dataclass(frozen=True)
class SavedMapping:
    """A mapping the user saved (``mappings/NAME.yaml`` in the configuration folder)."""

    name: str
    path: Path
    description: str


_MAPPING_NAME = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_ ."


def mappings_dir() -> Path:
    """Where saved mappings live: ``<config folder>/mappings`` (the profiles' folder)."""
    from timetracker_import.api.settings import default_config_dir

    return default_config_dir() / "mappings"


def _mapping_file(name: str) -> Path:
    return _named_file(mappings_dir(), name, "mapping")


def _named_file(folder: Path, name: str, what: str) -> Path:
    """``folder/NAME.yaml`` for a name a person chose (``UsageError`` for one that could
    leave the folder or hide the file)."""
    from timetracker_import.errors import UsageError

    clean = name.strip()
    if not clean or any(c not in _MAPPING_NAME for c in clean) or clean.startswith("."):
        raise UsageError(
            f"{name!r} is not a usable {what} name",
            hint="use letters, digits, spaces, '-', '_' or '.' (not first)",
        )
    return folder / f"{clean}.yaml"


def saved_mappings() -> list[SavedMapping]:
    """The user's saved mappings, sorted by name (unreadable files are left out)."""
    import yaml

    folder = mappings_dir()
    out = []
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError, UnicodeDecodeError):
            continue
        desc = data.get("description", "") if isinstance(data, dict) else ""
        out.append(SavedMapping(path.stem, path, str(desc or "").strip()))
    return out


def saved_mapping(name: str) -> dict[str, Any]:
    """A saved mapping's data (``UsageError`` when there is none by that name)."""
    import yaml

    from timetracker_import.errors import UsageError

    path = _mapping_file(name)
    if not path.is_file():
        raise UsageError(f"no saved mapping {name!r}", hint="choose one from the list")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return dict(data) if isinstance(data, dict) else {}


def save_mapping(name: str, data: Mapping[str, Any], *, overwrite: bool = False) -> SavedMapping:
    """Check ``data`` and save it as ``name`` (``UsageError`` when the name is taken and
    ``overwrite`` is False). Use it later with ``mapping=saved.path`` (or ``--mapping``)."""
    import yaml

    from timetracker_import.errors import UsageError

    check_mapping(data)
    path = _mapping_file(name)
    if path.exists() and not overwrite:
        raise UsageError(
            f"a mapping named {name.strip()!r} exists already",
            hint="pick another name, or tick 'replace it'",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return SavedMapping(path.stem, path, str(data.get("description") or ""))


def sync_setups_dir() -> Path:
    """Where the web app saves sync setups: ``<config folder>/sync-setups``."""
    return mappings_dir().parent / "sync-setups"


def saved_sync_setups() -> list[str]:
    """The names of the saved sync setups, sorted."""
    folder = sync_setups_dir()
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def saved_sync_setup(name: str) -> dict[str, Any]:
    """A saved sync setup's data (``UsageError`` when there is none by that name or it
    cannot be read)."""
    import yaml

    from timetracker_import.errors import UsageError

    path = _named_file(sync_setups_dir(), name, "sync setup")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"no saved sync setup {name!r}", hint="choose one from the list") from None
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"the sync setup {name!r} cannot be read ({exc})", hint="save the setup again"
        ) from None
    if not isinstance(data, dict):
        raise UsageError(f"the sync setup {name!r} is not a setup", hint="save the setup again")
    return data


def save_sync_setup(name: str, data: Mapping[str, Any], *, overwrite: bool = False) -> Path:
    """Save a sync setup (plain data) as ``NAME.yaml`` (private: it names files and
    sources); ``UsageError`` when the name is taken and ``overwrite`` is False."""
    import yaml

    from timetracker_import.errors import UsageError

    path = _named_file(sync_setups_dir(), name, "sync setup")
    if path.exists() and not overwrite:
        raise UsageError(
            f"a sync setup named {name.strip()!r} exists already",
            hint="pick another name, or tick 'replace it'",
        )
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("# A sync setup saved in the timetracker-import web app.\n")
        yaml.safe_dump(dict(data), fh, sort_keys=False, allow_unicode=True)
    return path


def period_today(spec: str, first: dt.date, last: dt.date) -> dt.date | None:
    """A day against which ``spec`` (a declared period, e.g. ``last:14d``) gives exactly
    ``first..last`` again: what a sync applied after midnight passes as ``today=`` so that
    it syncs the days its plan showed. None when ``spec`` does not depend on the day."""
    import contextlib

    from timetracker_import.core.sync_plan import parse_period

    low = spec.strip().lower()
    if ".." in low:
        return None
    candidates = (last, first, last + dt.timedelta(days=1), last + dt.timedelta(days=7))
    for day in candidates:
        with contextlib.suppress(Exception):
            p = parse_period(spec, today=day)
            if (p.first, p.last) == (first, last):
                return day
    return last


def convert_jira(
    path: str | os.PathLike[str],
    *,
    output: str | os.PathLike[str] | None = None,
    sheet: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> ConvertResult:
    """Convert a Jira issue export (one row per issue, ``Log Work`` cells) into one row
    per worklog (``convert jira``); ``output`` defaults to ``<stem>.worklogs.csv``."""
    from timetracker_import.app.convert import ConvertSettings, run_convert_jira

    return run_convert_jira(
        ConvertSettings(
            path=Path(path),
            output_path=_path(output),
            sheet=sheet,
            encoding=encoding,
            delimiter=delimiter,
        )
    )


def write_corrected(
    path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    edits: Mapping[int, Mapping[int, str]],
    sheet: str | None = None,
) -> Path:
    """Write a copy of ``path`` (a table with a header row) with some cells replaced:
    ``edits`` maps a source row to {column position: new text}. The input is never
    modified. The copy is faithful, so importing it gives what importing the original
    would, but for the edits: ``.csv``/``.tsv``/``.txt`` output keeps the input's delimiter
    (UTF-8) and every other cell's text; ``.xlsx`` keeps typed cells (dates, numbers) and
    writes all text as text cells (never a formula, and without the apostrophe the
    exports add). Returns ``output``."""
    import csv

    from timetracker_import.files.readers import open_table

    source, target = Path(path), Path(output)
    table = open_table(source, sheet=sheet or None)
    tmp = target.with_name(f".{target.name}.tmp")

    def rows() -> Any:
        for chunk in table.chunks():
            for label, values in zip(
                chunk.index, chunk.itertuples(index=False, name=None), strict=True
            ):
                cells = [None if _blank(v) else v for v in values]
                for pos, text in (edits.get(int(label)) or {}).items():
                    if 0 <= pos < len(cells):
                        cells[pos] = text
                yield cells

    try:
        if target.suffix.lower() == ".xlsx":
            from openpyxl import Workbook
            from openpyxl.cell import WriteOnlyCell

            book = Workbook(write_only=True)
            ws = book.create_sheet(table.sheet or "Sheet1")

            def text_cell(value: Any) -> Any:
                if not isinstance(value, str):
                    return value
                out = WriteOnlyCell(ws, value=value)
                out.data_type = "s"  # text, never a formula
                return out

            ws.append([text_cell(h) for h in table.headers])
            for cells in rows():
                ws.append([text_cell(c) for c in cells])
            book.save(tmp)
        else:
            delimiter = table.delimiter or ("\t" if target.suffix.lower() == ".tsv" else ",")
            with tmp.open("w", encoding="utf-8", newline="") as fh:
                writer = csv.writer(fh, delimiter=delimiter)
                writer.writerow(table.headers)
                for cells in rows():
                    writer.writerow(["" if c is None else c for c in cells])
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _blank(value: Any) -> bool:
    try:
        return value is None or bool(value != value)  # None or NaN
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class Identity:
    """A checked connection: who the token belongs to (never the token itself)."""

    settings: ConnectionSettings
    name: str
    email: str
    where: str  # the REST root (and profile)
    token_label: str  # ****abcd
    token_source: str  # keyring | given | token-file | environment | profile


CONNECT_TIMEOUT = 10.0


@_off_the_loop
def whoami(
    connection: Connection | ConnectionSettings, *, timeout: float | None = None
) -> Identity:
    """Check a connection with ``me`` within ``timeout`` seconds (default
    ``CONNECT_TIMEOUT``): ``ApiError`` with the reason when the server is unreachable,
    slow or refuses the token."""
    timeout = CONNECT_TIMEOUT if timeout is None else timeout
    import asyncio

    from timetracker_import.app.read import fetch_me
    from timetracker_import.errors import ApiError

    settings = _settings(connection)

    async def ask() -> dict[str, Any]:
        return await asyncio.wait_for(fetch_me(settings), timeout)

    try:
        me = asyncio.run(ask())
    except TimeoutError:
        raise ApiError(
            f"{settings.rest_root} did not answer within {timeout:g} seconds",
            hint="check the address and your network (VPN, proxy); the server may be down",
        ) from None
    user = me.get("user") or {}
    where = settings.rest_root + (f" (profile {settings.profile})" if settings.profile else "")
    return Identity(
        settings,
        str(user.get("displayName") or user.get("name") or ""),
        str(user.get("uniqueName") or ""),
        where,
        str(settings.token),
        str(settings.token_source),
    )


def remember_token(settings: ConnectionSettings, token: str) -> None:
    """Store ``token`` in the OS keyring for ``settings``' server (``auth login``'s entry);
    ``ConfigError`` when there is no usable keyring."""
    from timetracker_import.api import settings as conn

    key = conn.keyring_key(settings.url, settings.collection, settings.profile)
    conn.default_token_store().set(key, token)


def token_settings(target: Target, token: str, *, source: str = "given") -> ConnectionSettings:
    """The settings for ``target`` (a server before its token is known) authenticated by
    ``token``; ``source`` says where the token came from (``prompt``, ``given``, ...)."""
    from timetracker_import.api.settings import with_token

    return with_token(target, token, source)


def forget_token(target: Target) -> bool:
    """Remove the token ``remember_token`` stored for ``target``'s server (or profile) from
    the OS keyring; False when none was stored."""
    from timetracker_import.api.settings import default_token_store

    return bool(default_token_store().delete(target.keyring_keys[0]))


def save_profile(
    name: str, *, url: str, collection: str | None = None, api_version: str | None = None
) -> Path:
    """Add or update the profile ``name`` in the user's profiles file (without a token: it
    goes to the keyring), keeping the rest of the file as it was; returns the file."""
    from timetracker_import.api.settings import save_profile as save

    return save(name, url=url, collection=collection, api_version=api_version)


def profile_urls() -> list[tuple[str, str]]:
    """(name, server URL) of each profile in the user's profiles file."""
    from timetracker_import.api.settings import load_profiles, profiles_path

    return [(n, str(p.get("url") or "")) for n, p in sorted(load_profiles(profiles_path()).items())]


def environment_url() -> str | None:
    """``$TIMETRACKER_URL`` when set (the default server)."""
    from timetracker_import.api.settings import ENV_URL

    return os.environ.get(ENV_URL) or None


@dataclass(frozen=True)
class RunOverview:
    """One journaled run as the web app shows it: ``summary`` is the ``RunSummary`` that
    ``runs list`` prints (kind, status, counts from the journal) and whether the web app made
    its mapping; for one run (``run_overview``, not in the list) also the rejected rows of its
    summary file, what an undo did so far (``undone``) and how many changes undo can
    still reverse (``left``; None in the list)."""

    summary: RunSummary
    rejections: tuple[dict[str, Any], ...] = ()
    has_mapping_file: bool = False
    #: what undo did so far, e.g. (("deleted", 8), ("re-created", 4)); () for nothing
    undone: tuple[tuple[str, int], ...] = ()
    left: int | None = None

    @property
    def run_id(self) -> str:
        return self.summary.run_id

    @property
    def status(self) -> str:
        return self.summary.status

    @property
    def dry_run(self) -> bool:
        return self.summary.dry_run

    @property
    def input_path(self) -> str | None:
        return self.summary.input_path

    @property
    def mapping(self) -> str | None:
        return self.summary.mapping_name

    @property
    def target(self) -> str | None:
        return self.summary.target

    @property
    def started_at(self) -> str:
        return self.summary.started_at

    @property
    def finished_at(self) -> str | None:
        return self.summary.finished_at

    @property
    def directory(self) -> Path:
        return self.summary.directory

    @property
    def kind(self) -> str:
        """The run's kind as ``runs list`` prints it (``import (dry run)``, ``sync``, ...)."""
        return self.summary.kind.value + (" (dry run)" if self.dry_run else "")

    @property
    def is_import(self) -> bool:
        return self.summary.kind.value == "import"

    @property
    def counts_text(self) -> str:
        """The counts exactly as ``runs list`` prints them."""
        return self.summary.describe()

    @property
    def can_undo(self) -> bool:
        """A real run with something left to reverse (unknown in the list: it wrote)."""
        if self.left is None:
            return self.summary.undoable
        return not self.dry_run and self.left > 0

    @property
    def can_resume(self) -> bool:
        """Resume is for imports that stopped before the end."""
        return self.is_import and not self.dry_run and self.status != "complete"


def run_overviews() -> list[RunOverview]:
    """Every journaled run, newest first."""
    return [_overview(r, left=False) for r in reversed(run_summaries())]


def run_overview(run_id: str, *, details: bool = True) -> RunOverview:
    """One run (``UsageError`` when there is none by that id); ``details``: with its rejected
    rows and how many changes undo did and can still reverse (reading every action)."""
    from timetracker_import.errors import UsageError

    for r in list_runs():
        if r.run_id == run_id:
            from timetracker_import.journal.runs import run_summary as summary

            return _overview(summary(r), left=details)
    raise UsageError(f"no run {run_id!r}", hint="pick one from the list of runs")


def _overview(summary: RunSummary, *, left: bool) -> RunOverview:
    """The overview of one run; ``left``: also what only one run's page shows (its rejected
    rows, what undo did and has left), which the list does without."""
    import json

    if not left:
        return RunOverview(summary, has_mapping_file=(summary.directory / "mapping.yaml").is_file())
    data: dict[str, Any] = {}
    try:
        loaded = json.loads((summary.directory / "summary.json").read_text(encoding="utf-8"))
        data = loaded if isinstance(loaded, dict) else {}
    except (OSError, ValueError):
        pass
    rejections = tuple(x for x in data.get("rejections") or [] if isinstance(x, dict))
    real = not summary.dry_run
    return RunOverview(
        summary,
        rejections,
        (summary.directory / "mapping.yaml").is_file(),
        undone=_undone(summary.run_id) if real and summary.actions else (),
        left=len(undo_steps(summary.run_id)) if real else 0,
    )


def _undone(run_id: str) -> tuple[tuple[str, int], ...]:
    """What undo did with the run's changes so far (from the journal's actions)."""
    import contextlib
    import sqlite3
    from collections import Counter

    from timetracker_import.journal.store import Journal, JournalError

    with contextlib.suppress(JournalError, OSError, sqlite3.Error), Journal.open(run_id) as j:
        done = Counter((a.undo or "").split(" as ")[0] for a in j.actions())
        said = (("deleted", "deleted"), ("restored", "put back"), ("recreated", "re-created"))
        return tuple((words, done[key]) for key, words in said if done[key])
    return ()


@dataclass(frozen=True)
class UndoStep:
    """One change undo would reverse: ``what`` it does (``delete`` a created worklog,
    ``restore`` an updated one, ``re-create`` a deleted one), the worklog and its row."""

    what: str
    worklog_id: str
    source_row: int | None
    #: whose worklog, when it starts (UTC, ``YYYY-MM-DDTHH:MM:SSZ``) and how long, as the
    #: run left it (a created or re-created worklog's, an updated one's after the change);
    #: empty or None where the journal does not tell (an update of other fields)
    user_id: str = ""
    start: str = ""
    seconds: int | None = None


def _undo_step(action: ActionRecord) -> UndoStep:
    from timetracker_import.core.worklog import ServerWorklog

    what = {"create": "delete", "update": "restore", "delete": "re-create"}
    # a create's body, a delete's worklog as 7pace had it, an update's values after it
    values = action.before if action.kind == "delete" else {**action.before, **action.body}
    step = UndoStep(what.get(action.kind, action.kind), action.worklog_id or "", action.source_row)
    try:
        worklog = ServerWorklog.from_api(values)
    except (ValueError, TypeError):
        return step
    seconds = values.get("length")
    return dataclasses.replace(
        step,
        user_id=worklog.user_id,
        start=worklog.timestamp,
        seconds=int(seconds) if isinstance(seconds, int | float) else None,
    )


def undo_steps(run_id: str) -> list[UndoStep]:
    """What undo of ``run_id`` still has to reverse, last change first, from its journal
    (nothing is asked of 7pace; worklogs edited since are found, and kept, when it runs)."""
    import contextlib
    import sqlite3

    from timetracker_import.app.undo import to_reverse
    from timetracker_import.journal.store import Journal, JournalError

    with contextlib.suppress(JournalError, OSError, sqlite3.Error), Journal.open(run_id) as j:
        return [_undo_step(a) for a in reversed(j.actions()) if to_reverse(a)]
    return []


def created_rows(run_id: str) -> dict[str, int]:
    """The worklogs an import created: worklog id -> the source row it came from."""
    from timetracker_import.journal.store import Journal

    with Journal.open(run_id) as journal:
        return {c.worklog_id: c.source_row for c in journal.created_records()}


def uploads_dir() -> Path:
    """Where the web app keeps uploaded files (private; beside the runs folder, so a
    restart can resume an import of an upload)."""
    from timetracker_import.journal.runs import runs_root

    return runs_root().parent / "uploads"


# --- Housekeeping and administration ---
# What the other commands of the command line need: a run's details and pruning old runs,
# changing and deleting existing worklogs, the sync ledger, the read commands (me, users,
# activity types), approvals, roles, the split-days conversion and the demo. Typed results,
# no printing; ``cli/`` reaches the package through these (pyproject.toml's contract
# "cli-library").

if TYPE_CHECKING:
    from timetracker_import.app.admin import RolesResult as RolesResult
    from timetracker_import.app.convert import SplitResult as SplitResult
    from timetracker_import.app.dataframes import PrunedFrame as PrunedFrame
    from timetracker_import.app.worklogs import ChangeResult as ChangeResult
    from timetracker_import.core.rejections import Rejection
    from timetracker_import.journal.ledger import ScopeInfo as ScopeInfo
    from timetracker_import.journal.runs import PrunedRun as PrunedRun


def runs_directory() -> Path:
    """Where the runs are journaled (``runs/`` in the state directory)."""
    from timetracker_import.journal.runs import runs_root

    return runs_root()


@dataclass(frozen=True)
class RunDetails:
    """What ``runs show`` prints of one run besides its ``summary``: the options it was
    started with, its writes (``{(kind, state): n}``), its rejected rows and its undo log
    (``(worklog id, action, detail)`` in order)."""

    summary: RunSummary
    options: dict[str, Any]
    actions: dict[tuple[str, str], int]
    rejections: list[Rejection]
    undo_log: list[tuple[str, str, str | None]]


def run_details(run_id: str) -> RunDetails:
    """One run with its journal's details (``UsageError`` naming the runs directory when
    there is none)."""
    from timetracker_import.app.undo import open_run

    summary = run_summary(run_id)
    with open_run(run_id) as journal:
        return RunDetails(
            summary=summary,
            options=journal.options,
            actions=journal.action_counts(),
            rejections=journal.rejections(),
            undo_log=journal.undo_log(),
        )


def prune_runs(
    older_than: float, *, include_undoable: bool = False, dry_run: bool = False
) -> list[PrunedRun]:
    """Remove the run directories started more than ``older_than`` seconds ago that nothing
    needs any more (dry runs, runs that changed nothing, runs already undone); keep
    unfinished runs and, unless ``include_undoable``, runs undo could still reverse. Every
    old run is returned with what became of it (``removed``, ``reason``, ``size_bytes``)."""
    from timetracker_import.journal.runs import prune_runs as prune

    return prune(older_than, include_undoable=include_undoable, dry_run=dry_run)


def prune_frames(older_than: float, *, dry_run: bool = False) -> list[PrunedFrame]:
    """Remove the CSV copies of DataFrames given to ``validate``/``import_file``/``sync_file``
    (``<state dir>/frames``) written more than ``older_than`` seconds ago, unless an
    unfinished run still reads one. Every old file is returned with what became of it."""
    from timetracker_import.app.dataframes import prune_frames as prune

    return prune(older_than, dry_run=dry_run)


def frames_directory() -> Path:
    """Where the DataFrames' CSV copies are kept (``<state dir>/frames``)."""
    from timetracker_import.app.dataframes import frames_dir

    return frames_dir()


@_off_the_loop
def update_worklogs(
    path: str | os.PathLike[str],
    *,
    connection: Connection | ConnectionSettings,
    dry_run: bool = False,
    wait: float = 0.0,
    cancel: threading.Event | None = None,
) -> ChangeResult:
    """PATCH the worklogs of ``path`` (an edited export: an id column and the fields to
    change) with only the fields that differ from the server; empty cells change nothing.
    Journaled as a run (``undo_run`` puts the old values back). Waits up to ``wait``
    seconds for another writer of the server, then ``RunLocked``. Setting ``cancel`` stops
    it like Ctrl-C: before the first change ``Interrupted``, after it the changes in flight
    finish and the rest are ``unsent`` (``exit_code`` 130)."""
    import asyncio

    from timetracker_import.app.worklogs import input_lock, run_update

    settings, file = _settings(connection), Path(path)
    with input_lock(settings, file=file, dry_run=dry_run, wait=wait):
        return asyncio.run(run_update(settings, file, dry_run=dry_run, cancel=cancel))


def worklog_ids(
    path: str | os.PathLike[str] | None = None, *, ids: Sequence[str] = ()
) -> list[str]:
    """The worklog ids to delete: ``path``'s id column, or ``ids`` (``UsageError`` unless
    exactly one of them is given)."""
    from timetracker_import.app.worklogs import check_ids, ids_from_file

    file = Path(path) if path is not None else None
    check_ids(ids, file)
    return ids_from_file(file) if file is not None else list(ids)


@_off_the_loop
def delete_worklogs(
    ids: Sequence[str],
    *,
    connection: Connection | ConnectionSettings,
    source: str | None = None,
    dry_run: bool = False,
    wait: float = 0.0,
    cancel: threading.Event | None = None,
) -> ChangeResult:
    """DELETE the worklogs ``ids`` (unknown ones are reported as not found). Journaled as a
    run (``undo_run`` re-creates them, with new ids); ``source`` names the input in the
    journal. Waits up to ``wait`` seconds for another writer of the server. ``cancel``: as
    for ``update_worklogs``."""
    import asyncio

    from timetracker_import.app.worklogs import input_lock, run_delete

    settings, file = _settings(connection), Path(source) if source else None
    with input_lock(settings, file=file, ids=ids, dry_run=dry_run, wait=wait):
        return asyncio.run(run_delete(settings, ids, dry_run=dry_run, source=source, cancel=cancel))


def _ledger_file(ledger: str | os.PathLike[str] | None) -> Path:
    from timetracker_import.errors import UsageError
    from timetracker_import.journal.ledger import default_ledger_path

    path = Path(ledger) if ledger is not None else default_ledger_path()
    if not path.is_file():
        raise UsageError(f"no ledger at {path}", hint="a first `sync` creates it")
    return path


@dataclass(frozen=True)
class LedgerOverview:
    """A sync ledger: its file, its scopes (server, source, key spec; ``parts()``) with how
    many keys each holds, and how many entries have a write the next sync checks."""

    path: Path
    scopes: list[ScopeInfo]
    unsettled: int


def ledger_overview(ledger: str | os.PathLike[str] | None = None) -> LedgerOverview:
    """The ledger ``sync`` keeps (default ``ledger.sqlite`` in the state directory;
    ``UsageError`` when there is none)."""
    from timetracker_import.journal.ledger import Ledger

    path = _ledger_file(ledger)
    with Ledger(path) as book:
        scopes = book.scopes()
        unsettled = sum(1 for r in book.rows() if r["pending"] or r["state"] != "ok")
    return LedgerOverview(path, scopes, unsettled)


#: the columns of ``export_ledger``'s file
LEDGER_COLUMNS = (
    "server",
    "source",
    "key_spec",
    "key",
    "worklog_id",
    "user_id",
    "timestamp",
    "content",
    "edited_ts",
    "state",
    "run_id",
    "updated_at",
)


def export_ledger(
    output: str | os.PathLike[str], *, ledger: str | os.PathLike[str] | None = None
) -> int:
    """Write every entry of the ledger (``LEDGER_COLUMNS``) to ``output`` (CSV or XLSX by its
    extension); returns how many."""
    import json

    from timetracker_import.files.writers import write_table
    from timetracker_import.journal.ledger import Ledger, scope_parts

    with Ledger(_ledger_file(ledger)) as book:
        rows = book.rows()
    table = []
    for r in rows:
        scope = scope_parts(r["scope"])
        table.append(
            [
                scope.get("server"),
                scope.get("source"),
                scope.get("key"),
                r["key"],
                r["worklog_id"],
                r["user_id"],
                r["timestamp"],
                json.dumps(r["content"], sort_keys=True),
                r["edited_ts"],
                "pending" if r["pending"] else r["state"],
                r["run_id"],
                r["updated_at"],
            ]
        )
    write_table(Path(output), list(LEDGER_COLUMNS), table)
    return len(table)


@_off_the_loop
def rebuild_ledger(
    path: str | os.PathLike[str],
    *,
    connection: Connection | ConnectionSettings,
    mapping: str | os.PathLike[str] | None = None,
    preset: str | None = None,
    keys: Sequence[str] = (),
    source: str | None = None,
    ledger: str | os.PathLike[str] | None = None,
    sheet: str | None = None,
    timezone: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    date: str | None = None,
    wait: float = 0.0,
) -> SyncResult:
    """Rebuild the ledger entries of ``path``'s scope from the server, writing nothing to
    7pace: each row adopts the one worklog on its slot; rows with several candidates are
    conflicts, rows without one are left for the next ``sync_file`` to create."""
    from timetracker_import.app.sync import SyncSettings
    from timetracker_import.app.sync import sync_file as run

    settings = SyncSettings(
        path=Path(path),
        connection=_settings(connection),
        mapping_path=_path(mapping),
        preset=preset,
        keys=tuple(keys),
        source=source,
        ledger_path=_path(ledger),
        sheet=sheet,
        timezone=timezone,
        encoding=encoding,
        delimiter=delimiter,
        date=date,
        rebuild=True,
        wait=wait,
    )
    return run(settings)


@_off_the_loop
def me(connection: Connection | ConnectionSettings) -> dict[str, Any]:
    """7pace's ``me`` document: the token's user (display name expanded), account, default
    activity type and time zone (``whoami`` gives the checked identity instead)."""
    import asyncio

    from timetracker_import.app.read import fetch_me

    return asyncio.run(fetch_me(_settings(connection)))


@_off_the_loop
def users(connection: Connection | ConnectionSettings) -> list[dict[str, Any]]:
    """All 7pace users (every page), with display names."""
    import asyncio

    from timetracker_import.app.read import fetch_users

    return asyncio.run(fetch_users(_settings(connection)))


@_off_the_loop
def activity_types(connection: Connection | ConnectionSettings) -> dict[str, Any]:
    """7pace's activity types: ``{enabled, systemDefaultActivityTypeId, activityTypes}``."""
    import asyncio

    from timetracker_import.app.read import fetch_activity_types

    return asyncio.run(fetch_activity_types(_settings(connection)))


@dataclass(frozen=True)
class Table:
    """Rows (one dict each) and the columns to show them in, in order."""

    columns: list[str]
    rows: list[dict[str, Any]]


@_off_the_loop
def approvals(
    connection: Connection | ConnectionSettings,
    *,
    first: dt.date | None = None,
    last: dt.date | None = None,
    state: str | None = None,
) -> Table:
    """The approval weeks overlapping ``first``..``last`` (inclusive), optionally only those
    in ``state`` (submitted, reopened, approved, closed)."""
    import asyncio

    from timetracker_import.app.admin import APPROVAL_COLUMNS, list_approvals

    found = list_approvals(_settings(connection), first=first, last=last, state=state)
    return Table(list(APPROVAL_COLUMNS), asyncio.run(found))


def parse_week(text: str) -> dt.date:
    """The Monday ``YYYY-MM-DD`` names (``UsageError`` when it is no date or no Monday)."""
    from timetracker_import.app.admin import parse_week as parse

    return parse(text)


def _week(week_start: str | dt.date) -> dt.date:
    return week_start if isinstance(week_start, dt.date) else parse_week(week_start)


@_off_the_loop
def submit_week(
    week_start: str | dt.date, *, manager: str, connection: Connection | ConnectionSettings
) -> dt.date:
    """Submit the token user's week starting ``week_start`` (a Monday; ``YYYY-MM-DD`` text
    is checked) to the approval manager ``manager`` (e-mail); returns the week's Monday."""
    import asyncio

    from timetracker_import.app.admin import submit_week as submit

    week = _week(week_start)
    asyncio.run(submit(_settings(connection), week, manager))
    return week


@_off_the_loop
def revoke_week(
    week_start: str | dt.date, *, connection: Connection | ConnectionSettings
) -> dt.date:
    """Revoke the token user's submitted week starting ``week_start``; returns its Monday."""
    import asyncio

    from timetracker_import.app.admin import revoke_week as revoke

    week = _week(week_start)
    asyncio.run(revoke(_settings(connection), week))
    return week


@_off_the_loop
def roles(
    connection: Connection | ConnectionSettings,
    *,
    include_none: bool = False,
    output: str | os.PathLike[str] | None = None,
) -> Table:
    """The users with their 7pace role (Administrator only; ``include_none``: also users
    with the None role). With ``output`` they are also written there (CSV or XLSX by the
    extension, formula-safe)."""
    import asyncio

    from timetracker_import.app.admin import ROLE_COLUMNS, list_roles

    found = asyncio.run(list_roles(_settings(connection), include_none=include_none))
    table = Table(list(ROLE_COLUMNS), found)
    if output is not None:
        from timetracker_import.files.writers import write_table

        write_table(
            Path(output), table.columns, ([r.get(c) for c in table.columns] for r in table.rows)
        )
    return table


@_off_the_loop
def set_roles(
    path: str | os.PathLike[str],
    *,
    connection: Connection | ConnectionSettings,
    skip_errors: bool = False,
) -> RolesResult:
    """Set roles from ``path`` (CSV/XLSX: a user column - email, id or vstsId - and a role
    column - role name or roleId). Without ``skip_errors`` one bad entry changes nothing
    (``InputError``)."""
    import asyncio

    from timetracker_import.app.admin import set_roles as run

    return asyncio.run(run(_settings(connection), Path(path), skip_errors=skip_errors))


def split_days(
    path: str | os.PathLike[str],
    *,
    mapping: str | os.PathLike[str] | None = None,
    preset: str | None = None,
    output: str | os.PathLike[str] | None = None,
    sheet: str | None = None,
    timezone: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    date_order: str | None = None,
    lookup_dir: str | os.PathLike[str] | None = None,
) -> SplitResult:
    """Read ``path`` with its mapping (as for ``validate``) and write one row per calendar
    day of each entry, cut at local midnight (``convert split-days``); ``output`` defaults
    to ``<stem>.days.csv``."""
    from timetracker_import.app.convert import SplitSettings, run_split_days

    settings = SplitSettings(
        path=Path(path),
        mapping_path=_path(mapping),
        preset=preset,
        output_path=_path(output),
        sheet=sheet,
        timezone=timezone,
        encoding=encoding,
        delimiter=delimiter,
        date_order=date_order.upper() if date_order else None,
        lookup_dir=_path(lookup_dir),
    )
    return run_split_days(settings)


def demo(out: str | os.PathLike[str], *, say: Callable[[str], None] | None = None) -> int:
    """The quick start end to end on an embedded sandbox and the shipped sample workbook,
    into the directory ``out``; ``say(line)`` gets each line of its story (default: printed).
    Returns the exit code (0 when every step behaved)."""
    from timetracker_import.app.demo import run_demo

    return run_demo(Path(out)) if say is None else run_demo(Path(out), say=say)


# `mapping init`: the preset a file fits, its YAML, and templates of its lookup files

if TYPE_CHECKING:
    from timetracker_import.app.mapping_init import LookupTemplate as LookupTemplate
    from timetracker_import.core.preset_detect import Choice as PresetChoice


def choose_preset(
    path: str | os.PathLike[str],
    *,
    sheet: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    date_order: str | None = None,
) -> PresetChoice:
    """The shipped preset ``path`` fits, as ``preset="auto"`` picks it (the header, then the
    data; where the day/month order decides, every row's dates): ``preset`` (None when none
    or several fit), ``candidates``, ``matched``, ``evidence``, ``date_order`` and
    ``explain()``. ``date_order``: the order the user named (MDY, DMY, YMD)."""
    from timetracker_import.app.validate import detect_preset_for

    found: PresetChoice = detect_preset_for(
        Path(path), sheet=sheet, encoding=encoding, delimiter=delimiter, date_order=date_order
    )
    return found


def preset_date_order(name: str) -> str | None:
    """The day/month order a shipped preset declares (None: it leaves it to the data)."""
    from timetracker_import.files.mapping_loader import load_preset

    return load_preset(name).mapping.date_order


def write_mapping_file(output: str | os.PathLike[str], text: str) -> Path:
    """Write a mapping's YAML ``text`` to ``output``, creating the folders above it
    (``InputError`` when impossible)."""
    from timetracker_import.files.writers import ensure_parent

    target = ensure_parent(output)
    target.write_text(text, encoding="utf-8")
    return target


@dataclass(frozen=True)
class PresetLookups:
    """The lookup files a preset reads for a file's columns (``files``), and the preset's
    ``note`` for its users."""

    note: str | None
    files: tuple[str, ...]


def _used_lookups(
    preset: str, path: Path, sheet: str | None, encoding: str | None, delimiter: str | None
) -> tuple[Any, Any]:
    """(the preset's mapping with only the lookups of the columns ``path`` has, the full
    mapping)."""
    from timetracker_import.core.mapping import effective_mapping
    from timetracker_import.files.mapping_loader import load_preset
    from timetracker_import.files.readers import open_table

    full = load_preset(preset).mapping
    headers = open_table(path, sheet=sheet, encoding=encoding, delimiter=delimiter).headers
    return effective_mapping(full, headers, full.header).used_lookups(), full


def preset_lookups(
    preset: str,
    path: str | os.PathLike[str],
    *,
    sheet: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> PresetLookups:
    """The lookup files ``preset`` reads for the columns ``path`` has (Clockify's Issue Key,
    for one, is optional)."""
    used, full = _used_lookups(preset, Path(path), sheet, encoding, delimiter)
    return PresetLookups(full.note, tuple(spec.file for spec in used.lookups.values()))


def write_lookup_templates(
    preset: str,
    path: str | os.PathLike[str],
    folder: str | os.PathLike[str],
    *,
    users: list[dict[str, Any]] | None = None,
    sheet: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> list[LookupTemplate]:
    """For each lookup ``preset`` reads for ``path``'s columns, a CSV template in ``folder``
    (one that exists is left alone: ``existed``) listing the file's distinct values with an
    empty value column. With ``users`` (``users(connection)``), a user lookup's values that
    name exactly one user get that user's uniqueName (``matched``; the rest ``unmatched``)."""
    from timetracker_import.app.mapping_init import write_lookup_templates as write
    from timetracker_import.files.readers import open_table

    used, _full = _used_lookups(preset, Path(path), sheet, encoding, delimiter)
    table = open_table(Path(path), sheet=sheet, encoding=encoding, delimiter=delimiter)
    return write(used, table, Path(folder), users=users)
