"""Every RPC of the served services, through its HTTP binding, against the real services."""

from __future__ import annotations

import json

import httpx

from tests.gateway.support import Stack

ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//gw//EN\r\n"
    "BEGIN:VEVENT\r\nUID:gw-import-1\r\nDTSTAMP:20260101T000000Z\r\n"
    "DTSTART:20260310T090000Z\r\nDTEND:20260310T100000Z\r\nSUMMARY:Imported\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)


def ok(reply: httpx.Response) -> dict[str, object]:
    assert reply.status_code == 200, f"{reply.request.method} {reply.request.url}: {reply.text}"
    body: dict[str, object] = reply.json()
    return body


def test_account_service(stack: Stack, admin: httpx.Client) -> None:
    name = stack.new_account()  # CreateAccount: POST /v1/accounts, body "account"
    got = ok(admin.get(f"/v1/{name}"))  # GetAccount
    assert got["name"] == name and got["connector"] == "CONNECTOR_TYPE_LOCAL"
    listed = ok(admin.get("/v1/accounts", params={"pageSize": 1000}))  # ListAccounts
    assert name in [a["name"] for a in listed["accounts"]]  # type: ignore[attr-defined]
    updated = ok(admin.patch(f"/v1/{name}", json={"displayName": "Renamed"}))  # UpdateAccount
    assert updated["displayName"] == "Renamed"
    token = ok(admin.post("/v1/apiTokens", json={  # CreateApiToken
        "displayName": "t", "scopes": ["calendars:read"], "accounts": [name]}))  # fmt: skip
    token_name = token["apiToken"]["name"]  # type: ignore[index]
    tokens = ok(admin.get("/v1/apiTokens", params={"pageSize": 1000}))  # ListApiTokens
    assert token_name in [t["name"] for t in tokens["apiTokens"]]  # type: ignore[attr-defined]
    revoked = ok(admin.post(f"/v1/{token_name}:revoke", json={}))  # RevokeApiToken, body "*"
    assert revoked["name"] == token_name and revoked.get("revokeTime")
    assert "CAPABILITY_EVENT_WRITE" in got["capabilities"]  # type: ignore[operator]
    # SyncAccount: POST :sync, body "*"; a local account has nothing to sync.
    refused = admin.post(f"/v1/{name}:sync", json={})
    assert refused.status_code == 400
    assert refused.json()["error"]["status"] == "FAILED_PRECONDITION"
    assert ok(admin.delete(f"/v1/{name}", params={"force": True})) == {}  # DeleteAccount
    assert admin.get(f"/v1/{name}").status_code == 404


def test_calendar_service(account: str, admin: httpx.Client) -> None:
    cal = ok(admin.post(f"/v1/{account}/calendars", params={"calendarId": "team"},
                        json={"displayName": "Team", "timeZone": "Europe/Berlin"}))  # fmt: skip
    assert cal["name"] == f"{account}/calendars/team"
    assert ok(admin.get(f"/v1/{cal['name']}"))["timeZone"] == "Europe/Berlin"
    listed = ok(admin.get(f"/v1/{account}/calendars"))
    assert [c["name"] for c in listed["calendars"]] == [  # type: ignore[attr-defined]
        f"{account}/calendars/primary", cal["name"]]  # fmt: skip
    patched = ok(admin.patch(f"/v1/{cal['name']}", json={"description": "d"}))
    assert patched["description"] == "d" and patched["displayName"] == "Team"
    schedule = ok(admin.post(f"/v1/{cal['name']}/schedules", json={
        "displayName": "Office", "timeZone": "Europe/Berlin",
        "weeklyHours": [{"day": "MONDAY", "startTime": {"hours": 9}, "endTime": {"hours": 17}}],
    }))  # fmt: skip
    assert ok(admin.get(f"/v1/{schedule['name']}"))["displayName"] == "Office"
    assert len(ok(admin.get(f"/v1/{cal['name']}/schedules"))["schedules"]) == 1  # type: ignore[arg-type]
    renamed = ok(admin.patch(f"/v1/{schedule['name']}", json={"displayName": "Late"}))
    assert renamed["displayName"] == "Late"
    assert ok(admin.delete(f"/v1/{schedule['name']}")) == {}
    zones = ok(admin.get("/v1/timeZones", params={"query": "Berlin"}))
    assert "Europe/Berlin" in [z["id"] for z in zones["timeZones"]]  # type: ignore[attr-defined]
    assert ok(admin.delete(f"/v1/{cal['name']}")) == {}
    assert admin.get(f"/v1/{cal['name']}").status_code == 404


def test_import_takes_raw_ics_and_export_serves_text_calendar(
    account: str, admin: httpx.Client
) -> None:
    primary = f"{account}/calendars/primary"
    reply = admin.post(f"/v1/{primary}:import", content=ICS.encode(),
                       headers={"content-type": "text/calendar"})  # fmt: skip
    assert ok(reply)["createdCount"] == 1
    export = admin.get(f"/v1/{primary}:export")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/calendar")
    assert "UID:gw-import-1" in export.text and "SUMMARY:Imported" in export.text
    # validateOnly comes from the query while the body is the raw document.
    other = ICS.replace("gw-import-1", "gw-import-2")
    ics = {"content": other.encode(), "headers": {"content-type": "text/calendar"}}
    checked = ok(admin.post(f"/v1/{primary}:import", params={"validateOnly": "true"}, **ics))  # type: ignore[arg-type]
    assert checked["createdCount"] == 1
    assert "gw-import-2" not in admin.get(f"/v1/{primary}:export").text


def test_event_service(account: str, admin: httpx.Client) -> None:
    primary = f"{account}/calendars/primary"
    event = ok(admin.post(f"/v1/{primary}/events", json={
        "displayName": "Standup",
        "start": {"dateTime": "2026-03-02T09:00:00Z", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-03-02T09:15:00Z", "timeZone": "Europe/Berlin"},
        "recurrence": {"rrules": ["FREQ=DAILY;COUNT=3"]},
    }))  # fmt: skip
    name = str(event["name"])
    assert ok(admin.get(f"/v1/{name}"))["displayName"] == "Standup"
    listed = ok(admin.get(f"/v1/{primary}/events", params={
        "startTime": "2026-03-01T00:00:00Z", "endTime": "2026-03-10T00:00:00Z",
        "expansion": "EXPANSION_MASTERS"}))  # fmt: skip
    assert [e["name"] for e in listed["events"]] == [name]  # type: ignore[attr-defined]
    instances = ok(admin.get(f"/v1/{name}:instances"))
    assert len(instances["events"]) == 3  # type: ignore[arg-type]
    updated = ok(admin.patch(f"/v1/{name}", json={"location": "Room 1"}))
    assert updated["location"] == "Room 1" and updated["displayName"] == "Standup"
    assert ok(admin.delete(f"/v1/{name}")) == {}
    assert admin.get(f"/v1/{name}").status_code == 404


def test_availability_service(account: str, admin: httpx.Client) -> None:
    primary = f"{account}/calendars/primary"
    ok(admin.post(f"/v1/{primary}/events", json={
        "displayName": "Busy",
        "start": {"dateTime": "2026-03-02T10:00:00Z"}, "end": {"dateTime": "2026-03-02T11:00:00Z"},
    }))  # fmt: skip
    window = {"startTime": "2026-03-02T09:00:00Z", "endTime": "2026-03-02T12:00:00Z"}
    busy = ok(admin.post("/v1/freeBusy:query", json={"calendars": [primary], "timeRange": window}))
    assert "2026-03-02T10:00:00Z" in json.dumps(busy)
    slots = ok(admin.post("/v1/availability:query", json={
        "participants": [{"calendars": [primary], "ignoreWorkingHours": True}],
        "meetingDuration": "PT1H",  # ISO 8601, as architecture.md promises
        "timeWindows": [window],
    }))  # fmt: skip
    starts = [s["startTime"] for s in slots["availableTimes"]]  # type: ignore[attr-defined]
    assert starts and "2026-03-02T10:00:00Z" not in starts


def test_activity_service(account: str, admin: httpx.Client) -> None:
    ok(admin.post(f"/v1/{account}/calendars", json={"displayName": "Feed"}))
    page = ok(admin.get(f"/v1/{account}/activities",
                        params={"resourceTypes": "RESOURCE_TYPE_CALENDAR"}))  # fmt: skip
    kinds = {a["resourceType"] for a in page["activities"]}  # type: ignore[attr-defined]
    assert kinds == {"RESOURCE_TYPE_CALENDAR"}
    params = {"startPosition": "START_POSITION_OLDEST", "resourceTypes": "RESOURCE_TYPE_CALENDAR"}
    with admin.stream("GET", f"/v1/{account}/activities:stream", params=params) as reply:
        assert reply.status_code == 200
        first = json.loads(next(reply.iter_lines()))
    assert first["result"]["activity"]["resourceType"] == "RESOURCE_TYPE_CALENDAR"
