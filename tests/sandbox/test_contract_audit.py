"""Divergences from 7pace-api.md found by the statement-by-statement audit (docs/sandbox.md,
"Contract checklist"): each test failed on the sandbox before its fix."""

from __future__ import annotations

import pytest

from .conftest import Api


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [
        # D6's own example, and the .NET round-trip form of a fraction: up to 7 digits
        # (DateTime's tick), trailing zeros dropped, none when it is zero (S20)
        ("2024-03-04T10:00:00+02:00", "2024-03-04T08:00:00Z"),
        ("2024-03-04T10:00:00.5+02:00", "2024-03-04T08:00:00.5Z"),
        ("2024-03-04T10:00:00.1234567-01:30", "2024-03-04T11:30:00.1234567Z"),
        ("2024-03-04T10:00:00.120Z", "2024-03-04T10:00:00.12Z"),
        ("2024-03-04T10:00:00.000Z", "2024-03-04T10:00:00Z"),
        ("2024-03-04T10:00:00,25Z", "2024-03-04T10:00:00.25Z"),
        ("2024-03-04T10:00:00.123456789Z", "2024-03-04T10:00:00.1234567Z"),
    ],
)
async def test_s20_offset_timestamps_keep_their_fraction_as_dotnet_writes_it(
    api: Api, sent: str, echoed: str
) -> None:
    w = await api.create(timeStamp=sent)
    assert w["timestamp"] == echoed
    _, single, _ = await api.get(f"workLogs/{w['id']}")
    assert single["data"]["timestamp"] == echoed
    _, page, _ = await api.get("workLogs")
    assert [x["timestamp"] for x in page["data"] if x["id"] == w["id"]] == [echoed]
    _, batch, _ = await api.post(
        "workLogs/batch", [{"timeStamp": sent, "length": 60, "comment": "b"}]
    )
    assert batch["data"][0]["timestamp"] == echoed


async def test_d1_version_error_names_what_is_wrong_in_words(api: Api) -> None:
    """A missing api-version is said to be missing (not ``api-version None``)."""
    status, body, _ = await api.get("me", version=None)
    message = body["error"]["message"]
    assert (status, body["error"]["errorCode"]) == (400, "ApiVersionError")
    assert "None" not in message and "missing" in message and "3.2" in message
    status, body, _ = await api.get("me", version="9.9")
    assert status == 400 and "'9.9' is not supported" in body["error"]["message"]
