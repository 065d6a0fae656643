"""The time zone a run reads naive times in: which one, where it came from, and what to say
about it. One rule for ``validate``, ``import`` and ``sync``.

A time without an offset ("09:00") means nothing until a zone is chosen: ``--timezone``
beats the mapping's ``timezone:``, which beats this machine's zone. The machine's zone is a
guess: the same file read on a UTC CI agent and on a Berlin laptop lands an hour apart.
So every summary names the zone and its origin, an unattended run refuses to guess
(``require_declared``), and a zone whose offset today differs from the 7pace user's own
(``me.timeZone``, minutes, the only zone fact the API gives: no IANA name, no DST rule) is
warned about - the offset itself is never used as a zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from timetracker_import.errors import UsageError

#: where a zone came from, as summaries and ``--json`` say it
FROM_OPTION = "--timezone"
FROM_MAPPING = "mapping"
FROM_MACHINE = "machine"


@dataclass(frozen=True)
class ZoneChoice:
    """The zone of a run: an IANA ``name`` and its ``source`` (``FROM_OPTION``,
    ``FROM_MAPPING`` or ``FROM_MACHINE``)."""

    name: str
    source: str

    @classmethod
    def of(cls, name: str, source_text: str) -> ZoneChoice:
        """From ``app.validate.choose_timezone``'s (zone, where) pair."""
        if source_text.startswith("--"):
            return cls(name, FROM_OPTION)
        if source_text == "mapping":
            return cls(name, FROM_MAPPING)
        return cls(name, FROM_MACHINE)

    @property
    def declared(self) -> bool:
        return self.source != FROM_MACHINE

    def offset_minutes(self, at: datetime | None = None) -> int:
        """The zone's offset from UTC at ``at`` (now), in minutes."""
        moment = (at or datetime.now(UTC)).astimezone(ZoneInfo(self.name))
        offset = moment.utcoffset()
        return 0 if offset is None else int(offset.total_seconds() // 60)

    def describe(self) -> str:
        where = {
            FROM_OPTION: "from --timezone",
            FROM_MAPPING: "from the mapping",
            FROM_MACHINE: "this machine's zone: neither --timezone nor the mapping declares one",
        }[self.source]
        return f"{self.name} ({where})"

    def to_dict(self, me_offset: int | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "source": self.source,
            "offset_minutes_today": self.offset_minutes(),
        }
        if me_offset is not None:
            data["token_user_offset_minutes"] = me_offset
        return data


def _utc_offset(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{mins:02d}"


def zone_warnings(
    zone: ZoneChoice,
    *,
    naive_times: int,
    me_offset: int | None = None,
    at: datetime | None = None,
) -> list[str]:
    """What to warn about the zone (nothing when no time was read without an offset)."""
    if not naive_times:
        return []
    notes: list[str] = []
    if not zone.declared:
        notes.append(
            f"{naive_times} time(s) without an offset were read in this machine's zone "
            f"{zone.name}; declare the zone (--timezone ZONE, or timezone: in the mapping) so "
            "that another machine reads them the same"
        )
    if me_offset is not None:
        ours = zone.offset_minutes(at)
        if ours != me_offset:
            notes.append(
                f"times were read in {zone.name} ({_utc_offset(ours)} today), but the token's "
                f"7pace user is at {_utc_offset(me_offset)} today (me.timeZone); if the file's "
                "times are that user's local times, give --timezone with their zone"
            )
    return notes


def require_declared(zone: ZoneChoice, *, command: str, why: str) -> None:
    """Refuse to guess the zone of an unattended run (``why``: what the zone would be used
    for). UsageError naming the fix."""
    if zone.declared:
        return
    raise UsageError(
        f"{command} will not guess the time zone: {why}, and neither --timezone nor the "
        f"mapping declares one (this machine's zone is {zone.name})",
        hint=f"add --timezone {zone.name} (or another IANA zone), or timezone: "
        f"{zone.name} in the mapping",
    )
