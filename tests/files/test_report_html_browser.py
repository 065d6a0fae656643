"""The HTML report rendered by a real headless Chromium, loaded over file://."""

from __future__ import annotations

import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import pytest

from tests.core.test_report import sample_report
from timetracker_import.files.report_html import write_html_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (CI installs it with apt-get in .ci/run; "
    "locally: apt-get install chromium)",
)


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def _text(fragment: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def test_report_renders_in_chromium(tmp_path: Path) -> None:
    page = write_html_report(sample_report(), tmp_path / "report.html")
    url = page.resolve().as_uri()

    done = _chromium(tmp_path, "--dump-dom", url)
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    # the grid's totals, as the browser parsed them
    grand = re.search(r'<td class="num" id="grand-total">([^<]*)</td>', dom)
    assert grand is not None and grand.group(1) == "105.00"
    foot = re.search(r'<tr class="totals">(.*?)</tr>', dom, re.S)
    assert foot is not None and _text(foot.group(1)) == "Total 28.00 73.00 4.00 105.00"
    bob = re.search(r'<tr data-user="bob@example.com">(.*?)</tr>', dom, re.S)
    assert bob is not None and _text(bob.group(1)) == "bob@example.com 65.00 4.00 69.00"
    # the flag texts
    text = _text(dom)
    for expected in (
        "Days over 24 h (1)",
        "alice@example.com worked 25.00 h on 2024-01-03 (Wed)",
        "Weeks over 60 h (1)",
        "bob@example.com worked 65.00 h in 2024-W02",
        "row 3 starts at 2024-01-03 09:00 while row 2 is still running (1.00 h overlap)",
        "Rows in locked weeks (2)",
        "rounding changed the total by -42 s",
        "3 × validate · Duration — length must be > 0, got …",
    ):
        assert expected in text, expected

    shot = tmp_path / "report.png"
    done = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", url)
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 50_000  # a blank page of this size is ~12 KB
