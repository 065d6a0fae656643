"""Running ``import-worklogs``: read each row's organization, plan the destinations, run one
import per organization (``app.multi_org.run_routes``), print each summary and the total."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import click

from timetracker_import.app.multi_org import worst_exit_code
from timetracker_import.cli.legacy_config import (
    header_mapping,
    letter_mapping,
    load_legacy_config,
    organization_column,
)
from timetracker_import.cli.legacy_options import (
    LegacyOptions,
    credential_warnings,
    plan_destinations,
)
from timetracker_import.errors import InputError, UsageError

if TYPE_CHECKING:
    from timetracker_import.app.importer import ImportResult, ImportSettings
    from timetracker_import.app.multi_org import Route, RouteOutcome


def read_organizations(
    path: Path, column: str | None, *, has_header: bool
) -> dict[int, str | None]:
    """``source_row -> organization`` (stripped, lower-case; None when empty) of every row."""
    from timetracker_import.core.mapping import find_column, normalise_header
    from timetracker_import.files.readers import open_table

    table = open_table(path, has_header=has_header)
    position: int | None = None
    if column is not None:
        wanted = normalise_header(column) if has_header else column.upper()
        keys = [normalise_header(h) if has_header else h.upper() for h in table.headers]
        if wanted in keys:
            position = find_column(
                table.headers, column, 1, has_header=has_header, key_path="organization"
            )
    out: dict[int, str | None] = {}
    for chunk in table.chunks():
        cells = list(chunk[position]) if position is not None else [None] * len(chunk)
        for row, cell in zip(chunk.index.tolist(), cells, strict=True):
            text = "" if cell is None else str(cell).strip().lower()
            out[int(row)] = text or None
    return out


def run_legacy(opts: LegacyOptions, env: Mapping[str, str]) -> int:
    """Import ``opts.file`` as the old importer would have, one run per organization; print
    each run's summary and return the worst exit code."""
    from timetracker_import.api.settings import ENV_TOKEN
    from timetracker_import.app.importer import ImportSettings
    from timetracker_import.app.multi_org import run_routes
    from timetracker_import.cli.importer import render_summary
    from timetracker_import.cli.main import report_error

    if opts.authorization not in ("token", "ntlm"):
        raise UsageError(f"-a/--authorization must be token or ntlm, not {opts.authorization!r}")
    if not opts.file.exists():
        raise InputError(f"file {opts.file} does not exist", path=str(opts.file))
    config = load_legacy_config(opts.config_path)
    base = header_mapping() if opts.header_map else letter_mapping(config.letter_map)
    column = organization_column(base)
    organizations = read_organizations(opts.file, column, has_header=opts.header_map)
    if not organizations:
        raise InputError(f"no worklog entries were found in {opts.file}", path=str(opts.file))
    dests = plan_destinations(opts, config, organizations, env)
    used_config = (
        opts.authorization == "token"
        and not opts.token
        and not env.get(ENV_TOKEN, "").strip()
        and bool(config.organization_tokens)
    )
    credential_warnings(opts, config, used_config)

    def make_settings(route: Route, mapping_path: Path) -> ImportSettings:
        return ImportSettings(
            path=opts.file,
            connection=route.connection,
            mapping_path=mapping_path,
            timezone=opts.timezone,
            unknown_user_fix=(
                "write the person's 7pace uniqueName (the e-mail in the cloud, DOMAIN\\user "
                "on-premises) in the file's "
                + ("UserName column" if opts.header_map else "user column (config.json map)")
            ),
        )

    def started(route: Route) -> None:
        where = route.connection.rest_root
        click.echo(f"Importing {len(route.rows)} row(s) to {where} ...", err=True)

    def done(outcome: RouteOutcome) -> None:
        # Organizations are independent (as in the old importer): an error is reported and
        # the next one still runs.
        if outcome.result is not None:
            click.echo(render_summary(outcome.result), err=True)
        else:
            assert outcome.error is not None
            report_error(outcome.error)

    outcomes = run_routes(
        dests,
        base_mapping=base,
        column=column,
        make_settings=make_settings,
        on_start=started,
        on_done=done,
    )
    results = [o.result for o in outcomes if o.result is not None]
    if len(dests) > 1:
        click.echo(_total_line(results, len(dests)), err=True)
    return worst_exit_code([o.exit_code for o in outcomes])


def _total_line(results: list[ImportResult], runs: int) -> str:
    """The summed balance over the organizations' runs (rows of other organizations, which
    each run counts as skipped, are left out)."""
    created = sum(r.accounting.created for r in results)
    existing = sum(r.accounting.already_existing for r in results)
    rejected = sum(r.accounting.rejected for r in results)
    unprocessed = sum(r.accounting.unprocessed for r in results)
    rows = created + existing + rejected + unprocessed
    failed = runs - len(results)
    return (
        f"total over {runs} organization(s): rows {rows} = created {created} + already "
        f"existing {existing} + rejected {rejected} + unprocessed {unprocessed}"
        + (f"; {failed} organization(s) stopped before importing (see above)" if failed else "")
    )
