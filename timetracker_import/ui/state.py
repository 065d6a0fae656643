"""The wizard's state: one person, one browser, one file at a time (kept in memory only)."""

from __future__ import annotations

import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from timetracker_import.ui.service import Checked, FileInfo, MappingChoice


@dataclass
class ImportJob:
    """An import running in a worker thread; ``progress`` is called from that thread."""

    total_rows: int = 0
    done_rows: int = 0
    cancel: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: tuple[str, str | None] | None = None
    future: Any = None  # the worker thread's future
    cancelled_early: bool = False  # Cancel came before anything was sent
    plan: Any = None  # the dry run this import was confirmed from

    def progress(self, done: int, total: int) -> None:
        self.done_rows, self.total_rows = done, total


@dataclass
class Wizard:
    """Everything chosen so far. Changing an earlier step clears what depended on it."""

    work_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tti-ui-")))
    file: FileInfo | None = None
    mapping: MappingChoice | None = None
    checked: Checked | None = None
    connection: Any = None  # a timetracker_import.Connection
    connection_label: str = ""
    dry_run: Any = None  # the library's run result of the last dry run
    job: ImportJob | None = None
    uploads: int = 0

    def set_file(self, info: FileInfo) -> None:
        self.file, self.mapping = info, None
        self.clear_checks()

    def set_mapping(self, choice: MappingChoice) -> None:
        self.mapping = choice
        self.clear_checks()

    def clear_checks(self) -> None:
        self.checked = None
        self.dry_run = None

    def reachable(self) -> list[str]:
        """The steps whose prerequisites are met (shown as links in the step bar)."""
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

    def upload_path(self, name: str) -> Path:
        """A fresh private path for an uploaded file, keeping its (cleaned) name."""
        self.uploads += 1
        safe = "".join(c if c.isalnum() or c in "._- " else "_" for c in Path(name).name)
        folder = self.work_dir / f"upload-{self.uploads}"
        folder.mkdir(mode=0o700)
        return folder / (safe.strip() or "upload")

    def output_dir(self, name: str) -> Path:
        path = self.work_dir / name
        path.mkdir(mode=0o700, exist_ok=True)
        return path

    def remove(self) -> None:
        shutil.rmtree(self.work_dir, ignore_errors=True)


WIZARD = web.AppKey("wizard", Wizard)
