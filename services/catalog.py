"""The services of the suite: name, default port setting, servicer wiring.

``almanac up`` starts every entry; a service joins the suite by adding one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import grpc
from almanac.v1 import account_service_pb2_grpc as acc_grpc
from almanac.v1 import calendar_service_pb2_grpc as cal_grpc
from almanac.v1 import event_service_pb2_grpc as ev_grpc

from services.account_service import AccountService
from services.calendar_service import CalendarService
from services.event_service import EventService
from services.runtime import Runtime

__all__ = ["CATALOG", "ServiceEntry"]


@dataclass(frozen=True)
class ServiceEntry:
    name: str  # CLI name, e.g. "calendar"
    port_setting: str  # Settings attribute holding its default port
    full_name: str  # gRPC service name
    register: Callable[[Runtime], Callable[[grpc.aio.Server], None]]


CATALOG: dict[str, ServiceEntry] = {
    e.name: e
    for e in (
        ServiceEntry(
            "account",
            "account_port",
            "almanac.v1.AccountService",
            lambda rt: (
                lambda s: acc_grpc.add_AccountServiceServicer_to_server(AccountService(rt), s)
            ),
        ),
        ServiceEntry(
            "calendar",
            "calendar_port",
            "almanac.v1.CalendarService",
            lambda rt: (
                lambda s: cal_grpc.add_CalendarServiceServicer_to_server(CalendarService(rt), s)
            ),
        ),
        ServiceEntry(
            "event",
            "event_port",
            "almanac.v1.EventService",
            lambda rt: lambda s: ev_grpc.add_EventServiceServicer_to_server(EventService(rt), s),
        ),
    )
}
