"""``shared_key`` authentication of the forward protocol: HELO, PING, PONG. Pure.

The server speaks first, ``["HELO", {"nonce": <16 random bytes>, "auth": "", "keepalive":
true}]``; the client answers ``["PING", client_host, salt, hex(sha512(salt + client_host +
nonce + key)), username, password_digest]`` (exactly 6 elements); the server replies
``["PONG", true, "", server_host, hex(sha512(salt + server_host + nonce + key))]``, or
``["PONG", false, reason, "", ""]`` and disconnects. Only the shared key is checked:
``auth`` is always empty, so clients send no user and the username and password digest of a
PING are ignored (Fluentd's behaviour without ``user_auth``). Salts and host names are hashed
as the exact bytes the client sent (Fluent Bit's salt is 16 random bytes in a msgpack str).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from metronome.logs.forward._msgpack import pack, raw_bytes

NONCE_BYTES = 16


@dataclass(frozen=True)
class PingAnswer:
    ok: bool
    reason: str  # why authentication failed; "" when it succeeded
    reply: bytes  # the PONG, msgpack-encoded


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
        return _refuse("invalid ping message")
    _ping, client_host, salt, digest = message[:4]
    key = shared_key.encode("utf-8")
    expected = shared_key_digest(raw_bytes(salt), raw_bytes(client_host), nonce, key)
    if not hmac.compare_digest(expected.encode("ascii"), raw_bytes(digest)):
        return _refuse("shared_key mismatch")
    ours = shared_key_digest(raw_bytes(salt), server_host.encode("utf-8"), nonce, key)
    return PingAnswer(True, "", pack(["PONG", True, "", server_host, ours]))


def _refuse(reason: str) -> PingAnswer:
    return PingAnswer(False, reason, pack(["PONG", False, reason, "", ""]))
