"""The wizard's state (one person, one browser, kept in memory) and its background jobs."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from timetracker_import import library as lib
from timetracker_import.errors import Interrupted, TimetrackerError
from timetracker_import.ui.mapping_form import MappingChoice

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileInfo:
    """The chosen input file: where it is, what the user calls it, its header row."""

    path: Path
    label: str  # the uploaded name or the path typed
    table: lib.TableInfo
    detection: lib.PresetDetection | None = None
    corrected_from: Path | None = None  # a corrected copy: the original it came from

    @property
    def headers(self) -> tuple[str, ...]:
        return self.table.headers

    @property
    def sheet(self) -> str | None:
        return self.table.sheet


#: jobs whose result tells a Cancel itself (what was done before it, what is left)
KEEPS_RESULT = frozenset({"import", "sync", "undo"})


class Cancelled(Exception):
    """A job's Cancel was pressed before its work could stop by itself."""


@dataclass
class Job:
    """Work that takes longer than a second, run in a worker thread. The page follows it
    over server-sent events (``done``/``total`` when known, else the time elapsed) and its
    Cancel button sets ``cancel``: work that can stop (dry run, import, sync, undo) stops
    (resumably; an import's, a sync's or an undo's result tells what was done before the
    stop); work that cannot (reading a file) is abandoned, its result dropped."""

    kind: str  # read | validate | dryrun | import | undo | undo-check | sync-plan | sync
    title: str
    next_url: str  # where the page goes when the job is over
    cancellable: bool = True
    done: int = 0
    total: int = 0
    unit: str = "rows sent"  # what ``done`` counts ("3 of 10 rows sent")
    phase: str = "starting"
    started: float = field(default_factory=time.monotonic)
    cancel: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: tuple[str, str | None] | None = None
    cancelled: bool = False  # stopped (or abandoned) by Cancel
    #: an import waiting for the person to confirm: what it is about to do
    confirm: Any = None
    answer: threading.Event = field(default_factory=threading.Event)
    approved: bool = False
    context: dict[str, Any] = field(default_factory=dict)

    def progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        self.phase = "sending"

    def ask(self, info: Any) -> bool:
        """The import's ``confirm``: wait (in the worker) for the person's answer."""
        self.confirm, self.phase = info, "confirm"
        while not self.answer.wait(0.5):
            if self.cancel.is_set():
                return False
        self.phase = "sending"
        return self.approved

    def run(self, work: Callable[[Job], Any]) -> None:
        """Run ``work(self)`` in a daemon thread; errors a user can fix become ``error``."""

        def main() -> None:
            try:
                result = work(self)
                if self.cancel.is_set() and self.kind not in KEEPS_RESULT:
                    self.cancelled = True  # stopped or abandoned: the result is dropped
                else:
                    self.result = result  # an import's result tells a late Cancel itself
            except Interrupted as exc:
                self.cancelled, self.error = True, (exc.message, exc.hint)
            except Cancelled:
                self.cancelled = True
            except TimetrackerError as exc:
                self.error = (exc.message, exc.hint)
            except Exception:
                log.exception("%s failed", self.title)
                self.error = (
                    "the app stopped on an unexpected error (a bug, not your data)",
                    "the details are in the terminal running the app; try again",
                )
            finally:
                self.finished.set()

        threading.Thread(target=main, name=f"tti-{self.kind}", daemon=True).start()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


@dataclass
class Wizard:
    """Everything chosen so far. Changing an earlier step clears what depended on it.
    Uploads live in ``uploads_dir`` (private, kept across restarts until pruned)."""

    work_dir: Path
    uploads_dir: Path | None = None
    file: FileInfo | None = None
    mapping: MappingChoice | None = None
    checked: Any = None  # the library's ValidateResult of the current file and mapping
    edits: dict[int, dict[int, str]] = field(default_factory=dict)  # fixes in place
    connection: Any = None  # lib.Identity
    dry_run: Any = None  # the library's ImportResult of the last dry run
    sync_setup: Any = None  # ui.sync_form.SyncSetup: the Sync page's setup
    sync_plan: Any = None  # ui.steps.sync.SyncPlan: the setup and its planned SyncResult
    last_sync: Job | None = None
    job: Job | None = None  # the running (or last) background job
    last_import: Job | None = None
    uploads: int = 0
    #: field values of the last form that failed, shown again
    kept: dict[str, str] = field(default_factory=dict)

    def set_file(self, info: FileInfo) -> None:
        self.file, self.mapping = info, None
        self.edits = {}
        self.clear_checks()

    def set_mapping(self, choice: MappingChoice) -> None:
        self.mapping = choice
        self.clear_checks()

    def clear_checks(self) -> None:
        self.checked = None
        self.dry_run = None

    def reachable(self) -> list[str]:
        """The steps whose prerequisites are met (links in the step bar)."""
        steps = ["/file"]
        if self.file:
            steps.append("/mapping")
        if self.file and self.mapping:
            steps += ["/validate", "/connect"]
            if self.connection is not None:
                steps.append("/dryrun")
                if self.dry_run is not None:
                    steps.append("/import")
        return steps

    def busy(self) -> bool:
        return self.job is not None and not self.job.finished.is_set()

    @property
    def uploads_root(self) -> Path:
        """The app's private folder of uploads (and corrected copies)."""
        return self.uploads_dir or self.work_dir / "uploads"

    def upload_path(self, name: str) -> Path:
        """A fresh private path for an uploaded file, keeping its (cleaned) name."""
        root = self.uploads_root
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "._- " else "_" for c in Path(name).name)
        while True:
            self.uploads += 1
            folder = root / f"{time.strftime('%Y%m%dT%H%M%S')}-{self.uploads}"
            if not folder.exists():
                break
        folder.mkdir(mode=0o700)
        return folder / (safe.strip() or "upload")

    def output_dir(self, name: str) -> Path:
        path = self.work_dir / name
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path

    def remove(self) -> None:
        """Remove the temporary work folder (uploads stay in ``uploads_dir``)."""
        shutil.rmtree(self.work_dir, ignore_errors=True)


WIZARD = web.AppKey("wizard", Wizard)
