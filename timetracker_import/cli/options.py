"""Options shared by every command that talks to 7pace.

``@connection_options`` adds ``--url``, ``--org``, ``--collection``, ``--api-version``,
``--profile``, ``--token-file``, ``--auth``, ``--ntlm-user``, ``--password-file`` and ``--debug``
and passes one frozen ``ConnectionOptions`` as the ``connection`` argument. There is deliberately no option taking the token itself: it would
end up in shell history and process listings (use TIMETRACKER_TOKEN, --token-file or the
keyring). ``--debug`` turns on debug logging to stderr through the redacting filter.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

if TYPE_CHECKING:
    from timetracker_import.api.settings import ConnectionSettings, Target, TokenStore

F = TypeVar("F", bound=Callable[..., Any])

FORMATS = ("table", "csv", "json")


@dataclasses.dataclass(frozen=True)
class ConnectionOptions:
    """The connection options as given on the command line (nothing resolved yet)."""

    url: str | None = None
    org: str | None = None
    collection: str | None = None
    api_version: str | None = None
    profile: str | None = None
    token_file: Path | None = None
    auth: str | None = None
    user: str | None = None
    password_file: Path | None = None

    def resolve(self, *, token_store: TokenStore | None = None) -> ConnectionSettings:
        """Full settings including the token (options > env > profile > keyring)."""
        from timetracker_import.api import settings

        return settings.resolve_connection(
            url=self.url,
            org=self.org,
            collection=self.collection,
            api_version=self.api_version,
            profile=self.profile,
            token_file=self.token_file,
            token_store=token_store,
            auth_scheme=self.auth,
            username=self.user,
            password_file=self.password_file,
        )

    def target(self) -> Target:
        """Where to connect, without looking for a token (for ``auth login``/``logout``)."""
        from timetracker_import.api import settings

        return settings.resolve_target(
            url=self.url,
            org=self.org,
            collection=self.collection,
            api_version=self.api_version,
            profile=self.profile,
            auth_scheme=self.auth,
        )


def _setup_debug(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    from timetracker_import.api.redact import configure_logging

    configure_logging(debug=value)
    return value


_DEBUG = click.option(
    "--debug",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_setup_debug,
    help="Log HTTP calls and retries to stderr (the token is always masked).",
)

NTLM_USER_ALIAS = "ntlm_user_alias"

_CONNECTION = [
    click.option(
        "--url",
        metavar="URL",
        help="7pace server: https://ORG.timehub.7pace.com, or on-premises http://server:port "
        "(with --collection). Default: $TIMETRACKER_URL, then the profile.",
    ),
    click.option(
        "--org", metavar="NAME", help="Cloud organisation: https://NAME.timehub.7pace.com."
    ),
    click.option(
        "--collection", metavar="NAME", help="On-premises collection, e.g. DefaultCollection."
    ),
    click.option(
        "--api-version", metavar="VERSION", help="REST api-version (default 3.2, or the profile's)."
    ),
    click.option(
        "--profile",
        metavar="NAME",
        help="Profile in the user config profiles.toml (default: $TIMETRACKER_PROFILE or 'default').",
    ),
    click.option(
        "--token-file",
        type=click.Path(dir_okay=False, path_type=Path),
        metavar="PATH",
        help="Read the API token from PATH (chmod 600). Default: $TIMETRACKER_TOKEN, the "
        "profile, then the OS keyring.",
    ),
    click.option(
        "--auth",
        type=click.Choice(["bearer", "basic", "ntlm"], case_sensitive=False),
        default=None,
        help="How to authenticate: bearer (default) or basic with a token, or ntlm (Windows "
        "authentication, on-premises) with --ntlm-user and a password.",
    ),
    click.option(
        "--ntlm-user",
        "user",
        metavar="DOMAIN\\USER",
        help="NTLM user: DOMAIN\\user or user@domain. Default: $TIMETRACKER_USER, the profile.",
    ),
    # the old spelling, kept hidden: `--user` is a worklog user (a filter) elsewhere
    click.option("--user", NTLM_USER_ALIAS, metavar="DOMAIN\\USER", hidden=True),
    click.option(
        "--password-file",
        type=click.Path(dir_okay=False, path_type=Path),
        metavar="PATH",
        help="Read the NTLM password from PATH (chmod 600). Default: $TIMETRACKER_PASSWORD.",
    ),
]
_CONNECTION_FIELDS = tuple(field.name for field in dataclasses.fields(ConnectionOptions))


def _apply(func: F, options: list[Callable[[Any], Any]]) -> F:
    decorated: Any = func
    for option in reversed(options):
        decorated = option(decorated)
    return cast(F, decorated)  # click's options return the function they decorate


def debug_option(func: F) -> F:
    """Add ``--debug`` only (for commands that take no connection options)."""
    return _DEBUG(func)


def connection_options(func: F) -> F:
    """Add the connection options and ``--debug``; the command receives ``connection``."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        given = {name: kwargs.pop(name) for name in _CONNECTION_FIELDS}
        alias = kwargs.pop(NTLM_USER_ALIAS, None)  # absent where --user means something else
        given["user"] = given["user"] or alias
        if given["auth"]:
            given["auth"] = given["auth"].lower()
        return func(*args, connection=ConnectionOptions(**given), **kwargs)

    # the wrapper takes the command's parameters minus ``connection``: not F's signature
    return _DEBUG(_apply(cast(F, wrapper), _CONNECTION))


def _record_json(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    from timetracker_import.cli import evidence

    if value:
        evidence.current(ctx).as_json = True
    return value


def json_option(
    help: str = "Print the result as one JSON object to stdout (on every exit, "
    'errors included: {"exit_code": N, "error": {...}}).',
) -> Callable[[F], F]:
    """``--json`` (as ``as_json``): the result as JSON on stdout, and on an error exit
    ``{"exit_code": N, "error": {...}}`` (``cli.evidence``)."""
    return click.option("--json", "as_json", is_flag=True, callback=_record_json, help=help)


def format_json_alias(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    # ``--format json`` is the old spelling of ``--json`` (kept, not advertised)
    if value == "json":
        _record_json(ctx, param, True)
    return value


def format_option(func: F) -> F:
    """``--format table|csv`` passed as ``fmt`` (default table on a terminal, else csv) and
    ``--json``; ``--format json`` is kept as the old spelling of ``--json``."""
    func = click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default=None,
        metavar="[table|csv]",
        callback=format_json_alias,
        help="Output format (default: table on a terminal, csv otherwise).",
    )(func)
    return json_option("Print the server's answer as JSON to stdout.")(func)


def default_format(fmt: str | None, as_json: bool = False) -> str:
    """The chosen format: json with ``--json``, else ``--format``, else table when stdout is
    a terminal, else csv."""
    if as_json:
        return "json"
    if fmt:
        return fmt
    return "table" if sys.stdout.isatty() else "csv"


def _delimiter(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    # A shell makes typing a real TAB awkward: accept "\t" and "tab" for it.
    if value is not None and value.lower() in ("\\t", "tab"):
        return "\t"
    return value


#: the temporary copy of stdin when FILE is ``-`` (set in ``ctx.meta``)
STDIN_META = "timetracker_import.stdin_file"
_MAGIC = ((b"PK\x03\x04", ".xlsx"), (b"\xd0\xcf\x11\xe0", ".xls"))


class InputFile(click.Path):
    """An input file path; ``-`` reads stdin into a private temporary file first (named
    ``stdin.csv``, ``stdin.xlsx`` or ``stdin.xls`` by its first bytes), removed when the
    command ends. ``ctx.meta[STDIN_META]`` then holds its path."""

    def __init__(self, *, exists: bool = False) -> None:
        super().__init__(path_type=Path, dir_okay=False, exists=exists)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value != "-":
            return super().convert(value, param, ctx)
        import shutil
        import tempfile

        data = sys.stdin.buffer.read()
        suffix = next((ext for magic, ext in _MAGIC if data.startswith(magic)), ".csv")
        folder = Path(tempfile.mkdtemp(prefix="timetracker-stdin-"))
        path = folder / f"stdin{suffix}"
        path.write_bytes(data)
        if ctx is not None:
            ctx.call_on_close(lambda: shutil.rmtree(folder, ignore_errors=True))
            ctx.meta[STDIN_META] = path
        return path


def input_file_argument(func: F) -> F:
    """``FILE`` (as ``file``): the input to read; ``-`` for stdin."""
    return click.argument("file", type=InputFile())(func)


def existing_file_argument(func: F) -> F:
    """``FILE`` (as ``file``) that must exist; ``-`` for stdin."""
    return click.argument("file", type=InputFile(exists=True))(func)


_MAPPING = [
    click.option(
        "--mapping",
        "mapping_path",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Mapping YAML file.",
    ),
    click.option(
        "--preset",
        help="A shipped mapping (see `mapping presets`), or `auto`: recognise it from the "
        "file's header and first rows (says what it chose and why; refuses when unsure).",
    ),
]
_SHEET = click.option("--sheet", help="Excel sheet name or 1-based number (default: the first).")
_TIMEZONE = click.option(
    "--timezone", help="IANA zone for times without offset (beats the mapping's)."
)
_CSV = [
    click.option("--encoding", help="CSV encoding (default: BOM, else UTF-8)."),
    click.option(
        "--delimiter",
        callback=_delimiter,
        help="CSV delimiter (default: detected; \\t or tab for TAB).",
    ),
]


_ON_DUPLICATE = click.option(
    "--on-duplicate",
    type=click.Choice(["skip", "allow", "fail"]),
    default=None,
    help="A row identical in every field to an earlier row of the file: skip it (reported "
    "with the row it repeats), allow it (import both), or fail (reject the copy). "
    "[default: the mapping's on_duplicate, else skip]",
)
_DATE = click.option(
    "--date",
    metavar="YYYY-MM-DD",
    help="Date every row with this day (for files without a date per entry, such as an "
    "Azure DevOps query export); replaces the mapping's date column.",
)


_DATE_ORDER = click.option(
    "--date-order",
    type=click.Choice(["MDY", "DMY", "YMD"], case_sensitive=False),
    help="How to read dates such as 03/04/2026: MDY (month/day, US), DMY (day/month) or YMD; "
    "beats the mapping's date_order and what the data shows.",
)


_LOOKUP_DIR = click.option(
    "--lookup-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Read lookup files from this folder (default: beside the mapping file; for a "
    "preset, beside the input file).",
)


def lookup_dir_option(func: F) -> F:
    """``--lookup-dir DIR`` (as ``lookup_dir``)."""
    return _apply(func, [_LOOKUP_DIR])


def date_order_option(func: F) -> F:
    """``--date-order MDY|DMY|YMD`` (as ``date_order``)."""
    return _apply(func, [_DATE_ORDER])


def mapping_options(func: F) -> F:
    """``--mapping PATH`` (as ``mapping_path``) and ``--preset NAME``."""
    return _apply(func, _MAPPING)


def reading_options(func: F) -> F:
    """How to read the input file: ``--sheet``, ``--encoding``, ``--delimiter``."""
    return _apply(func, [_SHEET, *_CSV])


def input_options(func: F) -> F:
    """Everything that turns an input file into worklogs: the mapping options, ``--sheet``,
    ``--timezone``, ``--encoding``, ``--delimiter``, ``--date`` (as ``date``) and
    ``--on-duplicate`` (as ``on_duplicate``), shared by validate and import."""
    return _apply(func, [*_MAPPING, _SHEET, _TIMEZONE, *_CSV, _DATE, _ON_DUPLICATE])


def sync_input_options(func: F) -> F:
    """``input_options`` without ``--on-duplicate``, for ``ledger rebuild`` (identical rows
    follow the mapping's ``on_duplicate``, as a ``sync`` without the option does)."""
    return _apply(func, [*_MAPPING, _SHEET, _TIMEZONE, *_CSV, _DATE])


def timezone_option(func: F) -> F:
    """``--timezone`` for naive times."""
    return _apply(func, [_TIMEZONE])


def wait_option(func: F) -> F:
    """``--wait SECONDS``: how long to wait for another run holding the same target's lock
    (``journal.lock``) before exiting 75; passed as ``wait``."""
    return click.option(
        "--wait",
        "wait",
        type=click.FloatRange(min=0),
        default=0.0,
        show_default=True,
        metavar="SECONDS",
        help="Wait this long for another run of the same target to finish (else exit 75).",
    )(func)


if TYPE_CHECKING:
    _ConcurrencyType = click.ParamType[str | int]  # "auto" or the fixed number
else:  # ParamType is generic from click 8.4 on; subscripting it fails on 8.1 to 8.3
    _ConcurrencyType = click.ParamType


class ConcurrencyParam(_ConcurrencyType):
    """``--concurrency``: ``auto`` or a whole number of requests (1..100)."""

    name = "auto|N"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from timetracker_import.app.limiter import MAX_CEILING, Concurrency

        try:
            setting = Concurrency.parse(value)
        except ValueError:
            self.fail(f"{value!r} is not auto or a number from 1 to {MAX_CEILING}", param, ctx)
        return "auto" if setting.auto else setting.fixed


#: ``--progress/--no-progress`` (import, sync, export): a bar on stderr, default on a terminal
progress_option = click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar on stderr (default: on a terminal).",
)


def posting_options(batch_help: str) -> Callable[[F], F]:
    """``--batch-size``, ``--concurrency auto|N`` (default auto, ``app.limiter``) and
    ``--max-concurrency N`` (as ``max_concurrency``; None: the limiter's default): import and
    sync post the same way."""
    from timetracker_import.app.limiter import DEFAULT_CEILING, MAX_CEILING

    concurrency = [
        click.option(
            "--concurrency",
            default="auto",
            show_default=True,
            type=ConcurrencyParam(),
            metavar="auto|N",
            help="Requests in flight: auto follows the server (more while it keeps up, "
            "fewer when its answers slow down, on 429 and 5xx); a number fixes it.",
        ),
        click.option(
            "--max-concurrency",
            type=click.IntRange(1, MAX_CEILING),
            default=None,
            metavar="N",
            help=f"The most requests in flight with --concurrency auto (default "
            f"{DEFAULT_CEILING}).",
        ),
    ]
    options = [
        click.option("--batch-size", default=500, show_default=True, type=int, help=batch_help),
        *concurrency,
    ]
    return lambda func: _apply(func, options)


def _record_report(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    from timetracker_import.cli import evidence

    if value is not None:
        evidence.current(ctx).report_path = value
    return value


def report_option(help: str) -> Callable[[F], F]:
    """``--report PATH`` (as ``report_path``); written on an error exit too (``cli.evidence``)."""
    return click.option(
        "--report",
        "report_path",
        type=click.Path(path_type=Path, dir_okay=False),
        callback=_record_report,
        help=help,
    )


def _record_notify(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value:  # cli.notify (urllib.request) only when a webhook is asked for
        from timetracker_import.cli import evidence
        from timetracker_import.cli.notify import check_url

        evidence.current(ctx).notify_url = check_url(value)


def _record_notify_on(ctx: click.Context, param: click.Parameter, value: str) -> None:
    from timetracker_import.cli import evidence

    words = [w.strip().lower() for w in value.split(",") if w.strip()]
    if words == ["failure"]:
        codes = None
    elif words == ["always"]:
        codes = frozenset(range(256))
    elif words and all(w.isdigit() for w in words):
        codes = frozenset(int(w) for w in words)
    else:
        raise click.BadParameter("give failure, always, or exit codes such as 1,3,75")
    evidence.current(ctx).notify_on = codes


NOTIFY_OPTIONS = [
    click.option(
        "--notify",
        metavar="URL",
        envvar="TIMETRACKER_NOTIFY_URL",
        expose_value=False,
        callback=_record_notify,
        help="POST a short JSON summary (a Slack/Teams `text` plus the counts) to this "
        "webhook when the run ends with a --notify-on code. Default: $TIMETRACKER_NOTIFY_URL.",
    ),
    click.option(
        "--notify-on",
        metavar="CODES",
        default="failure",
        show_default=True,
        expose_value=False,
        callback=_record_notify_on,
        help="When to notify: failure (any exit code but 0), always, or codes such as 1,3,75.",
    ),
]


def notify_options(func: F) -> F:
    """``--notify URL`` and ``--notify-on CODES`` (``cli.notify``; nothing for the command)."""
    return _apply(func, NOTIFY_OPTIONS)


def result_options(report_help: str) -> Callable[[F], F]:
    """``--rejected PATH`` (as ``rejected_path``), ``--report PATH`` (as ``report_path``),
    ``--json`` (as ``as_json``), ``--yes`` and ``--notify``: what a run writes, whether it
    asks and whom it tells."""
    options = [
        click.option(
            "--rejected",
            "rejected_path",
            type=click.Path(path_type=Path, dir_okay=False),
            help="Also write the rejected rows here (they are always in the run directory).",
        ),
        report_option(report_help),
        json_option(),
        click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation."),
        *NOTIFY_OPTIONS,
    ]
    return lambda func: _apply(func, options)
