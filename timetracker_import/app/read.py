"""Read-only use cases: who am I, the users, the activity types.

Each opens a ``TimetrackerClient`` for the given settings, makes its calls and returns plain
data; the CLI renders it. ``client_factory`` lets tests and other use cases swap the client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from timetracker_import.api.client import ClientFactory, open_client

if TYPE_CHECKING:
    from timetracker_import.api.settings import ConnectionSettings


async def fetch_me(
    settings: ConnectionSettings, *, client_factory: ClientFactory | None = None
) -> dict[str, Any]:
    """``me``: the token's user (display name expanded), account, default activity type and
    time zone."""
    async with open_client(settings, client_factory) as client:
        return await client.me(expand_display_name=True)


async def fetch_users(
    settings: ConnectionSettings, *, client_factory: ClientFactory | None = None
) -> list[dict[str, Any]]:
    """All 7pace users (every page), with display names."""
    async with open_client(settings, client_factory) as client:
        return await client.users(expand_display_name=True)


async def fetch_activity_types(
    settings: ConnectionSettings, *, client_factory: ClientFactory | None = None
) -> dict[str, Any]:
    """``{enabled, systemDefaultActivityTypeId, activityTypes: [...]}``."""
    async with open_client(settings, client_factory) as client:
        return await client.activity_types()
