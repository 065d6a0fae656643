"""An in-memory ``TokenStore`` (never the real keyring)."""

from __future__ import annotations


class FakeStore:
    """Tokens in a dict, with the ``get``/``set``/``delete`` of ``api.settings.TokenStore``."""

    def __init__(self, tokens: dict[str, str] | None = None) -> None:
        self.tokens = dict(tokens or {})

    def get(self, key: str) -> str | None:
        return self.tokens.get(key)

    def set(self, key: str, token: str) -> None:
        self.tokens[key] = token

    def delete(self, key: str) -> bool:
        return self.tokens.pop(key, None) is not None
