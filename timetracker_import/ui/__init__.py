"""The local web app (``timetracker-import ui``): server-rendered pages over the library.

``make_app`` builds the aiohttp application, ``serve`` runs it on loopback. Security model
in ``security.py``; pages in ``pages.py`` (file, mapping, validate) and ``pages_run.py``
(connect, dry run, import, runs). See docs/ui.md.
"""

from __future__ import annotations

from timetracker_import.ui.server import make_app, serve

__all__ = ["make_app", "serve"]
