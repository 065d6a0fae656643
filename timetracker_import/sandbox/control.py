"""The ``/_sandbox/*`` control endpoints (stats, faults, reset); no token needed."""

from __future__ import annotations

import json

from aiohttp import web

from timetracker_import.sandbox.context import SandboxState
from timetracker_import.sandbox.faults import FaultSpecError, make_limiter


async def control(request: web.Request, state: SandboxState, parts: list[str]) -> web.Response:
    """Sandbox-only endpoints (no token): stats, faults, reset."""
    route = (request.method, "/".join(parts))
    if route == ("GET", "stats"):
        return web.json_response(
            {
                "calls": dict(state.calls),
                "worklogs": state.store.count_worklogs(),
                "rateLimited": state.rate_limited,
                "faults": [f.spec for f in state.faults.faults],
                "faultCalls": dict(state.faults.calls),
                "fired": dict(state.faults.fired),
                "capacity": state.capacity.stats(),
            }
        )
    if route == ("GET", "faults"):
        return web.json_response({"faults": [f.spec for f in state.faults.faults]})
    if route == ("POST", "faults"):
        try:
            body = json.loads((await request.read()) or b"[]")
        except ValueError:
            return web.json_response({"error": "body must be JSON"}, status=400)
        specs = body.get("faults", []) if isinstance(body, dict) else body
        if not isinstance(specs, list) or not all(isinstance(s, str) for s in specs):
            return web.json_response({"error": "expected a list of fault specs"}, status=400)
        try:
            state.faults.set(specs)
        except FaultSpecError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        state.faults.calls.clear()  # "batch#3" counts from now on
        return web.json_response({"faults": [f.spec for f in state.faults.faults]})
    if route == ("POST", "reset"):
        state.faults.reset()
        state.calls.clear()
        state.rate_limited = 0
        state.capacity.reset_counters()
        state.limiter = make_limiter(state.rate_limit_spec)
        state.store.apply_seed(state.seed, wipe=True)
        return web.json_response({"reset": True})
    return web.json_response({"Message": "unknown sandbox control endpoint"}, status=404)
