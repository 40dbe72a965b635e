"""CreateAccount checks a CalDAV account with a real request; dead credentials later
are UNAUTHENTICATED with a reason, on writes and in the account's sync state."""

from __future__ import annotations

import grpc
from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import event_service_pb2 as ev_pb

from tests.connectors.caldav.proxy import FaultProxy
from tests.connectors.caldav.servers import PASSWORD, Radicale, free_port
from tests.connectors.caldav.targets import caldav_account
from tests.connectors.support import MirrorSuite, eventually
from tests.helpers import expect_error
from tests.services.events.support import at, utc

Code = grpc.StatusCode


def test_wrong_password_and_wrong_url_are_refused(
    caldav_suite: MirrorSuite, radicale: Radicale
) -> None:
    user = radicale.add_user()
    failure = expect_error(
        Code.UNAUTHENTICATED,
        lambda: caldav_account(caldav_suite, radicale.base + "/", user, "wrong"),
    )
    assert failure.reason == "UPSTREAM_CREDENTIALS_REJECTED"
    nowhere = f"http://127.0.0.1:{free_port()}/"
    failure = expect_error(Code.UNAVAILABLE, lambda: caldav_account(caldav_suite, nowhere, user))
    assert failure.reason == "UPSTREAM_UNREACHABLE"
    # An HTTP server that is no CalDAV server (404 to everything).
    web = FaultProxy(radicale.base)
    web.fault("*", status=404)
    try:
        failure = expect_error(
            Code.INVALID_ARGUMENT, lambda: caldav_account(caldav_suite, web.base + "/", user)
        )
    finally:
        web.stop()
    assert failure.reason == "CALDAV_NOT_FOUND"
    assert failure.fields == {"account.settings.caldav.url"}
    listed = caldav_suite.almanac.accounts().ListAccounts(acc_pb.ListAccountsRequest())
    assert user not in {a.display_name for a in listed.accounts}


def test_credentials_that_die_later(caldav_suite: MirrorSuite, radicale: Radicale) -> None:
    user = radicale.add_user()
    account = caldav_account(caldav_suite, radicale.base + "/", user)
    text = radicale.htpasswd.read_text()
    radicale.htpasswd.write_text(text.replace(f"{user}:{PASSWORD}", f"{user}:changed"))
    failure = expect_error(
        Code.UNAUTHENTICATED,
        lambda: caldav_suite.almanac.events().CreateEvent(
            ev_pb.CreateEventRequest(
                parent=f"{account.name}/calendars/primary",
                event=ev_pb.Event(display_name="x", start=at(utc(2026, 11, 4, 9))),
            )
        ),
    )
    assert failure.reason == "UPSTREAM_CREDENTIALS_REJECTED"

    def failing() -> None:
        state = (
            caldav_suite.almanac.accounts()
            .GetAccount(acc_pb.GetAccountRequest(name=account.name))
            .sync_state
        )
        assert state.last_error_reason == "UPSTREAM_CREDENTIALS_REJECTED", state

    eventually(failing, 20, "the sync to record the rejected credentials")
