"""What `metronome serve` runs (metronome.serve.plan): which children for which settings, their
commands and their environment, worked out without starting anything."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from metronome.config import ServerSettings, Settings, SpoolSettings, settings_from_mapping
from metronome.serve.plan import (
    ACCESS_LOG_FORMAT,
    METRONOME_APP,
    ChildProcess,
    child_named,
    fresh_metrics_dir,
    gunicorn_command,
    process_plan,
)
from metronome.web import sockets

CLI = [sys.executable, "-m", "metronome.cli"]
ES_URL = "http://127.0.0.1:9200"
ENVIRON = {"PATH": "/usr/bin", "METRONOME_SERVER__THREADS": "4"}
SOURCES = {"repo": {"type": "github", "repos": ["o/r"]}}


def plan_of(settings: Settings, config_file: str | None = None) -> tuple[ChildProcess, ...]:
    return process_plan(settings, ES_URL, config_file, ENVIRON)


def names(**raw: Any) -> list[str]:
    return [child.name for child in plan_of(settings_from_mapping(raw))]


def test_by_default_shipper_forward_listener_scheduler_and_web_process_last() -> None:
    plan = plan_of(Settings())
    assert [child.name for child in plan] == ["shipper", "forward", "scheduler", "web"]
    assert child_named(plan, "shipper").command == (*CLI, "shipper")
    assert child_named(plan, "forward").command == (*CLI, "forward")
    assert child_named(plan, "web").command == gunicorn_command(Settings().server)


def test_every_child_but_the_web_process_is_restarted() -> None:
    settings = settings_from_mapping(
        {"sources": SOURCES, "archive": {"enabled": True, "bucket": "archive-bucket"}}
    )
    restarted = {child.name: child.restart for child in plan_of(settings)}
    assert restarted == {
        "shipper": True,
        "forward": True,
        "scheduler": True,
        "archive": True,
        "web": False,
    }


def test_no_forward_listener_when_it_is_disabled() -> None:
    assert names(logs={"forward": {"enabled": False}}) == ["shipper", "scheduler", "web"]


@pytest.mark.parametrize(
    ("raw", "scheduler"),
    [
        ({"sources": SOURCES}, True),
        ({"sources": SOURCES, "scheduler": {"enabled": False}}, False),
        ({}, True),  # no sources: it still evaluates the alerts and checks the pipeline
        ({"scheduler": {"enabled": False}}, False),
    ],
)
def test_the_scheduler_runs_whenever_it_is_enabled(raw: dict[str, Any], scheduler: bool) -> None:
    found = names(**raw)
    assert ("scheduler" in found) is scheduler
    if scheduler:
        child = child_named(plan_of(settings_from_mapping(raw)), "scheduler")
        assert child.command == (*CLI, "scheduler")


@pytest.mark.parametrize(("interval", "every"), [(900.0, "900"), (1.5, "1.5"), (None, None)])
def test_the_archive_loop_is_a_restartable_child_when_enabled(
    interval: float | None, every: str | None
) -> None:
    enabled = interval is not None
    settings = Settings()
    settings = replace(settings, archive=replace(settings.archive, enabled=enabled))
    if interval is not None:
        settings = replace(settings, archive=replace(settings.archive, interval=interval))
    plan = plan_of(settings)
    assert ("archive" in [child.name for child in plan]) is enabled
    if enabled:
        archive = child_named(plan, "archive")
        assert archive.command == (*CLI, "archive", "run", "--every", every)
        assert archive.restart


def test_a_plan_has_no_entry_it_does_not_start() -> None:
    with pytest.raises(KeyError, match="no archive"):
        child_named(plan_of(Settings()), "archive")


def test_the_web_process_is_gunicorn_with_the_server_settings() -> None:
    server = ServerSettings(
        host="127.0.0.1", port=8123, workers=1, threads=3, keepalive=4, worker_connections=50
    )
    assert gunicorn_command(server) == (
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        "127.0.0.1:8123",
        "--worker-class",
        sockets.SINGLE_WORKER_CLASS,
        "--workers",
        "1",
        "--threads",
        "3",
        "--keep-alive",
        "4",
        "--worker-connections",
        "50",
        "--graceful-timeout",
        "20",
        "--forwarded-allow-ips",
        "",
        METRONOME_APP,
    )


@pytest.mark.skipif(not sockets.supported(), reason="SO_REUSEPORT balances on Linux")
def test_several_workers_bind_a_socket_each() -> None:
    command = gunicorn_command(ServerSettings(port=8123, workers=3))
    assert command.count("--bind") == 3
    assert "--reuse-port" in command
    assert command[command.index("--worker-class") + 1] == sockets.WORKER_CLASS


def test_the_access_log_is_on_only_when_asked() -> None:
    assert "--access-logfile" not in gunicorn_command(ServerSettings())
    command = gunicorn_command(ServerSettings(access_log=True))
    at = command.index("--access-logfile")
    assert command[at : at + 4] == (
        "--access-logfile",
        "-",
        "--access-logformat",
        ACCESS_LOG_FORMAT,
    )
    assert command[-1] == METRONOME_APP


def test_another_app_gets_the_same_gunicorn_options() -> None:
    server = ServerSettings(port=8123, workers=2, threads=8)
    bare = gunicorn_command(server, "bench.bare_app:app")
    assert bare == (*gunicorn_command(server)[:-1], "bench.bare_app:app")


def test_the_environment_is_the_given_one_with_the_url_the_config_and_the_metrics(
    tmp_path: Path,
) -> None:
    settings = Settings(spool=SpoolSettings(dir=tmp_path / "var" / "spool"))
    plan = plan_of(settings, config_file="config/metronome.yml")
    env = child_named(plan, "web").env
    assert dict(env) == {
        **ENVIRON,
        "METRONOME_ES_URL": ES_URL,
        "METRONOME_CONFIG": os.path.abspath("config/metronome.yml"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "var" / "metrics"),
    }
    assert all(child.env == env for child in plan)  # every child the same
    assert "METRONOME_CONFIG" not in plan_of(settings)[0].env  # none given, none set
    with pytest.raises(TypeError):
        env["METRONOME_ES_URL"] = "http://elsewhere:9200"  # type: ignore[index]


def test_the_given_url_wins_over_one_in_the_environment() -> None:
    plan = process_plan(Settings(), ES_URL, None, {"METRONOME_ES_URL": "http://old:9200"})
    assert plan[0].env["METRONOME_ES_URL"] == ES_URL


def test_planning_starts_and_creates_nothing(tmp_path: Path) -> None:
    settings = Settings(spool=SpoolSettings(dir=tmp_path / "spool"))
    first = plan_of(settings)
    assert list(tmp_path.iterdir()) == []
    assert plan_of(settings) == first  # the same settings, the same plan


def test_the_metrics_directory_is_emptied_before_a_start(tmp_path: Path) -> None:
    settings = Settings(spool=SpoolSettings(dir=tmp_path / "spool"))
    stale = tmp_path / "metrics" / "counter_4242.db"
    stale.parent.mkdir()
    stale.write_bytes(b"counts of a process that is gone")
    directory = fresh_metrics_dir(settings)
    assert directory == tmp_path / "metrics"
    assert directory.is_dir()
    assert list(directory.iterdir()) == []
    assert (
        str(directory) == child_named(plan_of(settings), "shipper").env["PROMETHEUS_MULTIPROC_DIR"]
    )
