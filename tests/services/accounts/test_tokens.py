"""AccountService API tokens: create (secret once), list, revoke, expiry."""

from __future__ import annotations

import time
import uuid

import grpc
from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import calendar_service_pb2 as cal_pb
from google.protobuf import timestamp_pb2

from tests.helpers import Almanac, TestAccount, expect_error, list_all, on_each_store

Code = grpc.StatusCode


def _all_tokens(almanac: Almanac, show_revoked: bool = False) -> list[acc_pb.ApiToken]:
    return list_all(
        almanac.accounts().ListApiTokens,
        acc_pb.ListApiTokensRequest(page_size=50, show_revoked=show_revoked),
        "api_tokens",
    )


@on_each_store
def test_create_api_token_shows_secret_once(almanac: Almanac, account: TestAccount) -> None:
    label = f"ci-{uuid.uuid4().hex[:8]}"
    request = acc_pb.CreateApiTokenRequest(
        api_token=acc_pb.ApiToken(
            display_name=label, scopes=["calendars:read", "contacts:write"], accounts=[account.name]
        ),
        request_id=str(uuid.uuid4()),
    )
    reply = almanac.accounts().CreateApiToken(request)
    token = reply.api_token
    assert reply.secret
    assert token.name.startswith("apiTokens/")
    assert token.display_name == label
    assert list(token.scopes) == ["calendars:read", "contacts:write"]
    assert list(token.accounts) == [account.name]
    assert token.HasField("create_time") and not token.HasField("revoke_time")
    # The secret works, for what the token grants.
    got = almanac.accounts(reply.secret).GetAccount(acc_pb.GetAccountRequest(name=account.name))
    assert got.name == account.name
    almanac.calendars(reply.secret).GetCalendar(cal_pb.GetCalendarRequest(name=account.primary))
    # Listing shows the metadata, never the secret.
    listed = [t for t in _all_tokens(almanac) if t.name == token.name]
    assert listed == [token]
    raw = almanac.accounts().ListApiTokens(acc_pb.ListApiTokensRequest(page_size=1000))
    assert reply.secret.encode() not in raw.SerializeToString()
    # A retry cannot show the secret again: ALREADY_EXISTS, and no second token.
    err = expect_error(Code.ALREADY_EXISTS, lambda: almanac.accounts().CreateApiToken(request))
    assert token.name in err.message or token.name in err.error_info.metadata.values()
    assert [t.name for t in _all_tokens(almanac) if t.display_name == label] == [token.name]


def test_admin_token_may_span_every_account(almanac: Almanac, account: TestAccount) -> None:
    reply = almanac.create_token(["admin"], [])
    assert list(reply.api_token.accounts) == []
    other = almanac.create_local_account()
    for name in (account.name, other.name):
        almanac.accounts(reply.secret).GetAccount(acc_pb.GetAccountRequest(name=name))


def test_create_api_token_for_unknown_account_is_not_found(almanac: Almanac) -> None:
    expect_error(
        Code.NOT_FOUND,
        lambda: almanac.create_token(
            ["calendars:read"], [f"accounts/t-missing-{uuid.uuid4().hex[:8]}"]
        ),
    )


def test_list_api_tokens_newest_first(almanac: Almanac, account: TestAccount) -> None:
    names = [
        almanac.create_token(["calendars:read"], [account.name]).api_token.name for _ in range(3)
    ]
    listed = list_all(
        almanac.accounts().ListApiTokens, acc_pb.ListApiTokensRequest(page_size=2), "api_tokens"
    )
    listed_names = [t.name for t in listed]
    assert len(listed_names) == len(set(listed_names)), "a token was listed twice"
    assert [n for n in listed_names if n in names] == names[::-1]
    times = [t.create_time.ToNanoseconds() for t in listed]
    assert times == sorted(times, reverse=True)


@on_each_store
def test_revoke_api_token(almanac: Almanac, account: TestAccount) -> None:
    reply = almanac.create_token(["calendars:read"], [account.name])
    calendars = almanac.calendars(reply.secret)
    calendars.GetCalendar(cal_pb.GetCalendarRequest(name=account.primary))  # cached now
    revoked = almanac.accounts().RevokeApiToken(
        acc_pb.RevokeApiTokenRequest(name=reply.api_token.name)
    )
    assert revoked.name == reply.api_token.name
    assert revoked.HasField("revoke_time")
    # The revocation reaches the calendar process within its 1 s token cache.
    start = time.monotonic()
    while True:
        try:
            calendars.GetCalendar(cal_pb.GetCalendarRequest(name=account.primary))
        except grpc.RpcError as exc:
            assert exc.code() == Code.UNAUTHENTICATED, exc
            break
        assert time.monotonic() - start < 3.0, "revoked token still accepted after 3 s"
        time.sleep(0.05)
    expect_error(
        Code.UNAUTHENTICATED,
        lambda: calendars.GetCalendar(cal_pb.GetCalendarRequest(name=account.primary)),
    )
    expect_error(
        Code.UNAUTHENTICATED,
        lambda: almanac.accounts(reply.secret).GetAccount(
            acc_pb.GetAccountRequest(name=account.name)
        ),
    )
    # Hidden from the default listing, shown with show_revoked.
    assert reply.api_token.name not in {t.name for t in _all_tokens(almanac)}
    shown = [t for t in _all_tokens(almanac, show_revoked=True) if t.name == reply.api_token.name]
    assert len(shown) == 1 and shown[0].revoke_time == revoked.revoke_time
    # Revoking again returns the token unchanged.
    again = almanac.accounts().RevokeApiToken(
        acc_pb.RevokeApiTokenRequest(name=reply.api_token.name)
    )
    assert again == revoked


def test_revoke_unknown_or_malformed_token(almanac: Almanac) -> None:
    expect_error(
        Code.NOT_FOUND,
        lambda: almanac.accounts().RevokeApiToken(
            acc_pb.RevokeApiTokenRequest(name="apiTokens/nosuchtoken0")
        ),
    )
    err = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: almanac.accounts().RevokeApiToken(acc_pb.RevokeApiTokenRequest(name="tokens/x")),
    )
    assert err.fields == {"name"}


def test_expired_token_is_unauthenticated(almanac: Almanac, account: TestAccount) -> None:
    past = timestamp_pb2.Timestamp(seconds=int(time.time()) - 60)
    reply = almanac.create_token(["calendars:read"], [account.name], expire_time=past)
    assert reply.api_token.expire_time == past
    expect_error(
        Code.UNAUTHENTICATED,
        lambda: almanac.calendars(reply.secret).GetCalendar(
            cal_pb.GetCalendarRequest(name=account.primary)
        ),
    )
    future = timestamp_pb2.Timestamp(seconds=int(time.time()) + 3600)
    valid = almanac.create_token(["calendars:read"], [account.name], expire_time=future)
    almanac.calendars(valid.secret).GetCalendar(cal_pb.GetCalendarRequest(name=account.primary))
