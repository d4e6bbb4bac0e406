"""``shared_key`` authentication of the forward protocol: HELO, PING, PONG. Pure.

The server speaks first, ``["HELO", {"nonce": <16 random bytes>, "auth": "", "keepalive":
true}]``; the client answers ``["PING", client_host, salt, hex(sha512(salt + client_host +
nonce + key)), username, password_digest]`` (exactly 6 elements); the server replies
``["PONG", true, "", server_host, hex(sha512(salt + server_host + nonce + key))]``, or
``["PONG", false, reason, "", ""]`` and disconnects. Only the shared key is checked:
``auth`` is always empty, so clients send no user and the username and password digest of a
PING are ignored (Fluentd's behaviour without ``user_auth``). Salts and host names are hashed
as the exact bytes the client sent (Fluent Bit's salt is 16 random bytes in a msgpack str).

Until the PING has been checked, a connection's bytes go to a ``PingReader`` only: it keeps
at most a few KiB and decodes them with ``HANDSHAKE_LIMITS``, so a peer that does not know
the key cannot make the server allocate more than that.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from metronome.logs.forward._msgpack import MsgpackError, StreamUnpacker, pack, raw_bytes
from metronome.logs.forward.limits import HANDSHAKE_LIMITS, DecodeLimits

NONCE_BYTES = 16


@dataclass(frozen=True)
class PingAnswer:
    ok: bool
    reason: str  # why authentication failed; "" when it succeeded
    reply: bytes  # the PONG, msgpack-encoded


class HandshakeError(ValueError):
    """The first message is not a PING that fits the handshake limits (a short reason)."""


class PingReader:
    """The bytes of a connection before authentication, until its first message (the PING).

    ``feed`` returns ``(message, rest)`` once a message is complete, ``rest`` being whatever
    the client sent after it; ``nil`` keepalives before it are skipped. A message that breaks
    ``limits`` raises ``HandshakeError``. At most ``limits.max_message_bytes`` are kept.
    """

    def __init__(self, limits: DecodeLimits = HANDSHAKE_LIMITS) -> None:
        self.limits = limits
        self._window = b""  # the first bytes of the connection, never more than the limit

    def feed(self, data: bytes) -> tuple[object, bytes] | None:
        limit = self.limits.max_message_bytes
        room = limit - len(self._window)
        window, beyond = self._window + data[:room], data[room:]
        # A fresh decoder over the window each time: re-reading a few KiB is cheaper than
        # keeping a decoder's partial state, and nothing past the limit is ever decoded.
        unpacker = StreamUnpacker(limit, self.limits)
        try:
            unpacker.feed(window)
            for message in unpacker.values():
                if message is not None:  # (nil is a keepalive)
                    end = len(window) - unpacker.buffered
                    return message, window[end:] + beyond
        except MsgpackError as error:
            raise HandshakeError(f"not a PING within the handshake limits: {error}") from error
        if len(window) >= limit:
            raise HandshakeError(f"no PING in the first {limit} bytes")
        self._window = window
        return None


def helo(nonce: bytes) -> bytes:
    """The server's first message on a connection that must authenticate."""
    return pack(["HELO", {"nonce": nonce, "auth": "", "keepalive": True}])


def shared_key_digest(salt: bytes, host: bytes, nonce: bytes, shared_key: bytes) -> str:
    return hashlib.sha512(salt + host + nonce + shared_key).hexdigest()


def answer_ping(message: object, *, nonce: bytes, shared_key: str, server_host: str) -> PingAnswer:
    """Check a client's PING against the nonce this connection's HELO carried."""
    if not (
        isinstance(message, list)
        and len(message) == 6
        and message[0] == "PING"
        and all(isinstance(part, str | bytes) for part in message[1:4])
    ):
        return refuse("invalid ping message")
    _ping, client_host, salt, digest = message[:4]
    key = shared_key.encode("utf-8")
    expected = shared_key_digest(raw_bytes(salt), raw_bytes(client_host), nonce, key)
    if not hmac.compare_digest(expected.encode("ascii"), raw_bytes(digest)):
        return refuse("shared_key mismatch")
    ours = shared_key_digest(raw_bytes(salt), server_host.encode("utf-8"), nonce, key)
    return PingAnswer(True, "", pack(["PONG", True, "", server_host, ours]))


def refuse(reason: str) -> PingAnswer:
    """``["PONG", false, reason, "", ""]``: authentication failed, the server disconnects."""
    return PingAnswer(False, reason, pack(["PONG", False, reason, "", ""]))
