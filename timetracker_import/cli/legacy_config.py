"""The old importer's ``config.json`` (letter ``map``, ``organizationTokens``) and the
mappings ``import-worklogs`` builds: by config.json letters, or by header names (``--map``)."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from timetracker_import.errors import ConfigError

# config.json `map` key -> (canonical field, extra options); the old importer's names.
LEGACY_FIELDS: dict[str, tuple[str, dict[str, Any]]] = {
    "userName": ("user", {"default": "me"}),  # empty: the token's own user
    "timeStamp": ("timestamp", {}),
    "date": ("date", {}),
    "start": ("start", {}),
    "duration": ("length", {"unit": "hours"}),
    "billableDuration": ("billable_length", {"unit": "hours"}),
    "activityType": ("activity_type", {}),
    "comment": ("comment", {}),
    "workItem": ("work_item", {}),
    "organization": ("organization", {}),
}
# The config.json the old importer shipped with (used when there is none).
DEFAULT_LETTER_MAP = {
    "userName": "A",
    "timeStamp": "B",
    "duration": "C",
    "activityType": "D",
    "comment": "E",
    "workItem": "F",
    "billableDuration": "G",
}
HEADER_PRESET = "7pace-npm"
ORG_HEADER = "Organization"


@dataclass(frozen=True)
class LegacyConfig:
    """The old importer's config.json: letter map and organization -> token."""

    letter_map: dict[str, str]
    organization_tokens: dict[str, str] = field(repr=False, default_factory=dict)
    path: Path | None = None
    readable_by_others: bool = False


def load_legacy_config(path: Path | None) -> LegacyConfig:
    """Read config.json (``path``; None or a missing file: the old importer's defaults).

    Raises ``ConfigError`` for invalid JSON or unknown map keys/letters."""
    if path is None or not path.exists():
        return LegacyConfig(dict(DEFAULT_LETTER_MAP))
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        # The message of a JSON error quotes no cell text, so no token can leak here.
        raise ConfigError(f"cannot read {path}: {exc}", hint="fix the JSON syntax") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object with `map`/`organizationTokens`")
    raw_map = data.get("map", DEFAULT_LETTER_MAP)
    if not isinstance(raw_map, dict):
        raise ConfigError(f'{path}: `map` must be an object such as {{"userName": "A"}}')
    letter_map: dict[str, str] = {}
    for key, letter in raw_map.items():
        if key not in LEGACY_FIELDS:
            raise ConfigError(
                f"{path}: map.{key} is not a field of the old importer",
                hint="known: " + ", ".join(LEGACY_FIELDS),
            )
        text = str(letter).strip().upper()
        if not (text.isalpha() and text.isascii() and 1 <= len(text) <= 3):
            raise ConfigError(
                f"{path}: map.{key} must be a column letter such as B, not {letter!r}"
            )
        letter_map[key] = text
    tokens = data.get("organizationTokens", {}) or {}
    if not isinstance(tokens, dict) or not all(isinstance(v, str) for v in tokens.values()):
        raise ConfigError(f"{path}: `organizationTokens` must map organization names to tokens")
    exposed = os.name == "posix" and bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))
    return LegacyConfig(
        letter_map,
        {str(k).strip().lower(): v.strip() for k, v in tokens.items() if v.strip()},
        path,
        exposed,
    )


def letter_mapping(letter_map: Mapping[str, str]) -> dict[str, Any]:
    """A mapping (as a dict) for a file without a header row, columns by config.json letters.

    Like the old importer, every column but duration and the start may be missing from the
    file; ``timeStamp`` wins over ``date``/``start`` when both are mapped."""
    fields: dict[str, Any] = {}
    for key, letter in letter_map.items():
        name, extra = LEGACY_FIELDS[key]
        fields[name] = {"column": letter, **extra}
        if name not in ("length", "timestamp", "date"):
            fields[name]["optional"] = True
    if "timestamp" in fields:
        for name in ("date", "start"):
            fields.pop(name, None)
    return {
        "version": 1,
        "description": "import-worklogs: config.json letter map",
        "header": False,
        "date_order": "MDY",
        "rounding": {"unit": "second", "mode": "up"},
        "fields": fields,
    }


def header_mapping() -> dict[str, Any]:
    """The ``--map`` mapping: the shipped 7pace-npm preset (header names)."""
    from timetracker_import import library

    return library.preset_mapping(HEADER_PRESET)


def organization_column(mapping: Mapping[str, Any]) -> str | None:
    """The column (header or letter) holding the organization, if the mapping has one."""
    spec = mapping["fields"].get("organization")
    return str(spec["column"]) if spec else None
