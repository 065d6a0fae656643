"""The library where an event loop is running: docs/library.md's examples as a notebook in a
real Jupyter kernel (nbclient), and a stop signal to a process whose import runs inside
``asyncio.run``: the run stops after its first batch, resumably, and the same call again
leaves every row in the sandbox exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_library import _rows, check_doc_examples, doc_blocks
from timetracker_import.sandbox import run_sandbox_in_thread
from timetracker_import.sandbox.server import RunningSandbox

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    return tmp_path


def _env(tmp: Path, box: RunningSandbox) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMETRACKER_")}
    env.update(
        {
            "XDG_CONFIG_HOME": str(tmp / "config"),
            "TIMETRACKER_STATE_DIR": str(tmp / "state"),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            "TIMETRACKER_URL": box.url,
            "TIMETRACKER_TOKEN": box.tokens["alice@example.com"],
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }
    )
    return env


def test_docs_examples_run_in_a_jupyter_kernel(workdir: Path) -> None:
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    blocks = doc_blocks()
    # the kernel runs its cells inside its own event loop, on its main thread
    probe = "import asyncio\nasyncio.get_running_loop()\n"
    # the last cell hands back what the examples left behind: the checks run here
    report = textwrap.dedent("""\
        import pickle, base64
        keep = {k: v for k, v in globals().items() if k in WANTED}
        print("NAMESPACE " + base64.b64encode(pickle.dumps(keep)).decode())
    """).replace("WANTED", repr(_names_checked()))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in (probe, *blocks, report)]
    with run_sandbox_in_thread() as box:
        env = _env(workdir, box)
        client = nbclient.NotebookClient(
            nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
        )
        old = dict(os.environ)
        os.environ.update(env)  # the kernel inherits this environment
        try:
            client.execute()
        finally:
            os.environ.clear()
            os.environ.update(old)
    printed = "".join(
        out.get("text", "")
        for cell in nb.cells[1:-1]
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream"
    )
    namespace = _namespace(nb.cells[-1])
    check_doc_examples(namespace, printed)


def _names_checked() -> list[str]:
    return [
        "result",
        "run",
        "again",
        "undone",
        "done",
        "preview",
        "out",
        "checked",
        "sent",
        "frame_run",
        "rows",
        "same",
        "joined",
        "november",
        "runs",
    ]


def _namespace(cell: Any) -> dict[str, Any]:
    import base64
    import pickle

    text = "".join(o.get("text", "") for o in cell.get("outputs", []))
    line = next((x for x in text.splitlines() if x.startswith("NAMESPACE ")), None)
    assert line is not None, text[:500]
    return dict(pickle.loads(base64.b64decode(line.split(" ", 1)[1])))  # noqa: S301 (ours)


# --- a stop signal while an import runs inside a running event loop ---

ROWS = 60
IMPORT = textwrap.dedent("""\
    import asyncio, json, sys
    from timetracker_import import Connection, import_file

    MAPPING = {"version": 1, "timezone": "UTC", "fields": {
        "user": {"column": "Email"}, "date": {"column": "Start date"},
        "start": {"column": "Start time"}, "end": {"column": "End time"},
        "comment": {"column": "Description"}}}

    def progress(done, total):
        print(f"progress {done} {total}", flush=True)

    def run():
        return import_file("many.csv", mapping=MAPPING, connection=Connection.from_env(),
                           batch_size=5, concurrency=1, progress=progress)

    def report(result):
        print("result " + json.dumps({"exit_code": result.exit_code, "run_id": result.run_id,
                                      "counts": result.counts.to_dict()}), flush=True)
""")
CHILD = IMPORT + textwrap.dedent("""    async def main():
        # a running event loop, as in a notebook: import_file runs on a worker thread
        return run()

    report(asyncio.run(main()))
""")


@pytest.fixture
def slow_box() -> Iterator[RunningSandbox]:
    with run_sandbox_in_thread(latency_ms=60) as box:
        yield box


def _run_child(env: dict[str, str], stop: int | None) -> tuple[int, list[str]]:
    """Run the child; with ``stop``, send that signal once its first batch is done."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    lines = []
    sent = False
    for line in child.stdout:
        lines.append(line.strip())
        if (
            stop is not None
            and not sent
            and line.startswith("progress ")
            and line.split()[1] != "0"
        ):
            child.send_signal(stop)  # after the first batch
            sent = True
    code = child.wait(timeout=120)
    assert child.stderr is not None
    err = child.stderr.read()
    assert "Traceback" not in err, err
    return code, lines


def _result(lines: list[str]) -> dict[str, Any]:
    found = [x for x in lines if x.startswith("result ")]
    assert found, lines
    return dict(json.loads(found[-1].split(" ", 1)[1]))


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stop_signal_stops_the_run_resumably(
    workdir: Path, slow_box: RunningSandbox, stop: int
) -> None:
    (workdir / "many.csv").write_text(_rows(ROWS), encoding="utf-8")
    env = _env(workdir, slow_box)
    code, lines = _run_child(env, stop)
    if stop == signal.SIGINT:
        first = _result(lines)  # Ctrl-C: the result comes back, as the command's Ctrl-C
        assert code == 0 and first["exit_code"] == 130
        assert 0 < first["counts"]["created"] < ROWS
        assert first["counts"]["created"] + first["counts"]["unprocessed"] == ROWS
    else:
        # SIGTERM: the run stopped and closed its journal, then the signal ended the process
        assert code == -signal.SIGTERM
        assert not [x for x in lines if x.startswith("result ")]
    stored = slow_box.stats()["worklogs"]
    assert 0 < stored < ROWS
    code, lines = _run_child(env, None)  # the same call again
    second = _result(lines)
    assert code == 0 and second["exit_code"] == 0
    assert second["counts"]["created"] == ROWS and second["counts"]["unprocessed"] == 0
    assert slow_box.stats()["worklogs"] == ROWS  # every row exactly once


def test_the_kernels_stop_button_stops_the_run_resumably(
    workdir: Path, slow_box: RunningSandbox
) -> None:
    """Interrupting the kernel (the notebook's stop button sends SIGINT) while a cell
    imports: the cell gets the result with exit code 130; running the cell again finishes."""
    manager = pytest.importorskip("jupyter_client.manager")
    (workdir / "many.csv").write_text(_rows(ROWS), encoding="utf-8")
    km, kc = manager.start_new_kernel(
        kernel_name="python3", env=_env(workdir, slow_box), cwd=str(workdir)
    )
    try:
        _cell_output(kc, kc.execute(IMPORT))
        first = _cell_output(kc, kc.execute("report(run())"), on_progress=km.interrupt_kernel)
        assert first is not None and first["exit_code"] == 130
        assert 0 < first["counts"]["created"] < ROWS
        second = _cell_output(kc, kc.execute("report(run())"))  # the cell again
        assert second is not None and second["exit_code"] == 0
        assert second["run_id"] == first["run_id"]  # resumed
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert slow_box.stats()["worklogs"] == ROWS


def _cell_output(kc: Any, msg_id: str, on_progress: Any = None) -> dict[str, Any] | None:
    """Read cell ``msg_id``'s output until the kernel is idle again: its ``result`` line
    (None when there is none); ``on_progress`` is called once after the first batch."""
    text = ""
    while True:
        msg = kc.get_iopub_msg(timeout=120)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            text += content["text"]
            if on_progress is not None and any(
                x.startswith("progress ") and x.split()[1] != "0" for x in text.splitlines()
            ):
                on_progress()
                on_progress = None
        elif kind == "error":
            raise AssertionError("\n".join(content["traceback"]))
        elif kind == "status" and content["execution_state"] == "idle":
            found = [x for x in text.splitlines() if x.startswith("result ")]
            return dict(json.loads(found[-1].split(" ", 1)[1])) if found else None
