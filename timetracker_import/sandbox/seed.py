"""Seed data for the sandbox (contract D16): load, normalise and give deterministic ids.

A seed is a YAML or JSON mapping (or a dict). Keys match without regard to case or
underscores, so ``approval_manager``, ``approvalManager`` and ``ApprovalManager`` are the
same key. Every id is a uuid5 of a name, so tests and docs see the same GUIDs every run.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://timetracker-import.invalid/7pace-sandbox")
EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
NOT_SET_NAME = "[Not Set]"
ROLES = ("Team", "Administrator", "Budget", "Product", "None")
APPROVAL_STATES = {"submitted": 1, "reopened": 2, "approved": 3, "closed": 99}


class SeedError(ValueError):
    """The seed file or dict is invalid; the message names the key path."""


def stable_guid(kind: str, name: str) -> str:
    """A deterministic GUID for an entity of ``kind`` called ``name``."""
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{name.lower()}"))


def role_id(role: str) -> str:
    """The sandbox's fixed GUID of a role name."""
    return stable_guid("role", role)


@dataclass(frozen=True)
class SeedUser:
    id: str
    vsts_id: str
    email: str
    unique_name: str
    name: str
    role: str
    approval_manager: bool
    token: str | None = field(repr=False)
    time_zone: int
    default_activity_type: str | None  # a name; resolved against activity types


@dataclass(frozen=True)
class SeedActivityType:
    id: str
    name: str
    color: str


@dataclass(frozen=True)
class SeedApprovalWeek:
    id: str
    user_email: str
    week_start: date
    state: int


@dataclass(frozen=True)
class Seed:
    account_name: str
    users: list[SeedUser]
    activity_types: list[SeedActivityType]  # always includes [Not Set]
    system_default_activity_type: str | None
    work_items: frozenset[int] | None  # None: any id is accepted
    approval_weeks: list[SeedApprovalWeek]
    future_check: bool

    @property
    def tokens(self) -> dict[str, str]:
        """email -> token for the users that have one."""
        return {u.email: u.token for u in self.users if u.token}

    def activity_type_id(self, name: str | None) -> str:
        """The id of an activity type by name ([Not Set] when name is None)."""
        if name is None:
            return EMPTY_GUID
        for at in self.activity_types:
            if at.name.lower() == name.lower():
                return at.id
        raise SeedError(f"unknown activity type {name!r}")


# Seeds shipped in timetracker_import/sandbox/seeds/ (docs/sandbox.md): a name here wins
# over a file of the same name in the working directory.
BUILTIN_SEEDS = ("demo", "approvals")


def load_seed(seed: str | Path | dict[str, Any]) -> Seed:
    """Load a seed: a built-in name (``"demo"``, ``"approvals"``), a path to a YAML/JSON
    file, or a dict."""
    if isinstance(seed, dict):
        return parse_seed(seed)
    if str(seed) in BUILTIN_SEEDS:
        text = (
            resources.files("timetracker_import.sandbox")
            .joinpath(f"seeds/{seed}.yaml")
            .read_text(encoding="utf-8")
        )
        return parse_seed(yaml.safe_load(text), source=str(seed))
    path = Path(seed)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SeedError(f"cannot read seed file {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise SeedError(f"seed file {path} is not valid YAML/JSON: {exc}") from None
    return parse_seed(data, source=str(path))


def _norm(mapping: Any, where: str) -> dict[str, Any]:
    if not isinstance(mapping, dict):
        raise SeedError(f"{where}: expected a mapping")
    return {str(k).replace("_", "").replace("-", "").lower(): v for k, v in mapping.items()}


def _as_list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise SeedError(f"{where}: expected a list")
    return value


def parse_seed(data: Any, *, source: str = "seed") -> Seed:
    """Validate a seed mapping and build a :class:`Seed`."""
    top = _norm(data, source)
    activity_types = [SeedActivityType(EMPTY_GUID, NOT_SET_NAME, "ffffff")]
    for i, raw in enumerate(_as_list(top.get("activitytypes"), f"{source}: activity_types")):
        item = _norm(raw, f"{source}: activity_types[{i}]")
        name = str(item.get("name") or "").strip()
        if not name:
            raise SeedError(f"{source}: activity_types[{i}].name is required")
        if name == NOT_SET_NAME:
            continue
        color = str(item.get("color") or "46aee8").lstrip("#").lower()
        activity_types.append(SeedActivityType(stable_guid("activity", name), name, color))
    names = {at.name.lower() for at in activity_types}

    def check_type(name: Any, where: str) -> str | None:
        if name is None:
            return None
        if str(name).lower() not in names:
            raise SeedError(f"{where}: unknown activity type {name!r}")
        return str(name)

    users: list[SeedUser] = []
    seen_tokens: set[str] = set()
    for i, raw in enumerate(_as_list(top.get("users"), f"{source}: users")):
        where = f"{source}: users[{i}]"
        item = _norm(raw, where)
        email = str(item.get("email") or item.get("uniquename") or "").strip()
        if not email:
            raise SeedError(f"{where}: email (or uniqueName) is required")
        role = str(item.get("role") or "Team")
        canonical = {r.lower(): r for r in ROLES}.get(role.lower())
        if canonical is None:
            raise SeedError(f"{where}.role: {role!r} is not one of {', '.join(ROLES)}")
        token = item.get("token")
        if token is not None:
            token = str(token)
            if token in seen_tokens:
                raise SeedError(f"{where}.token: the same token is used by two users")
            seen_tokens.add(token)
        try:
            time_zone = int(item.get("timezone") or 0)
        except (TypeError, ValueError):
            raise SeedError(f"{where}.timeZone: expected minutes as an integer") from None
        users.append(
            SeedUser(
                id=stable_guid("user", email),
                vsts_id=stable_guid("vsts", email),
                email=email,
                unique_name=str(item.get("uniquename") or email),
                name=str(item.get("name") or email),
                role=canonical,
                approval_manager=bool(item.get("approvalmanager", False)),
                token=token,
                time_zone=time_zone,
                default_activity_type=check_type(
                    item.get("defaultactivitytype"), f"{where}.default_activity_type"
                ),
            )
        )
    emails = {u.email.lower() for u in users}
    if len(emails) != len(users):
        raise SeedError(f"{source}: users: an email appears twice")

    work_items: frozenset[int] | None = None
    if top.get("workitems") is not None:
        try:
            work_items = frozenset(int(x) for x in _as_list(top["workitems"], "work_items"))
        except (TypeError, ValueError):
            raise SeedError(f"{source}: work_items: expected integers") from None

    weeks: list[SeedApprovalWeek] = []
    for i, raw in enumerate(_as_list(top.get("approvalweeks"), f"{source}: approval_weeks")):
        where = f"{source}: approval_weeks[{i}]"
        item = _norm(raw, where)
        user = str(item.get("user") or "")
        if user.lower() not in emails:
            raise SeedError(f"{where}.user: {user!r} is not a seeded user")
        week = item.get("weekstart")
        if isinstance(week, datetime):
            week = week.date()
        if isinstance(week, str):
            try:
                week = date.fromisoformat(week)
            except ValueError:
                week = None
        if not isinstance(week, date) or week.weekday() != 0:
            raise SeedError(f"{where}.week_start: expected a Monday as YYYY-MM-DD")
        state_raw = item.get("state")
        state = APPROVAL_STATES.get(str(state_raw).lower())
        if state is None and str(state_raw) in {"1", "2", "3", "99"}:
            state = int(str(state_raw))
        if state is None:
            raise SeedError(f"{where}.state: expected Submitted, Reopened, Approved or Closed")
        weeks.append(SeedApprovalWeek(stable_guid("approval", f"{user}:{week}"), user, week, state))

    account = _norm(top.get("account") or {}, f"{source}: account")
    return Seed(
        account_name=str(account.get("name") or "sandbox"),
        users=users,
        activity_types=activity_types,
        system_default_activity_type=check_type(
            top.get("defaultactivitytype"), f"{source}: default_activity_type"
        ),
        work_items=work_items,
        approval_weeks=weeks,
        future_check=bool(top.get("futurecheck", False)),
    )
