"""AccountService: connected backends and the API tokens that reach them."""

from __future__ import annotations

import re
from urllib.parse import urlparse

from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import account_service_pb2_grpc as acc_grpc
from google.protobuf import empty_pb2

from connectors.base import WriteContext
from connectors.errors import AlreadyExists, NotFound, PermissionDenied
from connectors.state.tokens import token_within
from connectors.store.rows import new_id
from services.runtime.context import Context, Runtime
from services.runtime.errors import BadRequestBuilder
from services.runtime.names import ID_RE, parse_account
from services.runtime.principal import principal, require_account
from services.runtime.validation import (
    check_id,
    check_length,
    check_request_id,
    check_time_zone,
    email_ok,
)

__all__ = ["KNOWN_SCOPES", "AccountService"]

KNOWN_SCOPES = frozenset(
    {"admin", "activity:read"}
    | {
        f"{area}:{level}"
        for area in ("calendars", "contacts", "resources")
        for level in ("read", "write", "admin")
    }
)
_MUTABLE = ("display_name", "default_time_zone", "settings", "owner_email")
_SETTINGS_FOR = {
    acc_pb.CONNECTOR_TYPE_LOCAL: "local",
    acc_pb.CONNECTOR_TYPE_CALDAV: "caldav",
    acc_pb.CONNECTOR_TYPE_GOOGLE: "google",
    acc_pb.CONNECTOR_TYPE_MICROSOFT_GRAPH: "microsoft_graph",
}
_REQUIRED_SETTINGS = {
    "caldav": ("url",),
    "google": ("client_id",),
    "microsoft_graph": ("tenant", "client_id"),
}
_TOKEN_ID_RE = re.compile(r"^[a-z0-9]{1,63}$")


def _check_account(
    bad: BadRequestBuilder, account: acc_pb.Account, prefix: str, create: bool
) -> None:
    check_length(bad, f"{prefix}.display_name", account.display_name, 256)
    check_time_zone(bad, f"{prefix}.default_time_zone", account.default_time_zone)
    if account.owner_email and not email_ok(account.owner_email):
        bad.add(f"{prefix}.owner_email", "is not an email address")
    which: str | None = account.settings.WhichOneof("connector")
    if create:
        if account.connector not in _SETTINGS_FOR:
            bad.add(
                f"{prefix}.connector",
                "is required: one of "
                + ", ".join(acc_pb.ConnectorType.Name(c) for c in _SETTINGS_FOR),
            )
            return
        expected = _SETTINGS_FOR[account.connector]
        if which not in (None, expected):
            bad.add(f"{prefix}.settings", f"must hold `{expected}` settings for this connector")
            return
        which = expected
    if which is None:
        return
    settings = getattr(account.settings, which)
    for field in _REQUIRED_SETTINGS.get(which, ()):
        if create and not getattr(settings, field):
            bad.add(f"{prefix}.settings.{which}.{field}", "is required")
    url = getattr(settings, "url", "")
    if url and (urlparse(url).scheme not in ("http", "https") or not urlparse(url).netloc):
        bad.add(f"{prefix}.settings.{which}.url", "must be an absolute http(s) URL")


def _already_created(stored: bytes) -> acc_pb.CreateApiTokenResponse:
    name = acc_pb.ApiToken.FromString(stored).name
    raise AlreadyExists(
        f"this request_id already created {name}; its secret was shown once."
        " Revoke it and create a new token if the secret was lost",
        reason="TOKEN_ALREADY_CREATED",
        metadata={"apiToken": name},
    )


class AccountService(acc_grpc.AccountServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def CreateAccount(
        self, request: acc_pb.CreateAccountRequest, context: Context
    ) -> acc_pb.Account:
        bad = BadRequestBuilder()
        if not request.HasField("account"):
            bad.add("account", "is required")
        _check_account(bad, request.account, "account", create=True)
        check_id(bad, "account_id", request.account_id, ID_RE)
        if request.account_id == "me":
            bad.add("account_id", "`me` is reserved as an alias")
        check_request_id(bad, "request_id", request.request_id)
        bad.raise_if_any()
        account_id = request.account_id or new_id()
        await self.rt.connectors.validate(request.account)

        async def create(ctx: WriteContext) -> acc_pb.Account:
            return await self.rt.registry.create_account(request.account, account_id, ctx)

        created = await self.rt.idempotent(request, "CreateAccount", acc_pb.Account, create)
        return await self._shown(created)

    async def _shown(self, account: acc_pb.Account) -> acc_pb.Account:
        """With what the account's connector can do and how its mirror syncs."""
        account.capabilities.extend(sorted(self.rt.connectors.capabilities(account.connector)))
        state = await self.rt.connectors.sync_state(account.name.split("/", 1)[1])
        if state is not None:
            account.sync_state.CopyFrom(state)
        return account

    async def SyncAccount(
        self, request: acc_pb.SyncAccountRequest, context: Context
    ) -> acc_pb.Account:
        _, account_id = self.rt.account(parse_account(request.name).account)
        account = await self.rt.registry.get_account(account_id)
        await self.rt.connectors.request_sync(account)
        return await self._shown(account)

    async def GetAccount(
        self, request: acc_pb.GetAccountRequest, context: Context
    ) -> acc_pb.Account:
        _, account_id = self.rt.account(parse_account(request.name).account)
        return await self._shown(await self.rt.registry.get_account(account_id))

    async def ListAccounts(
        self, request: acc_pb.ListAccountsRequest, context: Context
    ) -> acc_pb.ListAccountsResponse:
        page_request, digest = self.rt.pages.start(request)
        page = await self.rt.registry.list_accounts(page_request, principal().accounts)
        return acc_pb.ListAccountsResponse(
            accounts=[await self._shown(a) for a in page.items],
            next_page_token=self.rt.pages.next_token(page, digest),
            total_size=page.total_size or 0,
        )

    async def UpdateAccount(
        self, request: acc_pb.UpdateAccountRequest, context: Context
    ) -> acc_pb.Account:
        _, account_id = self.rt.account(parse_account(request.account.name, "account.name").account)
        bad = BadRequestBuilder()
        _check_account(bad, request.account, "account", create=False)
        if request.update_mask.paths:
            paths = [p for p in request.update_mask.paths if p != "*"] or list(_MUTABLE)
        else:
            paths = [f.name for f, _ in request.account.ListFields() if f.name in _MUTABLE]
        for path in paths:
            if path not in _MUTABLE and path not in ("name", "etag", "create_time", "update_time"):
                bad.add("update_mask", f"cannot update {path!r}; updatable: {', '.join(_MUTABLE)}")
        current = await self.rt.registry.get_account(account_id)
        which = request.account.settings.WhichOneof("connector")
        if "settings" in paths and which and which != _SETTINGS_FOR.get(current.connector):
            bad.add("account.settings", "must match the account's connector, which is immutable")
        bad.raise_if_any()
        updated = await self.rt.registry.update_account(
            account_id,
            request.account,
            [p for p in paths if p in _MUTABLE],
            request.account.etag,
            WriteContext(principal().token_id),
        )
        if "settings" in paths and updated.connector != acc_pb.CONNECTOR_TYPE_LOCAL:
            # New credentials end a wait for them (a revoked grant stops the sync).
            await self.rt.connectors.request_sync(updated)
        return await self._shown(updated)

    async def DeleteAccount(
        self, request: acc_pb.DeleteAccountRequest, context: Context
    ) -> empty_pb2.Empty:
        _, account_id = self.rt.account(parse_account(request.name).account)
        await self.rt.registry.delete_account(
            account_id, request.etag, request.force, WriteContext(principal().token_id)
        )
        return empty_pb2.Empty()

    async def CreateApiToken(
        self, request: acc_pb.CreateApiTokenRequest, context: Context
    ) -> acc_pb.CreateApiTokenResponse:
        token = request.api_token
        bad = BadRequestBuilder()
        check_length(bad, "api_token.display_name", token.display_name, 256)
        if not token.scopes:
            bad.add("api_token.scopes", "at least one scope is required")
        for i, scope in enumerate(token.scopes):
            if scope not in KNOWN_SCOPES:
                bad.add(
                    f"api_token.scopes[{i}]",
                    f"unknown scope {scope[:64]!r}; known: " + ", ".join(sorted(KNOWN_SCOPES)),
                )
        if not token.accounts and "admin" not in token.scopes:
            bad.add(
                "api_token.accounts", "name at least one account (only admin tokens may span all)"
            )
        for i, name in enumerate(token.accounts):
            try:
                parsed = parse_account(name, f"api_token.accounts[{i}]")
            except Exception as exc:
                bad.add(f"api_token.accounts[{i}]", str(exc))
                continue
            if parsed.account == "me":
                bad.add(f"api_token.accounts[{i}]", "name the account; `me` is not allowed here")
        check_request_id(bad, "request_id", request.request_id)
        bad.raise_if_any()
        p = principal()
        # A token can only hand out what it holds: an admin confined to some
        # accounts must not mint tokens for others, nor an every-account one.
        if not token.accounts and p.accounts is not None:
            raise PermissionDenied(
                "only a token valid for every account may create one",
                reason="ACCOUNT_ACCESS_DENIED",
            )
        for name in token.accounts:
            account_id = name.split("/", 1)[1]
            require_account(account_id)
            await self.rt.registry.get_account(account_id)

        async def create(ctx: WriteContext) -> acc_pb.CreateApiTokenResponse:
            created, secret = await self.rt.registry.create_token(token, ctx)
            return acc_pb.CreateApiTokenResponse(api_token=created, secret=secret)

        # The secret is not stored, so a retry cannot be answered with it: say
        # so instead of minting a second token.
        return await self.rt.idempotent(
            request, "CreateApiToken", acc_pb.CreateApiTokenResponse, create, _already_created
        )

    async def _within(self, token_id: str, accounts: frozenset[str]) -> bool:
        # An unknown token is reported like a foreign one: permission before
        # existence, so a confined admin cannot probe for token ids.
        try:
            return token_within(await self.rt.registry.get_token(token_id), accounts)
        except NotFound:
            return False

    async def ListApiTokens(
        self, request: acc_pb.ListApiTokensRequest, context: Context
    ) -> acc_pb.ListApiTokensResponse:
        page_request, digest = self.rt.pages.start(request)
        page = await self.rt.registry.list_tokens(
            page_request, request.show_revoked, principal().accounts
        )
        return acc_pb.ListApiTokensResponse(
            api_tokens=page.items,
            next_page_token=self.rt.pages.next_token(page, digest),
        )

    async def RevokeApiToken(
        self, request: acc_pb.RevokeApiTokenRequest, context: Context
    ) -> acc_pb.ApiToken:
        parts = request.name.split("/")
        if len(parts) != 2 or parts[0] != "apiTokens" or not _TOKEN_ID_RE.match(parts[1]):
            bad = BadRequestBuilder()
            bad.add("name", "must look like apiTokens/{api_token}")
            bad.raise_if_any()
        p = principal()
        if p.accounts is not None and not await self._within(parts[1], p.accounts):
            raise PermissionDenied(
                f"{request.name} reaches accounts this token may not manage",
                reason="ACCOUNT_ACCESS_DENIED",
            )
        return await self.rt.registry.revoke_token(parts[1])
