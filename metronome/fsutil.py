"""Small file-system helpers for durability: fsync a directory, keep a secret in a file."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path

SECRET_BYTES = 32


def fsync_dir(directory: Path) -> None:
    """Make a created, renamed or removed name in ``directory`` survive a crash."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_or_create_secret(
    configured: str | None, path: Path, make: Callable[[], str] | None = None
) -> bytes:
    """The configured secret, else the one kept in ``path``, else a new one (``make()``, by
    default random hex) written there.

    The file holds hex text and is used as the text's bytes, so pasting its content into the
    ``privacy.visitor_secret`` setting gives the same salts.
    """
    if configured:
        return configured.encode("utf-8")
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    _create_secret(path, make() if make else secrets.token_hex(SECRET_BYTES))
    # Whoever linked first won; every process reads the winner's secret.
    return _read_secret(path)


def _read_secret(path: Path) -> bytes:
    text = path.read_text(encoding="ascii").strip()
    if not text:
        # Regenerating would silently split visitors between instances that already read it.
        raise ValueError(f"the visitor secret file {path} is empty; delete it or fill it")
    return text.encode("ascii")


def _create_secret(path: Path, text: str) -> None:
    """Publish ``text`` at ``path`` complete and 0600, unless another process did first.

    ``os.replace`` would let the last of several first starts win after the others had already
    used their own secret; a hard link is atomic *and* fails when the name exists.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # O_EXCL, 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(text + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return
        fsync_dir(path.parent)
    finally:
        os.unlink(tmp)
