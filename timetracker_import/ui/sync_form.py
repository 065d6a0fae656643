"""The Sync page's setup as data: which file, which mapping, the id column, the source, the
period, the time zone and the deletion guard's limit; read from the form (refused in the
page's words when something is missing: the page never fills in a source or a period
itself), saved as ``<config folder>/sync-setups/NAME.yaml`` and read back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from timetracker_import import library as lib
from timetracker_import.errors import UsageError
from timetracker_import.ui.mapping_form import MappingChoice, named_choice

#: the relative periods offered (what the command line's period takes), with their words
RELATIVE = (
    ("week:previous", "last week (Monday to Sunday)"),
    ("week:current", "this week (Monday to Sunday)"),
    ("last:7d", "the last 7 days, today included"),
    ("last:14d", "the last 14 days, today included"),
    ("last:31d", "the last 31 days, today included"),
    ("month:previous", "last month"),
    ("month:current", "this month"),
)
RELATIVE_SPECS = frozenset(spec for spec, _ in RELATIVE)
#: the deletion guard's limits the page offers
LIMITS = ("default", "count", "share", "none")


@dataclass(frozen=True)
class SyncSetup:
    """One sync as the page describes it. ``period`` None: no period (nothing is ever
    deleted); ``limit`` None: the guard's default, else a count, a share ("25%") or "all"."""

    path: Path
    file_label: str  # where the file came from, in words
    mapping: MappingChoice
    source: str
    period: str | None
    prune: bool = False
    limit: str | None = None
    key: str | None = None
    timezone: str | None = None
    sheet: str | None = None
    name: str | None = None  # the saved setup it was read from
    form: dict[str, str] = field(default_factory=dict, compare=False)

    def kwargs(self) -> dict[str, Any]:
        """The arguments of ``library.sync_file`` this setup stands for."""
        window: str | tuple[dt.date, dt.date] | None = self.period
        return {
            "sheet": self.sheet,
            "keys": (self.key,) if self.key else (),
            "source": self.source,
            "window": window,
            "prune": self.prune and self.period is not None,
            "max_delete": self.limit,
            "timezone": self.timezone,
            **self.mapping.kwargs(),
        }

    @property
    def period_words(self) -> str:
        if self.period is None:
            return "no period: nothing is ever deleted"
        return dict(RELATIVE).get(self.period, self.period.replace("..", " to "))

    @property
    def limit_words(self) -> str:
        if not self.prune:
            return "nothing is deleted (deleting is off)"
        if self.limit is None:
            return (
                "the default: at most 5 deletions, or 20% of this source's worklogs in the period"
            )
        if self.limit == "all":
            return "no limit"
        if self.limit.endswith("%"):
            return f"at most {self.limit} of this source's worklogs in the period"
        return f"at most {self.limit} deletion(s)"

    def to_data(self) -> dict[str, Any]:
        """What a saved setup holds (the mapping as a preset or saved name, or its data)."""
        m = self.mapping
        mapping: dict[str, Any] = (
            {"preset": m.preset}
            if m.preset
            else {"saved": m.saved}
            if m.saved
            else {"data": m.as_data()}
        )
        return {
            "file": str(self.path),
            "sheet": self.sheet,
            "mapping": mapping,
            "key": self.key,
            "source": self.source,
            "period": self.period,
            "timezone": self.timezone,
            "prune": self.prune,
            "limit": self.limit,
        }


def period_from(form: Mapping[str, str]) -> str | None:
    """The period the form chose (None: "no period"); refused when none was chosen."""
    kind = form.get("period_kind", "")
    if kind == "none":
        return None
    if kind == "relative":
        spec = form.get("period_relative", "")
        if spec not in RELATIVE_SPECS:
            raise UsageError(
                "no relative period chosen", hint="choose one from the list (e.g. last week)"
            )
        return spec
    if kind == "dates":
        first, last = form.get("period_from", "").strip(), form.get("period_to", "").strip()
        try:
            a, b = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
        except ValueError:
            raise UsageError(
                "the period needs a first and a last day",
                hint="fill in both dates, e.g. 2026-11-01 and 2026-11-30",
            ) from None
        if a > b:
            raise UsageError(
                f"the period ends ({b}) before it starts ({a})", hint="swap the two dates"
            )
        return f"{a.isoformat()}..{b.isoformat()}"
    raise UsageError(
        "no period chosen",
        hint="choose the days this file is about (dates, or e.g. last week), or 'No period' "
        "(then nothing is ever deleted)",
    )


def limit_from(form: Mapping[str, str]) -> str | None:
    """The deletion guard's limit the form chose (None: the default)."""
    kind = form.get("limit_kind", "default")
    if kind == "default":
        return None
    if kind == "none":
        return "all"
    if kind == "count":
        text = form.get("limit_count", "").strip()
        if not text.isdigit():
            raise UsageError(
                f"the number of deletions allowed must be a whole number, not {text!r}",
                hint="e.g. 10 (0: no deletion at all)",
            )
        return str(int(text))
    if kind == "share":
        text = form.get("limit_share", "").strip().rstrip("%").strip()
        try:
            share = float(text)
        except ValueError:
            share = -1.0
        if not 0 <= share <= 100:
            raise UsageError(
                f"the share of deletions allowed must be between 0 and 100, not {text!r}",
                hint="e.g. 25 (percent)",
            )
        return f"{share:g}%"
    raise UsageError("unknown deletion limit", hint="choose one of the limits offered")


def setup_from(
    form: Mapping[str, str],
    *,
    file: tuple[Path, str, str | None] | None,
    mapping: MappingChoice | None,
    regular_file: Callable[[str], Path],
    kept: MappingChoice | None = None,
) -> SyncSetup:
    """The setup the form describes. ``file`` and ``mapping`` are the File and Mapping
    pages' choices, ``kept`` the mapping of the setup chosen with "Use";
    ``regular_file(text)`` checks a typed path (symbolic links refused)."""
    if form.get("file_kind") == "path":
        path = regular_file(form.get("file_path", "").strip())
        label, sheet = f"the path {path}", None
    elif file is not None:
        path, label, sheet = file[0], f"the File page's {file[1]}", file[2]
    else:
        raise UsageError(
            "no file chosen", hint="choose one on the File page, or type its full path"
        )
    picked = form.get("mapping", "")
    if picked in ("", "pick"):
        picked = form.get("mapping_pick", "")
    choice = mapping_from(picked, current=mapping, kept=kept)
    source = form.get("source", "").strip()
    if not source:
        raise UsageError(
            "no source named",
            hint="type a name for this feed of worklogs (e.g. payroll); a sync only changes "
            "the worklogs of its own source",
        )
    zone = form.get("timezone", "").strip() or None
    if zone is not None:
        check_zone(zone)
    period = period_from(form)
    prune = form.get("prune") == "1"
    if prune and period is None:
        # "No period: nothing is ever deleted" holds even when the mapping names a window
        raise UsageError(
            "deleting worklogs that left the file needs a period, and “No period” is chosen",
            hint="choose the days this file is about, or untick “Delete worklogs that left "
            "the file”",
        )
    return SyncSetup(
        path=path,
        file_label=label,
        mapping=choice,
        source=source,
        period=period,
        prune=prune,
        limit=limit_from(form),
        key=form.get("key", "").strip() or None,
        timezone=zone,
        sheet=sheet,
        form=dict(form),
    )


def check_zone(zone: str) -> None:
    """UsageError unless ``zone`` is an IANA time zone name."""
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"{zone!r} is not a time zone", hint="pick one from the list, e.g. Europe/Berlin"
        ) from None


def mapping_from(
    value: str, *, current: MappingChoice | None, kept: MappingChoice | None = None
) -> MappingChoice:
    """``current`` (the Mapping page's), ``setup`` (the one of the setup chosen with "Use"),
    ``preset:NAME`` or ``saved:NAME``."""
    if value == "setup" and kept is not None:
        return kept
    if value == "current":
        if current is None:
            raise UsageError(
                "the Mapping page has no mapping yet",
                hint="choose a preset or a saved mapping here",
            )
        return current
    named = named_choice(value)
    if named is not None:
        return named
    raise UsageError(
        "no mapping chosen", hint="choose a preset, a saved mapping or the Mapping page's"
    )


def setup_from_data(
    name: str, data: Mapping[str, Any], regular_file: Callable[[str], Path]
) -> SyncSetup:
    """A saved setup read back (its file checked again: it may have moved)."""
    m = data.get("mapping") or {}
    if not isinstance(m, dict):
        raise UsageError(f"the sync setup {name!r} has no mapping", hint="save it again")
    if m.get("preset"):
        choice = MappingChoice(preset=str(m["preset"]))
    elif m.get("saved"):
        choice = MappingChoice(data=lib.saved_mapping(str(m["saved"])), saved=str(m["saved"]))
    elif isinstance(m.get("data"), dict):
        choice = MappingChoice(data=dict(m["data"]), based_on=f"the sync setup {name}")
    else:
        raise UsageError(f"the sync setup {name!r} has no mapping", hint="save it again")
    path = regular_file(str(data.get("file") or ""))
    source = str(data.get("source") or "").strip()
    if not source:
        raise UsageError(f"the sync setup {name!r} names no source", hint="save it again")
    period = data.get("period")
    limit = data.get("limit")
    return SyncSetup(
        path=path,
        file_label=f"the path {path}",
        mapping=choice,
        source=source,
        period=None if period is None else str(period),
        prune=bool(data.get("prune")),
        limit=None if limit is None else str(limit),
        key=data.get("key") or None,
        timezone=data.get("timezone") or None,
        sheet=data.get("sheet") or None,
        name=name,
    )


def form_of(setup: SyncSetup) -> dict[str, str]:
    """The form's fields for a setup (a saved one chosen again with "Use")."""
    form = {
        "file_kind": "path",
        "file_path": str(setup.path),
        "source": setup.source,
        "key": setup.key or "",
        "timezone": setup.timezone or "",
        "prune": "1" if setup.prune else "",
    }
    form["mapping"] = "setup"  # the setup's own mapping (kept beside the form)
    if setup.period is None:
        form["period_kind"] = "none"
    elif setup.period in RELATIVE_SPECS:
        form.update(period_kind="relative", period_relative=setup.period)
    else:
        first, _, last = setup.period.partition("..")
        form.update(period_kind="dates", period_from=first, period_to=last)
    limit = setup.limit
    if limit is None:
        form["limit_kind"] = "default"
    elif limit == "all":
        form["limit_kind"] = "none"
    elif limit.endswith("%"):
        form.update(limit_kind="share", limit_share=limit.rstrip("%"))
    else:
        form.update(limit_kind="count", limit_count=limit)
    return form
