"""The route table: one module per resource; each endpoint's method, path and fault selector.

``ROUTES`` rows are (method, lower-cased path pattern, fault selector, handler); ``{id}``
captures one path segment. The pipeline (``sandbox/pipeline.py``) matches a request to a row.
"""

from __future__ import annotations

from timetracker_import.sandbox.context import Handler
from timetracker_import.sandbox.routes.approvals import h_approvals, h_week_delete, h_week_post
from timetracker_import.sandbox.routes.batch import h_batch
from timetracker_import.sandbox.routes.me import h_activity_type, h_activity_types, h_me
from timetracker_import.sandbox.routes.users import h_roles_get, h_roles_post, h_user, h_users
from timetracker_import.sandbox.routes.worklogs import (
    h_worklog_delete,
    h_worklog_get,
    h_worklog_patch,
    h_worklog_post,
    h_worklogs_all,
    h_worklogs_mine,
)

# (method, lower-cased path pattern, endpoint selector, handler); "{id}" captures a segment.
ROUTES: list[tuple[str, tuple[str, ...], str, Handler]] = [
    ("GET", ("me",), "me", h_me),
    ("GET", ("users",), "users", h_users),
    ("GET", ("users", "roles"), "roles", h_roles_get),
    ("POST", ("users", "roles"), "roles", h_roles_post),
    ("GET", ("users", "{id}"), "users", h_user),
    ("GET", ("activitytypes",), "activitytypes", h_activity_types),
    ("GET", ("activitytypes", "{id}"), "activitytypes", h_activity_type),
    ("GET", ("worklogs",), "worklogs", h_worklogs_mine),
    ("POST", ("worklogs",), "worklogs", h_worklog_post),
    ("GET", ("worklogs", "all"), "worklogs-all", h_worklogs_all),
    ("POST", ("worklogs", "batch"), "batch", h_batch),
    ("GET", ("worklogs", "{id}"), "worklogs", h_worklog_get),
    ("PATCH", ("worklogs", "{id}"), "worklogs", h_worklog_patch),
    ("DELETE", ("worklogs", "{id}"), "worklogs", h_worklog_delete),
    ("GET", ("timeapproval", "all"), "approvals", h_approvals),
    ("POST", ("timeapproval", "week"), "approvals", h_week_post),
    ("DELETE", ("timeapproval", "week"), "approvals", h_week_delete),
]
