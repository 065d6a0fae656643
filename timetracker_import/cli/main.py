"""Entry point: the ``timetracker-import`` command group.

Subcommands live in their own modules and are imported lazily, so ``--help`` stays instant
and a heavy import (pandas, aiohttp) only happens for the command that needs it. To add a
command, add one line to ``COMMANDS``: ``"name": "module:attribute"``.

This is the one place where errors become exit codes.
"""

from __future__ import annotations

import importlib
import signal
import sqlite3
from collections.abc import Callable
from typing import Any

import click

from timetracker_import import __version__
from timetracker_import.errors import TimetrackerError, stop_exit_code, storage_error

# name -> "module:attribute" (module relative to timetracker_import.cli)
COMMANDS: dict[str, str] = {
    "sandbox": "sandbox:sandbox",
    "mapping": "mapping:mapping",
    "validate": "validate:validate",
    "auth": "auth:auth",
    "me": "read:me",
    "users": "read:users",
    "activity-types": "read:activity_types",
    "import": "importer:import_",
    "runs": "runs:runs",
    "export": "export:export",
    "worklogs": "worklogs:worklogs",
    "roles": "roles:roles",
    "approvals": "approvals:approvals",
    "convert": "convert:convert",
    "sync": "sync:sync",
    "ledger": "ledger:ledger",
    "ui": "ui:ui",
    "demo": "demo:demo",
}


class LazyGroup(click.Group):
    """A click group that imports each subcommand's module only when it is used."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module_name, attr = self.lazy[cmd_name].split(":")
            module = importlib.import_module(f"timetracker_import.cli.{module_name}")
            command = getattr(module, attr)
            assert isinstance(command, click.Command)
            from timetracker_import.cli.examples import attach

            attach(command, cmd_name)  # the Examples section of its --help
            return command
        return super().get_command(ctx, cmd_name)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        from timetracker_import.cli.evidence import ARGV_KEY

        ctx.meta.setdefault(ARGV_KEY, list(args))  # for evidence when parsing them fails
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; its int return value becomes the exit code, and a
        TimetrackerError becomes a one-line message and its exit code (also under CliRunner)."""
        return invoke_with_exit_codes(lambda: super(LazyGroup, self).invoke(ctx), ctx)


def invoke_with_exit_codes(run: Callable[[], Any], ctx: click.Context | None = None) -> Any:
    """Call ``run`` (a command's invoke): a non-zero int result becomes the exit code, and a
    TimetrackerError a one-line message and its exit code; the one place errors meet exit codes.
    With ``ctx``, every exit, errors included, leaves the ``--json`` object, the ``--report``
    file and the ``--notify`` message asked for (``cli.evidence.settle``)."""

    def settle(code: int, error: BaseException | None = None) -> None:
        if ctx is not None:
            from timetracker_import.cli.evidence import settle as leave_evidence

            leave_evidence(ctx, code, error)

    try:
        rv = run()
    except TimetrackerError as exc:
        code = report_error(exc)
        settle(code, exc)
        raise click.exceptions.Exit(code) from None
    except (OSError, sqlite3.OperationalError) as exc:
        # a file the command writes or the state directory (a full disk, no permission):
        # one line naming the file. Without a file name it is no such error: a traceback.
        if not getattr(exc, "filename", None) and not getattr(exc, "sqlite_errorname", None):
            raise
        error = storage_error(exc)
        code = report_error(error)
        settle(code, error)
        raise click.exceptions.Exit(code) from None
    except KeyboardInterrupt as exc:
        signo = _received.pop() if _received else None
        click.echo("interrupted" + (f" ({signal.Signals(signo).name})" if signo else ""), err=True)
        code = stop_exit_code(signo or None)
        settle(code, exc)
        raise click.exceptions.Exit(code) from None
    except click.exceptions.Exit as exc:
        settle(exc.exit_code)
        raise
    except click.ClickException as exc:  # a usage error click found (exit 2): click prints it
        settle(exc.exit_code, exc)
        raise
    except click.Abort as exc:  # a declined confirmation (click prints "Aborted!", exit 1)
        settle(1, exc)
        raise
    code = rv if isinstance(rv, int) and not isinstance(rv, bool) else 0
    settle(code)
    if code != 0:
        raise click.exceptions.Exit(code)
    return rv


_TOP_EXAMPLES = """\b
Examples:
  timetracker-import demo                       # the quick start on a local sandbox
  timetracker-import validate hours.csv --preset auto
  timetracker-import import hours.csv --preset toggl --dry-run
  timetracker-import COMMAND --help             # each command's options and examples

\b
Shell completion (bash; zsh and fish alike with zsh_source, fish_source):
  eval "$(_TIMETRACKER_IMPORT_COMPLETE=bash_source timetracker-import)"
"""


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=_TOP_EXAMPLES,
)
@click.version_option(__version__, "--version", "-V", prog_name="timetracker-import")
def cli() -> None:
    """Move worklogs in and out of 7pace Timetracker (REST CRUD API v3).

    Exit codes: 0 ok; 1 some rows rejected; 2 usage, mapping or input error; 3 authentication
    or permission failure; 4 ambiguous outcome (resume later); 75 temporary failure or another
    run of the same target (resumable); 76 the server's answer cannot be read (check --url);
    130 interrupted, 143 SIGTERM, 129 SIGHUP (resumable).
    """


def report_error(exc: TimetrackerError) -> int:
    """Print a user-facing error (no traceback) and return its exit code. Redacted once
    more here: whatever a message was built from, no credential reaches the terminal."""
    from timetracker_import.api.redact import redact_text

    click.echo(f"error: {redact_text(str(exc))}", err=True)
    return exc.exit_code


#: SIGTERM/SIGHUP received outside an import's event loop (which handles them itself)
_received: list[int] = []


def _stop(signo: int, frame: Any) -> None:
    _received.append(signo)
    raise KeyboardInterrupt


def install_stop_signals() -> None:
    """SIGTERM and SIGHUP end a command like Ctrl-C (the journal keeps what was done; exit
    128 + the signal: 143, 129) instead of killing it without a word. An import's event loop
    replaces these handlers while it runs, to stop sending and write its summary first."""
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _stop)


def main(argv: list[str] | None = None) -> None:
    """Run the command line in this process (raises ``SystemExit`` with the exit code)."""
    install_stop_signals()
    cli.main(args=argv, prog_name="timetracker-import")


def run() -> None:
    """Console-script entry point (``timetracker-import`` and ``python -m``): ``main``, then
    leave without the interpreter's teardown. Tearing down pandas, pandera and aiohttp
    module by module took ~0.25 s after every import had finished its work; exit handlers
    (``atexit``: logging, finalizers) still run and both streams are flushed. Only when no
    other thread is alive; otherwise the usual exit waits for them."""
    try:
        main()
        code: int | str | None = 0
    except SystemExit as exc:
        code = exc.code
    import threading

    if threading.active_count() > 1:
        raise SystemExit(code)
    import atexit
    import contextlib
    import os
    import sys

    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        # a closed pipe: the usual exit would not print either
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(int(code or 0))
