"""What every exit leaves behind: the ``--json`` object, the ``--report`` file and the
``--notify`` message, on every exit code, errors included.

The options that ask for them (``json_option``, ``report_option``, ``notify_options`` in
``cli.options``) record what was asked in one ``Evidence`` kept in the click context's
``meta`` (shared by the group and its subcommands). A command hands its result document to
``emit`` (printed with ``--json``, kept for the notification). When a command ends with an
error instead, ``cli.main`` calls ``settle`` with the error: ``--json`` prints
``{"exit_code": 3, "error": {...}}`` and ``--report`` writes the same as JSON, or as a short
HTML page. ``settle`` also posts the notification when the exit code is one of
``--notify-on``. The token is never in any of them (``redact_text`` masks every registered
secret).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from timetracker_import.errors import exit_meaning

META_KEY = "timetracker_import.evidence"
ARGV_KEY = "timetracker_import.argv"


@dataclasses.dataclass
class Evidence:
    """What the command line asked to leave behind, and what the command handed over."""

    command: str = ""
    as_json: bool = False
    report_path: Path | None = None
    notify_url: str | None = None
    notify_on: frozenset[int] | None = None  # None: every non-zero exit code
    document: Any = None
    printed: bool = False


def current(ctx: click.Context | None = None) -> Evidence:
    """The run's ``Evidence`` (created on first use)."""
    ctx = ctx or click.get_current_context()
    evidence = ctx.meta.get(META_KEY)
    if evidence is None:
        evidence = ctx.meta[META_KEY] = Evidence()
    if not evidence.command:
        evidence.command = _command_name(ctx)
    assert isinstance(evidence, Evidence)
    return evidence


def _command_name(ctx: click.Context) -> str:
    parts = ctx.command_path.split()
    return " ".join(parts[1:]) or (parts[0] if parts else "")


def emit(document: Any) -> None:
    """Hand over the command's result: printed as JSON to stdout with ``--json``, kept for
    ``--notify``."""
    evidence = current()
    evidence.document = document
    if evidence.as_json:
        click.echo(json.dumps(document, ensure_ascii=False, indent=2, default=str))
        evidence.printed = True


def error_document(code: int, error: BaseException | None) -> dict[str, Any]:
    """``{"exit_code": N, "error": {type, message, hint, ...}}`` for an error exit."""
    from timetracker_import.api.redact import redact_text

    detail: dict[str, Any] = {"type": type(error).__name__ if error else "Exit"}
    if error is not None:
        message = getattr(error, "message", None)
        if message is None and isinstance(error, click.ClickException):
            message = error.format_message()
        text = str(message if message is not None else error)
        detail["message"] = redact_text(text) if text else exit_meaning(code)  # Ctrl-C: no text
        hint = getattr(error, "hint", None)
        if hint:
            detail["hint"] = redact_text(str(hint))
        for name in ("status", "error_code", "path", "row", "column", "key_path"):
            value = getattr(error, name, None)
            if value is not None:
                detail[name] = value if isinstance(value, int) else redact_text(str(value))
    else:
        detail["message"] = exit_meaning(code)
    return {"exit_code": code, "meaning": exit_meaning(code), "error": detail}


def render_error_html(command: str, document: dict[str, Any]) -> str:
    """A short self-contained page for a run that ended with an error."""
    import html

    error = document["error"]
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in error.items()
        if k not in ("message", "hint")
    )
    hint = f"<p><b>hint:</b> {html.escape(error['hint'])}</p>" if error.get("hint") else ""
    title = f"timetracker-import {command}: exit {document['exit_code']}"
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;"
        "max-width:50em;margin:2em auto}}th{text-align:left;padding-right:1em}"
        ".error{color:#a00}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p class=error>{html.escape(document['meaning'])}: "
        f"{html.escape(str(error.get('message', '')))}</p>{hint}<table>{rows}</table>"
        "</body></html>\n"
    )


def write_error_report(path: Path, command: str, document: dict[str, Any]) -> bool:
    """``--report PATH.json`` gets the document, ``PATH.html`` a page; False for another
    suffix (writing nothing: the error may be that very suffix)."""
    from timetracker_import.files.writers import write_text_atomic

    suffix = path.suffix.lower()
    if suffix == ".json":
        text = json.dumps({"command": command, **document}, indent=2, default=str) + "\n"
    elif suffix in (".html", ".htm"):
        text = render_error_html(command, document)
    else:
        return False
    write_text_atomic(path, text)
    return True


def _from_argv(argv: Sequence[str]) -> tuple[bool, Path | None]:
    """``--json`` and ``--report PATH`` read off the raw arguments, for an error click raised
    while parsing them (before the options' callbacks ran)."""
    as_json, report = False, None
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--json":
            as_json = True
        elif arg == "--report" and i + 1 < len(argv):
            report = Path(argv[i + 1])
        elif arg.startswith("--report="):
            report = Path(arg.split("=", 1)[1])
    return as_json, report


def settle(ctx: click.Context, code: int, error: BaseException | None = None) -> None:
    """The run ended with exit ``code`` (after ``error``, if any): leave the evidence the
    command did not leave itself, then notify. Never raises: a failure here is a warning."""
    evidence = ctx.meta.get(META_KEY)
    if evidence is None:
        evidence = Evidence(command=_command_name(ctx))
        if isinstance(error, click.ClickException):
            evidence.as_json, evidence.report_path = _from_argv(ctx.meta.get(ARGV_KEY, ()))
        ctx.meta[META_KEY] = evidence
    if code != 0 and (error is not None or evidence.document is None):
        document = error_document(code, error)
        if evidence.as_json and not evidence.printed:
            click.echo(json.dumps(document, ensure_ascii=False, indent=2, default=str))
            evidence.printed = True
        if evidence.report_path is not None:
            try:
                if write_error_report(evidence.report_path, evidence.command, document):
                    click.echo(f"report written to {evidence.report_path}", err=True)
            except OSError as exc:
                click.echo(f"warning: could not write the report: {exc}", err=True)
        if evidence.document is None:
            evidence.document = document
    if evidence.notify_url and (
        code in evidence.notify_on if evidence.notify_on is not None else code != 0
    ):
        from timetracker_import.cli.notify import notify

        notify(evidence.notify_url, evidence.command, code, evidence.document)
