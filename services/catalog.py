"""The services of the suite: name, default port setting, servicer wiring.

``almanac up`` starts every entry; a service joins the suite by adding one.
A servicer with an async ``shutdown()`` method has it called when its server
starts draining (the activity service ends its streams there).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from almanac.v1 import account_service_pb2_grpc as acc_grpc
from almanac.v1 import activity_service_pb2_grpc as act_grpc
from almanac.v1 import availability_service_pb2_grpc as av_grpc
from almanac.v1 import calendar_service_pb2_grpc as cal_grpc
from almanac.v1 import contact_service_pb2_grpc as ct_grpc
from almanac.v1 import event_service_pb2_grpc as ev_grpc
from almanac.v1 import resource_service_pb2_grpc as rs_grpc

from services.accounts.service import AccountService
from services.activity import metrics as activity_metrics
from services.activity.service import ActivityService
from services.availability.service import AvailabilityService
from services.calendars.service import CalendarService
from services.contacts.service import ContactService
from services.events.service import EventService
from services.resources.service import ResourceService
from services.runtime.context import Runtime
from services.runtime.metrics import instrument_store

__all__ = ["CATALOG", "ServiceEntry", "observe_process"]


@dataclass(frozen=True)
class ServiceEntry:
    name: str  # CLI name, e.g. "calendar"
    port_setting: str  # Settings attribute holding its default port
    full_name: str  # gRPC service name
    build: Callable[[Runtime], Any]  # the servicer
    add: Callable[[Any, grpc.aio.Server], None]  # the generated add_*_to_server


CATALOG: dict[str, ServiceEntry] = {
    e.name: e
    for e in (
        ServiceEntry(
            "account",
            "account_port",
            "almanac.v1.AccountService",
            AccountService,
            acc_grpc.add_AccountServiceServicer_to_server,
        ),
        ServiceEntry(
            "calendar",
            "calendar_port",
            "almanac.v1.CalendarService",
            CalendarService,
            cal_grpc.add_CalendarServiceServicer_to_server,
        ),
        ServiceEntry(
            "event",
            "event_port",
            "almanac.v1.EventService",
            EventService,
            ev_grpc.add_EventServiceServicer_to_server,
        ),
        ServiceEntry(
            "availability",
            "availability_port",
            "almanac.v1.AvailabilityService",
            AvailabilityService,
            av_grpc.add_AvailabilityServiceServicer_to_server,
        ),
        ServiceEntry(
            "activity",
            "activity_port",
            "almanac.v1.ActivityService",
            ActivityService,
            act_grpc.add_ActivityServiceServicer_to_server,
        ),
        ServiceEntry(
            "contact",
            "contact_port",
            "almanac.v1.ContactService",
            ContactService,
            ct_grpc.add_ContactServiceServicer_to_server,
        ),
        ServiceEntry(
            "resource",
            "resource_port",
            "almanac.v1.ResourceService",
            ResourceService,
            rs_grpc.add_ResourceServiceServicer_to_server,
        ),
    )
}


def observe_process(rt: Runtime, servicer: Any) -> None:
    """Feed the process's metrics (``metrics_port`` set): store transactions and,
    in the activity service, its subscribers."""
    instrument_store(rt.store)
    if isinstance(servicer, ActivityService):
        activity_metrics.register(servicer)
