"""``auth login | status | logout``: keep the API token in the OS keyring.

The token is typed at a hidden prompt (never an option), checked with ``me`` before it is
stored, and shown afterwards only as ``****`` plus its last four characters.
"""

from __future__ import annotations

import click

from . import evidence
from .options import ConnectionOptions, connection_options, json_option


@click.group("auth")
def auth() -> None:
    """Store, check or remove the 7pace API token (OS keyring)."""


def _where(url: str, collection: str | None, profile: str | None) -> str:
    target = f"{url} (collection {collection})" if collection else url
    return f"profile {profile!r}, {target}" if profile else target


def _ntlm_has_no_token() -> Exception:
    from timetracker_import.errors import UsageError

    return UsageError(
        "auth login stores an API token, and NTLM (Windows authentication) has none: "
        "nothing is stored for --auth ntlm",
        hint="NTLM uses --ntlm-user DOMAIN\\user with the password from $TIMETRACKER_PASSWORD or "
        "--password-file on each command; check them with `timetracker-import me --auth ntlm "
        "--ntlm-user DOMAIN\\user`",
    )


@auth.command("login")
@connection_options
@click.option("--no-verify", is_flag=True, help="Store the token without calling `me` first.")
def login(connection: ConnectionOptions, no_verify: bool) -> int:
    """Ask for the token (hidden), check it, and store it in the OS keyring.

    With --profile NAME and --url/--org, the profile is created (without the token) in the
    user config profiles.toml, so later commands need only --profile NAME. The profile is
    written only once the token is stored, and the rest of the file (other profiles,
    comments) stays as it was.
    """
    import dataclasses

    from timetracker_import import library

    if connection.auth == "ntlm":  # refuse before a profile is created or a prompt shown
        raise _ntlm_has_no_token()
    new_profile = bool(connection.profile) and connection.profile not in {
        name for name, _url in library.profile_urls()
    }
    if new_profile:
        if not (connection.url or connection.org):
            raise click.UsageError(
                f"profile {connection.profile!r} does not exist; give --url or --org to create it"
            )
        base = dataclasses.replace(connection, profile=None).target()
        target = dataclasses.replace(base, profile=connection.profile, profile_entry={})
    else:
        target = connection.target()
    if target.auth_scheme == "ntlm":  # the profile says ntlm
        raise _ntlm_has_no_token()
    try:
        token = click.prompt("7pace API token", hide_input=True).strip()
    except click.Abort as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):
            raise KeyboardInterrupt from None  # Ctrl-C: exit 130 like every command
        # stdin ended (no terminal, nothing piped): a usage problem, not "rows rejected"
        raise click.UsageError(
            "no token entered: type it at the hidden prompt in a terminal, or pipe it in"
        ) from None
    if not token:
        raise click.UsageError("no token entered")
    settings = library.token_settings(target, token, source="prompt")
    who = ""
    if not no_verify:
        me = library.me(settings)
        user = me.get("user") or {}
        who = f" as {user.get('displayName') or user.get('name')} ({user.get('uniqueName')})"
    library.remember_token(settings, token)
    if new_profile:
        assert target.profile is not None
        written = library.save_profile(
            target.profile,
            url=target.url,
            collection=target.collection,
            api_version=connection.api_version,
        )
        click.echo(f"created profile {target.profile!r} in {written}", err=True)
    click.echo(
        f"logged in{who}; token {settings.token} stored in the OS keyring for "
        f"{_where(target.url, target.collection, target.profile)}"
    )
    return 0


@auth.command("status")
@json_option("Print the server, profile, token source and user as JSON to stdout.")
@connection_options
def status(connection: ConnectionOptions, as_json: bool) -> int:
    """Show where the token comes from and whom it belongs to (calls `me`)."""
    from timetracker_import import library

    settings = connection.resolve()
    me = library.me(settings)
    user = me.get("user") or {}
    lines = [
        f"server:   {settings.rest_root} (api-version {settings.api_version})",
        f"profile:  {settings.profile or '-'}",
        f"token:    {settings.token} (from {settings.token_source}, {settings.auth_scheme})",
        f"user:     {user.get('displayName') or user.get('name')} <{user.get('uniqueName')}>",
        f"user id:  {user.get('id')}",
        f"timezone: UTC{int(me.get('timeZone') or 0):+d} min",
    ]
    if as_json:
        evidence.emit(
            {
                "exit_code": 0,
                "server": settings.rest_root,
                "api_version": settings.api_version,
                "profile": settings.profile,
                "token": str(settings.token),  # masked: ****abcd
                "token_source": settings.token_source,
                "auth_scheme": settings.auth_scheme,
                "user": {k: user.get(k) for k in ("id", "displayName", "uniqueName", "email")},
                "timezone_offset_minutes": int(me.get("timeZone") or 0),
            }
        )
    else:
        click.echo("\n".join(lines))
    return 0


@auth.command("logout")
@connection_options
def logout(connection: ConnectionOptions) -> int:
    """Remove the stored token from the OS keyring."""
    from timetracker_import import library

    target = connection.target()
    removed = library.forget_token(target)
    where = _where(target.url, target.collection, target.profile)
    if removed:
        click.echo(f"removed the stored token for {where}")
    else:
        click.echo(f"no token was stored for {where}")
    return 0
