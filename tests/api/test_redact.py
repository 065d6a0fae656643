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
    for error in errors:
        assert TOKEN not in str(error)
        assert TOKEN not in repr(error.__dict__)
        assert (
            error.__cause__ is None
            and error.__context__ is None
            or TOKEN not in str(error.__context__)
        )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "refused; Authorization: Basic OjEyMzQ1Njc4OQ== (x)",
            "refused; Authorization: Basic **** (x)",
        ),
        ('{"Authorization":"NTLM TlRMTVNTUAADAAAAGAAYAEgAAAA="}', '{"Authorization":"NTLM ****"}'),
        (
            "headers: authorization=Bearer abc.def-ghi, host=x",
            "headers: authorization=Bearer ****, host=x",
        ),
        ("AUTHORIZATION: secret-without-scheme", "AUTHORIZATION: ****"),
        ("bare NTLM message TlRMTVNTUAADAAAAGAAY== end", "bare NTLM message **** end"),
        # our own words about schemes are left alone
        ("use --auth basic authentication", "use --auth basic authentication"),
        (
            "missing or invalid credentials (Bearer token or Basic)",
            "missing or invalid credentials (Bearer token or Basic)",
        ),
    ],
)
def test_echoed_authorization_headers_are_masked(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://u:p@host:8080/p?token=1#f", "https://****@host:8080/p?****#****"),
        ("http://host/a", "http://host/a"),
        ("https://host/?", "https://host/?****"),
        ("host/a?x=1", "host/a?****"),
        ("https://[::1/x?t=1", "https://[::1/x?****"),
        ("user:pw@host/x", "****@host/x"),
    ],
)
def test_safe_url_hides_user_info_query_and_fragment(url: str, shown: str) -> None:
    from timetracker_import.api.redact import safe_url

    assert safe_url(url) == shown


def test_basic_credential_is_registered_as_a_secret() -> None:
    import base64

    from timetracker_import.api.redact import Secret
    from timetracker_import.api.settings import ConnectionSettings

    token = "basic-token-registered-0042"
    ConnectionSettings(url="https://x", token=Secret(token), auth_scheme="basic")
    encoded = base64.b64encode(f":{token}".encode()).decode()
    assert redact_text(f"echo {encoded} end") == "echo **** end"
