"""``timetracker-import sandbox``: serve the embedded 7pace emulator on loopback."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import click

from timetracker_import.errors import UsageError


@click.command("sandbox")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to bind (loopback by default).",
)
@click.option("--port", default=8765, show_default=True, type=int, help="Port (0 = any free port).")
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="SQLite file to keep data in (default: in memory).",
)
@click.option(
    "--seed",
    default="demo",
    show_default=True,
    help="A built-in seed ('demo', 'approvals') or a YAML/JSON seed file.",
)
@click.option("--latency-ms", default=0.0, type=float, help="Latency added to every API call.")
@click.option("--rate-limit", default=None, help="Token-bucket limit such as 10/s or 100/min.")
@click.option(
    "--capacity",
    type=click.IntRange(min=1),
    default=None,
    help="API calls served at once; the others wait in line (default: no limit).",
)
@click.option(
    "--row-cost-ms",
    type=click.FloatRange(min=0),
    default=0.0,
    help="Time a call is served per row it processes (batch items, worklogs of a page, "
    "else 1); with --capacity, latency rises with the load.",
)
@click.option(
    "--queue",
    type=click.IntRange(min=0),
    default=None,
    help="With --capacity: calls that may wait; beyond, 503 (default: no limit).",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    help="Scripted fault, e.g. 'batch#3:500' (repeatable; see docs/sandbox.md).",
)
@click.option(
    "--auth",
    type=click.Choice(["token", "ntlm"]),
    default="token",
    show_default=True,
    help="token: Bearer/Basic with the seeded tokens; ntlm: Windows authentication checked "
    "against --ntlm-users (on-premises style).",
)
@click.option(
    "--ntlm-users",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="With --auth ntlm: lines DOMAIN\\user:password (or user@domain:password); each user "
    "is the seeded user whose email starts with user@.",
)
def sandbox(
    host: str,
    port: int,
    db: Path | None,
    seed: str,
    latency_ms: float,
    rate_limit: str | None,
    faults: tuple[str, ...],
    auth: str,
    ntlm_users: Path | None,
    capacity: int | None,
    row_cost_ms: float,
    queue: int | None,
) -> int:
    """Run the 7pace sandbox (REST CRUD API v3 emulator) until Ctrl-C.

    Prints the base URL and the seeded users' tokens; these are sandbox-only demo secrets.
    """
    from timetracker_import.sandbox import STATE, FaultSpecError, SeedError, make_app, serve_forever
    from timetracker_import.sandbox.ntlm import NtlmUsersError

    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port} is not a port number", hint="use 0..65535 (0 = any free)")
    if (auth == "ntlm") != (ntlm_users is not None):
        raise UsageError(
            "--auth ntlm and --ntlm-users FILE go together",
            hint="e.g. --auth ntlm --ntlm-users users.txt with lines CONTOSO\\alice:password",
        )
    if auth == "ntlm":  # the handshake needs pyspnego: say so now, not at the first request
        from timetracker_import.api.settings import require_ntlm_support

        require_ntlm_support()
    if queue is not None and capacity is None:
        raise UsageError(
            "--queue limits the line of calls waiting for --capacity",
            hint="give --capacity N too, e.g. --capacity 4 --queue 50",
        )
    try:
        app = make_app(
            seed=seed,
            db=db if db is not None else ":memory:",
            faults=list(faults),
            latency_ms=latency_ms,
            rate_limit=rate_limit,
            auth=auth,
            ntlm_users=ntlm_users,
            capacity=capacity,
            row_cost_ms=row_cost_ms,
            queue=queue,
        )
    except NtlmUsersError as exc:
        raise UsageError(str(exc), hint="see the NTLM section of docs/sandbox.md") from None
    except (SeedError, FaultSpecError) as exc:
        raise UsageError(
            str(exc), hint="see docs/sandbox.md for seeds and the fault grammar"
        ) from None
    except sqlite3.Error as exc:  # --db in a missing folder, read-only, or not SQLite
        raise UsageError(
            f"cannot use --db {db}: {exc}",
            hint="give a writable path for a new file or an earlier sandbox database",
        ) from None
    users = app[STATE].seed.users
    ntlm = app[STATE].ntlm

    def started(url: str) -> None:
        click.echo(f"7pace sandbox listening on {url}")
        click.echo(
            f"API base: {url}/api/rest  (on-premises style: {url}/api/DefaultCollection/rest)"
        )
        if capacity is not None or row_cost_ms or rate_limit:
            click.echo(f"serving: {_serving(capacity, row_cost_ms, queue, rate_limit)}")
        if ntlm is not None:
            click.echo("NTLM users (passwords are in the --ntlm-users file):")
            for account in ntlm.accounts:
                click.echo(f"  {account.principal:<24} -> {account.email}")
        else:
            click.echo("users (sandbox demo tokens; use as 'Authorization: Bearer <token>'):")
            for user in users:
                click.echo(
                    f"  {user.email:<24} {user.name:<16} {user.role:<14} {user.token or '-'}"
                )
        click.echo("press Ctrl-C to stop")
        sys.stdout.flush()

    try:
        serve_forever(app, host, port, started)
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}", hint="choose another --port"
        ) from None
    return 0


def _serving(capacity: int | None, row_cost_ms: float, queue: int | None, rate: str | None) -> str:
    """``4 calls at once (the rest wait, any number), 2 ms per row, at most 10/s``."""
    parts = []
    if capacity is not None:
        line = "any number" if queue is None else f"at most {queue}, then 503"
        parts.append(
            f"{capacity} call{'s' if capacity != 1 else ''} at once (the rest wait: {line})"
        )
    if row_cost_ms:
        parts.append(f"{row_cost_ms:g} ms per row")
    if rate:
        parts.append(f"at most {rate}")
    return ", ".join(parts)
