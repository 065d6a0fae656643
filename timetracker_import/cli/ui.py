"""``timetracker-import ui``: the local web app (a wizard from file to import and undo)."""

from __future__ import annotations

import click


@click.command("ui")
@click.option(
    "--port",
    default=8766,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port (0 = any free port).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to serve on; only loopback unless --allow-remote.",
)
@click.option("--no-open", is_flag=True, help="Print the link but do not open a browser.")
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow a non-loopback --host (plain HTTP: only on a network you trust).",
)
def ui(port: int, host: str, no_open: bool, allow_remote: bool) -> int:
    """Serve the web app on this machine and open it in the browser.

    Prints a link with a one-time launch token; only the browser that opened it gets in.
    The app walks through choosing the file, mapping its columns, validating, connecting,
    a dry run, the import with live progress, and undo; see docs/ui.md. Stop with Ctrl-C.
    """
    from timetracker_import.ui.server import serve

    serve(
        host=host,
        port=port,
        open_browser=not no_open,
        allow_remote=allow_remote,
        echo=lambda text: click.echo(text, err=True),
    )
    return 0
