"""The baseline of bench_import.py: the strategy of 7pace's old Node.js importer, as a
stand-alone program (run as a subprocess, start-up included, like the tool it is compared
with).

Reads the benchmark's CSV (User, Start, Minutes, WorkItem, Comment), resolves the users by
e-mail with one ``users`` call, then sends batches of 500 to ``workLogs/batch``: first a
``validateOnly`` pass over every batch, then a posting pass, one request at a time. It uses
aiohttp and the standard library only (a lighter start-up than the tool's, which favours
the baseline). Prints one JSON line: {"rows", "requests", "seconds_setup", "seconds_validate",
"seconds_post"}.

Usage: ``python bench/old_importer.py FILE`` with TIMETRACKER_URL and TIMETRACKER_TOKEN set.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import sys
import time

BATCH = 500


async def main(path: str) -> int:
    import aiohttp
    import yarl

    root = os.environ["TIMETRACKER_URL"].rstrip("/") + "/api/rest"
    headers = {"Authorization": f"Bearer {os.environ['TIMETRACKER_TOKEN']}"}
    version = {"api-version": "3.2"}
    started = time.perf_counter()
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.get(f"{root}/users", params=version) as resp:
            resp.raise_for_status()
            payload = await resp.json()
        users = {u["email"].lower(): u["id"] for u in payload.get("data", payload)}
        with open(path, newline="", encoding="utf-8") as handle:
            bodies = [
                {
                    "timeStamp": row["Start"],
                    "length": int(row["Minutes"]) * 60,
                    "workItemId": int(row["WorkItem"]),
                    "comment": row["Comment"],
                    "userId": users[row["User"].lower()],
                }
                for row in csv.DictReader(handle)
            ]
        batches = [bodies[i : i + BATCH] for i in range(0, len(bodies), BATCH)]
        setup = time.perf_counter() - started
        seconds = {}
        requests = 0
        for validate_only in (True, False):
            t0 = time.perf_counter()
            # the API wants a literal "$" in query names (aiohttp would encode it)
            query = "api-version=3.2" + (
                "&validateOnly=true&$validateOnly=true" if validate_only else ""
            )
            url = yarl.URL(f"{root}/workLogs/batch?{query}", encoded=True)
            for batch in batches:
                async with session.post(url, json=batch) as resp:
                    requests += 1
                    if resp.status >= 300:
                        print(f"batch refused: {resp.status} {await resp.text()}", file=sys.stderr)
                        return 1
                    await resp.read()
            seconds["validate" if validate_only else "post"] = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "rows": len(bodies),
                "requests": requests,
                "seconds_setup": setup,
                "seconds_validate": seconds["validate"],
                "seconds_post": seconds["post"],
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(sys.argv[1])))
