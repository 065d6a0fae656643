"""Load mapping files (YAML) and shipped presets into a validated ``Mapping``.

Pydantic errors become ``MappingError`` with the key path (``fields.length.unit``) and the
file path; lookup CSV files are read relative to the mapping file.
"""

from __future__ import annotations

import csv
import importlib.resources
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from timetracker_import.core.mapping import Mapping
from timetracker_import.errors import MappingError

PRESET_PACKAGE = "timetracker_import.mappings"
_TYPE_TAGS = {"str", "int", "float", "bool", "none", "dict", "list"}


@dataclass(frozen=True)
class LoadedMapping:
    """A validated mapping, its lookup tables (name -> {case-folded alias: value}) and where
    it came from (a path or ``preset NAME``). ``lookup_files``: lookup name -> the file it
    was read from (or looked for); ``missing_lookups``: the names whose file does not exist
    (their table is empty; allowed unless the lookup is ``required``). ``detection``: how
    ``--preset auto`` chose the preset (None otherwise)."""

    mapping: Mapping
    source: str
    lookups: dict[str, dict[str, str]] = field(default_factory=dict)
    lookup_files: dict[str, str] = field(default_factory=dict)
    missing_lookups: tuple[str, ...] = ()
    detection: str | None = None

    def unknown_user_fix(self) -> str:
        """The fix an unknown user's rejection names with this mapping: its user lookup
        file, else ``map:`` in a copy of the preset or in the mapping file."""
        from timetracker_import.core.resolve import unknown_user_fix

        spec = self.mapping.fields.user
        lookup = spec.lookup if spec is not None else None
        if lookup:
            return unknown_user_fix(lookup_file=self.lookup_files.get(lookup, lookup))
        if self.source.startswith("preset "):
            return unknown_user_fix(preset=self.source.removeprefix("preset "))
        if self.source.startswith("mapping (given"):
            return unknown_user_fix()
        return unknown_user_fix(mapping_file=self.source)


def _key_path(loc: tuple[Any, ...]) -> str:
    # Drop pydantic's union-member markers such as "str" or "list[str]" from the path.
    parts = [str(p) for p in loc if not (isinstance(p, str) and (p in _TYPE_TAGS or "[" in p))]
    return ".".join(parts)


def mapping_from_dict(data: Any, *, source: str) -> Mapping:
    """Validate plain data as a Mapping; MappingError names the first bad key path."""
    if not isinstance(data, dict):
        raise MappingError(f"{source}: a mapping must be a YAML mapping of keys", path=source)
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        lines: dict[str, str] = {}
        first_path: str | None = None
        for err in exc.errors():
            ctx = err.get("ctx") or {}
            if err["type"] == "mapping":
                path, message = str(ctx["path"]), str(ctx["message"])
            else:
                path, message = _key_path(err["loc"]), err["msg"]
                if err["type"] == "extra_forbidden":
                    message = "unknown key"
            path = path or "(top level)"
            first_path = first_path or path
            # One message per key (a union reports once per alternative).
            lines.setdefault(path, message.removeprefix("Value error, "))
        raise MappingError(
            f"{source}: invalid mapping: " + "; ".join(f"{k}: {v}" for k, v in lines.items()),
            key_path=first_path,
            path=source,
            hint="see docs/mapping.md or `timetracker-import mapping schema`",
        ) from None


def _parse_yaml(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise MappingError(f"{source}: not valid YAML{where}", path=source) from None


def load_lookup(path: Path, key: str, value: str, *, key_path: str) -> dict[str, str]:
    """Read a lookup CSV (header row; ``key`` -> ``value`` columns), keys case-folded."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            names = reader.fieldnames or []
            for col in (key, value):
                if col not in names:
                    raise MappingError(
                        f"lookup file {path} has no column {col!r} (it has {', '.join(names)})",
                        key_path=key_path,
                        path=str(path),
                    )
            # A row with an empty value (a template line not filled in yet) is no entry: the
            # value then passes on as written instead of becoming an empty user.
            return {
                row[key].strip().casefold(): row[value].strip()
                for row in reader
                if row.get(key) and row.get(key, "").strip() and (row.get(value) or "").strip()
            }
    except OSError as exc:
        raise MappingError(
            f"cannot read lookup file {path}: {exc.strerror}", key_path=key_path, path=str(path)
        ) from None
    except UnicodeDecodeError:
        raise MappingError(
            f"lookup file {path} is not UTF-8 text",
            key_path=key_path,
            path=str(path),
            hint='save it as UTF-8 (in Excel: "CSV UTF-8")',
        ) from None


def _load_lookups(
    mapping: Mapping, base: Path, source: str
) -> tuple[dict[str, dict[str, str]], dict[str, str], tuple[str, ...]]:
    """(tables, files, missing): a lookup whose file does not exist gets an empty table
    (its values pass on, see ``core.mapping.Lookup``) unless it is ``required``."""
    tables: dict[str, dict[str, str]] = {}
    files: dict[str, str] = {}
    missing: list[str] = []
    for name, spec in mapping.lookups.items():
        file = Path(spec.file)
        if not file.is_absolute():
            file = base / file
        files[name] = str(file)
        key_path = f"lookups.{name}.file"
        if not file.exists() and not spec.required:
            tables[name] = {}
            missing.append(name)
            continue
        if not file.exists():
            raise MappingError(
                f"{source}: lookup {name!r} is required but {file} does not exist",
                key_path=key_path,
                path=str(file),
                hint="create it (`mapping init FILE -o MAPPING` writes a template) or set "
                "`required: false` to let unknown values pass on",
            )
        tables[name] = load_lookup(file, spec.key, spec.value, key_path=key_path)
    return tables, files, tuple(missing)


def load_mapping(path: str | Path, *, lookup_dir: str | Path | None = None) -> LoadedMapping:
    """Load and validate a mapping YAML file and its lookup files, which are read relative
    to the mapping file (or to ``lookup_dir`` when given)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise MappingError(
            f"cannot read mapping file {p}: {exc.strerror or exc}", path=str(p)
        ) from None
    except UnicodeDecodeError:
        raise MappingError(
            f"mapping file {p} is not UTF-8 text",
            path=str(p),
            hint="--mapping takes the YAML mapping file (saved as UTF-8), not the data file",
        ) from None
    mapping = mapping_from_dict(_parse_yaml(text, str(p)), source=str(p))
    base = Path(lookup_dir) if lookup_dir is not None else p.parent
    tables, files, missing = _load_lookups(mapping, base, str(p))
    return LoadedMapping(mapping, str(p), tables, files, missing)


def _preset_files() -> dict[str, Any]:
    root = importlib.resources.files(PRESET_PACKAGE)
    return {
        entry.name.removesuffix(".yaml"): entry
        for entry in root.iterdir()
        if entry.name.endswith(".yaml")
    }


def list_presets() -> list[tuple[str, str]]:
    """(name, one-line description) of every shipped preset, sorted by name."""
    out = []
    for name, entry in sorted(_preset_files().items()):
        data = yaml.safe_load(entry.read_text(encoding="utf-8"))
        desc = data.get("description", "") if isinstance(data, dict) else ""
        out.append((name, str(desc or "").strip().splitlines()[0] if desc else ""))
    return out


def preset_text(name: str) -> str:
    """The YAML text of a shipped preset; MappingError listing the presets when unknown."""
    files = _preset_files()
    if name not in files:
        known = ", ".join(sorted(files)) or "none"
        raise MappingError(
            f"unknown preset {name!r}; shipped presets: {known}",
            hint="`timetracker-import mapping presets` lists them",
        )
    return str(files[name].read_text(encoding="utf-8"))


def load_preset(name: str, *, lookup_dir: str | Path | None = None) -> LoadedMapping:
    """Load a shipped preset from the installed package ``timetracker_import.mappings``.

    Its lookup files (e.g. harvest-users.csv) are the user's data, read from ``lookup_dir``:
    the commands pass ``--lookup-dir`` or else the input file's folder (docs/presets.md);
    without one (a caller with no input file) the current directory. A missing one leaves
    its table empty: its values pass on (users to the server, work item keys into the
    comment)."""
    source = f"preset {name}"
    mapping = mapping_from_dict(_parse_yaml(preset_text(name), source), source=source)
    base = Path(lookup_dir) if lookup_dir is not None else Path.cwd()
    tables, files, missing = _load_lookups(mapping, base, source)
    return LoadedMapping(mapping, source, tables, files, missing)


def write_lookup_template(
    path: Path, key: str, value: str, rows: list[tuple[str, str, str]]
) -> None:
    """Write a lookup CSV: ``key``, ``value`` and a ``note`` column, one line per
    (key, value, note); an empty value is no entry yet (``load_lookup`` ignores the line).
    Refuses to overwrite (the caller checks first; this is the last guard)."""
    try:
        with path.open("x", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow([key, value, "note"])
            writer.writerows(rows)
    except OSError as exc:
        raise MappingError(
            f"cannot write lookup template {path}: {exc.strerror or exc}", path=str(path)
        ) from None


def mapping_from_data(data: Any, *, base: Path | None = None) -> LoadedMapping:
    """A mapping given as plain data (what a mapping YAML file holds), e.g. built by a
    program or a form; its lookup files are read relative to ``base`` (default: the current
    directory)."""
    source = "mapping (given as data)"
    mapping = mapping_from_dict(data, source=source)
    tables, files, missing = _load_lookups(mapping, base or Path.cwd(), source)
    return LoadedMapping(mapping, source, tables, files, missing)
