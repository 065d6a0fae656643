"""Benchmark: the library's `validate` of the same rows given as a file and as a DataFrame.

A DataFrame is written once as UTF-8 CSV to `<state dir>/frames` (cells as an export has
them) and then read like any file, so it costs what the file costs plus writing that CSV.
Each case runs in a fresh Python process (the library imported as a notebook would):

- file:       validate(PATH, preset="7pace-npm")
- DataFrame:  frame = pandas.read_csv(PATH, dtype=str); validate(frame, preset="7pace-npm")
- read only:  pandas.read_csv(PATH, dtype=str) (what building the frame costs by itself)

Prints wall time, CPU time (user + sys) and peak RSS, best of --repeat runs, and the ratios
to the file case. The rows are bench_validate.py's (7pace-npm layout, fixed seed).

    .venv/bin/python bench/bench_frames.py                # 100,000 rows
    .venv/bin/python bench/bench_frames.py --rows 250000 --repeat 5
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from bench_validate import Figures, generate, measure

VALIDATE = (
    "from timetracker_import import validate\n"
    "r = validate({source}, preset='7pace-npm', timezone='Europe/Berlin')\n"
    "assert r.rows == {rows}, r.rows\n"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (best kept)")
    args = parser.parse_args()
    rows, repeat = args.rows, max(1, args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "worklogs.csv"
        generate(path, rows)
        os.environ["TIMETRACKER_STATE_DIR"] = str(Path(tmp) / "state")
        read = f"import pandas as pd\nframe = pd.read_csv({str(path)!r}, dtype=str)\n"
        cases = {
            "file": VALIDATE.format(source=repr(str(path)), rows=rows),
            "DataFrame": read + VALIDATE.format(source="frame", rows=rows),
            "read_csv only": read,
        }
        figures: dict[str, Figures] = {
            name: measure([sys.executable, "-c", code], repeat) for name, code in cases.items()
        }
        size_mb = path.stat().st_size / 2**20
    base = figures["file"]
    print(f"validate, rows {rows:,}, file {size_mb:.1f} MB (best of {repeat}, fresh process each)")
    print(f"{'':16}{'wall s':>9}{'cpu s':>9}{'peak RSS MB':>13}{'exit':>6}   vs file")
    for name, f in figures.items():
        ratio = f"wall {f.wall / base.wall:.2f}x, cpu {f.cpu / base.cpu:.2f}x, RSS {f.rss / base.rss:.2f}x"
        print(f"{name:16}{f.wall:>9.2f}{f.cpu:>9.2f}{f.rss:>13.0f}{f.exit_code:>6}   {ratio}")


if __name__ == "__main__":
    main()
