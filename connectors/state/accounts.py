"""Accounts: which backend each one uses, with its settings and secrets.

Secrets in connector settings are input only: stored apart from the body,
sealed with the configured key (`connectors.state.secrets`), never returned
(``public_view`` shows ``has_*`` flags instead) and only opened to build the
account's connector.
"""

from __future__ import annotations

from collections.abc import Sequence

from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import activity_service_pb2 as act_pb
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import common_pb2

from connectors.base import Page, PageRequest, WriteContext
from connectors.errors import (
    AlreadyExists,
    EtagMismatch,
    FailedPrecondition,
    NotFound,
)
from connectors.local import ACCOUNT_CONTENTS, PRIMARY_ID, insert_calendar
from connectors.local.calendars import CALENDAR_CONTENTS
from connectors.state.activity import append_activity
from connectors.state.idempotency import claim, fulfil
from connectors.state.secrets import SecretBox, SecretKeyInvalid, is_sealed
from connectors.state.tokens import Tokens, hash_secret
from connectors.store import IntegrityError, Store, Transaction
from connectors.store.rows import now_us, seal, timestamp_from_us
from connectors.sync.ledger import MIRROR_TABLES

__all__ = ["Registry", "holds_secret", "public_view"]

_SECRET_FIELDS = {
    "caldav": ("password",),
    "google": ("client_secret", "refresh_token"),
    "microsoft_graph": ("client_secret", "refresh_token"),
}
_HAS_FLAG = {"password": "has_password", "refresh_token": "has_refresh_token"}


def public_view(account: acc_pb.Account) -> acc_pb.Account:
    """The account as clients see it: secrets replaced by has_* flags."""
    shown = acc_pb.Account()
    shown.CopyFrom(account)
    which = shown.settings.WhichOneof("connector")
    if which:
        settings = getattr(shown.settings, which)
        for field in _SECRET_FIELDS.get(which, ()):
            if getattr(settings, field) and field in _HAS_FLAG:
                setattr(settings, _HAS_FLAG[field], True)
            settings.ClearField(field)
    return shown


def holds_secret(settings: acc_pb.ConnectorSettings) -> bool:
    which = settings.WhichOneof("connector")
    values = getattr(settings, which) if which else None
    return any(getattr(values, f) for f in _SECRET_FIELDS.get(which or "", ()))


class Registry(Tokens):
    """Accounts and tokens: who may call, and which backend an account uses."""

    def __init__(self, store: Store, secrets: SecretBox | None = None) -> None:
        super().__init__(store)
        self.secrets = secrets

    # -- sealed settings ------------------------------------------------

    def seal_settings(self, account_id: str, settings: acc_pb.ConnectorSettings) -> bytes:
        """The ``settings`` column: sealed when the settings hold a secret."""
        raw = settings.SerializeToString(deterministic=True)
        if not holds_secret(settings):
            return raw
        if self.secrets is None:
            raise FailedPrecondition(
                "connector secrets cannot be stored: no secret key is configured "
                "(secret_key or secret_key_file)",
                reason="SECRET_KEY_MISSING",
            )
        return self.secrets.seal(raw, account_id)

    def open_settings(self, account_id: str, blob: bytes) -> acc_pb.ConnectorSettings:
        if not is_sealed(blob):
            return acc_pb.ConnectorSettings.FromString(blob)
        if self.secrets is None:
            raise FailedPrecondition(
                "connector secrets are sealed and no secret key is configured",
                reason="SECRET_KEY_MISSING",
            )
        try:
            return acc_pb.ConnectorSettings.FromString(self.secrets.open(blob, account_id))
        except SecretKeyInvalid as exc:
            raise FailedPrecondition(str(exc), reason="SECRET_KEY_INVALID") from None

    async def holds_sealed_secrets(self) -> bool:
        """Whether any account's settings are sealed (a key is then required)."""
        rows = await self.store.fetchall("SELECT settings FROM accounts")
        return any(is_sealed(bytes(row["settings"])) for row in rows)

    async def reseal_all(self) -> int:
        """Seal every account's settings with the current key (rotation, and
        settings stored in clear before encryption existed); how many changed."""
        assert self.secrets is not None
        changed = 0
        async with self.store.transaction() as tx:
            rows = await tx.fetchall("SELECT id, settings FROM accounts")
            for row in rows:
                blob = bytes(row["settings"])
                if self.secrets.sealed_with_current(blob):
                    continue
                settings = self.open_settings(row["id"], blob)
                if not holds_secret(settings):
                    continue
                await tx.execute(
                    "UPDATE accounts SET settings = ? WHERE id = ?",
                    self.seal_settings(row["id"], settings),
                    row["id"],
                )
                changed += 1
        return changed

    # -- accounts -------------------------------------------------------

    async def create_account(
        self, account: acc_pb.Account, account_id: str, ctx: WriteContext
    ) -> acc_pb.Account:
        async with self.store.transaction() as tx:
            return await self._insert_account(tx, account, account_id, ctx)

    async def _insert_account(
        self, tx: Transaction, account: acc_pb.Account, account_id: str, ctx: WriteContext
    ) -> acc_pb.Account:
        await claim(tx, ctx)
        now = now_us()
        stored = acc_pb.Account()
        stored.CopyFrom(account)
        stored.name = f"accounts/{account_id}"
        stored.default_time_zone = stored.default_time_zone or "UTC"
        stored.create_time.CopyFrom(timestamp_from_us(now))
        stored.update_time.CopyFrom(timestamp_from_us(now))
        settings = self.seal_settings(account_id, stored.settings)
        shown, body = seal(public_view(stored))
        try:
            await tx.execute(
                "INSERT INTO accounts (id, connector, body, settings, create_time, update_time)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                account_id,
                acc_pb.ConnectorType.Name(stored.connector),
                body,
                settings,
                now,
                now,
            )
        except IntegrityError as exc:
            raise AlreadyExists(f"account {stored.name} already exists") from exc
        await self._log(tx, account_id, act_pb.ACTIVITY_TYPE_ADDED, shown, ctx)
        # Every account has a primary calendar from the start; a remote
        # account's first sync maps the upstream's default calendar onto it.
        primary = cal_pb.Calendar(
            display_name=shown.display_name or account_id,
            time_zone=stored.default_time_zone,
        )
        await insert_calendar(
            tx, self.store.dialect, account_id, primary, PRIMARY_ID, WriteContext(ctx.actor)
        )
        if stored.connector != acc_pb.CONNECTOR_TYPE_LOCAL:
            await tx.execute("INSERT INTO sync_state (account_id) VALUES (?)", account_id)
        await fulfil(tx, ctx, body)
        return shown

    async def connector_of(self, account_id: str) -> int:
        """The account's connector type (immutable, so callers may cache it)."""
        row = await self.store.fetchone("SELECT connector FROM accounts WHERE id = ?", account_id)
        if row is None:
            raise NotFound(f"account accounts/{account_id} not found")
        return acc_pb.ConnectorType.Value(row["connector"])

    async def with_secrets(self, account_id: str) -> tuple[acc_pb.Account, int]:
        """The account with its connector settings, secrets included, and the
        version (update time) they have; only for building its connector."""
        row = await self.store.fetchone(
            "SELECT body, settings, update_time FROM accounts WHERE id = ?", account_id
        )
        if row is None:
            raise NotFound(f"account accounts/{account_id} not found")
        account = acc_pb.Account.FromString(bytes(row["body"]))
        account.settings.CopyFrom(self.open_settings(account_id, bytes(row["settings"])))
        return account, int(row["update_time"])

    async def get_account(self, account_id: str) -> acc_pb.Account:
        row = await self.store.fetchone("SELECT body FROM accounts WHERE id = ?", account_id)
        if row is None:
            raise NotFound(f"account accounts/{account_id} not found")
        return acc_pb.Account.FromString(bytes(row["body"]))

    async def list_accounts(
        self, page: PageRequest, only: frozenset[str] | None
    ) -> Page[acc_pb.Account]:
        rows = await self.store.fetchall(
            "SELECT id, body, create_time FROM accounts ORDER BY create_time, id"
        )
        visible = [r for r in rows if only is None or r["id"] in only]
        start = 0
        if page.position:
            created, last_id = page.position.split(":", 1)
            key = (int(created), last_id)
            start = next(
                (i for i, r in enumerate(visible) if (r["create_time"], r["id"]) > key),
                len(visible),
            )
        chunk = visible[start : start + page.size]
        more = start + page.size < len(visible)
        next_position = f"{chunk[-1]['create_time']}:{chunk[-1]['id']}" if more and chunk else None
        items = [acc_pb.Account.FromString(bytes(r["body"])) for r in chunk]
        return Page(items, next_position, len(visible))

    async def update_account(
        self,
        account_id: str,
        changes: acc_pb.Account,
        paths: Sequence[str],
        etag: str,
        ctx: WriteContext,
    ) -> acc_pb.Account:
        async with self.store.transaction() as tx:
            row = await tx.fetchone("SELECT body, settings FROM accounts WHERE id = ?", account_id)
            if row is None:
                raise NotFound(f"account accounts/{account_id} not found")
            current = acc_pb.Account.FromString(bytes(row["body"]))
            if etag and etag != current.etag:
                raise EtagMismatch(f"account {current.name} was changed since etag {etag} was read")
            full = acc_pb.Account()
            full.CopyFrom(current)
            full.settings.CopyFrom(self.open_settings(account_id, bytes(row["settings"])))
            changed = [p for p in paths if _apply_account_path(full, changes, p)]
            if not changed:
                return current
            now = now_us()
            full.update_time.CopyFrom(timestamp_from_us(now))
            shown, body = seal(public_view(full))
            await tx.execute(
                "UPDATE accounts SET body = ?, settings = ?, update_time = ? WHERE id = ?",
                body,
                self.seal_settings(account_id, full.settings),
                now,
                account_id,
            )
            await self._log(tx, account_id, act_pb.ACTIVITY_TYPE_UPDATED, shown, ctx, changed)
            return shown

    async def delete_account(
        self, account_id: str, etag: str, force: bool, ctx: WriteContext
    ) -> None:
        async with self.store.transaction() as tx:
            row = await tx.fetchone("SELECT body FROM accounts WHERE id = ?", account_id)
            if row is None:
                raise NotFound(f"account accounts/{account_id} not found")
            current = acc_pb.Account.FromString(bytes(row["body"]))
            if etag and etag != current.etag:
                raise EtagMismatch(f"account {current.name} was changed since etag {etag} was read")
            # Every local account has a primary calendar; data beyond that (other
            # calendars, any live event) needs `force` to be thrown away.
            held = await tx.fetchone(
                "SELECT (SELECT COUNT(*) FROM calendars WHERE account_id = ? AND is_primary = 0)"
                " + (SELECT COUNT(*) FROM events WHERE account_id = ? AND deleted = 0) AS n",
                account_id,
                account_id,
            )
            # A remote account's mirror is a copy: disconnecting loses nothing.
            remote = current.connector != acc_pb.CONNECTOR_TYPE_LOCAL
            if held is not None and int(held["n"]) > 0 and not force and not remote:
                raise FailedPrecondition(
                    f"account {current.name} still has calendars or events;"
                    " delete them or set force",
                    reason="ACCOUNT_NOT_EMPTY",
                )
            for table in (*CALENDAR_CONTENTS, "calendars", *MIRROR_TABLES, *ACCOUNT_CONTENTS):
                await tx.execute(f"DELETE FROM {table} WHERE account_id = ?", account_id)
            await tx.execute("DELETE FROM accounts WHERE id = ?", account_id)
            await self._log(tx, account_id, act_pb.ACTIVITY_TYPE_DELETED, current, ctx)

    async def _log(
        self,
        tx: Transaction,
        account_id: str,
        activity_type: act_pb.ActivityType.ValueType,
        account: acc_pb.Account,
        ctx: WriteContext,
        changed: Sequence[str] = (),
    ) -> None:
        await append_activity(
            tx,
            self.store.dialect,
            account=account_id,
            activity_type=activity_type,
            resource_type=common_pb2.RESOURCE_TYPE_ACCOUNT,
            resource=account.name,
            calendar="",
            actor=ctx.actor,
            snapshot=account,
            changed_fields=changed,
        )

    # -- first start ----------------------------------------------------

    async def bootstrap(self, secret: str) -> None:
        """Make ``secret`` an admin token and ensure a first local account.

        Safe to run from several processes at once: the unique token hash and
        account id make the losers' inserts fail harmlessly.
        """
        found = await self.store.fetchone(
            "SELECT id FROM api_tokens WHERE token_hash = ?", hash_secret(secret)
        )
        if found is None:
            try:
                await self.create_token(
                    acc_pb.ApiToken(display_name="bootstrap", scopes=["admin"]),
                    WriteContext("bootstrap"),
                    secret=secret,
                )
            except AlreadyExists:
                pass
        any_account = await self.store.fetchone("SELECT id FROM accounts LIMIT 1")
        if any_account is None:
            try:
                await self.create_account(
                    acc_pb.Account(
                        display_name="Default",
                        connector=acc_pb.CONNECTOR_TYPE_LOCAL,
                        settings=acc_pb.ConnectorSettings(local=acc_pb.LocalSettings()),
                    ),
                    "default",
                    WriteContext("bootstrap"),
                )
            except AlreadyExists:
                pass


def _apply_account_path(full: acc_pb.Account, changes: acc_pb.Account, path: str) -> bool:
    """Apply one update-mask path; return whether anything changed."""
    if path in ("display_name", "default_time_zone", "owner_email"):
        before = getattr(full, path)
        after = getattr(changes, path)
        setattr(full, path, after)
        return bool(before != after)
    if path == "settings":
        which = changes.settings.WhichOneof("connector")
        if which is None:
            return False
        merged = getattr(full.settings, which)
        incoming = getattr(changes.settings, which)
        old_settings = merged.SerializeToString(deterministic=True)
        for field, value in incoming.ListFields():
            if field.name.startswith("has_"):
                continue
            merged.ClearField(field.name)
            setattr(merged, field.name, value)
        return bool(old_settings != merged.SerializeToString(deterministic=True))
    return False
