"""The import pipeline, one module per stage (see docs/architecture.md):

``prepare`` (read, map, validate) -> ``resolve`` (users, activity types) -> ``preflight``
(approval locks, worklogs already there) -> ``plan`` (typed actions) -> ``execute`` (the
poster) -> ``account`` (where every row ended up, exit code, outputs).

Each stage takes and returns data; ``app.importer`` sequences them and owns the journal.
"""
