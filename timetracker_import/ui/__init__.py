"""The local web app (``timetracker-import ui``): server-rendered pages over the library.

``make_app`` builds the aiohttp application, ``serve`` runs it on loopback. Security model
in ``security.py``; one module per wizard step in ``steps/``, Jinja2 templates in
``templates/``; the web app reaches the rest of the package only through ``library.py``.
See docs/ui.md.
"""

from __future__ import annotations

from timetracker_import.ui.server import make_app, serve

__all__ = ["make_app", "serve"]
