"""Use case: one import run per organization (``import`` and ``import-worklogs``).

Rows are routed by their organization to a destination (URL + credentials). Each destination
gets its own ``run_import`` over the *whole* file with ``skip_rows`` filters added to the
mapping that leave out the other destinations' rows, so row numbers stay those of the file and
each organization has its own journal, resumes on its own and holds its own baseline. The
combined result sums the runs so that every input row is counted once.

``import``: an organization must equal (ignoring case) a profile name in profiles.toml; rows
without one use the command line's connection; rows naming an organization with no profile
are rejected (stage ``resolve``) and sent nowhere. ``import-worklogs`` plans its destinations
from config.json itself (cli/legacy.py) and shares ``run_routes``.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from timetracker_import.core.outcomes import Counts
from timetracker_import.core.rejections import Rejection, merge_rejections
from timetracker_import.errors import (
    EXIT_AMBIGUOUS,
    EXIT_AUTH,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PROTOCOL,
    EXIT_REJECTED,
    EXIT_SIGHUP,
    EXIT_SIGTERM,
    EXIT_TEMPFAIL,
    EXIT_USAGE,
    Interrupted,
    TimetrackerError,
    UsageError,
)

if TYPE_CHECKING:
    import pandas as pd

    from timetracker_import.api.client import RetryingClientFactory
    from timetracker_import.api.settings import ConnectionSettings
    from timetracker_import.app.importer import (
        ImportResult,
        ImportSettings,
        PreparedFile,
    )
    from timetracker_import.files.readers import RawTable

# Worst first: an unresolved outcome needs attention before anything else.
_SEVERITY = [EXIT_INTERRUPTED, EXIT_SIGTERM, EXIT_SIGHUP, EXIT_AMBIGUOUS, EXIT_AUTH, EXIT_USAGE]
_SEVERITY += [EXIT_PROTOCOL, EXIT_TEMPFAIL, EXIT_REJECTED, EXIT_OK]
# Variables that name one server or one token: they must not redirect a named
# organization's profile (they stay in force for the command line's connection).
_SINGLE_TARGET_ENV = ("TIMETRACKER_URL", "TIMETRACKER_TOKEN", "TIMETRACKER_PROFILE")
UNKNOWN_REJECTED_STEM = "rejected-unknown-organization"
UNKNOWN = "\0unknown"  # route key of rows whose organization has no profile


def worst_exit_code(codes: list[int]) -> int:
    """The most serious of several runs' exit codes (0 when there were none)."""
    if not codes:
        return EXIT_OK
    rank = {code: i for i, code in enumerate(_SEVERITY)}
    return min(codes, key=lambda c: rank.get(c, len(_SEVERITY)))


@dataclass(frozen=True)
class Route:
    """One destination's run: where to, with which credentials, and its rows.

    ``skip_values`` are the organization cell texts (case-folded) of rows that belong
    elsewhere; ``skip_empty`` leaves out rows with an empty organization cell."""

    name: str | None  # organization; None: the command line's connection
    connection: ConnectionSettings
    rows: tuple[int, ...]
    skip_values: tuple[str, ...] = ()
    skip_empty: bool = False
    seconds: int = 0  # hours of its valid rows (for the confirmation prompt)


@dataclass
class RouteOutcome:
    """What one route's run gave: its result, or the error that stopped it."""

    route: Route
    result: ImportResult | None = None
    error: TimetrackerError | None = None

    @property
    def exit_code(self) -> int:
        """The run's exit code (the error's when it stopped)."""
        if self.result is not None:
            return self.result.exit_code
        assert self.error is not None
        return self.error.exit_code

    def counts(self) -> dict[str, int]:
        """This organization's share of the balance: only its own rows."""
        rows = len(self.route.rows)
        if self.result is None:
            return {
                "rows": rows,
                "created": 0,
                "already_existing": 0,
                "rejected": 0,
                "unprocessed": rows,
            }
        c = self.result.accounting
        return {
            "rows": rows,
            "created": c.created,
            "already_existing": c.already_existing,
            "rejected": c.rejected,
            "unprocessed": c.unprocessed,
        }


@dataclass
class RoutedResult:
    """The combined outcome of an import split by organization."""

    outcomes: list[RouteOutcome]
    unknown: list[Rejection]  # rows naming an organization without a profile
    total: Counts
    exit_code: int
    dry_run: bool = False
    unknown_rejected_path: Path | None = None
    user_rejected_path: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def counts(self) -> Counts:
        """The rows of every organization together."""
        return self.total

    @property
    def run_ids(self) -> list[str]:
        """The run of each organization that started one."""
        return [o.result.run_id for o in self.outcomes if o.result is not None]

    def rows_frame(self) -> pd.DataFrame:
        """Every input row once, indexed by ``source_row``: its outcome in its
        organization's run (``outcome``, ``worklog_id``, ``stage``, ``reason``); rows of an
        organization without a profile are rejected."""
        from timetracker_import.app.frames import run_rows_frame

        return run_rows_frame(self.run_ids, rejected=self.unknown)

    def rejections_frame(self) -> pd.DataFrame:
        """The rejected rows of every organization, indexed by ``source_row``, with their
        original cells."""
        from timetracker_import.app.frames import rejections_frame

        rejections = [*self.unknown] + [
            r for o in self.outcomes if o.result is not None for r in o.result.rejections
        ]
        files = [self.unknown_rejected_path] + [
            o.result.rejected_path for o in self.outcomes if o.result is not None
        ]
        return rejections_frame(rejections, files)

    def summary_dict(self) -> dict[str, Any]:
        """The JSON summary: the total and one entry per organization."""
        organizations = []
        for out in self.outcomes:
            r = out.result
            organizations.append(
                {
                    "name": out.route.name,
                    "url": out.route.connection.rest_root,
                    "run_id": r.run_id if r else None,
                    **out.counts(),
                    "exit_code": out.exit_code,
                    "error": str(out.error) if out.error else None,
                    "rejected_path": str(r.rejected_path) if r and r.rejected_path else None,
                    "created_csv": str(r.created_csv) if r and r.created_csv else None,
                }
            )
        return {
            "dry_run": self.dry_run,
            "exit_code": self.exit_code,
            "counts": self.total.to_dict(),
            "organizations": organizations,
            "unknown_organization_rejected_path": (
                str(self.unknown_rejected_path) if self.unknown_rejected_path else None
            ),
            "rejected_path": str(self.user_rejected_path) if self.user_rejected_path else None,
            "notes": self.notes,
            "rejections": [r.to_dict() for r in self.unknown],
        }


# -- running routed imports (shared by import and import-worklogs) ----------------------------


def routed_mapping(
    base: Mapping[str, Any], column: str | None, route: Route, *, occurrence: int = 1
) -> dict[str, Any]:
    """``base`` plus ``skip_rows`` filters that leave out the rows of the other routes (the
    mapping's own filters are kept)."""
    data: dict[str, Any] = json.loads(json.dumps(dict(base)))  # deep copy of plain data
    if column is None:
        return data
    filters: list[dict[str, Any]] = []
    if route.skip_values:
        filters.append(
            {
                "column": column,
                "occurrence": occurrence,
                "equals": list(route.skip_values),
                "optional": True,
            }
        )
    if route.skip_empty:
        filters.append({"empty": [column], "optional": True})
    if filters:
        own = data.get("skip_rows") or []
        data["skip_rows"] = [*(own if isinstance(own, list) else [own]), *filters]
    return data


@contextlib.contextmanager
def mapping_file(
    data: Mapping[str, Any], lookups: Mapping[str, Mapping[str, str]] | None = None
) -> Iterator[Path]:
    """The mapping written to a private temporary YAML file (run_import reads a path).

    Lookup tables already loaded are written next to it under stable names, so the mapping
    (hence the run's fingerprint, hence resuming) does not depend on the temporary folder."""
    import yaml

    data = dict(data)
    with tempfile.TemporaryDirectory(prefix="timetracker-routes-") as tmp:
        folder = Path(tmp)
        specs = dict(data.get("lookups") or {})
        for name, table in (lookups or {}).items():
            spec = dict(specs[name])
            spec["file"] = f"lookup-{name}.csv"
            with (folder / spec["file"]).open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow([spec["key"], spec["value"]])
                writer.writerows(sorted(table.items()))
            specs[name] = spec
        if specs:
            data["lookups"] = specs
        path = folder / "mapping.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        yield path


def run_routes(
    routes: list[Route],
    *,
    base_mapping: Mapping[str, Any],
    column: str | None,
    make_settings: Callable[[Route, Path], ImportSettings],
    occurrence: int = 1,
    lookups: Mapping[str, Mapping[str, str]] | None = None,
    progress: bool = False,
    client_factory: RetryingClientFactory | None = None,
    on_start: Callable[[Route], None] | None = None,
    on_done: Callable[[RouteOutcome], None] | None = None,
) -> list[RouteOutcome]:
    """One ``run_import`` per route, in order. A run stopped by an error (other than an
    interruption) is recorded and the next organization still runs: they are independent."""
    from timetracker_import.app.importer import run_import

    outcomes: list[RouteOutcome] = []
    for route in routes:
        if on_start is not None:
            on_start(route)
        data = routed_mapping(base_mapping, column, route, occurrence=occurrence)
        with mapping_file(data, lookups) as path:
            try:
                outcome = RouteOutcome(
                    route,
                    result=run_import(
                        make_settings(route, path),
                        progress=progress,
                        confirm=None,
                        client_factory=client_factory,
                    ),
                )
            except Interrupted:
                raise
            except TimetrackerError as exc:
                outcome = RouteOutcome(route, error=exc)
        outcomes.append(outcome)
        if on_done is not None:
            on_done(outcome)
    return outcomes


# -- import: routing by profile -------------------------------------------------------------


@dataclass(frozen=True)
class RoutePlan:
    """``import``'s routes, worked out before anything is sent."""

    settings: ImportSettings
    routes: list[Route]
    unknown: list[Rejection]
    rows: int  # every data row of the file
    skipped: int  # left out by the user's own skip_rows
    base_mapping: dict[str, Any]
    lookups: dict[str, dict[str, str]]
    column: str | None
    occurrence: int
    table: RawTable
    raw: pd.DataFrame
    #: the unknown-user fix of the user's own mapping (the routes read temporary copies)
    user_fix: str = ""


def _cell_key(cell: object) -> str | None:
    """A cell as ``skip_rows`` compares it: stripped, case-folded text; empty -> None."""
    if cell is None or (isinstance(cell, float) and cell != cell):
        return None
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    text = str(cell).strip().casefold()
    return text or None


def _profile_env(env: Mapping[str, str] | None) -> dict[str, str]:
    source = os.environ if env is None else env
    return {k: v for k, v in source.items() if k not in _SINGLE_TARGET_ENV}


def plan_routes(
    settings: ImportSettings,
    *,
    config_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    prepared: PreparedFile | None = None,
) -> RoutePlan | None:
    """Work out which rows go to which organization's profile.

    Returns None when routing is not needed (no organization field, or every organization is
    empty or the default connection's profile): then ``run_import`` runs as usual, and can be
    given ``prepared`` (the file as ``prepare`` read it) so it does not read the file again.
    Raises ``UsageError``/``ConfigError`` before anything is sent when a profile cannot be
    used."""
    from timetracker_import.api.settings import load_profiles, profiles_path, resolve_connection
    from timetracker_import.app.importer import load_import_mapping, prepare
    from timetracker_import.core.mapping import resolve_columns
    from timetracker_import.core.routing import route_by_organization

    loaded = prepared.loaded if prepared is not None else load_import_mapping(settings)
    spec = loaded.mapping.fields.organization
    default_profile = (settings.connection.profile or "").strip().casefold() or None
    if spec is None:
        return None
    if spec.value is not None and str(spec.value).strip().casefold() in ("", default_profile):
        return None
    if spec.column is not None and spec.join:
        raise UsageError(
            "routing by organization needs the organization from one column, not `join`",
            hint="map fields.organization to a single column",
        )
    if prepared is None:
        prepared = prepare(settings, loaded)
    table, raw, canonical = prepared.table, prepared.raw, prepared.canonical
    map_rejections = prepared.rejections

    profiles = load_profiles(profiles_path(config_dir))
    sentinel = "\0default"  # key of the command line's connection
    by_profile = route_by_organization(canonical, list(profiles), default=sentinel)
    header: str | None = None
    position: int | None = None
    if spec.column is not None:
        position = resolve_columns(loaded.mapping, table.headers, table.has_header).get(
            "organization"
        )
        if position is not None:
            header = table.headers[position]

    def destination(key: str | None) -> str | None:
        if key == sentinel or (key is not None and key.casefold() == default_profile):
            return None
        if key is None:  # unrouted: no profile of that name
            return UNKNOWN
        return key

    dest_of_row: dict[int, str | None] = {}
    org_of_row: dict[int, str] = {}
    for key, frame in by_profile.items():
        dest = destination(key)
        for row, org in zip(frame.index, frame["organization"], strict=True):
            dest_of_row[int(row)] = dest
            if dest == UNKNOWN:
                org_of_row[int(row)] = str(org).strip()
    # The filters read the raw cell, so every cell text must lead to one destination.
    cell_of_row: dict[int, str | None] = {}
    if position is not None and len(raw):
        cell_of_row = {int(r): _cell_key(c) for r, c in zip(raw.index, raw[position], strict=True)}
    dest_of_cell: dict[str | None, str | None] = {}
    for row, dest in dest_of_row.items():
        cell = cell_of_row.get(row)
        if dest_of_cell.setdefault(cell, dest) != dest:
            raise UsageError(
                f"organization cells {cell!r} lead to different organizations "
                f"(row {row}); routing needs one organization per cell text",
                hint="simplify fields.organization (map/regex/lookup) in the mapping",
            )
    if set(dest_of_cell.values()) <= {None}:
        return None

    rejected_rows = {r.source_row for r in map_rejections}
    valid = set(dest_of_row)
    skipped_rows = {int(r) for r in raw.index} - valid - rejected_rows
    # Rows the mapping rejected go where their cell text goes; a text no valid row has is
    # the organization itself when the field has no transform, else the default connection.
    plain = spec.map is None and spec.regex is None and spec.lookup is None
    plain = plain and spec.default is None

    def guess(cell: str | None) -> str | None:
        org = str(spec.value).strip().casefold() if spec.value is not None else cell
        if org is None or not plain or org == default_profile:
            return None
        return next((p for p in profiles if p.casefold() == org), UNKNOWN)

    for row in sorted(rejected_rows):
        cell = cell_of_row.get(row)
        if cell not in dest_of_cell:
            dest_of_cell[cell] = guess(cell)
        dest_of_row[row] = dest_of_cell[cell]
        if dest_of_row[row] == UNKNOWN and row not in org_of_row:
            org_of_row[row] = (
                str(spec.value).strip()
                if spec.value is not None
                else str(raw.at[row, position]).strip()
            )

    unknown = merge_rejections(
        [
            Rejection(
                row,
                "resolve",
                header,
                org_of_row.get(row),
                f"organization {org_of_row.get(row)!r} has no profile in "
                f"{profiles_path(config_dir)}; add a profile [profiles.{org_of_row.get(row)}] "
                "with its url and token (or fix the cell), then run again",
            )
            for row, dest in sorted(dest_of_row.items())
            if dest == UNKNOWN
        ]
        + [r for r in map_rejections if dest_of_row.get(r.source_row) == UNKNOWN]
    )

    seconds: dict[str | None, int] = {}
    if len(canonical):
        for row, length in zip(canonical.index, canonical["length_seconds"], strict=True):
            d = dest_of_row.get(int(row))
            seconds[d] = seconds.get(d, 0) + int(length)
    names = [None] + sorted(
        {d for d in dest_of_row.values() if d is not None and d != UNKNOWN}, key=str.casefold
    )
    routes: list[Route] = []
    for name in names:
        rows = tuple(sorted(r for r, d in dest_of_row.items() if d == name))
        if name is None and not rows:
            continue  # no row needs the command line's connection
        connection = (
            settings.connection
            if name is None
            else resolve_connection(profile=name, env=_profile_env(env), config_dir=config_dir)
        )
        others = tuple(sorted(c for c, d in dest_of_cell.items() if c is not None and d != name))
        routes.append(
            Route(
                name=name,
                connection=connection,
                rows=rows,
                skip_values=others,
                skip_empty=dest_of_cell.get(None) != name,
                seconds=seconds.get(name, 0),
            )
        )
    return RoutePlan(
        settings=settings,
        routes=routes,
        unknown=unknown,
        rows=len(raw),
        skipped=len(skipped_rows),
        base_mapping=loaded.mapping.model_dump(mode="json", exclude_none=True),
        lookups=dict(loaded.lookups),
        column=spec.column,
        occurrence=spec.occurrence,
        table=table,
        raw=raw,
        user_fix=loaded.unknown_user_fix(),
    )


def _report_path(path: Path | None, name: str | None) -> Path | None:
    if path is None:
        return None
    return path.with_name(f"{path.stem}.{name or 'default'}{path.suffix}")


def run_planned(
    plan: RoutePlan,
    *,
    progress: bool = False,
    client_factory: RetryingClientFactory | None = None,
    on_start: Callable[[Route], None] | None = None,
    on_done: Callable[[RouteOutcome], None] | None = None,
) -> RoutedResult:
    """Run every route of ``plan`` and combine the results (exit code: the worst)."""
    s = plan.settings

    def make_settings(route: Route, mapping_path: Path) -> ImportSettings:
        return replace(
            s,
            connection=route.connection,
            mapping_path=mapping_path,
            preset=None,
            rejected_path=None,  # one combined file below, not one per run overwriting it
            report_path=_report_path(s.report_path, route.name),
            unknown_user_fix=s.unknown_user_fix or plan.user_fix or None,
        )

    outcomes = run_routes(
        plan.routes,
        base_mapping=plan.base_mapping,
        column=plan.column,
        occurrence=plan.occurrence,
        make_settings=make_settings,
        lookups=plan.lookups,
        progress=progress,
        client_factory=client_factory,
        on_start=on_start,
        on_done=on_done,
    )
    total = Counts(rows=plan.rows, skipped=plan.skipped, rejected=len(plan.unknown))
    for out in outcomes:
        c = out.counts()
        total.created += c["created"]
        total.already_existing += c["already_existing"]
        total.rejected += c["rejected"]
        total.unprocessed += c["unprocessed"]
        if out.result is not None:
            total.in_file_duplicates += out.result.accounting.in_file_duplicates
    codes = [out.exit_code for out in outcomes]
    if plan.unknown:
        codes.append(EXIT_REJECTED)
    result = RoutedResult(
        outcomes=outcomes,
        unknown=plan.unknown,
        total=total,
        exit_code=worst_exit_code(codes),
        dry_run=s.dry_run,
    )
    if not total.is_balanced():  # a run saw rows the plan did not route to it
        result.notes.append(
            f"the organizations' counts do not add up to the file's {plan.rows} rows; "
            "see each run's summary"
        )
    if plan.unknown:
        result.unknown_rejected_path = _write_rejected(
            _unknown_rejected_path(plan, outcomes), plan, plan.unknown
        )
    if s.rejected_path is not None:
        every = list(plan.unknown)
        for out in outcomes:
            if out.result is not None:
                every.extend(out.result.rejections)
        if every:
            every.sort(key=lambda r: r.source_row)
            result.user_rejected_path = _write_rejected(s.rejected_path, plan, every)
    return result


def _unknown_rejected_path(plan: RoutePlan, outcomes: list[RouteOutcome]) -> Path:
    """Next to the default connection's run (else the first run that ran; else the runs
    folder): ``rejected-unknown-organization.<ext>``."""
    from timetracker_import.files.rejected import rejected_suffix
    from timetracker_import.journal.store import runs_root

    ext = rejected_suffix(plan.settings.path).lower()
    ran = [o.result for o in outcomes if o.result is not None]
    default = [o.result for o in outcomes if o.result is not None and o.route.name is None]
    if default or ran:
        return (default or ran)[0].run_dir / f"{UNKNOWN_REJECTED_STEM}{ext}"
    root = runs_root()
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return root / f"{UNKNOWN_REJECTED_STEM}-{Path(plan.settings.path).stem}{ext}"


def _write_rejected(path: Path, plan: RoutePlan, rejections: list[Rejection]) -> Path:
    """The rejected rows with their original cells and the reason (as ``import`` writes)."""
    from timetracker_import.files.rejected import write_rejected

    written = write_rejected(path, plan.table, plan.raw, rejections)
    assert written is not None  # callers only come here with rejections
    return written
