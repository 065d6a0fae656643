"""Benchmark: a sync of 20,000 rows through the web app against the console script.

Two sandbox processes with the same latency and the same empty start. On each, the same two
syncs: the first (20,000 rows created), then a corrected re-export (1% of the rows changed,
0.5% removed, ``prune`` inside the declared period). Each sync is a plan, then the real run:

- console script (a subprocess each): ``sync --dry-run --json``, then ``sync --yes --json``;
- web app: ``timetracker-import ui --no-open --port 0`` as a subprocess, driven over HTTP as
  the browser does: POST the setup (the plan job) and wait for the plan page, GET the plan
  page (its size and time: the first 100 of each list), POST Apply and wait for the result.

Both servers must end with the same multiset of worklogs.

Usage: ``python bench/bench_ui_sync.py [--rows 20000] [--latency-ms 50]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_import import MAPPING, sandbox  # noqa: E402
from bench_sync import CLI, corrected, multiset, rows_of, write_csv  # noqa: E402

FIRST, LAST = "2026-08-31", "2026-10-01"


def cli(env: dict[str, str], *args: str) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    proc = subprocess.run([*CLI, *args], env=env, cwd=ROOT, capture_output=True, text=True)
    took = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{args[0]} exit {proc.returncode}: {proc.stderr[-2000:]}")
    return took, json.loads(proc.stdout)


def cli_side(env: dict[str, str], mapping: Path, files: list[Path]) -> list[dict[str, Any]]:
    out = []
    for path in files:
        common = [
            "sync",
            str(path),
            "--mapping",
            str(mapping),
            "--source",
            "bench",
            "--window",
            f"{FIRST}..{LAST}",
            "--prune",
            "--json",
        ]
        t_plan, planned = cli(env, *common, "--dry-run")
        t_apply, applied = cli(env, *common, "--yes")
        out.append(
            {
                "plan": t_plan,
                "apply": t_apply,
                "planned": planned["counts"],
                "applied": applied["counts"],
            }
        )
    return out


class WebApp:
    """The ``ui`` console script in a subprocess, driven over HTTP like a browser."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [*CLI, "ui", "--no-open", "--port", "0"],
            env=env,
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stderr is not None
        link = None
        for line in self.proc.stderr:
            if "/launch?token=" in line:
                link = line.strip()
                break
        if link is None:
            raise RuntimeError("the web app did not start")
        self.launch = link
        self.base = link.split("/launch")[0]

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)

    async def run(self, url: str, token: str, files: list[Path]) -> list[dict[str, Any]]:
        import aiohttp

        out = []
        jar = aiohttp.CookieJar(unsafe=True)  # the app is on 127.0.0.1 (an IP address)
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=3600), cookie_jar=jar
        ) as s:
            await (await s.get(self.launch)).read()
            csrf = re.search(
                r'data-csrf="([^"]+)"', await (await s.get(self.base + "/connect")).text()
            )
            assert csrf, "no CSRF token"
            token_field = {"_csrf": csrf.group(1)}

            async def post(path: str, data: dict[str, str]) -> aiohttp.ClientResponse:
                return await s.post(
                    self.base + path, data={**token_field, **data}, allow_redirects=False
                )

            async def wait_job() -> str:
                while True:
                    resp = await s.get(self.base + "/job", allow_redirects=False)
                    if resp.status == 303:
                        return resp.headers["Location"]
                    if resp.status != 200:
                        raise RuntimeError(f"the job stopped: {(await resp.text())[:2000]}")
                    await asyncio.sleep(0.1)

            resp = await post("/connect", {"target": "url", "url": url, "token": token})
            assert resp.status == 303, await resp.text()
            for path in files:
                setup = {
                    "file_kind": "path",
                    "file_path": str(path),
                    "mapping": "pick",
                    "mapping_pick": "saved:bench",
                    "source": "bench",
                    "period_kind": "dates",
                    "period_from": FIRST,
                    "period_to": LAST,
                    "prune": "1",
                    "limit_kind": "default",
                }
                started = time.perf_counter()
                resp = await post("/sync", setup)
                assert resp.status == 303, await resp.text()
                assert await wait_job() == "/sync/plan"
                page = await (await s.get(self.base + "/sync/plan")).read()
                t_plan = time.perf_counter() - started
                started = time.perf_counter()
                page = await (await s.get(self.base + "/sync/plan")).read()
                t_page = time.perf_counter() - started
                planned = dict(re.findall(r'data-count="(\w+)">(\d+)<', page.decode()))
                started = time.perf_counter()
                resp = await post("/sync/apply", {})
                assert resp.status == 303, await resp.text()
                assert await wait_job() == "/sync/result"
                result = (await (await s.get(self.base + "/sync/result")).read()).decode()
                t_apply = time.perf_counter() - started
                applied = dict(re.findall(r'data-count="(\w+)">(\d+)<', result))
                out.append(
                    {
                        "plan": t_plan,
                        "page": t_page,
                        "page_bytes": len(page),
                        "apply": t_apply,
                        "planned": planned,
                        "applied": applied,
                    }
                )
        return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--latency-ms", type=float, default=50)
    args = parser.parse_args()
    base = rows_of(args.rows)
    with tempfile.TemporaryDirectory(prefix="bench-ui-sync-") as tmp:
        work = Path(tmp)
        mapping = work / "mapping.yaml"
        mapping.write_text(MAPPING, encoding="utf-8")
        files = [write_csv(work / "first.csv", base)]
        files.append(write_csv(work / "again.csv", corrected(base)))
        env = {
            **os.environ,
            "XDG_CONFIG_HOME": str(work / "config"),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        }
        env.pop("TIMETRACKER_URL", None)
        env.pop("TIMETRACKER_TOKEN", None)
        os.environ["XDG_CONFIG_HOME"] = env["XDG_CONFIG_HOME"]
        from timetracker_import import library

        library.save_mapping("bench", __import__("yaml").safe_load(MAPPING))
        finals = []
        with sandbox(work / "cli.sqlite", args.latency_ms) as (url, tokens):
            cli_env = {
                **env,
                "TIMETRACKER_URL": url,
                "TIMETRACKER_TOKEN": tokens["alice@example.com"],
                "TIMETRACKER_STATE_DIR": str(work / "state-cli"),
            }
            by_cli = cli_side(cli_env, mapping, files)
        finals.append(multiset(work / "cli.sqlite"))
        with sandbox(work / "web.sqlite", args.latency_ms) as (url, tokens):
            app = WebApp({**env, "TIMETRACKER_STATE_DIR": str(work / "state-web")})
            try:
                by_web = asyncio.run(app.run(url, tokens["alice@example.com"], files))
            finally:
                app.close()
        finals.append(multiset(work / "web.sqlite"))
    print(
        f"bench_ui_sync: {args.rows} rows, then {args.rows // 100} corrected and "
        f"{args.rows // 200} removed; {args.latency_ms:g} ms sandbox latency"
    )
    for i, label in enumerate(("first sync (all created)", "corrected re-export")):
        c, w = by_cli[i], by_web[i]
        print(f"{label}:")
        print(f"  {'':<28}{'console script':>16}{'web app':>12}")
        print(f"  {'plan (dry run), s':<28}{c['plan']:>16.2f}{w['plan']:>12.2f}")
        print(f"  {'apply, s':<28}{c['apply']:>16.2f}{w['apply']:>12.2f}")
        print(f"  plan page: {w['page_bytes'] / 1e3:.0f} kB, served again in {w['page']:.2f} s")
        cc, wc = c["applied"], w["applied"]
        print(
            f"  applied: console created {cc.get('created')}, updated {cc.get('updated')}, "
            f"deleted {cc.get('deleted')}; web created {wc.get('created')}, updated "
            f"{wc.get('updated')}, deleted {wc.get('deleted')}"
        )
    same = finals[0] == finals[1]
    print(f"both servers end equal: {same} ({sum(finals[0].values())} worklogs)")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
