"""The Examples section of every ``--help`` (and so of docs/cli.md).

One place for all of them, keyed by the command's path, attached as the command's epilog
when ``cli.main`` loads it. tests/cli/test_help_examples.py checks that every command has
examples and that every example line parses with the command's real options.
"""

from __future__ import annotations

import click

#: command path (without the program name) -> example command lines, each with an
#: optional "  # comment" (the group's own examples are in ``cli.main``)
EXAMPLES: dict[str, list[str]] = {
    "demo": [
        "timetracker-import demo",
        "timetracker-import demo --out /tmp/tt-demo",
    ],
    "sandbox": [
        "timetracker-import sandbox --port 8765",
        "timetracker-import sandbox --port 8765 --latency-ms 50 --fault 'batch#3:500'",
        "timetracker-import sandbox --db sandbox.sqlite --seed approvals",
    ],
    "ui": [
        "timetracker-import ui",
        "timetracker-import ui --port 8766 --no-open",
    ],
    "validate": [
        "timetracker-import validate hours.csv --preset toggl",
        "timetracker-import validate hours.xlsx --mapping mapping.yaml --report out/check.html",
        "timetracker-import validate - --preset auto --json < hours.csv   # - reads stdin",
    ],
    "import": [
        "timetracker-import import hours.csv --preset toggl --dry-run",
        "timetracker-import import hours.csv --preset toggl --yes --report out/import.html",
        "timetracker-import import hours.csv --mapping m.yaml --yes --json --notify https://hooks.example.com/T0",
    ],
    "sync": [
        "timetracker-import sync hr.csv --preset bamboohr-hours --timezone Europe/Berlin --dry-run",
        "timetracker-import sync hr.csv --preset bamboohr-hours --timezone Europe/Berlin --source payroll --window week:previous --prune --yes",
        "timetracker-import sync hr.csv --preset bamboohr-hours --timezone Europe/Berlin --window 2026-11-01..2026-11-30 --prune --max-delete 40 --yes",
        "timetracker-import sync hr.csv --preset bamboohr-hours --timezone UTC --yes --ledger state/ledger.sqlite --report out/sync.html",
    ],
    "export": [
        "timetracker-import export --from 2026-10-01 --to 2026-10-31 -o oct.xlsx",
        "timetracker-import export --mine --timezone Europe/Berlin -o - > mine.csv",
        "timetracker-import export --profile east --profile west --format ndjson -o all.ndjson",
    ],
    "me": ["timetracker-import me", "timetracker-import me --json"],
    "users": [
        "timetracker-import users",
        "timetracker-import users --format csv > users.csv",
        "timetracker-import users --json",
    ],
    "activity-types": [
        "timetracker-import activity-types",
        "timetracker-import activity-types --json",
    ],
    "auth": [
        "timetracker-import auth login --url https://contoso.timehub.7pace.com",
        "timetracker-import auth status",
    ],
    "auth login": [
        "timetracker-import auth login --url https://contoso.timehub.7pace.com",
        "timetracker-import auth login --profile work --org contoso     # creates the profile",
    ],
    "auth status": [
        "timetracker-import auth status",
        "timetracker-import auth status --profile work",
    ],
    "auth logout": [
        "timetracker-import auth logout",
        "timetracker-import auth logout --profile work",
    ],
    "runs": [
        "timetracker-import runs list",
        "timetracker-import runs undo RUN_ID --dry-run",
        "timetracker-import runs prune --older-than 30d",
    ],
    "runs list": ["timetracker-import runs list", "timetracker-import runs list --json"],
    "runs show": [
        "timetracker-import runs show RUN_ID",
        "timetracker-import runs show RUN_ID --json",
    ],
    "runs undo": [
        "timetracker-import runs undo RUN_ID --dry-run      # what it would delete",
        "timetracker-import runs undo RUN_ID                # shows that, then asks",
        "timetracker-import runs undo RUN_ID --yes --json   # unattended",
    ],
    "runs prune": [
        "timetracker-import runs prune --older-than 30d --dry-run",
        "timetracker-import runs prune --older-than 30d",
        "timetracker-import runs prune --older-than 90d --include-undoable",
    ],
    "mapping": [
        "timetracker-import mapping presets",
        "timetracker-import mapping init export.csv -o mapping.yaml",
    ],
    "mapping presets": ["timetracker-import mapping presets"],
    "mapping show": ["timetracker-import mapping show toggl > my-toggl.yaml"],
    "mapping schema": ["timetracker-import mapping schema > mapping.schema.json"],
    "mapping init": [
        "timetracker-import mapping init export.csv -o mapping.yaml",
    ],
    "mapping check": [
        "timetracker-import mapping check --preset toggl export.csv --rows 5",
        "timetracker-import mapping check --mapping mapping.yaml export.csv",
    ],
    "worklogs": [
        "timetracker-import worklogs update edited.csv --dry-run",
        "timetracker-import worklogs delete --id 101 --id 102",
    ],
    "worklogs update": [
        "timetracker-import export --from 2026-10-01 --to 2026-10-31 -o oct.csv   # then edit it",
        "timetracker-import worklogs update oct.csv --dry-run",
        "timetracker-import worklogs update oct.csv",
    ],
    "worklogs delete": [
        "timetracker-import worklogs delete --id 101 --id 102 --dry-run",
        "timetracker-import worklogs delete wrong.csv --yes",
    ],
    "roles": ["timetracker-import roles list", "timetracker-import roles set roles.csv"],
    "roles list": [
        "timetracker-import roles list",
        "timetracker-import roles list --include-none -o roles.xlsx",
        "timetracker-import roles list --json",
    ],
    "roles set": [
        "timetracker-import roles set roles.csv",
        "timetracker-import roles set roles.xlsx --skip-errors",
    ],
    "approvals": [
        "timetracker-import approvals list --from 2026-10-01 --to 2026-10-31",
        "timetracker-import approvals submit 2026-10-05 --manager boss@example.com",
    ],
    "approvals list": [
        "timetracker-import approvals list --from 2026-10-01 --to 2026-10-31",
        "timetracker-import approvals list --state submitted --json",
    ],
    "approvals submit": [
        "timetracker-import approvals submit 2026-10-05 --manager boss@example.com"
    ],
    "approvals revoke": ["timetracker-import approvals revoke 2026-10-05"],
    "convert": ["timetracker-import convert jira jira-export.csv"],
    "convert jira": [
        "timetracker-import convert jira jira-export.csv",
        "timetracker-import convert jira jira-export.xlsx -o worklogs.xlsx",
    ],
    "convert split-days": [
        "timetracker-import convert split-days export.csv --preset toggl --timezone Europe/Berlin",
        "timetracker-import convert split-days shifts.xlsx --mapping shifts.yaml -o shifts.days.xlsx",
    ],
    "ledger": ["timetracker-import ledger show", "timetracker-import ledger export -o ledger.csv"],
    "ledger show": ["timetracker-import ledger show", "timetracker-import ledger show --json"],
    "ledger export": ["timetracker-import ledger export -o ledger.csv"],
    "ledger rebuild": ["timetracker-import ledger rebuild hr.csv --preset bamboohr-hours"],
    # the drop-in for 7pace's old npm importer (its own entry point)
    "import-worklogs": [
        "import-worklogs -f hours.csv -m -o contoso        # TIMETRACKER_TOKEN set",
        "import-worklogs -f hours.xlsx --api http://tfs:8080 -o DefaultCollection -a ntlm -u 'CONTOSO\\alice'",
    ],
}


def epilog(path: str) -> str | None:
    """The Examples section of the command at ``path`` (click keeps ``\\b`` paragraphs as
    written), or None when there is none."""
    lines = EXAMPLES.get(path)
    if not lines:
        return None
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


def attach(command: click.Command, path: str) -> None:
    """Give ``command`` and, for a group, each of its subcommands their Examples."""
    if command.epilog is None:
        command.epilog = epilog(path)
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            attach(sub, f"{path} {name}".strip())
