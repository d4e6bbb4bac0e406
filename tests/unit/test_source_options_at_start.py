"""A source's options are checked by its type where the settings are loaded: by every command of
the CLI (``metronome serve`` included) and by the app factory, before anything starts."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from metronome.cli import cli
from metronome.config import ConfigError
from metronome.web.app import create_app

WRONG = "sources.repo.repos: Missing data for required field."


def config_file(tmp_path: Path, **extra: object) -> Path:
    path = tmp_path / "metronome.yml"
    settings = {
        "spool": {"dir": str(tmp_path / "spool")},
        "sources": {"repo": {"type": "github", "token": "ghp_x", "interval": 60}},  # no repos
        **extra,
    }
    path.write_text(yaml.safe_dump(settings))
    return path


def test_a_command_stops_at_a_wrong_source_option(tmp_path: Path) -> None:
    path = config_file(tmp_path)
    result = CliRunner().invoke(cli, ["--config", str(path), "sources", "list"])
    assert result.exit_code == 1
    assert f"Error: invalid configuration ({path}): {WRONG}" in result.output


def test_serve_stops_at_a_wrong_source_option_before_its_own_checks(tmp_path: Path) -> None:
    with socket.socket() as holder:  # without the option check, serve would refuse the port
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        path = config_file(tmp_path, server={"port": port})
        result = CliRunner().invoke(cli, ["--config", str(path), "serve"])
    assert result.exit_code == 1
    assert WRONG in result.output and "Address already in use" not in result.output


def test_the_app_factory_stops_at_a_wrong_source_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = config_file(tmp_path)
    monkeypatch.setenv("METRONOME_CONFIG", str(path))
    with pytest.raises(ConfigError) as raised:
        create_app()
    assert str(raised.value) == f"invalid configuration ({path}): {WRONG}"
