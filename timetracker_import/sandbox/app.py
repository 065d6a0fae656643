"""The sandbox's aiohttp application factory.

An independent implementation of the 7pace REST API contract (docs/sandbox.md; its D1-D24 are
binding). Nothing here imports the client side of the project. The request context is in
``context.py``, the request pipeline in ``pipeline.py``, one module per resource under
``routes/``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aiohttp import web

from timetracker_import.sandbox.capacity import Capacity
from timetracker_import.sandbox.context import MAX_BODY_BYTES, STATE, SandboxState
from timetracker_import.sandbox.faults import FaultPlan, RateLimiter, as_fault_plan, make_limiter
from timetracker_import.sandbox.ntlm import NtlmAcceptor, load_ntlm_users
from timetracker_import.sandbox.pipeline import dispatch
from timetracker_import.sandbox.seed import Seed, load_seed
from timetracker_import.sandbox.store import Store


def make_app(
    *,
    seed: str | Path | dict[str, Any] | Seed = "demo",
    db: str | Path = ":memory:",
    faults: FaultPlan | Iterable[str] | None = None,
    latency_ms: float = 0,
    rate_limit: str | float | RateLimiter | None = None,
    auth: str = "token",
    ntlm_users: str | Path | None = None,
    capacity: int | None = None,
    row_cost_ms: float = 0,
    queue: int | None = None,
) -> web.Application:
    """Build the sandbox application.

    ``seed``: a built-in name (``"demo"``, ``"approvals"``), a YAML/JSON path, a dict or a
    :class:`Seed`; ``db``: ``":memory:"`` or a SQLite file (worklogs persist across
    restarts); ``faults``: fault specs (see docs/sandbox.md) or a :class:`FaultPlan`;
    ``latency_ms``: added to every API call;
    ``rate_limit``: ``"10/s"``, ``"100/min"`` or requests per second; ``auth``: ``"token"``
    (Bearer/Basic) or ``"ntlm"`` (Windows authentication checked against the ``ntlm_users``
    file, see docs/sandbox.md); ``capacity``: API calls served at once (None: any number),
    the others wait in line; ``row_cost_ms``: how long a call keeps its place per row it
    processes (batch items, worklogs of a page, else 1); ``queue``: calls that may wait
    (None: any number), beyond it 503. Raises ``SeedError``, ``FaultSpecError``,
    ``NtlmUsersError`` or ``CapacitySpecError`` (all ``ValueError``) for bad input.
    """
    if auth not in ("token", "ntlm"):
        raise ValueError(f"auth must be 'token' or 'ntlm', not {auth!r}")
    if (auth == "ntlm") != (ntlm_users is not None):
        raise ValueError("auth='ntlm' needs ntlm_users (and ntlm_users needs auth='ntlm')")
    loaded = seed if isinstance(seed, Seed) else load_seed(seed)
    acceptor = None
    if ntlm_users is not None:
        acceptor = NtlmAcceptor(load_ntlm_users(ntlm_users, {u.email: u.id for u in loaded.users}))
    served = Capacity(capacity, row_cost_ms / 1000, queue)
    plan = as_fault_plan(faults)
    limiter = make_limiter(rate_limit)
    store = Store(db, loaded)
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[STATE] = SandboxState(
        seed=loaded,
        store=store,
        faults=plan,
        limiter=limiter,
        latency=latency_ms / 1000,
        rate_limit_spec=rate_limit,
        ntlm=acceptor,
        capacity=served,
    )
    app.router.add_route("*", "/{tail:.*}", dispatch)

    async def close_store(_: web.Application) -> None:
        store.close()
        if acceptor is not None:
            acceptor.close()

    app.on_cleanup.append(close_store)
    return app
