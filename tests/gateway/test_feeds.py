"""Public ICS feeds through the gateway: a calendar client subscribes without
a token, polls with If-None-Match, and loses access when the owner blocks it.
The feed is read by an independent reader (ical.js, as calendar apps use)."""

from __future__ import annotations

import datetime as dt

import httpx

from tests.fidelity.corpus import Span, icaljs_starts
from tests.gateway.support import Stack

EVENT = {
    "displayName": "Standup",
    "start": {"dateTime": "2026-11-02T09:00:00Z", "timeZone": "Europe/Berlin"},
    "end": {"dateTime": "2026-11-02T09:15:00Z", "timeZone": "Europe/Berlin"},
    "recurrence": {"rrules": ["FREQ=WEEKLY;COUNT=4"]},
}


def _instance_keys(admin: httpx.Client, calendar: str) -> set[str]:
    reply = admin.get(
        f"/v1/{calendar}/events",
        params={"startTime": "2026-11-01T00:00:00Z", "endTime": "2026-12-31T00:00:00Z"},
    )
    assert reply.status_code == 200, reply.text
    return {"U:" + e["start"]["dateTime"].replace(".000Z", "Z") for e in reply.json()["events"]}


def test_feed_is_public_cached_counted_and_blockable(
    stack: Stack, admin: httpx.Client, account: str
) -> None:
    calendar = f"{account}/calendars/primary"
    assert admin.post(f"/v1/{calendar}/events", json=EVENT).status_code == 200
    made = admin.post(f"/v1/{calendar}/subscribers", json={"displayName": "Phone"})
    assert made.status_code == 200, made.text
    subscriber = made.json()
    assert subscriber["state"] == "SUBSCRIBER_STATE_ACTIVE"
    feed = subscriber["feedPath"]
    assert feed.startswith("/v1/feeds/feed_")
    with httpx.Client(base_url=stack.url, timeout=20) as client:  # no Authorization at all
        first = client.get(feed)
        assert first.status_code == 200, first.text
        assert first.headers["content-type"].startswith("text/calendar")
        etag = first.headers["etag"]
        window = Span(
            dt.datetime(2026, 11, 1, tzinfo=dt.UTC), dt.datetime(2026, 12, 31, tzinfo=dt.UTC)
        )
        read = icaljs_starts({"feed": (first.content, window)})["feed"]
        assert isinstance(read, set), read
        # A real reader sees the instances we list (its keys are "UID|start").
        assert {k.split("|", 1)[1] for k in read} == _instance_keys(admin, calendar)
        again = client.get(feed, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag
        moved = {**EVENT, "displayName": "Retro", "recurrence": {}}
        assert admin.post(f"/v1/{calendar}/events", json=moved).status_code == 200
        changed = client.get(feed, headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["etag"] != etag
        assert b"SUMMARY:Retro" in changed.content
        listed = admin.get(f"/v1/{calendar}/subscribers").json()["subscribers"]
        assert [s["fetchCount"] for s in listed] == ["3"]
        assert listed[0]["lastFetchTime"] and not listed[0].get("feedPath")
        blocked = admin.post(f"/v1/{subscriber['name']}:block", json={})
        assert blocked.json()["state"] == "SUBSCRIBER_STATE_BLOCKED"
        gone = client.get(feed)
        assert gone.status_code == 404
        assert gone.json()["error"]["status"] == "NOT_FOUND"
        assert client.get("/v1/feeds/feed_nonsense").status_code == 404
        assert (
            client.get(f"/v1/{calendar}/subscribers").status_code == 401
        )  # the list is not public
