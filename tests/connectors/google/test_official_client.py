"""Google's own Python client against the fake: proof it behaves like Google.

``googleapiclient.discovery.build`` uses the same discovery document the
fake validates with, and ``google-auth`` refreshes the access token at the
fake's token endpoint exactly as it would at oauth2.googleapis.com.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from .fake import FakeGoogle


@pytest.fixture
def fake() -> Iterator[FakeGoogle]:
    server = FakeGoogle().start()
    yield server
    server.stop()
    assert server.violations == []


def test_the_official_client_drives_the_fake(fake: FakeGoogle) -> None:
    refresh = fake.add_user("ann", "Europe/Berlin")
    credentials = Credentials(
        token=None,
        refresh_token=refresh,
        token_uri=fake.token_url,
        client_id="client-ann",
        client_secret="secret",
    )
    service = build(
        "calendar",
        "v3",
        credentials=credentials,
        client_options={"api_endpoint": fake.url + "/calendar/v3/"},
        static_discovery=True,
    )
    try:
        _drive(fake, service)
    finally:
        service.close()  # httplib2 keeps its connection open otherwise


def _drive(fake: FakeGoogle, service: Any) -> None:
    [primary] = service.calendarList().list().execute()["items"]
    assert primary["primary"] and primary["timeZone"] == "Europe/Berlin"
    cid = primary["id"]
    made = [
        service.events()
        .insert(
            calendarId=cid,
            body={
                "summary": f"Event {i}",
                "start": {"dateTime": f"2026-11-0{i}T09:00:00+01:00"},
                "end": {"dateTime": f"2026-11-0{i}T10:00:00+01:00"},
            },
        )
        .execute()
        for i in range(1, 6)
    ]
    assert all(e["iCalUID"] == e["id"] + "@google.com" for e in made)
    # A full listing in pages of two, the sync token on the last page only.
    fake.page_size = 2
    request = service.events().list(calendarId=cid, maxResults=2)
    pages = []
    while request is not None:
        page = request.execute()
        pages.append(page)
        request = service.events().list_next(request, page)
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    assert ["nextSyncToken" in p for p in pages] == [False, False, True]
    token = pages[-1]["nextSyncToken"]
    # A change and a deletion come back incrementally; the deletion as a bare id.
    service.events().patch(
        calendarId=cid, eventId=made[0]["id"], body={"summary": "Renamed"}
    ).execute()
    service.events().delete(calendarId=cid, eventId=made[1]["id"]).execute()
    changes = service.events().list(calendarId=cid, syncToken=token).execute()
    assert [(e["id"], e.get("summary"), e["status"]) for e in changes["items"]] == [
        (made[0]["id"], "Renamed", "confirmed"),
        (made[1]["id"], None, "cancelled"),
    ]
    # Google's errors, as the client raises them.
    fake.calendar("ann").expire_tokens()
    with pytest.raises(HttpError) as gone:
        service.events().list(calendarId=cid, syncToken=changes["nextSyncToken"]).execute()
    assert (
        gone.value.status_code == 410
        and gone.value.error_details[0]["reason"] == "fullSyncRequired"
    )
    with pytest.raises(HttpError) as duplicate:
        service.events().insert(
            calendarId=cid,
            body={
                "iCalUID": made[2]["iCalUID"],
                "start": {"date": "2026-11-01"},
                "end": {"date": "2026-11-02"},
            },
        ).execute()
    assert duplicate.value.status_code == 409
    assert fake.token_grants == 1  # google-auth refreshed once, at the fake's endpoint
