"""What one forward-protocol message may make the decoder hold. Pure data.

msgpack's own defaults tie every length limit to the buffer size, so a peer could declare
containers of millions of elements in a few bytes; every limit is therefore passed
explicitly, and a connection gets the big ones only once it has authenticated (or when no
``shared_key`` is set). Before that, only the PING is decoded, with ``HANDSHAKE_LIMITS``.

Decoding costs more memory than the bytes it reads (about 80x for a message of empty maps), so
``max_message_bytes`` and ``max_decompressed_bytes`` are what bounds a connection's memory;
the length limits refuse absurd shapes early.
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class DecodeLimits:
    # One message (msgpack value) on the wire. Fluentd's out_forward sends a whole buffer
    # chunk as one message (chunk_limit_size: 8 MiB for memory buffers; set it for file
    # buffers, whose default is 256 MiB); Fluent Bit's chunks are about 2 MiB.
    max_message_bytes: int = 16 * MIB
    # The entries of a CompressedPackedForward message once gunzipped.
    max_decompressed_bytes: int = 64 * MIB
    # Elements of any array: the entries of a Forward-mode message are one array.
    max_array_length: int = 1_000_000
    # Keys of any map (a record).
    max_map_length: int = 65_536
    # Bytes of any str, bin or extension value; a PackedForward message carries all its
    # entries in one str or bin, so this is as large as a message by default.
    max_string_bytes: int = 16 * MIB

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if value < 0:
                raise ValueError(f"{name} must not be negative: {value}")


DEFAULT_LIMITS = DecodeLimits()

# Before authentication: a PING is a 6-element array of short strings (host name, salt, two
# hex SHA-512 digests, a user name). Nothing bigger, and no maps, is decoded from a peer that
# has not proved it knows the key.
HANDSHAKE_LIMITS = DecodeLimits(
    max_message_bytes=4096,
    max_decompressed_bytes=0,
    max_array_length=6,
    max_map_length=0,
    max_string_bytes=1024,
)
