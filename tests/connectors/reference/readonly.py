"""The reference backend as a read-only upstream (to prove capability checks)."""

from __future__ import annotations

from almanac.v1 import account_service_pb2 as acc_pb

from tests.connectors.reference.backend import ReferenceBackend

__all__ = ["ReadOnlyReferenceBackend"]


class ReadOnlyReferenceBackend(ReferenceBackend):
    capabilities = ReferenceBackend.capabilities - {
        acc_pb.CAPABILITY_CALENDAR_WRITE,
        acc_pb.CAPABILITY_EVENT_WRITE,
        acc_pb.CAPABILITY_ICS_IMPORT,
    }
