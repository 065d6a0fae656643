"""The token never shows: Secret's repr/str, the logging filter, client logs and errors."""

from __future__ import annotations

import logging
import pickle

import aiohttp
import pytest
from aioresponses import aioresponses

from timetracker_import.api.client import TimetrackerClient
from timetracker_import.api.redact import RedactingFilter, Secret, mask, redact_text
from timetracker_import.api.settings import ConnectionSettings
from timetracker_import.errors import AmbiguousOutcome, ApiError

from .conftest import TOKEN, Recorder, url


def test_secret_shows_only_last_four() -> None:
    s = Secret("0123456789abcdef")
    assert str(s) == "****cdef"
    assert repr(s) == "Secret('****cdef')"
    assert f"{s}" == "****cdef"
    assert s.last4 == "cdef"
    assert s.reveal() == "0123456789abcdef"
    assert mask("abc") == "****"
    with pytest.raises(TypeError):
        pickle.dumps(s)


def test_settings_repr_hides_token(settings: ConnectionSettings) -> None:
    assert TOKEN not in repr(settings)
    assert TOKEN[-4:] in repr(settings)


def test_redact_text_and_filter(caplog: pytest.LogCaptureFixture) -> None:
    Secret(TOKEN)
    assert (
        redact_text(f"Authorization: Bearer {TOKEN}") == f"Authorization: Bearer ****{TOKEN[-4:]}"
    )
    caplog.handler.addFilter(RedactingFilter())
    log = logging.getLogger("timetracker_import.test")
    with caplog.at_level(logging.DEBUG):
        log.debug("header %s", TOKEN)
        log.debug({"token": TOKEN})
        try:
            raise ValueError(f"bad {TOKEN}")
        except ValueError:
            log.exception("failed")
    text = caplog.text
    assert TOKEN not in text
    assert "****" in text and "ValueError" in text


async def test_client_debug_logs_and_errors_never_contain_token(
    settings: ConnectionSettings, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(RedactingFilter())
    errors: list[BaseException] = []
    with caplog.at_level(logging.DEBUG):
        async with TimetrackerClient(settings, sleep=recorder.sleep) as c:
            with aioresponses() as m:
                m.get(url("me"), status=503, body=f"echo {TOKEN}")
                m.get(url("me"), status=401, payload={"Message": f"bad token {TOKEN}"})
                m.post(url("workLogs"), exception=aiohttp.ServerDisconnectedError(TOKEN))
                for call in (c.me(), c.create_worklog({"length": 1})):
                    try:
                        await call
                    except (ApiError, AmbiguousOutcome) as exc:
                        errors.append(exc)
    assert len(errors) == 2
    assert TOKEN not in caplog.text
    assert "attempt" in caplog.text  # debug logging did happen
    for exc in errors:
        assert TOKEN not in str(exc)
        assert TOKEN not in repr(exc.__dict__)
        assert (
            exc.__cause__ is None and exc.__context__ is None or TOKEN not in str(exc.__context__)
        )
