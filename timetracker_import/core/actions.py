"""The typed actions a planner produces and the executor carries out.

``import`` plans only ``Create`` actions (one per planned batch); ``sync`` also plans
``Update`` and ``Delete``. Every action is journaled before the request that carries it out,
and its outcome after, so a run stopped at any point resumes without doing anything twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Create:
    """Create worklogs for ``source_rows`` (one ``POST workLogs/batch`` when executed)."""

    source_rows: tuple[int, ...]
    batch_no: int | None = None

    @property
    def kind(self) -> str:
        return "create"


@dataclass(frozen=True)
class Update:
    """PATCH worklog ``worklog_id`` (created or adopted for ``source_row``) with ``fields``
    (API field names, only those that change); ``before`` holds their values on the server
    before the change (for the report's diff and for undo)."""

    source_row: int
    worklog_id: str
    fields: Mapping[str, Any]
    before: Mapping[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return "update"


@dataclass(frozen=True)
class Delete:
    """DELETE worklog ``worklog_id``; ``before`` is the worklog as it was (its creation model,
    enough to re-create it on undo); ``key`` the source key it was ledgered under."""

    worklog_id: str
    before: Mapping[str, Any] = field(default_factory=dict)
    key: str | None = None

    @property
    def kind(self) -> str:
        return "delete"


Action = Create | Update | Delete
