"""The embedded 7pace sandbox: an independent emulator of the REST CRUD API v3.

Public entry points: :func:`make_app` (aiohttp app factory), :func:`run_sandbox_in_thread`
(a live server for end-to-end tests) and :func:`serve_forever` (the ``sandbox`` command).
See docs/sandbox.md.
"""

from __future__ import annotations

from timetracker_import.sandbox.app import make_app
from timetracker_import.sandbox.capacity import Capacity, CapacitySpecError
from timetracker_import.sandbox.context import STATE, SandboxState
from timetracker_import.sandbox.faults import Fault, FaultPlan, FaultSpecError, parse_fault
from timetracker_import.sandbox.seed import Seed, SeedError, load_seed
from timetracker_import.sandbox.server import RunningSandbox, run_sandbox_in_thread, serve_forever

__all__ = [
    "STATE",
    "Capacity",
    "CapacitySpecError",
    "Fault",
    "FaultPlan",
    "FaultSpecError",
    "RunningSandbox",
    "SandboxState",
    "Seed",
    "SeedError",
    "load_seed",
    "make_app",
    "parse_fault",
    "run_sandbox_in_thread",
    "serve_forever",
]
