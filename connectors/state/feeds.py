"""Calendar subscribers: secret feed URLs that calendar clients poll.

The secret is a random 256-bit token shown once (in the feed path of the
create response); the store keeps its SHA-256, so a leaked database does not
leak the feeds, and a fetch is one indexed lookup. Each fetch is counted.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from almanac.v1 import calendar_service_pb2 as cal_pb

from connectors.base import Page, PageRequest
from connectors.errors import NotFound
from connectors.state.tokens import hash_secret
from connectors.store import Row, Store
from connectors.store.rows import new_id, now_us, timestamp_from_us

__all__ = ["Feed", "Subscribers"]

_State = cal_pb.SubscriberState


@dataclass(frozen=True)
class Feed:
    """What a feed token opens: one calendar."""

    account: str
    calendar: str


class Subscribers:
    def __init__(self, store: Store, inactive_after: dt.timedelta) -> None:
        self.store = store
        self.inactive_after = inactive_after

    async def create(
        self, account: str, calendar: str, subscriber: cal_pb.CalendarSubscriber
    ) -> cal_pb.CalendarSubscriber:
        secret = "feed_" + secrets.token_urlsafe(32)
        subscriber_id = new_id()
        now = now_us()
        stored = cal_pb.CalendarSubscriber(
            name=f"accounts/{account}/calendars/{calendar}/subscribers/{subscriber_id}",
            display_name=subscriber.display_name,
            create_time=timestamp_from_us(now),
        )
        async with self.store.transaction() as tx:
            if (
                await tx.fetchone(
                    "SELECT 1 FROM calendars WHERE account_id = ? AND id = ?", account, calendar
                )
                is None
            ):
                raise NotFound(f"calendar accounts/{account}/calendars/{calendar} not found")
            await tx.execute(
                "INSERT INTO calendar_subscribers (account_id, calendar_id, id, token_hash, body,"
                " create_time) VALUES (?, ?, ?, ?, ?, ?)",
                account, calendar, subscriber_id, hash_secret(secret),
                stored.SerializeToString(deterministic=True), now,
            )  # fmt: skip
        shown = self._shown(stored, blocked=False, last_fetch_us=0, count=0)
        shown.feed_path = f"/v1/feeds/{secret}"
        return shown

    async def list(self, account: str, calendar: str, page: PageRequest) -> Page[
        cal_pb.CalendarSubscriber
    ]:  # fmt: skip
        offset = int(page.position or 0)
        rows = await self.store.fetchall(
            "SELECT body, blocked, last_fetch_us, fetch_count FROM calendar_subscribers"
            " WHERE account_id = ? AND calendar_id = ? ORDER BY create_time DESC, id"
            " LIMIT ? OFFSET ?",
            account, calendar, page.size + 1, offset,
        )  # fmt: skip
        items = [self._from_row(r) for r in rows[: page.size]]
        more = len(rows) > page.size
        return Page(items, str(offset + page.size) if more else None)

    async def block(self, account: str, calendar: str, subscriber_id: str) -> (
        cal_pb.CalendarSubscriber
    ):  # fmt: skip
        async with self.store.transaction() as tx:
            row = await tx.fetchone(
                "SELECT body, blocked, last_fetch_us, fetch_count FROM calendar_subscribers"
                " WHERE account_id = ? AND calendar_id = ? AND id = ?",
                account, calendar, subscriber_id,
            )  # fmt: skip
            if row is None:
                raise NotFound(
                    f"subscriber accounts/{account}/calendars/{calendar}"
                    f"/subscribers/{subscriber_id} not found"
                )
            if row["blocked"]:
                return self._from_row(row)
            body = cal_pb.CalendarSubscriber.FromString(bytes(row["body"]))
            body.block_time.CopyFrom(timestamp_from_us(now_us()))
            await tx.execute(
                "UPDATE calendar_subscribers SET blocked = 1, body = ?"
                " WHERE account_id = ? AND calendar_id = ? AND id = ?",
                body.SerializeToString(deterministic=True), account, calendar, subscriber_id,
            )  # fmt: skip
        return self._shown(body, True, int(row["last_fetch_us"]), int(row["fetch_count"]))

    async def open(self, secret: str) -> Feed:
        """The feed of a secret, counting the fetch; NotFound if unknown or blocked."""
        key = hash_secret(secret)
        async with self.store.transaction() as tx:
            row = await tx.fetchone(
                "SELECT account_id, calendar_id, blocked FROM calendar_subscribers"
                " WHERE token_hash = ?",
                key,
            )
            if row is None or row["blocked"]:
                raise NotFound("no such feed", reason="FEED_NOT_FOUND")
            await tx.execute(
                "UPDATE calendar_subscribers SET fetch_count = fetch_count + 1,"
                " last_fetch_us = ? WHERE token_hash = ?",
                now_us(),
                key,
            )
        return Feed(str(row["account_id"]), str(row["calendar_id"]))

    def _from_row(self, row: Row) -> cal_pb.CalendarSubscriber:
        body = cal_pb.CalendarSubscriber.FromString(bytes(row["body"]))
        return self._shown(
            body, bool(row["blocked"]), int(row["last_fetch_us"]), int(row["fetch_count"])
        )

    def _shown(
        self, body: cal_pb.CalendarSubscriber, blocked: bool, last_fetch_us: int, count: int
    ) -> cal_pb.CalendarSubscriber:
        body.fetch_count = count
        if last_fetch_us:
            body.last_fetch_time.CopyFrom(timestamp_from_us(last_fetch_us))
        seen = last_fetch_us or int(body.create_time.ToMicroseconds())
        quiet = now_us() - seen > self.inactive_after / dt.timedelta(microseconds=1)
        body.state = (
            _State.SUBSCRIBER_STATE_BLOCKED
            if blocked
            else _State.SUBSCRIBER_STATE_INACTIVE
            if quiet
            else _State.SUBSCRIBER_STATE_ACTIVE
        )
        return body
