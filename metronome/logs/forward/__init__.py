"""The Fluentd / Fluent Bit forward protocol (v1) receiver: TCP server, decoder, handshake.

``run_forward_server(host, port, sink)`` serves until SIGINT/SIGTERM; ``ForwardServer`` is the
asyncio server (its ``counters`` are the figures to export); ``ForwardServerThread`` runs one
in a background thread. Every event goes to an ``EventSink`` and is acknowledged only once
``sink.accept`` has returned (the events are durable). ``DecodeLimits`` bounds what a message
may make the decoder hold; ``server_options`` turns ``logs.forward`` into server arguments. The
wire format itself (frames, modes, acks) is ``protocol``'s.
"""

from metronome.logs.forward.limits import DecodeLimits
from metronome.logs.forward.runner import ForwardServerThread, run_forward_server, server_options
from metronome.logs.forward.server import DEFAULT_PORT, ForwardCounters, ForwardServer

__all__ = [
    "DEFAULT_PORT",
    "DecodeLimits",
    "ForwardCounters",
    "ForwardServer",
    "ForwardServerThread",
    "run_forward_server",
    "server_options",
]
