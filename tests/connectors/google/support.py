"""Almanac's processes with the Google connector against the fake (no tests here)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import activity_service_pb2 as act_pb
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb

from tests.connectors.support import MirrorSuite
from tests.services.events.support import at, utc

from .fake import FakeGoogle

__all__ = ["GoogleSuite", "google_event"]

# The built-in `google` backend (connectors.google), with the reference CalDAV.
BACKENDS = "caldav=tests.connectors.reference.backend:ReferenceBackend"


def google_event(
    uid: str, title: str, day: int = 2, hour: int = 9, **fields: Any
) -> dict[str, Any]:
    """An event as another Google client would insert it."""
    start = f"2026-11-{day:02d}T{hour:02d}:00:00Z"
    end = f"2026-11-{day:02d}T{hour + 1:02d}:00:00Z"
    return {
        "iCalUID": uid,
        "summary": title,
        "start": {"dateTime": start},
        "end": {"dateTime": end},
        **fields,
    }


class GoogleSuite:
    def __init__(self, root: Path, **settings: str) -> None:
        self.fake = FakeGoogle().start()
        settings.setdefault("connector_backends", BACKENDS)
        try:
            self.mirror = MirrorSuite(f"sqlite:///{root / 'almanac.db'}", root, **settings)
        except BaseException:
            self.fake.stop()
            raise
        self.almanac = self.mirror.almanac

    def close(self) -> None:
        self.mirror.close()
        self.fake.stop()

    def account(self, time_zone: str = "UTC") -> tuple[acc_pb.Account, str]:
        """A Google account on a new fake user, mirrored once; (account, user)."""
        user = "g" + uuid.uuid4().hex[:10]
        refresh = self.fake.add_user(user, time_zone)
        settings = acc_pb.GoogleSettings(
            client_id="client-" + user,
            client_secret="secret",
            refresh_token=refresh,
            api_base_url=self.fake.url,
            token_url=self.fake.token_url,
        )
        account = self.almanac.accounts().CreateAccount(
            acc_pb.CreateAccountRequest(
                account=acc_pb.Account(
                    connector=acc_pb.CONNECTOR_TYPE_GOOGLE,
                    display_name=user,
                    settings=acc_pb.ConnectorSettings(google=settings),
                ),
                account_id=user,
            )
        )
        self.mirror.wait_synced(user)
        return account, user

    def insert(self, user: str, body: dict[str, Any], calendar: str = "") -> dict[str, Any]:
        cid = self.fake.calendar(user, calendar).id
        made: dict[str, Any] = self.fake.as_user(
            user, "POST", f"calendars/{quote(cid)}/events", body
        )
        return made

    def patch(self, user: str, event_id: str, body: dict[str, Any]) -> dict[str, Any]:
        cid = self.fake.calendar(user).id
        path = f"calendars/{quote(cid)}/events/{event_id}"
        made: dict[str, Any] = self.fake.as_user(user, "PATCH", path, body)
        return made

    def delete(self, user: str, event_id: str) -> None:
        cid = self.fake.calendar(user).id
        self.fake.as_user(user, "DELETE", f"calendars/{quote(cid)}/events/{event_id}")

    def log(self, account: acc_pb.Account, cursor: str) -> list[act_pb.Activity]:
        """The account's event activity after ``cursor``."""
        client = self.mirror.cluster.activity()
        return client.log(parent=account.name, cursor=cursor,
                          resource_types=[common_pb2.RESOURCE_TYPE_EVENT])[0]  # fmt: skip

    def latest(self, account: acc_pb.Account) -> str:
        """The cursor of the account's latest activity."""
        return self.mirror.cluster.activity().log(parent=account.name, page_size=1)[1]

    def instances(self, account: acc_pb.Account) -> list[ev_pb.Event]:
        reply = self.almanac.events().ListEvents(
            ev_pb.ListEventsRequest(
                parent=f"{account.name}/calendars/primary",
                start_time=at(utc(2026, 10, 1)).date_time,
                end_time=at(utc(2026, 12, 31)).date_time,
                page_size=1000,
            )
        )
        return list(reply.events)

    def titles(self, account: acc_pb.Account) -> dict[str, str]:
        """The mirror's series and single events: UID -> title."""
        reply = self.almanac.events().ListEvents(
            ev_pb.ListEventsRequest(
                parent=f"{account.name}/calendars/primary",
                expansion=ev_pb.EXPANSION_MASTERS,
                start_time=at(utc(2026, 10, 1)).date_time,
                end_time=at(utc(2026, 12, 31)).date_time,
                page_size=1000,
            )
        )
        return {
            e.ical_uid: e.display_name for e in reply.events if not e.HasField("original_start")
        }

    def upstream_titles(self, user: str) -> dict[str, list[str]]:
        """The fake's live items: UID -> titles, master first."""
        out: dict[str, list[str]] = {}
        cal = self.fake.calendar(user)
        with self.fake.lock:
            events = sorted(
                cal.events.values(), key=lambda e: (bool(e.get("recurringEventId")), e["id"])
            )
            for event in events:
                if event["id"] in cal.deleted or event.get("status") == "cancelled":
                    continue
                out.setdefault(event["iCalUID"], []).append(event.get("summary", ""))
        return out
