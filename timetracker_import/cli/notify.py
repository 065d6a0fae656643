"""``--notify URL``: post a short JSON summary of a run to a webhook when it ends.

The body is one JSON object: ``text`` (one line a Slack or Microsoft Teams incoming webhook
shows as the message) plus the facts a script reads: ``command``, ``exit_code``,
``meaning``, ``counts``, ``run_id``, ``host`` and, after an error, ``error``. Every
registered secret (the token, a password) is masked before the body leaves, and the URL
itself (a webhook URL is a credential) is never printed: messages name its host only.
A notification that cannot be delivered is a warning; it never changes the exit code.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import click

from timetracker_import.errors import exit_meaning

TIMEOUT_SECONDS = 10.0
_COUNT_KEYS = ("rows", "valid", "rejected", "skipped", "deleted", "worklogs", "removed", "kept")


def check_url(url: str) -> str:
    """``url`` if it is an http(s) URL with a host, else a UsageError."""
    from timetracker_import.errors import UsageError

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            "--notify needs an http:// or https:// webhook URL",
            hint="e.g. --notify https://hooks.slack.com/services/... (or $TIMETRACKER_NOTIFY_URL)",
        )
    return url


def counts_of(document: Any) -> dict[str, Any]:
    """The counts of a command's result document (``counts``, else its top-level numbers)."""
    if not isinstance(document, dict):
        return {}
    counts = document.get("counts")
    if isinstance(counts, dict):
        return dict(counts)
    return {k: document[k] for k in _COUNT_KEYS if isinstance(document.get(k), int)}


def message(command: str, code: int, document: Any) -> dict[str, Any]:
    """The notification body."""
    doc = document if isinstance(document, dict) else {}
    host = socket.gethostname()
    counts = counts_of(doc)
    text = f"timetracker-import {command} on {host}: exit {code} ({exit_meaning(code)})"
    if counts:
        text += "; " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items())
    error = doc.get("error") if isinstance(doc.get("error"), dict) else None
    if error and error.get("message"):
        text += f"; error: {error['message']}"
    if doc.get("run_id"):
        text += f"; run {doc['run_id']}"
    body: dict[str, Any] = {
        "text": text,
        "command": command,
        "exit_code": code,
        "meaning": exit_meaning(code),
        "counts": counts,
        "run_id": doc.get("run_id"),
        "host": host,
    }
    if error:
        body["error"] = error
    return body


def notify(url: str, command: str, code: int, document: Any) -> bool:
    """POST the summary to ``url``; True when the webhook answered 2xx."""
    from timetracker_import.api.redact import redact_text

    host = urlsplit(url).hostname or "?"
    data = redact_text(json.dumps(message(command, code, document), default=str)).encode()
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:
            status = answer.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        click.echo(f"warning: notification to {host} failed: {reason}", err=True)
        return False
    if not 200 <= status < 300:
        click.echo(f"warning: notification to {host} answered HTTP {status}", err=True)
        return False
    click.echo(f"notified {host} (exit {code})", err=True)
    return True
