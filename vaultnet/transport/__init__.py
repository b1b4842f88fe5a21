"""Transports: `tcp` (real sockets on 127.0.0.1) and `sim` (in-memory, seeded)."""

from vaultnet.transport.base import (
    AdmissionRefused,
    Connection,
    ConnectionClosed,
    Endpoint,
    HandshakeError,
    TransportError,
)
from vaultnet.transport.sim import SimConfig, SimNetwork
from vaultnet.transport.tcp import TcpEndpoint

__all__ = [
    "AdmissionRefused",
    "Connection",
    "ConnectionClosed",
    "Endpoint",
    "HandshakeError",
    "SimConfig",
    "SimNetwork",
    "TcpEndpoint",
    "TransportError",
]
