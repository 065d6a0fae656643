"""The sans-I/O layer: exact URLs with a literal `$`, response and error-body parsing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from timetracker_import.api.protocol import (
    AmbiguousWrite,
    Request,
    build_url,
    error_from_response,
    parse_error_body,
    parse_response,
    unwrap_list,
)
from timetracker_import.errors import (
    EXIT_PROTOCOL,
    AmbiguousOutcome,
    ApiError,
    AuthError,
    MalformedAnswer,
)

ROOT = "https://contoso.timehub.7pace.com/api/rest"


@pytest.mark.parametrize(
    ("path", "query", "expected"),
    [
        ("me", [], f"{ROOT}/me?api-version=3.2"),
        (
            "workLogs/all",
            [("$count", 500), ("$skip", 0)],
            f"{ROOT}/workLogs/all?api-version=3.2&$count=500&$skip=0",
        ),
        (
            "workLogs",
            [("$fromTimestamp", "2024-03-04T10:00:00+02:00"), ("$toTimestamp", "2024-03-11")],
            f"{ROOT}/workLogs?api-version=3.2"
            "&$fromTimestamp=2024-03-04T10:00:00%2B02:00&$toTimestamp=2024-03-11",
        ),
        (
            "workLogs",
            [("$workItemIds", [1, 22, 333])],
            f"{ROOT}/workLogs?api-version=3.2&$workItemIds=1,22,333",
        ),
        (
            "users/roles",
            [("includeNoneRoles", False), ("$expand", "user.displayName")],
            f"{ROOT}/users/roles?api-version=3.2&includeNoneRoles=false&$expand=user.displayName",
        ),
        (
            "timeApproval/week",
            [("weekStart", date(2024, 3, 4))],
            f"{ROOT}/timeApproval/week?api-version=3.2&weekStart=2024-03-04",
        ),
        (
            "workLogs",
            [("$fromTimestamp", datetime(2024, 3, 4, 8, 0, tzinfo=UTC))],
            f"{ROOT}/workLogs?api-version=3.2&$fromTimestamp=2024-03-04T08:00:00%2B00:00",
        ),
        # a value with '&', '=', space and '#' cannot break the query apart
        (
            "workLogs",
            [("$expand", "a&b=c d#e")],
            f"{ROOT}/workLogs?api-version=3.2&$expand=a%26b%3Dc%20d%23e",
        ),
    ],
)
def test_build_url_exact_string(path: str, query: list, expected: str) -> None:
    assert build_url(ROOT, "3.2", path, query) == expected


def test_build_url_quotes_path_segments_and_trailing_slashes() -> None:
    assert build_url(ROOT + "/", "3.0", "/workLogs/a b/", []) == (
        f"{ROOT}/workLogs/a%20b?api-version=3.0"
    )


def test_negative_offset_datetime_is_kept() -> None:
    ts = datetime(2024, 1, 1, 9, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert build_url(ROOT, "3.2", "workLogs", [("$toTimestamp", ts)]).endswith(
        "$toTimestamp=2024-01-01T09:30:00-05:00"
    )


def test_request_url_and_policy_method() -> None:
    req = Request("POST", "workLogs/batch", (("validateOnly", True),), [], retry_safe=True)
    assert req.url(ROOT, "3.2") == f"{ROOT}/workLogs/batch?api-version=3.2&validateOnly=true"
    assert req.policy_method == "GET"
    assert Request("POST", "workLogs").policy_method == "POST"
    assert req.describe() == "POST workLogs/batch"


def test_parse_response_unwraps_data() -> None:
    assert parse_response(200, {}, b'{"data": {"id": "x"}}') == {"id": "x"}
    assert parse_response(200, {}, b'{"data": null}') is None
    assert parse_response(200, {}, b"[1, 2]") == [1, 2]
    assert parse_response(204, {}, b"") is None
    # a BOM from an IIS server does not break decoding
    assert parse_response(200, {}, b'\xef\xbb\xbf{"data": 5}') == 5


def test_parse_response_rejects_non_json_success() -> None:
    with pytest.raises(MalformedAnswer) as info:
        parse_response(200, {"Content-Type": "text/html; charset=utf-8"}, b"<html>login</html>")
    assert info.value.status == 200
    assert info.value.exit_code == EXIT_PROTOCOL  # not 2: nothing the user typed is wrong
    assert "Content-Type text/html" in info.value.message
    assert "--url" in (info.value.hint or "")
    with pytest.raises(MalformedAnswer):
        parse_response(200, {}, b'{"data": [{"id": "a"}, {"id": "b')  # cut short


def test_raw_error_text_is_redacted_before_it_is_cut() -> None:
    from timetracker_import.api.redact import register_secret

    secret = "cut-across-the-limit-" + "s" * 20
    register_secret(secret)
    body = ("x" * 480 + secret).encode()  # the 500-character cut falls inside the secret
    message = parse_error_body(body).message or ""
    assert message.startswith("x" * 480) and "cut-across" not in message


WRAPPED = (
    b'{"error": {"statusCode": 422, "errorCode": "LengthMustBePositive",'
    b' "errorDescription": "Length must be greater than 0", "message": "m"}}'
)
BARE = (
    b'{"statusCode": 429, "errorDescription": "The request has been canceled because your API'
    b' usage was exceeded.", "fields": {"retryAfter": "37"}}'
)
ASPNET = b'{"Message": "No HTTP resource was found that matches the request URI."}'


def test_error_body_wrapped() -> None:
    err = parse_error_body(WRAPPED)
    assert err.error_code == "LengthMustBePositive"
    assert err.description == "Length must be greater than 0"
    assert err.message == "m"
    assert err.status_code == 422


def test_error_body_bare_with_fields() -> None:
    err = parse_error_body(BARE)
    assert err.error_code is None
    assert err.description is not None and err.description.startswith("The request")
    assert err.fields == {"retryAfter": "37"}


def test_error_body_aspnet_message_and_raw_text_and_numeric_code() -> None:
    assert parse_error_body(ASPNET).message.startswith("No HTTP resource")  # type: ignore[union-attr]
    assert parse_error_body(b"Bad Gateway").message == "Bad Gateway"
    assert parse_error_body(b"").message is None
    assert parse_error_body(b'{"error": {"errorCode": 17}}').error_code == "17"


@pytest.mark.parametrize(
    ("status", "body", "cls", "code", "transient"),
    [
        (422, WRAPPED, ApiError, "LengthMustBePositive", False),
        (
            401,
            b'{"error": {"errorCode": "UnauthorizedError"}}',
            AuthError,
            "UnauthorizedError",
            False,
        ),
        (403, b'{"errorCode": "AccessDenied"}', AuthError, "AccessDenied", False),
        (429, BARE, ApiError, None, True),
        (500, ASPNET, ApiError, None, True),
        (503, b"Service Unavailable", ApiError, None, True),
        (404, b'{"error": {"errorCode": "EntityNotFound"}}', ApiError, "EntityNotFound", False),
        (413, b'{"error": {"errorCode": "RequestTooLarge"}}', ApiError, "RequestTooLarge", False),
    ],
)
def test_error_from_response_types(
    status: int, body: bytes, cls: type, code: str | None, transient: bool
) -> None:
    err = error_from_response(status, {}, body)
    assert type(err) is cls
    assert err.status == status
    assert err.error_code == code
    assert err.transient is transient
    with pytest.raises(cls):
        parse_response(status, {}, body)


def test_error_message_uses_description_then_message() -> None:
    assert "Length must be greater than 0" in error_from_response(422, {}, WRAPPED).message
    assert "No HTTP resource" in error_from_response(404, {}, ASPNET).message


def test_retry_after_header_beats_body_field() -> None:
    assert error_from_response(429, {"retry-after": "5"}, BARE).retry_after == 5.0
    assert error_from_response(429, {}, BARE).retry_after == 37.0
    assert error_from_response(429, {}, b"{}").retry_after is None


def test_redirect_is_an_error_with_hint() -> None:
    err = error_from_response(302, {"Location": "https://login.example.com/"}, b"")
    assert "redirect" in err.message
    assert "https://login.example.com/" in (err.hint or "")


def test_unwrap_list_shapes() -> None:
    assert unwrap_list([{"id": 1}], "x") == [{"id": 1}]
    assert unwrap_list({"data": [{"id": 1}]}, "x") == [{"id": 1}]
    assert unwrap_list(None, "x") == []
    assert unwrap_list({"data": None}, "x") == []
    with pytest.raises(MalformedAnswer):
        unwrap_list({"nope": 1}, "x")


def test_ambiguous_write_is_an_ambiguous_outcome_with_request() -> None:
    req = Request("POST", "workLogs", (), {"length": 60})
    exc = AmbiguousWrite("no answer", request=req, status=500)
    assert isinstance(exc, AmbiguousOutcome)
    assert exc.request is req and exc.exit_code == 4 and exc.transient


def test_403_hint_names_the_role_each_gated_call_needs() -> None:
    from timetracker_import.api.protocol import error_from_response

    err = error_from_response(403, {}, b'{"error": {"errorCode": "AccessDenied"}}')
    assert err.hint is not None
    assert "users/roles needs Administrator" in err.hint
    assert "Administrator, Budget or Product" in err.hint
