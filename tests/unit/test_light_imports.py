"""Each child process of ``metronome serve`` loads only its own code: the spool, the shipper,
the forward listener, the ES layer and the scheduler import no Flask (the web workers'
framework). Measured in a fresh interpreter with ``-X importtime``, so
imports made inside functions on the way count too."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT


def imported(*args: str) -> set[str]:
    run = subprocess.run(
        [sys.executable, "-X", "importtime", *args], cwd=ROOT, capture_output=True, check=True
    )
    lines = run.stderr.decode().splitlines()
    return {line.rsplit("|", 1)[-1].strip() for line in lines if line.startswith("import time:")}


@pytest.mark.parametrize(
    "module",
    [
        "metronome.spool.framing",
        "metronome.spool.shipper",
        "metronome.logs.forward.server",
        "metronome.es.client",
        "metronome.sources.scheduler",
    ],
)
def test_a_process_module_imports_no_web_framework(module: str) -> None:
    loaded = imported("-c", f"import {module}")
    assert module in loaded
    assert not {name for name in loaded if name.split(".")[0] == "flask"}


@pytest.mark.parametrize("command", ["shipper", "forward", "scheduler"])
def test_a_child_command_starts_without_the_web_framework(command: str) -> None:
    loaded = imported("-m", "metronome.cli", command, "--help")
    assert "metronome.cli" in loaded
    assert "flask" not in loaded


@pytest.mark.parametrize("command", ["shipper", "forward"])
def test_the_shipper_and_forward_listener_load_no_other_subsystem(command: str) -> None:
    """The CLI imports a command's module when it runs: the shipper and the forward listener
    load neither the source types nor the archive's S3 client."""
    loaded = imported("-m", "metronome.cli", command, "--help")
    assert not {name for name in loaded if name.split(".")[0] in {"ingesters", "boto3"}}
    assert "metronome.archive" not in loaded
