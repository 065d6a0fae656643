"""Adaptive concurrency as a pure state machine (no asyncio here; see ``app/concurrency.py``).

Starts at the maximum, halves on every 429 (never below 1) and grows back by one after
``grow_after`` consecutive successes, up to the maximum: quick to back off, slow to push again.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class AdaptiveLimit:
    """How many requests may be in flight at once."""

    maximum: int
    grow_after: int = 10
    limit: int = field(init=False)
    streak: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if self.maximum < 1:
            raise ValueError(f"concurrency must be at least 1, got {self.maximum}")
        if self.grow_after < 1:
            raise ValueError(f"grow_after must be at least 1, got {self.grow_after}")
        self.limit = self.maximum

    def can_start(self, in_flight: int) -> bool:
        """True when one more request may start while ``in_flight`` are running."""
        return in_flight < self.limit

    def on_success(self) -> None:
        """A request finished without being throttled."""
        self.streak += 1
        if self.streak >= self.grow_after and self.limit < self.maximum:
            self.limit += 1
            self.streak = 0

    def on_throttled(self) -> None:
        """The server answered 429: halve the limit and start counting successes anew."""
        self.limit = max(1, self.limit // 2)
        self.streak = 0

    def on_failure(self) -> None:
        """Another failure (not a throttle): the limit stays, the success streak is broken."""
        self.streak = 0
