"""The import rules of docs/architecture.md hold: ``cli -> ui -> library -> app -> (files |
api | journal) -> core -> errors``, nothing imports ``cli``, ``core`` is pure, the sandbox
shares no code with the client, ``ui`` reaches the package only through ``library.py``,
``cli`` reaches it through ``library.py`` (but for the listed imports not yet converted), and
no modules import each other in a circle. The rules are import-linter contracts in
pyproject.toml; each one is shown to fail on a copy of the package that breaks it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import timetracker_import

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "pyproject.toml"
PACKAGE = Path(timetracker_import.__file__).resolve().parent

#: The imports the contracts let through, each with why. The test fails when one is added
#: (or one goes: then import-linter reports it unmatched), so the list cannot grow unseen.
EXCEPTIONS = {
    "layers": {
        # the User-Agent's version from the package root; the root's __getattr__ loads
        # library.py only when one of its names is asked for
        "timetracker_import.api.client -> timetracker_import",
        # sample_data/ ships inside the package through package-dir: not a module of the tree
        "timetracker_import.app.demo -> timetracker_import",
    },
    "ui-library": {
        # `make ui`: the web app on a fresh sandbox (a demo, not a page of the app)
        "timetracker_import.ui.demo -> timetracker_import.sandbox",
    },
    "cli-library": {
        # not yet through the library (issue 20 item 4): this set may only shrink
        "timetracker_import.cli.evidence -> timetracker_import.api.redact",
        "timetracker_import.cli.evidence -> timetracker_import.files.writers",
        "timetracker_import.cli.importer -> timetracker_import.app.importer",
        "timetracker_import.cli.importer -> timetracker_import.app.multi_org",
        "timetracker_import.cli.legacy -> timetracker_import.app.multi_org",
        "timetracker_import.cli.legacy_options -> timetracker_import.api.redact",
        "timetracker_import.cli.legacy_options -> timetracker_import.api.settings",
        "timetracker_import.cli.legacy_options -> timetracker_import.app.multi_org",
        "timetracker_import.cli.legacy_run -> timetracker_import.api.settings",
        "timetracker_import.cli.legacy_run -> timetracker_import.app.importer",
        "timetracker_import.cli.legacy_run -> timetracker_import.app.multi_org",
        "timetracker_import.cli.legacy_run -> timetracker_import.files.readers",
        "timetracker_import.cli.main -> timetracker_import.api.redact",
        "timetracker_import.cli.notify -> timetracker_import.api.redact",
        "timetracker_import.cli.options -> timetracker_import.api.redact",
        "timetracker_import.cli.options -> timetracker_import.api.settings",
        "timetracker_import.cli.options -> timetracker_import.app.limiter",
        "timetracker_import.cli.sandbox -> timetracker_import.api.settings",
        "timetracker_import.cli.validate -> timetracker_import.api.protocol",
    },
}

#: contract id -> (module of the package, an import that breaks the contract there)
BREAKS = {
    "layers": ("core/zone.py", "from timetracker_import.journal import lock"),
    "no-cli": ("journal/store.py", "import timetracker_import.cli.render"),
    "pure-core": ("core/zone.py", "import sqlite3"),
    "sandbox-apart": ("sandbox/weeks.py", "from timetracker_import.core import zone"),
    "ui-library": ("ui/render.py", "from timetracker_import.journal import store"),
    "cli-library": ("cli/runs.py", "from timetracker_import.journal import store"),
    "no-circles": ("files/cells.py", "from timetracker_import.files import readers"),
}


def contracts() -> list[dict[str, object]]:
    data = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    found: list[dict[str, object]] = data["tool"]["importlinter"]["contracts"]
    return found


def lint_imports(
    cwd: Path, *args: str, pythonpath: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` with the repository's contracts; ``pythonpath`` puts another copy of
    the package first on the import path."""
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    command = "from importlinter.cli import lint_imports_command; lint_imports_command()"
    return subprocess.run(
        [sys.executable, "-c", command, str(CONFIG), "--no-cache", "--no-logo", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_package_keeps_every_contract(tmp_path: Path) -> None:
    result = lint_imports(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_exceptions_are_the_listed_ones() -> None:
    ignored = {}
    for contract in contracts():
        listed = contract.get("ignore_imports")
        if isinstance(listed, list):
            ignored[str(contract["id"])] = set(listed)
    assert ignored == EXCEPTIONS


def test_every_contract_is_shown_to_break() -> None:
    assert {str(c["id"]) for c in contracts()} == set(BREAKS)


@pytest.mark.parametrize("contract", sorted(BREAKS))
def test_a_contract_fails_when_its_rule_is_broken(contract: str, tmp_path: Path) -> None:
    module, line = BREAKS[contract]
    copy = tmp_path / "src" / "timetracker_import"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    with (copy / module).open("a", encoding="utf-8") as handle:
        handle.write(f"\n{line}\n")
    result = lint_imports(tmp_path, "--contract", contract, pythonpath=tmp_path / "src")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout and "1 broken" in result.stdout, result.stdout
