"""timetracker-import: move worklogs in and out of 7pace Timetracker (REST CRUD API v3)."""

__version__ = "0.1.0"
