"""Step 4, Connect: the server ($TIMETRACKER_URL, a profile, or a URL) and the token (as the
command line finds it, or pasted; kept in the OS keyring when asked). Checked with ``me``
within a short timeout; the token is never shown again. A good connection starts the dry
run."""

from __future__ import annotations

import asyncio

from aiohttp import web

from timetracker_import import library as lib
from timetracker_import.errors import AuthError, TimetrackerError, UsageError
from timetracker_import.ui.render import page
from timetracker_import.ui.steps.common import values, wizard

routes = web.RouteTableDef()
URL_EXAMPLE = "https://ORG.timehub.7pace.com"
SOURCES = {
    "keyring": "the OS keyring",
    "given": "this page",
    "token-file": "a token file",
    "environment": "the environment",
    "profile": "the profiles file",
}


def render(
    request: web.Request,
    *,
    error: tuple[str, str | None] | None = None,
    kept: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    w = wizard(request)
    return page(
        request,
        "connect.html",
        title="Connect to 7pace",
        step="/connect",
        error=error,
        status=status,
        w=w,
        kept=kept or {},
        env_url=lib.environment_url(),
        profiles=lib.profile_urls(),
        example=URL_EXAMPLE,
        sources=SOURCES,
        next=request.query.get("next", ""),
    )


@routes.get("/connect")
async def connect_page(request: web.Request) -> web.StreamResponse:
    return render(request)


def connect_problem(exc: TimetrackerError) -> tuple[str, str | None]:
    """The error with a fix in this page's terms (the command line's hints name options)."""
    if exc.message == "no API token found":
        return exc.message, (
            "paste the token in the Token box (used for this session; tick the box to keep it "
            "in the OS keyring), or start the app with TIMETRACKER_TOKEN set"
        )
    if isinstance(exc, AuthError):
        return exc.message, (
            "paste a valid token: it is wrong, expired (tokens last one year) or lacks the rights"
        )
    hint = exc.hint
    if hint and ("--" in hint or "`" in hint):
        hint = "check the server address and the token, then try again"
    return exc.message, hint


def _check(target: str, url: str, collection: str, token: str, remember: bool) -> lib.Identity:
    """Resolve and check the connection (blocking)."""
    if target == "url":
        if not url:
            raise UsageError(
                "no server URL given", hint=f"type the server's address, e.g. {URL_EXAMPLE}"
            )
        if not url.startswith(("http://", "https://")):
            raise UsageError(
                f"{url!r} is not a server address",
                hint=f"write it with https://, e.g. {URL_EXAMPLE}",
            )
    if remember and not token:
        raise UsageError(
            "nothing to remember: no token was pasted", hint="paste the token, or untick 'remember'"
        )
    connection = lib.Connection(
        url=url if target == "url" else None,
        collection=(collection or None) if target == "url" else None,
        profile=target.removeprefix("profile:") if target.startswith("profile:") else None,
        token=token or None,
    )
    who = lib.whoami(connection)
    if token and remember:
        lib.remember_token(who.settings, token)
        who = lib.Identity(
            who.settings, who.name, who.email, who.where, who.token_label, "keyring-stored"
        )
    return who


@routes.post("/connect")
async def connect_post(request: web.Request) -> web.StreamResponse:
    w = wizard(request)
    data = await request.post()
    kept = values(data)  # without the token
    token = str(data.get("token") or "").strip()
    del data
    try:
        who = await asyncio.to_thread(
            _check,
            kept.get("target", "url"),
            kept.get("url", "").strip(),
            kept.get("collection", "").strip(),
            token,
            kept.get("remember") == "1",
        )
    except TimetrackerError as exc:
        return render(request, error=connect_problem(exc), kept=kept, status=400)
    finally:
        token = ""  # the pasted token goes out of scope with the request
    w.connection = who
    w.dry_run = None
    w.sync_plan = None  # another server or user: plan again
    after = kept.get("next", "")
    if after == "/sync" and w.sync_setup is not None:
        from timetracker_import.ui.steps.sync import plan_job

        raise plan_job(w, w.sync_setup)  # the setup that sent here: its plan
    if after.startswith("/runs/") or after == "/sync":
        raise web.HTTPSeeOther(after)
    if w.file is None or w.mapping is None:
        raise web.HTTPSeeOther("/connect")
    from timetracker_import.ui.steps.dryrun import dryrun_job

    raise dryrun_job(w)
