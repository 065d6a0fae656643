"""Read-only use cases: who am I, the users, the activity types.

Each opens a ``TimetrackerClient`` for the given settings, makes its calls and returns plain
data; the CLI renders it. ``client_factory`` lets tests and other use cases swap the client.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from timetracker_import.api.client import TimetrackerClient
    from timetracker_import.api.settings import ConnectionSettings

ClientFactory = Callable[["ConnectionSettings"], "TimetrackerClient"]


def _default_factory(settings: ConnectionSettings) -> TimetrackerClient:
    from timetracker_import.api.client import TimetrackerClient

    return TimetrackerClient(settings)


async def fetch_me(
    settings: ConnectionSettings, *, client_factory: ClientFactory | None = None
) -> dict[str, Any]:
    """``me``: the token's user (display name expanded), account, default activity type and
    time zone."""
    async with (client_factory or _default_factory)(settings) as client:
        return await client.me(expand_display_name=True)


async def fetch_users(
    settings: ConnectionSettings, *, client_factory: ClientFactory | None = None
) -> list[dict[str, Any]]:
    """All 7pace users (every page), with display names."""
    async with (client_factory or _default_factory)(settings) as client:
        return await client.users(expand_display_name=True)


async def fetch_activity_types(
    settings: ConnectionSettings, *, client_factory: ClientFactory | None = None
) -> dict[str, Any]:
    """``{enabled, systemDefaultActivityTypeId, activityTypes: [...]}``."""
    async with (client_factory or _default_factory)(settings) as client:
        return await client.activity_types()
