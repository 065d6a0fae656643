"""The scheduler recipes in docs/recipes/ are rendered (their placeholders pointed at a job
directory, a sandbox and this virtualenv) and their command lines run as the scheduler would:
cron's minimal environment in another directory, systemd's WorkingDirectory, Environment and
credential, GitHub Actions' and Azure Pipelines' run steps with their env and secrets."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from tests.cli.test_evidence import Hook
from tests.helpers import MAPPING, make_rows, server_comments, write_rows
from timetracker_import import __version__
from timetracker_import.sandbox import RunningSandbox

RECIPES = Path(__file__).resolve().parent.parent / "docs" / "recipes"
JOB = "/srv/timetracker"  # the job directory the recipes are written for
PIP_SPEC = f'pip install "timetracker-import=={__version__}"'


def recent_rows(count: int) -> list[dict[str, object]]:
    """Rows of the day before yesterday: the recipes declare a period of the last 14 days."""
    start = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0)
    return make_rows(count, start=start - timedelta(days=2))


@pytest.fixture
def job(tmp_path: Path, sandbox: RunningSandbox) -> Path:
    """A job directory as docs/recipes.md lays it out, with this virtualenv as its venv and
    a profile ``payroll`` pointing at the sandbox."""
    job = tmp_path / "job"
    (job / "exports").mkdir(parents=True)
    shutil.copy(RECIPES / "timetracker-sync.sh", job)
    (job / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    write_rows(job / "exports" / "hours.csv", recent_rows(5))
    (job / "venv").symlink_to(sys.prefix, target_is_directory=True)
    token = job / "token"
    token.write_text(sandbox.tokens["alice@example.com"] + "\n")
    token.chmod(0o600)
    profiles = tmp_path / "config" / "timetracker-import" / "profiles.toml"
    profiles.parent.mkdir(parents=True)
    profiles.write_text(f'[profiles.payroll]\nurl = "{sandbox.url}"\n')
    profiles.chmod(0o600)
    return job


def base_env(job: Path) -> dict[str, str]:
    """What a scheduler gives a job: little more than HOME (and where our config lives)."""
    return {
        "HOME": str(job.parent),
        "XDG_CONFIG_HOME": str(job.parent / "config"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "LANG": "C.UTF-8",
    }


def render(text: str, job: Path) -> str:
    return text.replace(JOB, str(job))


def run_sh(command: str, env: dict[str, str], cwd: Path) -> int:
    done = subprocess.run(["sh", "-c", command], env=env, cwd=cwd, timeout=300, check=False)
    return done.returncode


def today_report(job: Path) -> dict[str, object]:
    from datetime import date

    text = (job / "reports" / f"sync-{date.today().isoformat()}.json").read_text()
    doc = json.loads(text)
    assert isinstance(doc, dict)
    assert (job / "reports" / f"sync-{date.today().isoformat()}.html").is_file()
    return doc


def test_cron_recipe(job: Path, sandbox: RunningSandbox, tmp_path: Path) -> None:
    lines = [
        ln
        for ln in render((RECIPES / "crontab").read_text(), job).splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    env = base_env(job)
    schedule = []
    for line in lines:
        if re.match(r"^[A-Z_]+=", line):
            key, value = line.split("=", 1)
            env[key] = value
        else:
            schedule.append(line)
    (entry,) = schedule
    fields = entry.split(None, 5)
    assert all(re.fullmatch(r"[\d*/,-]+", f) for f in fields[:5]), entry
    assert "TIMETRACKER_TOKEN" not in env  # a token file, never the token in the crontab
    assert env["TIMETRACKER_TOKEN_FILE"] == str(job / "token")
    (job / "reports").mkdir()  # the crontab's redirection needs it before the script runs
    home = tmp_path / "home"
    home.mkdir()
    assert run_sh(fields[5], env, cwd=home) == 0, (job / "reports" / "cron.log").read_text()
    doc = today_report(job)
    assert doc["counts"]["created"] == 5  # type: ignore[index]
    assert sum(server_comments(sandbox).values()) == 5
    assert (job / "state" / "ledger.sqlite").is_file()  # the kept state directory
    assert list((job / "state" / "runs").iterdir())
    assert (job / "reports" / "prune.log").is_file()
    assert sandbox.tokens["alice@example.com"] not in (job / "reports" / "cron.log").read_text()


def unit_file(path: Path, job: Path) -> dict[str, list[str]]:
    """A systemd unit as key -> values (keys may repeat)."""
    keys: dict[str, list[str]] = {}
    for line in render(path.read_text(), job).splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            keys.setdefault(key.strip(), []).append(value.strip())
    return keys


def test_systemd_recipe(job: Path, sandbox: RunningSandbox, tmp_path: Path) -> None:
    service = unit_file(RECIPES / "timetracker-sync.service", job)
    timer = unit_file(RECIPES / "timetracker-sync.timer", job)
    assert timer["Unit"] == ["timetracker-sync.service"]
    assert timer["Persistent"] == ["true"] and timer["OnCalendar"]
    assert service["Type"] == ["oneshot"]
    if shutil.which("systemd-analyze"):
        check = subprocess.run(
            ["systemd-analyze", "calendar", timer["OnCalendar"][0]],
            capture_output=True,
            check=False,
        )
        assert check.returncode == 0, check.stderr
    # LoadCredential=NAME:PATH gives the service a private copy in %d
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    name, _ = service["LoadCredential"][0].split(":", 1)
    shutil.copy(job / "token", credentials / name)
    (credentials / name).chmod(0o600)
    env = base_env(job)
    for item in service["Environment"]:
        key, value = item.split("=", 1)
        env[key] = value.replace("%d", str(credentials))
    cwd = Path(service["WorkingDirectory"][0])
    assert cwd == job
    assert run_sh(service["ExecStart"][0], env, cwd=cwd) == 0
    assert today_report(job)["counts"]["created"] == 5  # type: ignore[index]
    # the next night: nothing changed, nothing is sent again
    assert run_sh(service["ExecStart"][0], env, cwd=cwd) == 0
    counts = today_report(job)["counts"]
    assert counts["unchanged"] == 5 and counts["created"] == 0  # type: ignore[index]
    assert sum(server_comments(sandbox).values()) == 5


def ci_run_steps(steps: list[dict[str, object]], key: str) -> list[str]:
    """The shell lines of the run steps; a pip install must pin this version."""
    lines = []
    for step in steps:
        command = step.get(key)
        if isinstance(command, str):
            if command.startswith("pip install"):
                assert command == PIP_SPEC, command
            else:
                lines.append(command)
    return lines


def test_github_actions_recipe(job: Path, sandbox: RunningSandbox) -> None:
    flow = yaml.safe_load((RECIPES / "github-actions.yml").read_text())
    (sync,) = flow["jobs"].values()
    steps = sync["steps"]
    uses = {step["uses"].split("@")[0]: step for step in steps if "uses" in step}
    assert uses["actions/cache/restore"]["with"]["path"] == "state"
    save = uses["actions/cache/save"]
    assert save["with"]["path"] == "state" and save["if"] == "always()"  # kept after failures
    assert uses["actions/upload-artifact"]["with"]["path"] == "reports/"
    assert uses["actions/upload-artifact"]["if"] == "always()"
    assert sync["env"]["TIMETRACKER_STATE_DIR"] == "${{ github.workspace }}/state"
    assert flow["concurrency"]
    # a failing night: one row is rejected, so the job fails and the webhook is told
    rows = recent_rows(5)
    rows[2]["Minutes"] = "-15"
    write_rows(job / "exports" / "hours.csv", rows)
    hook = Hook()
    try:
        values = {
            "${{ secrets.SEVENPACE_TOKEN }}": sandbox.tokens["alice@example.com"],
            "${{ secrets.TEAMS_WEBHOOK_URL }}": hook.url,
            "${{ github.workspace }}": str(job),
            "https://contoso.timehub.7pace.com": sandbox.url,
        }
        env = base_env(job)
        for key, value in sync["env"].items():
            for placeholder, real in values.items():
                value = value.replace(placeholder, real)
            env[key] = value
        env["PATH"] = f"{Path(sys.executable).parent}:/usr/bin:/bin"
        codes = [run_sh(line, env, cwd=job) for line in ci_run_steps(steps, "run")]
    finally:
        hook.close()
    assert codes == [1]  # rows rejected: the step fails, somebody looks at the report
    doc = today_report(job)
    assert doc["counts"]["created"] == 4 and doc["counts"]["rejected"] == 1  # type: ignore[index]
    (body,) = hook.bodies
    assert body["exit_code"] == 1 and body["command"] == "sync"
    assert sandbox.tokens["alice@example.com"] not in json.dumps(body)
    assert (job / "state" / "ledger.sqlite").is_file()


def test_azure_pipelines_recipe(job: Path, sandbox: RunningSandbox) -> None:
    pipeline = yaml.safe_load((RECIPES / "azure-pipelines.yml").read_text())
    (sync,) = pipeline["jobs"]
    steps = sync["steps"]
    cache = next(s for s in steps if s.get("task") == "Cache@2")
    assert cache["inputs"]["path"] == "$(TIMETRACKER_STATE_DIR)"
    assert sync["variables"]["TIMETRACKER_STATE_DIR"] == "$(Pipeline.Workspace)/state"
    publish = next(s for s in steps if "publish" in s)
    assert publish["publish"] == "reports" and publish["condition"] == "always()"
    values = {
        "$(Pipeline.Workspace)": str(job),
        "$(SEVENPACE_TOKEN)": sandbox.tokens["alice@example.com"],
        "$(TEAMS_WEBHOOK_URL)": "",
        "https://contoso.timehub.7pace.com": sandbox.url,
    }

    def fill(value: str) -> str:
        for placeholder, real in values.items():
            value = value.replace(placeholder, real)
        return value

    env = base_env(job)
    env["PATH"] = f"{Path(sys.executable).parent}:/usr/bin:/bin"
    env["TIMETRACKER_STATE_DIR"] = fill(sync["variables"]["TIMETRACKER_STATE_DIR"])
    codes = []
    for step in steps:
        if isinstance(step.get("script"), str) and not step["script"].startswith("pip install"):
            step_env = {**env, **{k: fill(v) for k, v in step.get("env", {}).items()}}
            codes.append(run_sh(step["script"], step_env, cwd=job))
    assert ci_run_steps(steps, "script")  # the pip line pinned, the sync line kept
    assert codes == [0]
    assert today_report(job)["counts"]["created"] == 5  # type: ignore[index]
    assert sum(server_comments(sandbox).values()) == 5
    assert (job / "state" / "ledger.sqlite").is_file()


def test_recipes_are_in_the_docs_and_the_readme() -> None:
    guide = (RECIPES.parent / "recipes.md").read_text(encoding="utf-8")
    for path in RECIPES.iterdir():
        assert f"recipes/{path.name}" in guide, path.name
    assert os.access(RECIPES / "timetracker-sync.sh", os.X_OK)
    readme = (RECIPES.parent.parent / "README.md").read_text(encoding="utf-8")
    assert "docs/recipes.md" in readme
