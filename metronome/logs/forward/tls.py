"""TLS for the forward listener (what Fluentd's ``out_forward`` calls ``transport tls``).

The shared key authenticates the client to the server and the server to the client, but it
travels in clear text digests, and so do the records: TLS keeps both from being read or
altered on the way. With a ``ca_file``, clients must also present a certificate it signed.
"""

from __future__ import annotations

import ssl
from pathlib import Path


def server_context(cert_file: Path, key_file: Path, ca_file: Path | None = None) -> ssl.SSLContext:
    """A server-side context: this certificate chain, TLS 1.2 or later, client certificates
    required (and checked against ``ca_file``) when ``ca_file`` is given."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    if ca_file is not None:
        context.load_verify_locations(cafile=ca_file)
        context.verify_mode = ssl.CERT_REQUIRED
    return context
