"""Use case behind ``mapping init``: recognise the preset of a file (header, then the data
of the first rows) and write, beside the mapping, a template for each lookup the preset
uses, filled with the distinct values of the file; with a connection, users the server knows
are filled in and the rest are marked."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from timetracker_import.core.mapping import Mapping
    from timetracker_import.files.readers import RawTable


@dataclass
class LookupTemplate:
    """One lookup template ``mapping init`` wrote (or left alone because it exists)."""

    lookup: str
    field: str
    path: Path
    existed: bool = False
    values: int = 0
    matched: int = 0
    unmatched: list[str] = dc_field(default_factory=list)


def distinct_lookup_values(
    mapping: Mapping, table: RawTable, chunk_rows: int = 100_000
) -> dict[str, list[str]]:
    """Lookup name -> the distinct values of the whole file that go through it."""
    from timetracker_import.core.mapping import lookup_keys

    found: dict[str, dict[str, None]] = {}
    for raw in table.chunks(chunk_rows):
        for name, values in lookup_keys(mapping, table.headers, raw).items():
            seen = found.setdefault(name, {})
            for value in values:
                seen.setdefault(value, None)
    return {name: list(values) for name, values in found.items()}


def _user_identifier(user: dict[str, Any]) -> str:
    return str(user.get("uniqueName") or user.get("email") or user.get("id"))


def write_lookup_templates(
    mapping: Mapping,
    table: RawTable,
    directory: Path,
    *,
    users: list[dict[str, Any]] | None = None,
) -> list[LookupTemplate]:
    """For each lookup of ``mapping``, a CSV in ``directory`` under the lookup's file name
    (a file that exists is left alone) with one line per distinct value of the file and an
    empty value column. With ``users`` (from a connection), a user lookup's values that
    name exactly one user get that user's uniqueName; the others are marked in ``note``."""
    from timetracker_import.core.resolve import UserDirectory
    from timetracker_import.files.mapping_loader import write_lookup_template

    fields_of = {spec.lookup: name for name, spec in mapping.field_specs().items() if spec.lookup}
    values = distinct_lookup_values(mapping, table)
    directory_ = (
        UserDirectory.from_users(
            users, unknown_fix="write its 7pace user (e-mail or uniqueName) on this line"
        )
        if users is not None
        else None
    )
    out: list[LookupTemplate] = []
    for name, spec in mapping.lookups.items():
        path = Path(spec.file) if Path(spec.file).is_absolute() else directory / spec.file
        field_name = fields_of.get(name, "")
        item = LookupTemplate(name, field_name, path)
        out.append(item)
        if path.exists():
            item.existed = True
            continue
        rows: list[tuple[str, str, str]] = []
        for value in values.get(name, []):
            item.values += 1
            if field_name == "user" and directory_ is not None:
                user_id, reason = directory_.lookup(value)
                if user_id is not None:
                    user = next(u for u in directory_.users if str(u["id"]) == user_id)
                    rows.append((value, _user_identifier(user), "matched on the server"))
                    item.matched += 1
                    continue
                item.unmatched.append(value)
                rows.append((value, "", f"FILL IN: {reason}"))
            elif field_name == "user":
                rows.append((value, "", "optional: the server resolves it by email or name"))
            elif field_name == "work_item":
                rows.append((value, "", "optional: without an id the key goes in the comment"))
            else:
                rows.append((value, "", ""))
        write_lookup_template(path, spec.key, spec.value, rows)
    return out
