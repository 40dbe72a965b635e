"""The error tree and the status table, without a server."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2, status_pb2

from connectors import errors as ce
from services.runtime.errors import (
    DOMAIN,
    INTERNAL_MESSAGE,
    STATUS_TABLE,
    BadRequestBuilder,
    ServiceError,
    code_of,
    to_status,
)


def unpack(status: status_pb2.Status) -> dict[str, object]:
    out: dict[str, object] = {}
    for any_msg in status.details:
        for cls in (
            error_details_pb2.ErrorInfo,
            error_details_pb2.BadRequest,
            error_details_pb2.RetryInfo,
            error_details_pb2.PreconditionFailure,
        ):
            if any_msg.Is(cls.DESCRIPTOR):
                msg = cls()
                any_msg.Unpack(msg)
                assert cls.__name__ not in out
                out[cls.__name__] = msg
    assert len(out) == len(status.details), "unexpected detail type"
    return out


def test_every_connector_error_class_has_a_row() -> None:
    classes = {getattr(ce, n) for n in ce.__all__}
    assert classes <= set(STATUS_TABLE)
    for rule in STATUS_TABLE.values():
        assert rule.code is not grpc.StatusCode.OK


@pytest.mark.parametrize(
    ("exc", "code", "reason"),
    [
        (ce.NotFound("x"), code_pb2.NOT_FOUND, "NOT_FOUND"),
        (ce.AlreadyExists("x"), code_pb2.ALREADY_EXISTS, "ALREADY_EXISTS"),
        (ce.EtagMismatch("x"), code_pb2.ABORTED, "ETAG_MISMATCH"),
        (ce.FailedPrecondition("x"), code_pb2.FAILED_PRECONDITION, "FAILED_PRECONDITION"),
        (ce.PermissionDenied("x"), code_pb2.PERMISSION_DENIED, "PERMISSION_DENIED"),
        (ce.Unauthenticated("x"), code_pb2.UNAUTHENTICATED, "UNAUTHENTICATED"),
        (ce.RateLimited("x"), code_pb2.RESOURCE_EXHAUSTED, "RATE_LIMITED"),
        (ce.Unavailable("x"), code_pb2.UNAVAILABLE, "BACKEND_UNAVAILABLE"),
        (ce.Unsupported("x"), code_pb2.UNIMPLEMENTED, "UNSUPPORTED"),
        (ce.InvalidArgument("x"), code_pb2.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
        (ce.ConnectorError("x"), code_pb2.INTERNAL, "BACKEND_ERROR"),
    ],
)
def test_default_rows(exc: Exception, code: int, reason: str) -> None:
    status = to_status(exc)
    assert status.code == code and status.message == "x"
    info = unpack(status)["ErrorInfo"]
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert (info.domain, info.reason) == (DOMAIN, reason)
    assert code_of(exc).value[0] == code


def test_subclasses_inherit_their_parents_row() -> None:
    class EventNotFound(ce.NotFound):
        pass

    assert to_status(EventNotFound("e")).code == code_pb2.NOT_FOUND


def test_reason_metadata_and_empty_message() -> None:
    status = to_status(ce.NotFound(reason="CALENDAR_DELETED", metadata={"calendar": "c1"}))
    assert status.message == "not found"
    info = unpack(status)["ErrorInfo"]
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert info.reason == "CALENDAR_DELETED" and dict(info.metadata) == {"calendar": "c1"}


@pytest.mark.parametrize("reason", ["lower", "TRAILING_", "_LEADING", "A", "X" * 64, "SP ACE"])
def test_bad_reasons_are_rejected(reason: str) -> None:
    with pytest.raises(ValueError):
        ce.NotFound("x", reason=reason)
    with pytest.raises(ValueError):
        ServiceError(grpc.StatusCode.OUT_OF_RANGE, "x", reason=reason)


def test_bad_metadata_keys_are_rejected() -> None:
    with pytest.raises(ValueError):
        ce.NotFound("x", metadata={"Bad Key": "v"})


def test_retry_info() -> None:
    status = to_status(ce.RateLimited("slow", retry_after=1.25))
    retry = unpack(status)["RetryInfo"]
    assert isinstance(retry, error_details_pb2.RetryInfo)
    assert (retry.retry_delay.seconds, retry.retry_delay.nanos) == (1, 250_000_000)
    assert "RetryInfo" not in unpack(to_status(ce.RateLimited("slow")))
    with pytest.raises(ValueError):
        ce.RateLimited(retry_after=-1)


def test_invalid_argument_lists_every_violation_once() -> None:
    exc = ce.InvalidArgument(violations=[("a.b", "is required"), ("c", "too long")])
    assert exc.message == "invalid argument: a.b: is required; c: too long"
    status = to_status(exc)
    bad = unpack(status)["BadRequest"]
    assert isinstance(bad, error_details_pb2.BadRequest)
    assert [(v.field, v.description) for v in bad.field_violations] == [
        ("a.b", "is required"),
        ("c", "too long"),
    ]


def test_service_error() -> None:
    failure = error_details_pb2.PreconditionFailure(
        violations=[error_details_pb2.PreconditionFailure.Violation(type="STATE", subject="c1")]
    )
    exc = ServiceError(grpc.StatusCode.FAILED_PRECONDITION, "not empty", details=[failure])
    status = to_status(exc)
    assert status.code == code_pb2.FAILED_PRECONDITION and status.message == "not empty"
    details = unpack(status)
    info = details["ErrorInfo"]
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert info.reason == "FAILED_PRECONDITION"
    assert "PreconditionFailure" in details
    assert code_of(exc) is grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(ValueError):
        ServiceError(grpc.StatusCode.OK, "fine")


def test_service_error_with_its_own_error_info() -> None:
    own = error_details_pb2.ErrorInfo(reason="OWN", domain=DOMAIN)
    status = to_status(ServiceError(grpc.StatusCode.OUT_OF_RANGE, "x", details=[own]))
    info = unpack(status)["ErrorInfo"]
    assert isinstance(info, error_details_pb2.ErrorInfo) and info.reason == "OWN"


def test_unexpected_exceptions_leak_nothing() -> None:
    status = to_status(KeyError("SELECT * FROM tokens"))
    assert status.code == code_pb2.INTERNAL and status.message == INTERNAL_MESSAGE
    assert "SELECT" not in str(status)
    assert code_of(KeyError()) is grpc.StatusCode.INTERNAL


def test_bad_request_builder() -> None:
    bad = BadRequestBuilder()
    bad.raise_if_any()  # nothing yet
    assert not bad and len(bad) == 0
    assert bad.check(True, "ok", "fine")
    assert not bad.check(False, "page_size", "must not be negative")
    bad.add("event.start", "is required")
    bad.extend([("time_zone", "unknown zone"), ("", "start must precede end")], prefix="event")
    assert len(bad) == 4
    with pytest.raises(ce.InvalidArgument) as err:
        bad.raise_if_any(reason="BAD_EVENT")
    assert err.value.reason == "BAD_EVENT"
    assert err.value.violations == [
        ("page_size", "must not be negative"),
        ("event.start", "is required"),
        ("event.time_zone", "unknown zone"),
        ("event", "start must precede end"),
    ]
