"""Issue 21 item 8: what lands on the server, field by field, for real-layout exports.

Each sample in tests/data/fidelity/ (composed in the exporters' documented layouts,
../shared/docs/export-formats.md) is imported with its preset into a fresh sandbox through
the command line; the worklogs are then read back over plain HTTP (the sandbox's own API,
not our client) and compared with tests/golden/fidelity/<sample>.txt: the run's counts and
rejections, then per worklog the user, the start (UTC as stored, and the wall-clock time in
the import's zone), the length, billableLength and flags.isBillable, the work item, the
activity type and the comment. Refresh with UPDATE_GOLDEN=1 after checking the diff.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.cli.conftest import invoke
from tests.files.golden import assert_golden
from timetracker_import.sandbox.server import RunningSandbox

pytestmark = pytest.mark.usefixtures("cli_env")

DATA = Path(__file__).resolve().parents[1] / "data" / "fidelity"

# sample, preset, time zone, lookup files beside it, exit code
CASES = [
    # across midnight (End date), over 24 h, DST night, blank e-mail, end before start
    ("toggl-across-midnight.csv", "toggl", "Europe/Berlin", [], 1),
    # Activity -> activity type (an unknown one is rejected with the fix), Billable 1/empty
    ("kimai-activity-billable.csv", "kimai", "Europe/Berlin", [], 1),
    # Issue Key column through jira-keys.csv, a key it lacks into the comment, #1234 when
    # the column is empty, Billable Yes/No, a Break skipped, an entry across midnight
    ("clockify-eu-issue-key.csv", "clockify-eu", "Europe/Berlin", ["jira-keys.csv"], 0),
    # rows without notes get "Project / Task"; users by display name; Billable? Yes/No
    ("harvest-time-off.csv", "harvest", "America/New_York", [], 0),
    # Billed Hours as the billable length (0 and empty kept apart)
    ("tempo-billed-hours.csv", "tempo", "Europe/Berlin", ["jira-keys.csv"], 0),
    # a repeated Time Entry ID corrects the earlier row (even one with a bad date)
    ("bamboohr-corrections.csv", "bamboohr-hours", "UTC", ["bamboohr-employees.csv"], 0),
    # the old importer's format: an empty UserName is the token's own user (alice)
    ("7pace-npm-blank-user.csv", "7pace-npm", "Europe/Berlin", [], 0),
]


def landed(box: RunningSandbox, timezone: str) -> list[dict[str, Any]]:
    """Every worklog on the server, read as an administrator over HTTP."""
    request = urllib.request.Request(
        f"{box.api_url}/workLogs/all?api-version=3.2&$count=500",
        headers={"Authorization": f"Bearer {box.tokens['alice@example.com']}"},
    )
    with urllib.request.urlopen(request) as response:
        worklogs = json.loads(response.read())["data"]
    rows = []
    for w in worklogs:
        stamp = pd.Timestamp(w["timestamp"])
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
        rows.append(
            {
                "user": w["user"].get("email") or w["user"].get("uniqueName"),
                "timestamp": w["timestamp"],
                "local_start": stamp.tz_convert(timezone).strftime("%Y-%m-%d %H:%M"),
                "length": w["length"],
                "billableLength": w["billableLength"],
                "isBillable": w["flags"]["isBillable"],
                "workItemId": w["workItemId"],
                "activityType": (w.get("activityType") or {}).get("name"),
                "comment": w["comment"],
            }
        )
    return sorted(rows, key=lambda r: (r["timestamp"], r["user"]))


def render(doc: dict[str, Any], rows: list[dict[str, Any]], folder: Path) -> str:
    """The golden text: counts, rejections, notes (``folder`` shown as ``<dir>``), worklogs."""
    counts = doc["counts"]
    out = io.StringIO()
    out.write(
        "# counts: "
        + " ".join(
            f"{k}={counts[k]}"
            for k in ("rows", "created", "already_existing", "rejected", "unprocessed", "skipped")
        )
        + "\n# rejections\n"
    )
    for r in sorted(doc["rejections"], key=lambda r: r["source_row"]):
        out.write(f"{r['source_row']}\t{r['stage']}\t{r['column']}\t{r['reason']}\n")
    notes = [n.replace(str(folder), "<dir>") for n in doc["notes"]]
    out.write("# notes\n" + "".join(f"{n}\n" for n in notes) + "# landed\n")
    writer = csv.DictWriter(out, fieldnames=list(landed_fields()), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def landed_fields() -> tuple[str, ...]:
    return (
        "user",
        "timestamp",
        "local_start",
        "length",
        "billableLength",
        "isBillable",
        "workItemId",
        "activityType",
        "comment",
    )


def check_golden(name: str, text: str) -> None:
    assert_golden(f"fidelity/{name}.txt", text.encode("utf-8"))


def _import(box: RunningSandbox, path: Path, preset: str, zone: str) -> dict[str, Any]:
    result = invoke(
        box, "import", str(path), "--preset", preset, "--timezone", zone, "--yes", "--json"
    )
    assert result.exit_code in (0, 1), result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    doc["exit_code"] = result.exit_code
    assert doc["counts"]["balanced"] is True
    return doc


@pytest.mark.parametrize(
    ("sample", "preset", "zone", "lookups", "code"), CASES, ids=[c[0] for c in CASES]
)
def test_what_lands_on_the_server(
    box: RunningSandbox,
    tmp_path: Path,
    sample: str,
    preset: str,
    zone: str,
    lookups: list[str],
    code: int,
) -> None:
    for name in [sample, *lookups]:
        shutil.copy(DATA / name, tmp_path / name)
    doc = _import(box, tmp_path / sample, preset, zone)
    assert doc["exit_code"] == code
    rows = landed(box, zone)
    assert len(rows) == doc["counts"]["created"]
    check_golden(sample, render(doc, rows, tmp_path))


def test_billable_equal_to_the_length_reads_back_as_billable(
    box: RunningSandbox, tmp_path: Path
) -> None:
    # issue 21 item 2: it was sent as null and read back as not billable
    shutil.copy(DATA / "kimai-activity-billable.csv", tmp_path / "k.csv")
    _import(box, tmp_path / "k.csv", "kimai", "UTC")
    by_comment = {r["comment"]: r for r in landed(box, "UTC")}
    hero = by_comment["Hero layout #2001"]
    assert (hero["length"], hero["billableLength"], hero["isBillable"]) == (5400, 5400, True)
    sync = by_comment["Weekly sync"]  # Billable empty: Kimai's false
    assert (sync["billableLength"], sync["isBillable"]) == (0, False)


def test_a_split_file_lands_one_worklog_per_day(box: RunningSandbox, tmp_path: Path) -> None:
    shutil.copy(DATA / "toggl-across-midnight.csv", tmp_path / "t.csv")
    split = invoke(
        box,
        "convert",
        "split-days",
        str(tmp_path / "t.csv"),
        "--preset",
        "toggl",
        "--timezone",
        "Europe/Berlin",
    )
    assert split.exit_code == 1, split.stderr  # the blank user and the reversed times
    doc = _import(box, tmp_path / "t.days.csv", "split-days", "Europe/Berlin")
    assert doc["exit_code"] == 0
    check_golden("toggl-across-midnight.days", render(doc, landed(box, "Europe/Berlin"), tmp_path))
