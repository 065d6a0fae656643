"""The wizard's pages that talk to 7pace: Connect, Dry run, Import (with live progress and
Cancel), the result with Undo, and the Runs history."""

from __future__ import annotations

import asyncio

from aiohttp import web

from timetracker_import.errors import TimetrackerError
from timetracker_import.ui import service
from timetracker_import.ui.html import e, form, nav, select
from timetracker_import.ui.pages import csrf, need, problem, render, wizard

routes = web.RouteTableDef()


# --------------------------------------------------------------------------- Connect


def connect_body(request: web.Request) -> str:
    w = wizard(request)
    current = ""
    if w.connection is not None:
        c: service.Connected = w.connection
        current = (
            '<div class="notice" id="connected"><b>Connected</b> to '
            f"{e(c.where)} as <b>{e(c.who)}</b>; token <span class=secret>{e(c.token_label)}</span>. "
            '<a href="/dryrun">Go on to the dry run &rarr;</a></div>'
        )
    profiles = service.profiles()
    env_url = service.environment_url()
    choices = []
    if env_url:
        choices.append(
            '<label class="choice"><input type="radio" name="target" value="env" checked> '
            f"The server in $TIMETRACKER_URL: <code>{e(env_url)}</code></label>"
        )
    for name, url in profiles:
        choices.append(
            f'<label class="choice"><input type="radio" name="target" value="profile:{e(name)}"'
            f"{' checked' if not env_url and not choices else ''}> Profile <b>{e(name)}</b>"
            f" <span class=help>{e(url)}</span></label>"
        )
    choices.append(
        '<label class="choice"><input type="radio" name="target" value="url" id="target-url"'
        f"{' checked' if not choices else ''}> This server: "
        '<input name="url" size="44" placeholder="https://dev.azure.com/myorg" id="url"> '
        '<input name="collection" size="16" placeholder="collection (on-premises)"></label>'
    )
    inner = (
        "<fieldset><legend>Server</legend>" + "".join(choices) + "</fieldset>"
        "<fieldset><legend>API token</legend>"
        "<p class=help>Leave it empty to use the token the command line would use: "
        "$TIMETRACKER_TOKEN, the profile, or the one stored by <code>timetracker-import auth "
        "login</code> in the OS keyring. A token pasted here is used for this session only, "
        "unless you tick the box; it is never shown again, logged or written to the run "
        "folder.</p>"
        '<label>Token <input type="password" name="token" id="token" size="44" '
        'autocomplete="off" spellcheck="false"></label>'
        '<label><input type="checkbox" name="remember" value="1"> remember it in the OS '
        "keyring</label></fieldset>" + nav("/validate", "Check the connection")
    )
    return current + form("/connect", inner, csrf=csrf(request), form_id="connect")


@routes.get("/connect")
async def connect_page(request: web.Request) -> web.StreamResponse:
    need(request, "file", "mapping")
    return render(request, "Connect to 7pace", connect_body(request), step="/connect")


@routes.post("/connect")
async def connect_post(request: web.Request) -> web.StreamResponse:
    need(request, "file", "mapping")
    w = wizard(request)
    data = await request.post()
    target = str(data.get("target") or "url")
    kwargs: dict[str, object] = {
        "pasted": str(data.get("token") or ""),
        "remember": data.get("remember") == "1",
    }
    if target.startswith("profile:"):
        kwargs["profile"] = target.removeprefix("profile:")
    elif target == "url":
        kwargs["url"] = str(data.get("url") or "")
        kwargs["collection"] = str(data.get("collection") or "")
        if not kwargs["url"]:
            from timetracker_import.errors import UsageError

            exc = UsageError("no server URL given", hint="type the server's URL, or pick a profile")
            return render(request, "Connect to 7pace", connect_body(request), step="/connect",
                          error=problem(exc), status=400)  # fmt: skip
    del data
    try:
        connected = await asyncio.to_thread(lambda: service.connect(**kwargs))  # type: ignore[arg-type]
    except TimetrackerError as exc:
        return render(request, "Connect to 7pace", connect_body(request), step="/connect",
                      error=problem(exc), status=400)  # fmt: skip
    finally:
        kwargs.clear()  # the pasted token goes out of scope with the request
    w.connection = connected
    w.dry_run = None
    raise web.HTTPSeeOther("/dryrun")


_ = select  # used by the run pages below
