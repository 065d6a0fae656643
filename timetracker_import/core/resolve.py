"""Resolve names in the file to 7pace ids: users and activity types.

Users are found by id, email, uniqueName, displayName or name (trimmed, case-insensitive,
whitespace collapsed). Identifiers (id, email, uniqueName) win over names, so a person whose
display name happens to equal someone else's email is still found. An optional alias table
from the mapping maps a file value to one of those identifiers. Unknown or ambiguous values
become rejections with suggestions; an empty cell means the token's own user.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from timetracker_import.core.rejections import Rejection

_SPACES = re.compile(r"\s+")
_PARTS = re.compile(r"[._\-+\s]+")
EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
#: "did you mean" only for names at least this similar (difflib ratio of the names without
#: their e-mail domains): a shared @example.com made every user look like every other
SUGGEST_SIMILARITY = 0.75


#: characters nobody sees that a copy from a web page or a spreadsheet leaves in a cell (zero
#: width space, word joiner, byte order mark, soft hyphen): no part of a name or an e-mail
_INVISIBLE = re.compile("[\u200b\u2060\ufeff\u00ad]")


def normalize_name(value: object) -> str:
    """Trim, collapse whitespace, drop invisible characters, Unicode NFC and casefold: the
    form names are compared in."""
    text = unicodedata.normalize("NFC", _INVISIBLE.sub("", str(value)))
    return _SPACES.sub(" ", text).strip().casefold()


def _bare(value: object) -> str:
    """A name as compared for suggestions: normalised, an e-mail's domain dropped, dots,
    dashes and underscores as spaces (``carl.d@example.com`` -> ``carl d``)."""
    text = normalize_name(value)
    if "@" in text:
        text = text.split("@", 1)[0]
    return _PARTS.sub(" ", text).strip()


def _is_empty(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        return bool(value != value)  # NaN, pd.NA
    except TypeError:
        return True


def _text(value: object) -> str:
    return str(value).strip()


@dataclass(frozen=True)
class UserDirectory:
    """Users of the organisation, indexed for lookup by the names a file may use."""

    users: tuple[dict[str, Any], ...]
    by_identifier: dict[str, tuple[int, ...]] = field(repr=False)
    by_name: dict[str, tuple[int, ...]] = field(repr=False)
    aliases: dict[str, str] = field(default_factory=dict)
    #: how to name a 7pace user for a value that matches none, with the mapping in use
    #: (``unknown_user_fix``)
    unknown_fix: str = ""

    @classmethod
    def from_users(
        cls,
        users: Iterable[Mapping[str, Any]],
        aliases: Mapping[str, str] | None = None,
        *,
        unknown_fix: str = "",
    ) -> UserDirectory:
        """Build from the API's user objects (``id``, ``uniqueName``, ``email``, ``name``,
        ``displayName``). ``aliases`` maps a file value to a user's id, email, uniqueName or
        name (from the mapping's alias file); ``unknown_fix`` is the fix an unknown user's
        rejection names (``unknown_user_fix``)."""
        kept = tuple(dict(u) for u in users if u.get("id"))
        identifiers: dict[str, list[int]] = {}
        names: dict[str, list[int]] = {}
        for index, user in enumerate(kept):
            for attr, table in (
                ("id", identifiers),
                ("email", identifiers),
                ("uniqueName", identifiers),
                ("displayName", names),
                ("name", names),
            ):
                value = user.get(attr)
                if _is_empty(value):
                    continue
                bucket = table.setdefault(normalize_name(value), [])
                if index not in bucket:
                    bucket.append(index)
        return cls(
            users=kept,
            by_identifier={k: tuple(v) for k, v in identifiers.items()},
            by_name={k: tuple(v) for k, v in names.items()},
            aliases={normalize_name(k): _text(v) for k, v in (aliases or {}).items()},
            unknown_fix=unknown_fix or unknown_user_fix(),
        )

    @staticmethod
    def describe(user: Mapping[str, Any]) -> str:
        """How a user is named in messages: ``'bob@example.com' (Bob Builder)``."""
        ident = user.get("email") or user.get("uniqueName") or user.get("id")
        name = user.get("displayName") or user.get("name")
        return f"'{ident}' ({name})" if name and name != ident else f"'{ident}'"

    def _candidates(self, value: str) -> tuple[int, ...]:
        key = normalize_name(value)
        return self.by_identifier.get(key) or self.by_name.get(key) or ()

    def lookup(self, value: str) -> tuple[str | None, str | None]:
        """``(user_id, None)`` when ``value`` names exactly one user, else ``(None, reason)``."""
        target = self.aliases.get(normalize_name(value))
        found = self._candidates(target if target is not None else value)
        if len(found) == 1:
            return str(self.users[found[0]]["id"]), None
        if target is not None and not found:
            return None, (
                f"the alias '{_text(value)}' in the mapping points to '{target}', "
                "which is not a known user; fix the alias file"
            )
        if found:
            named = ", ".join(self.describe(self.users[i]) for i in found)
            return None, (
                f"'{_text(value)}' matches more than one user: {named}; say which: "
                f"{self.unknown_fix}"
            )
        reason = f"unknown user '{_text(value)}'"
        suggestions = self.suggest(value)
        if suggestions:
            reason += f"; did you mean {' or '.join(suggestions)}?"
        elif "@" in str(value):
            reason += (
                "; no 7pace user has this e-mail or uniqueName: check the spelling, add the "
                f"person to the organization, or {self.unknown_fix}"
            )
        else:
            reason += (
                "; no 7pace user has this e-mail, uniqueName or display name: "
                f"{self.unknown_fix}, or add the person to the organization"
            )
        return None, reason

    def suggest(self, value: str, limit: int = 3) -> list[str]:
        """Up to ``limit`` users whose names are close to ``value`` (``SUGGEST_SIMILARITY``,
        compared without e-mail domains), best first, described for messages."""
        wanted = _bare(value)
        scored: list[tuple[float, str]] = []
        for key in list(self.by_identifier) + list(self.by_name):
            ratio = difflib.SequenceMatcher(None, wanted, _bare(key)).ratio()
            if ratio >= SUGGEST_SIMILARITY:
                scored.append((ratio, key))
        described: list[str] = []
        for _, key in sorted(scored, key=lambda item: -item[0]):
            for index in self.by_identifier.get(key) or self.by_name.get(key) or ():
                text = self.describe(self.users[index])
                if text not in described:
                    described.append(text)
        return described[:limit]


def unknown_user_fix(
    *, lookup_file: str | None = None, preset: str | None = None, mapping_file: str | None = None
) -> str:
    """How to name the 7pace user of a file value that matches none, for the mapping in use:
    a line in the user column's lookup file when it has one (``mapping init`` writes its
    template); else ``map:`` on ``fields.user``, in a copy of the preset or in the mapping
    file. A preset without a user lookup has no file to fill in: naming one sent people to
    ``mapping init``, which writes none for it."""
    if lookup_file:
        return (
            f"add the value with its 7pace user (e-mail or uniqueName) to the lookup file "
            f"{lookup_file}"
        )
    example = "`map: {'Jane D': jane@example.com}` on fields.user"
    if preset:
        return (
            f"turn it into a 7pace user's e-mail with {example} in a mapping of your own "
            f"(`timetracker-import mapping show {preset} > my.yaml`, then --mapping my.yaml)"
        )
    if mapping_file:
        return f"turn it into a 7pace user's e-mail with {example} in {mapping_file}"
    return f"turn it into a 7pace user's e-mail with {example} in the mapping"


def resolve_users(
    frame: pd.DataFrame,
    directory: UserDirectory,
    *,
    self_user_id: str,
    column_header: str | None = None,
) -> tuple[pd.Series, list[Rejection]]:
    """Resolve the frame's ``user`` column: a Series of user ids (index as the frame; None for
    rejected rows) and the rejections (stage ``resolve``). An empty cell is the token's own
    user, ``self_user_id``. Each distinct value is looked up once."""
    return _resolve_column(
        frame["user"],
        directory.lookup,
        empty_id=self_user_id,
        column_header=column_header,
        name="user_id",
    )


@dataclass(frozen=True)
class ActivityTypeDirectory:
    """The organisation's activity types, looked up by name (case-insensitive)."""

    enabled: bool
    system_default_id: str | None
    types: tuple[dict[str, Any], ...]
    by_name: dict[str, tuple[int, ...]] = field(repr=False)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> ActivityTypeDirectory:
        """Build from the ``activityTypes`` response's ``data`` object (``enabled``,
        ``systemDefaultActivityTypeId``, ``activityTypes``); the whole ``{"data": ...}``
        envelope is accepted too."""
        data = payload.get("data", payload) if "activityTypes" not in payload else payload
        types = tuple(dict(t) for t in data.get("activityTypes") or () if t.get("id"))
        by_name: dict[str, list[int]] = {}
        for index, item in enumerate(types):
            if not _is_empty(item.get("name")):
                by_name.setdefault(normalize_name(item["name"]), []).append(index)
        return cls(
            enabled=bool(data.get("enabled", True)),
            system_default_id=data.get("systemDefaultActivityTypeId"),
            types=types,
            by_name={k: tuple(v) for k, v in by_name.items()},
        )

    def lookup(self, value: str) -> tuple[str | None, str | None]:
        """``(activity_type_id, None)`` or ``(None, reason)``."""
        if not self.enabled:
            return None, (
                "activity types are switched off in this organisation; leave the column empty"
            )
        found = self.by_name.get(normalize_name(value), ())
        if len(found) == 1:
            return str(self.types[found[0]]["id"]), None
        if found:
            return None, (
                f"more than one activity type is called '{_text(value)}'; "
                "ask an administrator to rename one"
            )
        reason = f"unknown activity type '{_text(value)}'"
        names = {normalize_name(t["name"]): str(t["name"]) for t in self.types if t.get("name")}
        close = difflib.get_close_matches(normalize_name(value), list(names), n=3, cutoff=0.6)
        if close:
            reason += "; did you mean " + " or ".join(f"'{names[c]}'" for c in close) + "?"
        else:
            known = ", ".join(f"'{n}'" for n in sorted(names.values()))
            reason += f"; known types: {known}" if known else ""
        return None, reason + (
            "; turn the file's names into 7pace's with `map:` on fields.activity_type in a "
            "mapping of your own (`timetracker-import mapping show PRESET > my.yaml` copies a "
            "preset), or ask an administrator to add the type"
        )


def resolve_activity_types(
    frame: pd.DataFrame,
    directory: ActivityTypeDirectory,
    *,
    column_header: str | None = None,
) -> tuple[pd.Series, list[Rejection]]:
    """Resolve the frame's ``activity_type`` column to ids: a Series (index as the frame; None
    for empty cells, where the server applies the user's default, and for rejected rows) and
    the rejections (stage ``resolve``)."""
    if "activity_type" not in frame.columns:
        empty = [None] * len(frame)
        return pd.Series(empty, index=frame.index, dtype=object, name="activity_type_id"), []
    return _resolve_column(
        frame["activity_type"],
        directory.lookup,
        empty_id=None,
        column_header=column_header,
        name="activity_type_id",
    )


def _resolve_column(
    values: pd.Series,
    lookup: Callable[[str], tuple[str | None, str | None]],
    *,
    empty_id: str | None,
    column_header: str | None,
    name: str,
) -> tuple[pd.Series, list[Rejection]]:
    """Look each distinct non-empty value up once; empty cells get ``empty_id``, rejected
    rows None and a rejection (stage ``resolve``)."""
    outcome = {str(v): lookup(str(v)) for v in pd.unique(values.dropna()) if not _is_empty(v)}
    ids: list[str | None] = []
    rejections: list[Rejection] = []
    for row, value in zip(values.index, values, strict=True):
        if _is_empty(value):
            ids.append(empty_id)
            continue
        found, reason = outcome[str(value)]
        ids.append(found)
        if reason is not None:
            rejections.append(Rejection(int(row), "resolve", column_header, str(value), reason))
    return pd.Series(ids, index=values.index, dtype=object, name=name), rejections
