"""The demo inputs (see README.md here), shipped inside the package as
``timetracker_import.sample_data`` so that ``timetracker-import demo`` runs the quick start
after a plain ``pip install``."""

from __future__ import annotations

from pathlib import Path


def sample_path(name: str) -> Path:
    """The path of the shipped sample file ``name`` (e.g. ``payroll_hours.xlsx``)."""
    from importlib.resources import files

    return Path(str(files(__name__) / name))
