"""Server streams: NDJSON, SSE with cursors and resume, errors, client disconnects."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx

from tests.gateway.support import Stack
from tests.helpers import unique_id

SSE = {"accept": "text/event-stream"}


def sse_events(reply: httpx.Response) -> Iterator[dict[str, str]]:
    """Parsed SSE events (fields of each blank-line-separated block)."""
    event: dict[str, str] = {}
    for line in reply.iter_lines():
        if not line:
            if event:
                yield event
            event = {}
            continue
        key, _, value = line.partition(":")
        event[key] = value.removeprefix(" ")


def test_ndjson_by_default(feat: httpx.Client) -> None:
    with feat.stream("GET", "/v1/ticks:stream", params={"count": 3, "intervalMs": 5}) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"] == "application/x-ndjson"
        lines = [json.loads(line) for line in reply.iter_lines() if line]
    assert lines == [{"result": {"cursor": str(n), "number": n}} for n in (1, 2, 3)]


def test_sse_ids_are_cursors_and_last_event_id_resumes(feat: httpx.Client) -> None:
    params = {"count": 2, "intervalMs": 5}
    with feat.stream("GET", "/v1/ticks:stream", params=params, headers=SSE) as reply:
        assert reply.headers["content-type"] == "text/event-stream"
        events = list(sse_events(reply))
    assert events[0] == {"retry": "2000"}
    assert [(e["id"], json.loads(e["data"])["number"]) for e in events[1:]] == [("1", 1), ("2", 2)]
    resume = {**SSE, "last-event-id": "7"}
    with feat.stream("GET", "/v1/ticks:stream", params=params, headers=resume) as reply:
        ids = [e["id"] for e in sse_events(reply) if "id" in e]
    assert ids == ["8", "9"]


def test_an_error_after_the_first_message_is_in_band(feat: httpx.Client) -> None:
    params = {"failAfter": 2, "intervalMs": 5}
    with feat.stream("GET", "/v1/ticks:stream", params=params) as reply:
        assert reply.status_code == 200
        lines = [json.loads(line) for line in reply.iter_lines() if line]
    assert [line.get("result", {}).get("number") for line in lines[:2]] == [1, 2]
    assert lines[2]["error"]["status"] == "INTERNAL" and lines[2]["error"]["code"] == 500
    with feat.stream("GET", "/v1/ticks:stream", params=params, headers=SSE) as reply:
        last = list(sse_events(reply))[-1]
    assert last["event"] == "error" and json.loads(last["data"])["error"]["status"] == "INTERNAL"


def test_an_early_error_gets_its_own_status(stack: Stack, account: str) -> None:
    other = stack.new_account()
    token = stack.token(account, "activity:read")
    with stack.client(token) as http:
        reply = http.get(f"/v1/{other}/activities:stream")
    assert reply.status_code == 403
    assert reply.json()["error"]["status"] == "PERMISSION_DENIED"


def _stats(feat: httpx.Client, key: str) -> tuple[int, int]:
    body = feat.get("/v1/stats").json()
    return body["cancelled"].get(key, 0), body["active"].get(key, 0)


def test_client_disconnect_cancels_the_grpc_stream_at_once(feat: httpx.Client) -> None:
    key = unique_id("k")
    # A slow stream: without the disconnect watcher it would only notice at its
    # next write, 30 s later.
    params = {"intervalMs": 30_000, "key": key}
    with feat.stream("GET", "/v1/ticks:stream", params=params) as reply:
        # Keep the iterator: a dropped one closes the connection when collected.
        lines = reply.iter_lines()
        assert json.loads(next(lines))["result"]["number"] == 1
        time.sleep(0.3)
        assert _stats(feat, key) == (0, 1)
        closed = time.monotonic()
    while _stats(feat, key) != (1, 0) and time.monotonic() - closed < 5:
        time.sleep(0.02)
    assert _stats(feat, key) == (1, 0)
    assert time.monotonic() - closed < 2


def test_activity_sse_heartbeats_and_resume(
    stack: Stack, account: str, admin: httpx.Client
) -> None:
    for name in ("One", "Two"):
        assert admin.post(f"/v1/{account}/calendars", json={"displayName": name}).status_code == 200
    params = {"startPosition": "START_POSITION_OLDEST", "resourceTypes": "RESOURCE_TYPE_CALENDAR",
              "heartbeatInterval": "1s"}  # fmt: skip
    url = f"/v1/{account}/activities:stream"
    seen: list[dict[str, str]] = []
    with admin.stream("GET", url, params=params, headers=SSE) as reply:
        for event in sse_events(reply):
            if "data" in event:
                seen.append(event)
            if any("heartbeat" in json.loads(e["data"]) for e in seen):
                break
    activities = [e for e in seen if "activity" in json.loads(e["data"])]
    assert len(activities) == 3  # the primary calendar and the two new ones
    assert all(e["id"] == json.loads(e["data"])["activity"]["cursor"] for e in activities)
    heartbeat = next(e for e in seen if "heartbeat" in json.loads(e["data"]))
    assert heartbeat["id"] == json.loads(heartbeat["data"])["heartbeat"]["cursor"]
    # Resume after the second activity: the third comes next, nothing repeated.
    resume = {**SSE, "last-event-id": activities[1]["id"]}
    with admin.stream("GET", url, params=params, headers=resume) as reply:
        first = next(e for e in sse_events(reply) if "data" in e)
    assert first["id"] == activities[2]["id"]
