"""Administration use cases: user roles (``users/roles``) and time approval weeks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from timetracker_import.api.client import ClientFactory, open_client
from timetracker_import.errors import ApiError, InputError, UsageError

if TYPE_CHECKING:
    from timetracker_import.api.settings import ConnectionSettings

ROLE_COLUMNS = ["name", "email", "uniqueName", "id", "vstsId", "role", "roleId"]
APPROVAL_COLUMNS = ["weekStart", "weekEnd", "user", "state", "manager", "approvedBy", "submitted"]
STATES = {1: "submitted", 2: "reopened", 3: "approved", 99: "closed"}
_GUID_LEN = 36


def role_row(item: dict[str, Any]) -> dict[str, Any]:
    """A flat row of a ``users/roles`` item (user fields flat or under ``user``)."""
    nested = item.get("user")
    user: dict[str, Any] = nested if isinstance(nested, dict) else item
    role = item.get("role") or {}
    return {
        "name": user.get("displayName") or user.get("name"),
        "email": user.get("email"),
        "uniqueName": user.get("uniqueName"),
        "id": user.get("id"),
        "vstsId": user.get("vstsId"),
        "role": role.get("name"),
        "roleId": role.get("id"),
    }


async def list_roles(
    settings: ConnectionSettings,
    *,
    include_none: bool = False,
    client_factory: ClientFactory | None = None,
) -> list[dict[str, Any]]:
    """``users/roles`` as flat rows (Administrator only)."""
    async with open_client(settings, client_factory) as client:
        items = await client.roles(include_none=include_none, expand_display_name=True)
    return [role_row(i) for i in items]


def _norm(header: str) -> str:
    return "".join(ch for ch in header.lower() if ch.isalnum())


def _refusal(exc: ApiError) -> bool:
    """A definite 4xx answer (not auth, not retryable): the request was refused as asked,
    so retrying later (exit 75) would not help; it is the user's input to fix."""
    return (
        type(exc) is ApiError
        and not exc.transient
        and exc.status is not None
        and 400 <= exc.status < 500
    )


def _why(exc: ApiError) -> str:
    """The server's own words plus its errorCode (what a support ticket needs)."""
    text = exc.description or exc.message
    return f"{text} ({exc.error_code})" if exc.error_code else text


def role_entries(path: Path) -> list[dict[str, Any]]:
    """``POST users/roles`` entries from a CSV/XLSX with a user column (email, id or vstsId)
    and a role column (role name or roleId). A GUID in the role column is sent as an id."""
    from timetracker_import.files.readers import open_table

    table = open_table(path)
    cols = {_norm(h): i for i, h in enumerate(table.headers)}
    user_cols = [
        (k, cols[n])
        for k, n in (("email", "email"), ("id", "id"), ("vstsId", "vstsid"))
        if n in cols
    ]
    role_col = cols.get("role", cols.get("rolename"))
    role_id_col = cols.get("roleid")
    if not user_cols or (role_col is None and role_id_col is None):
        raise InputError(
            f"{path.name} needs a user column (email, id or vstsId) and a role column "
            f"(role or roleId); its headers are: {', '.join(table.headers) or 'none'}",
            path=str(path),
            hint="headers e.g. `email,role` (role name) or `id,roleId`",
        )
    entries: list[dict[str, Any]] = []
    seen: dict[str, tuple[int, str]] = {}  # user -> (row, role) to catch contradictions
    for chunk in table.chunks():
        # itertuples, not iterrows: that would turn an empty (None) cell of a text row into NaN
        cells_of = chunk.itertuples(index=False, name=None)
        for index, cells in zip(chunk.index, cells_of, strict=True):
            source_row = int(index)
            entry: dict[str, Any] = {}
            for key, pos in user_cols:
                value = cells[pos]
                if value is not None and str(value).strip():
                    entry[key] = str(value).strip()
                    break
            role_id = cells[role_id_col] if role_id_col is not None else None
            role = cells[role_col] if role_col is not None else None
            if role_id is not None and str(role_id).strip():
                entry["role"] = {"id": str(role_id).strip()}
            elif role is not None and str(role).strip():
                text = str(role).strip()
                entry["role"] = (
                    {"id": text}
                    if len(text) == _GUID_LEN and text.count("-") == 4
                    else {"name": text}
                )
            if len(entry) != 2:
                raise InputError(
                    f"row {source_row}: needs a user and a role",
                    path=str(path),
                    row=source_row,
                )
            who = next(str(v).lower() for k, v in entry.items() if k != "role")
            role_text = str(next(iter(entry["role"].values())))
            if who in seen and seen[who][1].lower() != role_text.lower():
                first_row, first_role = seen[who]
                raise InputError(
                    f"{path.name} row {source_row}: {who} gets role {role_text!r}, but row {first_row} "
                    f"gives {first_role!r}",
                    path=str(path),
                    row=source_row,
                    hint="keep one row per user",
                )
            seen.setdefault(who, (source_row, role_text))
            entries.append(entry)
    return entries


@dataclass(frozen=True)
class RolesResult:
    """``succeeded``, ``failed`` and each failed entry with its message."""

    succeeded: int
    failed: int
    failed_entries: list[tuple[dict[str, Any], str]]


async def set_roles(
    settings: ConnectionSettings,
    path: Path,
    *,
    skip_errors: bool = False,
    client_factory: ClientFactory | None = None,
) -> RolesResult:
    """``POST users/roles`` with the file's entries."""
    entries = role_entries(path)
    async with open_client(settings, client_factory) as client:
        try:
            data = await client.set_roles(entries, skip_errors=skip_errors)
        except ApiError as exc:
            if not _refusal(exc):
                raise
            raise InputError(
                f"{path.name}: 7pace refused the roles: {_why(exc)}; nothing was changed",
                path=str(path),
                hint="fix the user or role names (`timetracker-import roles list` shows both), "
                "or add --skip-errors to apply the valid rows",
            ) from None
    failed = [
        (dict(e.get("entity") or {}), str((e.get("error") or {}).get("message") or ""))
        for e in data.get("failedEntries") or []
    ]
    return RolesResult(int(data.get("succeeded") or 0), int(data.get("failed") or 0), failed)


def approval_row(item: dict[str, Any]) -> dict[str, Any]:
    """A flat row of a ``timeApproval/all`` item."""

    def who(key: str) -> str | None:
        user = item.get(key) or {}
        return user.get("email") or user.get("uniqueName")

    state = item.get("approvalState")
    return {
        "weekStart": str(item.get("weekStartDate") or "")[:10],
        "weekEnd": str(item.get("weekEndDate") or "")[:10],
        "user": who("user"),
        "state": STATES.get(state, str(state)) if isinstance(state, int) else state,
        "manager": who("assignedManager"),
        "approvedBy": who("approvedByManager"),
        "submitted": item.get("submittedTimestamp"),
    }


async def list_approvals(
    settings: ConnectionSettings,
    *,
    first: dt.date | None = None,
    last: dt.date | None = None,
    state: str | None = None,
    client_factory: ClientFactory | None = None,
) -> list[dict[str, Any]]:
    """Approval weeks overlapping ``first..last`` (inclusive), optionally of one state.
    The server bounds select weeks containing-or-after / containing-or-before an instant."""
    if first and last and first > last:
        raise UsageError(f"--from {first} is after --to {last}")  # as `export` says it
    async with open_client(settings, client_factory) as client:
        items = await client.approvals(
            from_ts=first.isoformat() if first else None,
            to_ts=last.isoformat() if last else None,
            expand_display_name=True,
        )
    rows = [approval_row(i) for i in items]
    # client-side too: the real service's bound semantics are not documented
    if first:
        rows = [r for r in rows if not r["weekEnd"] or r["weekEnd"] >= first.isoformat()]
    if last:
        rows = [r for r in rows if r["weekStart"] <= last.isoformat()]
    if state:
        rows = [r for r in rows if r["state"] == state]
    return rows


def parse_week(text: str) -> dt.date:
    """A ``YYYY-MM-DD`` that is a Monday (weeks start on Monday)."""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{text!r} is not a date (YYYY-MM-DD)") from None
    if day.weekday() != 0:
        monday = day - dt.timedelta(days=day.weekday())
        raise UsageError(f"{day} is a {day:%A}; weeks start on Monday", hint=f"use {monday}")
    return day


async def submit_week(
    settings: ConnectionSettings,
    week: dt.date,
    manager_email: str,
    *,
    client_factory: ClientFactory | None = None,
) -> bool:
    """Submit the token user's week for approval to the manager with this e-mail."""
    async with open_client(settings, client_factory) as client:
        users = await client.users(expand_display_name=False)
        wanted = manager_email.strip().lower()
        match = [
            u
            for u in users
            if wanted in (str(u.get("email") or "").lower(), str(u.get("uniqueName") or "").lower())
        ]
        if not match:
            raise UsageError(
                f"no 7pace user with e-mail {manager_email!r}",
                hint="`timetracker-import users` lists them",
            )
        try:
            return await client.submit_week(week, match[0]["id"])
        except ApiError as exc:
            if not _refusal(exc):
                raise
            raise UsageError(
                f"cannot submit the week of {week}: {_why(exc)}",
                hint="`timetracker-import approvals list` shows the weeks' states",
            ) from None


async def revoke_week(
    settings: ConnectionSettings, week: dt.date, *, client_factory: ClientFactory | None = None
) -> bool:
    """Revoke the token user's submitted week."""
    async with open_client(settings, client_factory) as client:
        try:
            return await client.revoke_week(week)
        except ApiError as exc:
            if not _refusal(exc):
                raise
            raise UsageError(
                f"cannot revoke the week of {week}: {_why(exc)}",
                hint="only a Submitted week can be revoked",
            ) from None
