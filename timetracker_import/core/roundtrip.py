"""Round-trip editing: compare an edited export row with the server's worklog.

``patch_for_row`` returns the PATCH body with only the fields that differ. Decisions:

* a column missing from the file, or an empty cell, means "leave unchanged" (the API has no
  documented way to clear a field, API §11.2);
* an export has both ``length_seconds`` and ``length_hours``: the one that differs from the
  server is the edit (editing either works); both edited to different lengths is a row
  error; hours are rounded to whole seconds;
* timestamps are compared as instants (``timestamp_utc``; text without an offset is UTC);
* users by e-mail/uniqueName and activity types by name, case-insensitively.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from timetracker_import.core.export import instant_or_none
from timetracker_import.core.worklog import ServerWorklog, diff_content, utc_stamp


class RowError(ValueError):
    """A cell of an update file cannot be used (message names the column and value)."""


@dataclass(frozen=True)
class FieldChange:
    """One changed field: API name, old and new value (as sent)."""

    field: str
    old: Any
    new: Any


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _int(value: Any, column: str) -> int:
    try:
        number = float(str(value).strip().replace(",", ".")) if isinstance(value, str) else value
        if isinstance(number, bool) or not float(number).is_integer():
            raise ValueError
        return int(number)
    except (TypeError, ValueError):
        raise RowError(f"{column}: {value!r} is not a whole number") from None


def _unquote(text: str) -> str:
    # undo the writers' formula neutralisation (a ' before = + - @ TAB CR)
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@\t\r":
        return text[1:]
    return text


def patch_for_row(
    row: Mapping[str, Any],
    worklog: Mapping[str, Any],
    *,
    user_ids: Mapping[str, str],
    activity_type_ids: Mapping[str, str],
) -> list[FieldChange]:
    """The changes an edited export row (column -> cell) makes to ``worklog``.

    ``user_ids``/``activity_type_ids`` map lower-cased e-mail / name to ids. Raises
    ``RowError`` for an unusable cell."""
    held = ServerWorklog.from_api(worklog).content
    wanted: dict[str, Any] = {}
    ts_cell = row.get("timestamp_utc", row.get("timestamp"))
    if not _blank(ts_cell):
        try:
            new_ts = instant_or_none(
                ts_cell.isoformat() if hasattr(ts_cell, "isoformat") else ts_cell
            )
        except ValueError:
            raise RowError(f"timestamp_utc: {ts_cell!r} is not a date-time") from None
        assert new_ts is not None
        wanted["timeStamp"] = utc_stamp(new_ts)
    seconds = None
    if not _blank(row.get("length_seconds")):
        seconds = _int(row["length_seconds"], "length_seconds")
    from_hours = None
    if not _blank(row.get("length_hours")):
        try:
            from_hours = round(float(str(row["length_hours"]).replace(",", ".")) * 3600)
        except ValueError:
            raise RowError(f"length_hours: {row['length_hours']!r} is not a number") from None
    length = seconds if seconds is not None else from_hours
    if seconds is not None and from_hours is not None and seconds != from_hours:
        # Editing hours in Excel leaves the seconds column as exported: keep the edit.
        if seconds == held["length"]:
            length = from_hours
        elif from_hours != held["length"]:
            raise RowError(
                f"length_seconds ({seconds}) and length_hours ({row['length_hours']}) were both "
                "changed and disagree; edit only one of them"
            )
    if length is not None:
        if length <= 0:
            raise RowError(f"length: {length} must be greater than 0")
        wanted["length"] = length
    if not _blank(row.get("billable_seconds")):
        wanted["billableLength"] = _int(row["billable_seconds"], "billable_seconds")
    if not _blank(row.get("work_item_id")):
        wanted["workItemId"] = _int(row["work_item_id"], "work_item_id")
    if not _blank(row.get("comment")):
        wanted["comment"] = _unquote(str(row["comment"]))
    if not _blank(row.get("activity_type")):
        name = str(row["activity_type"]).strip()
        type_id = activity_type_ids.get(name.lower())
        if type_id is None:
            raise RowError(f"activity_type: unknown activity type {name!r}")
        wanted["activityTypeId"] = type_id
    if not _blank(row.get("user_email")):
        email = str(row["user_email"]).strip()
        user_id = user_ids.get(email.lower())
        if user_id is None:
            raise RowError(f"user_email: unknown user {email!r}")
        wanted["userId"] = user_id
    # the one diff (core.worklog): a field the file leaves empty is never changed
    return [FieldChange(name, old, new) for name, (old, new) in diff_content(wanted, held).items()]


def patch_body(changes: list[FieldChange]) -> dict[str, Any]:
    """The PATCH body of ``changes``."""
    return {c.field: c.new for c in changes}
