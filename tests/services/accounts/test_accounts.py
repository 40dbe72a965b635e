"""AccountService end to end: accounts, their settings and their deletion."""

from __future__ import annotations

import re
import uuid

import grpc
from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import calendar_service_pb2 as cal_pb
from google.protobuf import field_mask_pb2

from tests.connectors.caldav.servers import Radicale
from tests.connectors.google.fake import FakeGoogle
from tests.helpers import (
    Almanac,
    TestAccount,
    expect_error,
    list_all,
    on_each_store,
    race,
    unique_id,
)

Code = grpc.StatusCode
LOCAL = acc_pb.ConnectorSettings(local=acc_pb.LocalSettings())


def _local(**fields: object) -> acc_pb.Account:
    return acc_pb.Account(connector=acc_pb.CONNECTOR_TYPE_LOCAL, settings=LOCAL, **fields)


def _mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


@on_each_store
def test_create_get_account_with_primary_calendar(almanac: Almanac) -> None:
    account_id = unique_id()
    created = almanac.accounts().CreateAccount(
        acc_pb.CreateAccountRequest(
            account_id=account_id,
            account=_local(display_name="Ada", default_time_zone="Europe/Berlin"),
        )
    )
    assert created.name == f"accounts/{account_id}"
    assert created.display_name == "Ada"
    assert created.connector == acc_pb.CONNECTOR_TYPE_LOCAL
    assert created.default_time_zone == "Europe/Berlin"
    assert created.etag
    assert created.HasField("create_time") and created.HasField("update_time")
    assert almanac.accounts().GetAccount(acc_pb.GetAccountRequest(name=created.name)) == created
    primary = almanac.calendars().GetCalendar(
        cal_pb.GetCalendarRequest(name=f"{created.name}/calendars/primary")
    )
    assert primary.name == f"{created.name}/calendars/primary"
    assert primary.primary
    assert primary.time_zone == "Europe/Berlin"


def test_create_account_generates_id_and_defaults_time_zone(almanac: Almanac) -> None:
    created = almanac.accounts().CreateAccount(acc_pb.CreateAccountRequest(account=_local()))
    assert re.fullmatch(r"accounts/[a-z][a-z0-9-]{0,62}", created.name), created.name
    assert created.default_time_zone == "UTC"
    got = almanac.accounts().GetAccount(acc_pb.GetAccountRequest(name=created.name))
    assert got.name == created.name


def test_create_account_duplicate_id_is_already_exists(
    almanac: Almanac, account: TestAccount
) -> None:
    err = expect_error(
        Code.ALREADY_EXISTS,
        lambda: almanac.accounts().CreateAccount(
            acc_pb.CreateAccountRequest(account_id=account.id, account=_local(display_name="2nd"))
        ),
    )
    assert account.name in err.message
    got = almanac.accounts().GetAccount(acc_pb.GetAccountRequest(name=account.name))
    assert got.display_name == "E2E"


def test_create_account_request_id_retry_returns_first_result(almanac: Almanac) -> None:
    request = acc_pb.CreateAccountRequest(
        account=_local(display_name="Retry"), request_id=str(uuid.uuid4())
    )
    first = almanac.accounts().CreateAccount(request)
    again = almanac.accounts().CreateAccount(request)
    assert again == first
    other = acc_pb.CreateAccountRequest()
    other.CopyFrom(request)
    other.account.display_name = "Different"
    err = expect_error(Code.INVALID_ARGUMENT, lambda: almanac.accounts().CreateAccount(other))
    assert err.fields == {"request_id"}


def test_concurrent_retries_of_create_account_return_one_account(almanac: Almanac) -> None:
    """Retries racing the first attempt still get its result (not ALREADY_EXISTS)."""
    request = acc_pb.CreateAccountRequest(
        account=_local(display_name="Raced"), account_id=unique_id(), request_id=str(uuid.uuid4())
    )

    accounts = almanac.accounts()
    accounts.ListAccounts(acc_pb.ListAccountsRequest(page_size=1))  # connect first
    results = race(12, lambda: accounts.CreateAccount(request))
    assert results == [f"accounts/{request.account_id}"] * 12, results


def test_get_account_me_with_single_account_token(almanac: Almanac, account: TestAccount) -> None:
    token = account.token("calendars:read")
    got = almanac.accounts(token).GetAccount(acc_pb.GetAccountRequest(name="accounts/me"))
    assert got.name == account.name
    assert got.display_name == "E2E"


def test_get_account_me_is_ambiguous_for_multi_account_tokens(
    almanac: Almanac, account: TestAccount
) -> None:
    other = almanac.create_local_account()
    two = almanac.token(["calendars:read"], [account.name, other.name])
    for token in (two, almanac.admin_secret):
        err = expect_error(
            Code.INVALID_ARGUMENT,
            lambda t=token: almanac.accounts(t).GetAccount(
                acc_pb.GetAccountRequest(name="accounts/me")
            ),
        )
        assert err.fields == {"name"}


def test_get_account_not_found(almanac: Almanac) -> None:
    expect_error(
        Code.NOT_FOUND,
        lambda: almanac.accounts().GetAccount(
            acc_pb.GetAccountRequest(name=f"accounts/{unique_id()}")
        ),
    )


@on_each_store
def test_list_accounts_shows_only_the_tokens_accounts(almanac: Almanac) -> None:
    first = almanac.create_local_account(display_name="first")
    second = almanac.create_local_account(display_name="second")
    almanac.create_local_account(display_name="not granted")
    token = almanac.token(["calendars:read"], [second.name, first.name])
    reply = almanac.accounts(token).ListAccounts(acc_pb.ListAccountsRequest())
    assert [a.name for a in reply.accounts] == [first.name, second.name]  # oldest first
    assert reply.total_size == 2
    assert not reply.next_page_token
    paged = list_all(
        almanac.accounts(token).ListAccounts, acc_pb.ListAccountsRequest(page_size=1), "accounts"
    )
    assert [a.name for a in paged] == [first.name, second.name]


def test_list_accounts_admin_sees_every_account_oldest_first(
    almanac: Almanac, account: TestAccount
) -> None:
    accounts = list_all(
        almanac.accounts().ListAccounts, acc_pb.ListAccountsRequest(page_size=7), "accounts"
    )
    names = [a.name for a in accounts]
    assert len(names) == len(set(names))
    assert "accounts/default" in names and account.name in names
    times = [(a.create_time.seconds, a.create_time.nanos) for a in accounts]
    assert times == sorted(times)
    total = almanac.accounts().ListAccounts(acc_pb.ListAccountsRequest()).total_size
    assert total >= len(names)


@on_each_store
def test_update_account_with_mask_changes_only_masked_fields(
    almanac: Almanac, account: TestAccount
) -> None:
    before = account.account
    updated = almanac.accounts().UpdateAccount(
        acc_pb.UpdateAccountRequest(
            account=acc_pb.Account(
                name=account.name, display_name="Renamed", default_time_zone="Asia/Tokyo"
            ),
            update_mask=_mask("display_name"),
        )
    )
    assert updated.display_name == "Renamed"
    assert updated.default_time_zone == before.default_time_zone == "UTC"
    assert updated.etag != before.etag
    assert updated.update_time.ToNanoseconds() > before.update_time.ToNanoseconds()
    assert updated.create_time == before.create_time
    assert almanac.accounts().GetAccount(acc_pb.GetAccountRequest(name=account.name)) == updated


def test_update_account_without_mask_changes_set_fields(
    almanac: Almanac, account: TestAccount
) -> None:
    updated = almanac.accounts().UpdateAccount(
        acc_pb.UpdateAccountRequest(
            account=acc_pb.Account(name=account.name, default_time_zone="America/New_York")
        )
    )
    assert updated.default_time_zone == "America/New_York"
    assert updated.display_name == "E2E"


def test_update_account_etag(almanac: Almanac, account: TestAccount) -> None:
    stale = account.account.etag
    current = almanac.accounts().UpdateAccount(
        acc_pb.UpdateAccountRequest(
            account=acc_pb.Account(name=account.name, display_name="v2", etag=stale)
        )
    )
    assert current.etag != stale
    expect_error(
        Code.ABORTED,
        lambda: almanac.accounts().UpdateAccount(
            acc_pb.UpdateAccountRequest(
                account=acc_pb.Account(name=account.name, display_name="v3", etag=stale)
            )
        ),
    )
    assert (
        almanac.accounts().GetAccount(acc_pb.GetAccountRequest(name=account.name)).display_name
        == "v2"
    )
    third = almanac.accounts().UpdateAccount(
        acc_pb.UpdateAccountRequest(
            account=acc_pb.Account(name=account.name, display_name="v3", etag=current.etag)
        )
    )
    assert third.display_name == "v3"
    assert len({stale, current.etag, third.etag}) == 3


def test_update_account_rejects_unknown_and_immutable_paths(
    almanac: Almanac, account: TestAccount
) -> None:
    for path in ("nickname", "connector"):
        err = expect_error(
            Code.INVALID_ARGUMENT,
            lambda p=path: almanac.accounts().UpdateAccount(
                acc_pb.UpdateAccountRequest(
                    account=acc_pb.Account(
                        name=account.name, display_name="x", connector=acc_pb.CONNECTOR_TYPE_CALDAV
                    ),
                    update_mask=_mask("display_name", p),
                )
            ),
        )
        assert err.fields == {"update_mask"}
    got = almanac.accounts().GetAccount(acc_pb.GetAccountRequest(name=account.name))
    assert got == account.account


def test_update_account_settings_must_match_connector(
    almanac: Almanac, account: TestAccount
) -> None:
    err = expect_error(
        Code.INVALID_ARGUMENT,
        lambda: almanac.accounts().UpdateAccount(
            acc_pb.UpdateAccountRequest(
                account=acc_pb.Account(
                    name=account.name,
                    settings=acc_pb.ConnectorSettings(
                        caldav=acc_pb.CalDavSettings(url="https://dav.example.com/")
                    ),
                ),
                update_mask=_mask("settings"),
            )
        ),
    )
    assert err.fields == {"account.settings"}


def test_update_account_not_found(almanac: Almanac) -> None:
    expect_error(
        Code.NOT_FOUND,
        lambda: almanac.accounts().UpdateAccount(
            acc_pb.UpdateAccountRequest(
                account=acc_pb.Account(name=f"accounts/{unique_id()}", display_name="x")
            )
        ),
    )


# --- secrets ----------------------------------------------------------------------


def _assert_no_secret(account: acc_pb.Account, *secrets: str) -> None:
    raw = account.SerializeToString()
    for secret in secrets:
        assert secret.encode() not in raw, f"secret {secret!r} returned in {account}"


@on_each_store
def test_caldav_password_is_never_returned(almanac: Almanac, radicale: Radicale) -> None:
    # CreateAccount checks the settings against the server: a real one.
    password = "pw-" + uuid.uuid4().hex
    user = radicale.add_user(password=password)
    url = radicale.base + "/"
    created = almanac.accounts().CreateAccount(
        acc_pb.CreateAccountRequest(
            account_id=unique_id(),
            account=acc_pb.Account(
                connector=acc_pb.CONNECTOR_TYPE_CALDAV,
                settings=acc_pb.ConnectorSettings(
                    caldav=acc_pb.CalDavSettings(url=url, username=user, password=password)
                ),
            ),
        )
    )
    shown = [created, almanac.accounts().GetAccount(acc_pb.GetAccountRequest(name=created.name))]
    listed = list_all(almanac.accounts().ListAccounts, acc_pb.ListAccountsRequest(), "accounts")
    shown += [a for a in listed if a.name == created.name]
    assert len(shown) == 3
    for account in shown:
        assert account.settings.caldav.url == url
        assert account.settings.caldav.username == user
        assert account.settings.caldav.password == ""
        assert account.settings.caldav.has_password
        _assert_no_secret(account, password)
    # Changing another setting keeps the stored password (still not shown).
    updated = almanac.accounts().UpdateAccount(
        acc_pb.UpdateAccountRequest(
            account=acc_pb.Account(
                name=created.name,
                settings=acc_pb.ConnectorSettings(caldav=acc_pb.CalDavSettings(username="grace")),
            ),
            update_mask=_mask("settings"),
        )
    )
    assert updated.settings.caldav.username == "grace"
    assert updated.settings.caldav.has_password
    assert updated.settings.caldav.password == ""
    _assert_no_secret(updated, password)
    new_password = "pw2-" + uuid.uuid4().hex
    changed = almanac.accounts().UpdateAccount(
        acc_pb.UpdateAccountRequest(
            account=acc_pb.Account(
                name=created.name,
                settings=acc_pb.ConnectorSettings(
                    caldav=acc_pb.CalDavSettings(password=new_password)
                ),
            )
        )
    )
    assert changed.settings.caldav.has_password
    _assert_no_secret(changed, password, new_password)


def test_oauth_secrets_are_never_returned(almanac: Almanac) -> None:
    secret, refresh = "cs-" + uuid.uuid4().hex, "rt-" + uuid.uuid4().hex
    # CreateAccount checks the credentials with Google: here, the tests' fake.
    google = FakeGoogle().start()
    try:
        google.add_user("owner")
        google.refresh_tokens[refresh] = ("owner", "cid", secret)
        created = almanac.accounts().CreateAccount(
            acc_pb.CreateAccountRequest(
                account=acc_pb.Account(
                    connector=acc_pb.CONNECTOR_TYPE_GOOGLE,
                    settings=acc_pb.ConnectorSettings(
                        google=acc_pb.GoogleSettings(
                            client_id="cid", client_secret=secret, refresh_token=refresh,
                            api_base_url=google.url, token_url=google.token_url,
                        )
                    ),
                )
            )
        )  # fmt: skip
    finally:
        google.stop()
    got = almanac.accounts().GetAccount(acc_pb.GetAccountRequest(name=created.name))
    for account in (created, got):
        assert account.settings.google.client_id == "cid"
        assert account.settings.google.has_refresh_token
        assert not account.settings.google.client_secret
        assert not account.settings.google.refresh_token
        _assert_no_secret(account, secret, refresh)


# --- delete -----------------------------------------------------------------------


@on_each_store
def test_delete_account(almanac: Almanac, account: TestAccount) -> None:
    almanac.accounts().DeleteAccount(acc_pb.DeleteAccountRequest(name=account.name))
    expect_error(
        Code.NOT_FOUND,
        lambda: almanac.accounts().GetAccount(acc_pb.GetAccountRequest(name=account.name)),
    )
    expect_error(
        Code.NOT_FOUND,
        lambda: almanac.calendars().GetCalendar(cal_pb.GetCalendarRequest(name=account.primary)),
    )
    expect_error(
        Code.NOT_FOUND,
        lambda: almanac.accounts().DeleteAccount(acc_pb.DeleteAccountRequest(name=account.name)),
    )


@on_each_store
def test_delete_account_with_calendars_needs_force(almanac: Almanac, account: TestAccount) -> None:
    account.create_calendar("Extra", calendar_id="extra")
    err = expect_error(
        Code.FAILED_PRECONDITION,
        lambda: almanac.accounts().DeleteAccount(acc_pb.DeleteAccountRequest(name=account.name)),
    )
    assert err.reason
    assert {c.name for c in account.list_calendars()} == {
        account.primary,
        account.calendar_name("extra"),
    }
    almanac.accounts().DeleteAccount(acc_pb.DeleteAccountRequest(name=account.name, force=True))
    expect_error(
        Code.NOT_FOUND,
        lambda: almanac.accounts().GetAccount(acc_pb.GetAccountRequest(name=account.name)),
    )
    expect_error(
        Code.NOT_FOUND,
        lambda: almanac.calendars().GetCalendar(
            cal_pb.GetCalendarRequest(name=account.calendar_name("extra"))
        ),
    )
    # Everything went: a new account with the same id starts empty.
    again = TestAccount(almanac, almanac.create_local_account(account.id))
    assert [c.name for c in again.list_calendars()] == [account.primary]


def test_delete_account_etag(almanac: Almanac, account: TestAccount) -> None:
    current = almanac.accounts().UpdateAccount(
        acc_pb.UpdateAccountRequest(
            account=acc_pb.Account(name=account.name, display_name="changed")
        )
    )
    expect_error(
        Code.ABORTED,
        lambda: almanac.accounts().DeleteAccount(
            acc_pb.DeleteAccountRequest(name=account.name, etag=account.account.etag)
        ),
    )
    assert almanac.accounts().GetAccount(acc_pb.GetAccountRequest(name=account.name))
    almanac.accounts().DeleteAccount(
        acc_pb.DeleteAccountRequest(name=account.name, etag=current.etag)
    )
    expect_error(
        Code.NOT_FOUND,
        lambda: almanac.accounts().GetAccount(acc_pb.GetAccountRequest(name=account.name)),
    )


def test_no_calendar_can_be_created_in_a_deleted_account(
    almanac: Almanac, account: TestAccount
) -> None:
    calendars = almanac.calendars()
    calendars.GetCalendar(cal_pb.GetCalendarRequest(name=account.primary))
    almanac.accounts().DeleteAccount(acc_pb.DeleteAccountRequest(name=account.name))
    expect_error(
        Code.NOT_FOUND,
        lambda: calendars.CreateCalendar(
            cal_pb.CreateCalendarRequest(
                parent=account.name,
                calendar_id="orphan",
                calendar=cal_pb.Calendar(display_name="Orphan", time_zone="UTC"),
            )
        ),
    )
    # And the account does not come back with a calendar in it.
    again = TestAccount(almanac, almanac.create_local_account(account.id))
    assert [c.name for c in again.list_calendars()] == [account.primary]
