"""The INTERNAL/UNKNOWN classes of issue 16, each answered INVALID_ARGUMENT now."""

from __future__ import annotations

import grpc
import pytest
from almanac.v1 import account_service_pb2 as acc_pb
from almanac.v1 import calendar_service_pb2 as cal_pb
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb
from google.protobuf import timestamp_pb2
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from services.runtime.requests import MAX_INSTANT, MIN_INSTANT
from tests.fuzz.cluster import FuzzCluster, served_methods

Code = grpc.StatusCode


def _method(name: str) -> MethodDescriptor:
    return next(m for m in served_methods() if f"{m.containing_service.name}.{m.name}" == name)


def _call(
    cluster: FuzzCluster, name: str, request: Message | bytes, token: str = ""
) -> tuple[Code, set[str], str]:
    """Code, BadRequest fields and ErrorInfo reason of one call with A's token."""
    payload = request if isinstance(request, bytes) else request.SerializeToString()
    method = _method(name)
    address = cluster.address_of(method)
    path = f"/{method.containing_service.full_name}/{method.name}"
    with grpc.insecure_channel(address) as channel:
        rpc = channel.unary_unary(path, request_serializer=None, response_deserializer=None)
        metadata = [("authorization", f"Bearer {token or cluster.a.full_token}")]
        try:
            rpc(payload, metadata=metadata, timeout=15)
        except grpc.RpcError as exc:
            err: grpc.Call = exc  # type: ignore[assignment]
            status = rpc_status.from_call(err)  # type: ignore[arg-type]
            fields: set[str] = set()
            reason = ""
            for detail in status.details if status else ():
                if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                    bad = error_details_pb2.BadRequest()
                    detail.Unpack(bad)
                    fields |= {v.field for v in bad.field_violations}
                elif detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                    info = error_details_pb2.ErrorInfo()
                    detail.Unpack(info)
                    reason = info.reason
            return err.code(), fields, reason
    return Code.OK, set(), ""


def _ts(seconds: int, nanos: int = 0) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)


@pytest.mark.parametrize(
    ("seconds", "nanos"),
    [
        (MAX_INSTANT + 1, 0),
        (MIN_INSTANT - 1, 0),
        (0, -1),
        (0, 1_000_000_000),
        (2**63 - 1, 0),
        (-(2**63), 0),
    ],
)
def test_out_of_range_timestamps_name_the_field(
    cluster: FuzzCluster, seconds: int, nanos: int
) -> None:
    a = cluster.a.names
    cases: list[tuple[str, Message, str]] = [
        (
            "CalendarService.ListTimeZones",
            cal_pb.ListTimeZonesRequest(time=_ts(seconds, nanos)),
            "time",
        ),
        (
            "EventService.ListEvents",
            ev_pb.ListEventsRequest(
                parent=a["almanac.dev/Calendar"], start_time=_ts(seconds, nanos)
            ),
            "start_time",
        ),
        (
            "EventService.ListEventInstances",
            ev_pb.ListEventInstancesRequest(
                name=a["almanac.dev/Event"], end_time=_ts(seconds, nanos)
            ),
            "end_time",
        ),
        (
            "CalendarService.ExportCalendar",
            cal_pb.ExportCalendarRequest(
                name=a["almanac.dev/Calendar"],
                time_range=common_pb2.TimeRange(start_time=_ts(0), end_time=_ts(seconds, nanos)),
            ),
            "time_range.end_time",
        ),
    ]
    for name, request, field in cases:
        assert _call(cluster, name, request)[:2] == (Code.INVALID_ARGUMENT, {field}), name


@pytest.mark.parametrize("edge", [MIN_INSTANT, MAX_INSTANT])
def test_edge_instants_are_served(cluster: FuzzCluster, edge: int) -> None:
    a = cluster.a.names
    # A day's window at the edge (a window may span at most 5 years).
    whole = (_ts(min(edge, MAX_INSTANT - 86400)), _ts(max(edge, MIN_INSTANT + 86400)))
    calls: list[tuple[str, Message]] = [
        ("CalendarService.ListTimeZones", cal_pb.ListTimeZonesRequest(time=_ts(edge))),
        (
            "EventService.ListEvents",
            ev_pb.ListEventsRequest(
                parent=a["almanac.dev/Calendar"], start_time=whole[0], end_time=whole[1]
            ),
        ),
        (
            "EventService.ListEventInstances",
            ev_pb.ListEventInstancesRequest(
                name=a["almanac.dev/Event"], start_time=whole[0], end_time=whole[1]
            ),
        ),
        (
            "EventService.ListEventInstances",
            ev_pb.ListEventInstancesRequest(name=a["almanac.dev/Event"], start_time=_ts(edge)),
        ),
        (
            "CalendarService.ExportCalendar",
            cal_pb.ExportCalendarRequest(
                name=a["almanac.dev/Calendar"],
                time_range=common_pb2.TimeRange(start_time=whole[0], end_time=whole[1]),
            ),
        ),
    ]
    for name, request in calls:
        assert _call(cluster, name, request)[0] is Code.OK, name
    # One-sided windows at an edge: the default other side is clamped, so the
    # window may be empty (INVALID_ARGUMENT) but never overflows.
    one_sided: list[tuple[str, Message]] = [
        (
            "EventService.ListEvents",
            ev_pb.ListEventsRequest(parent=a["almanac.dev/Calendar"], start_time=_ts(edge)),
        ),
        (
            "EventService.ListEvents",
            ev_pb.ListEventsRequest(parent=a["almanac.dev/Calendar"], end_time=_ts(edge)),
        ),
        (
            "EventService.ListEventInstances",
            ev_pb.ListEventInstancesRequest(name=a["almanac.dev/Event"], end_time=_ts(edge)),
        ),
    ]
    for name, request in one_sided:
        assert _call(cluster, name, request)[0] in (Code.OK, Code.INVALID_ARGUMENT), name


def test_a_page_token_works_only_for_its_rpc(cluster: FuzzCluster) -> None:
    zones = cal_pb.ListTimeZonesResponse.FromString(
        cluster.call(
            _method("CalendarService.ListTimeZones"),
            cal_pb.ListTimeZonesRequest(page_size=1).SerializeToString(),
            cluster.admin,
        ).reply
    )
    assert zones.next_page_token
    request = acc_pb.ListAccountsRequest(page_token=zones.next_page_token)
    code, fields, reason = _call(cluster, "AccountService.ListAccounts", request, cluster.admin)
    assert (code, fields, reason) == (Code.INVALID_ARGUMENT, {"page_token"}, "PAGE_TOKEN_MISMATCH")


@pytest.mark.parametrize("payload", [b"\x00", b"\xff\xff\xff", b"\x0a\x05ab", b"\x08"])
def test_undecodable_bytes_are_invalid_argument(cluster: FuzzCluster, payload: bytes) -> None:
    for method in served_methods():
        if method.server_streaming:
            continue
        name = f"{method.containing_service.name}.{method.name}"
        code, _, reason = _call(cluster, name, payload, cluster.admin)
        assert (code, reason) == (Code.INVALID_ARGUMENT, "UNDECODABLE_REQUEST"), name


def test_undecodable_bytes_without_a_token_are_unauthenticated(cluster: FuzzCluster) -> None:
    method = _method("CalendarService.GetCalendar")
    assert cluster.call(method, b"\xff\xff", None).code is Code.UNAUTHENTICATED


def test_bad_attachment_url_and_huge_expiry(cluster: FuzzCluster) -> None:
    start = common_pb2.EventTime(date_time=_ts(1_780_000_000), time_zone="UTC")
    for url in ("http://[::1", "http://[::1]:99999/x", "https://exa mple.com/"):
        event = ev_pb.Event(display_name="x", start=start, attachments=[ev_pb.Attachment(url=url)])
        request = ev_pb.CreateEventRequest(
            parent=cluster.a.names["almanac.dev/Calendar"], event=event
        )
        assert _call(cluster, "EventService.CreateEvent", request)[:2] == (
            Code.INVALID_ARGUMENT,
            {"event.attachments[0].url"},
        ), url
    token = acc_pb.ApiToken(
        display_name="x",
        scopes=["calendars:read"],
        accounts=[cluster.a.account],
        expire_time=_ts(-(2**63)),
    )
    got = _call(
        cluster,
        "AccountService.CreateApiToken",
        acc_pb.CreateApiTokenRequest(api_token=token),
        cluster.admin,
    )
    assert got[:2] == (Code.INVALID_ARGUMENT, {"api_token.expire_time"})
