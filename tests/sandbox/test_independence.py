"""The sandbox shares no code with the client side (docs/sandbox.md, docs/architecture.md):
nothing under ``timetracker_import/sandbox/`` imports ``api``, ``core``, ``app``, ``files``,
``journal``, ``cli``, ``errors`` or ``mappings``, neither in its source (every module, imports
inside functions and relative ones included) nor at run time (a fresh interpreter that imports
every sandbox module and serves requests loads none of them)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import timetracker_import.sandbox as sandbox_pkg

SANDBOX = Path(sandbox_pkg.__file__).resolve().parent
PACKAGE = "timetracker_import"
CLIENT_SIDE = ("api", "core", "app", "files", "journal", "cli", "errors", "mappings")


def sandbox_modules() -> dict[str, Path]:
    """Dotted name -> file of every module of the sandbox package, subpackages included."""
    modules = {}
    for path in sorted(SANDBOX.rglob("*.py")):
        parts = path.relative_to(SANDBOX.parent.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def imported_names(module: str, path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file; relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            # "from timetracker_import import api" imports the subpackage api
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
            found.append((node.lineno, target))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.startswith(f"{PACKAGE}.")
        ):
            found.append((node.lineno, node.value))  # importlib.import_module("...") etc.
    return found


def is_client_side(name: str) -> bool:
    parts = name.split(".")
    return parts[0] == PACKAGE and len(parts) > 1 and parts[1] in CLIENT_SIDE


def test_the_walk_sees_every_sandbox_module() -> None:
    names = set(sandbox_modules())
    for expected in (
        "timetracker_import.sandbox",
        "timetracker_import.sandbox.app",
        "timetracker_import.sandbox.context",
        "timetracker_import.sandbox.pipeline",
        "timetracker_import.sandbox.routes",
        "timetracker_import.sandbox.routes.worklogs",
        "timetracker_import.sandbox.routes.batch",
        "timetracker_import.sandbox.routes.users",
        "timetracker_import.sandbox.routes.approvals",
        "timetracker_import.sandbox.routes.me",
    ):
        assert expected in names


@pytest.mark.parametrize(
    ("source", "bad"),
    [
        ("from timetracker_import.api.client import TimetrackerClient", True),
        ("import timetracker_import.core.export", True),
        ("from timetracker_import import errors", True),
        ("from ..errors import ConfigError", True),  # relative, from sandbox/context.py
        ("from .. import app", True),  # timetracker_import.app
        ("def f():\n    from timetracker_import.journal import store", True),
        ("import importlib\nimportlib.import_module('timetracker_import.cli.main')", True),
        ("from timetracker_import.sandbox.seed import Seed", False),
        ("from . import faults", False),
        ("import json", False),
    ],
)
def test_the_check_catches_client_imports(tmp_path: Path, source: str, bad: bool) -> None:
    path = tmp_path / "context.py"
    path.write_text(source + "\n", encoding="utf-8")
    names = [n for _, n in imported_names("timetracker_import.sandbox.context", path)]
    assert any(is_client_side(n) for n in names) is bad, names


def test_no_sandbox_module_imports_the_client_side() -> None:
    offences = [
        f"{path.relative_to(SANDBOX.parent.parent)}:{line}: {name}"
        for module, path in sandbox_modules().items()
        for line, name in imported_names(module, path)
        if is_client_side(name)
    ]
    assert offences == []


RUNTIME_CHECK = """
import importlib, json, sys, urllib.request
modules = json.loads(sys.argv[1])
for name in modules:
    importlib.import_module(name)
from timetracker_import.sandbox import run_sandbox_in_thread
with run_sandbox_in_thread(faults=["me#1:500"]) as sb:
    token = sb.tokens["alice@example.com"]
    calls = [
        ("GET", "me", None), ("GET", "me", None), ("GET", "users/roles", None),
        ("GET", "activityTypes", None), ("GET", "timeApproval/all", None),
        ("POST", "workLogs/batch", b'[{"length": 60, "comment": "x"}]'),
        ("POST", "workLogs", b'{"length": -1}'),
        ("GET", "workLogs/all", None),
    ]
    for method, endpoint, body in calls:
        request = urllib.request.Request(
            f"{sb.api_url}/{endpoint}?api-version=3.2", data=body, method=method,
            headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"},
        )
        try:
            urllib.request.urlopen(request).read()
        except urllib.error.HTTPError:
            pass
    urllib.request.urlopen(sb.url + "/_sandbox/stats").read()
print(json.dumps(sorted(sys.modules)))
"""


def test_a_running_sandbox_loads_no_client_module() -> None:
    result = subprocess.run(
        [sys.executable, "-c", RUNTIME_CHECK, json.dumps(sorted(sandbox_modules()))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(sandbox_modules()) <= set(loaded)  # it really imported them all
    assert [m for m in loaded if is_client_side(m)] == []
