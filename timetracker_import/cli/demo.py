"""``timetracker-import demo``: the quick start on shipped sample data and a sandbox it starts."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("demo")
@click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    default="timetracker-import-demo",
    show_default=True,
    help="Directory for the reports, the rejected rows and the demo's own journal.",
)
def demo(out: Path) -> int:
    """Run the quick start end to end: start an embedded 7pace sandbox (in memory, on a free
    loopback port), then validate the shipped sample workbook, import it as a dry run and
    for real, list the runs and show what undo would delete. Nothing leaves this machine.

    The sample has deliberate mistakes: the import ends with rejected rows (exit 1 of the
    import), which the demo expects; it exits 0 when every step behaved.
    """
    from timetracker_import import library

    return library.demo(out, say=click.echo)
