"""The files the exporters make, by path relative to the repository (or to ``--out``): what
the repository ships under ``kibana/`` and ``grafana/``, and what the CLI writes.

After changing a built-in dashboard, rewrite the shipped files from the repository's root with
``.venv/bin/python -m metronome.dashboards.export.files`` (a unit test fails until then)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from metronome.dashboards.builtins import builtin_dashboards
from metronome.dashboards.definition import Dashboard
from metronome.dashboards.export import grafana, kibana
from metronome.dashboards.export.plan import DEFAULT_PREFIX

KIBANA_FILE = "kibana/metronome.ndjson"
GRAFANA_DATASOURCES = "provisioning/datasources/metronome.yaml"
GRAFANA_PROVIDER = "provisioning/dashboards/metronome.yaml"
GRAFANA_DASHBOARDS = "dashboards"
GRAFANA_COMPOSE = "grafana/compose/datasources.yaml"


def kibana_ndjson(dashboards: Sequence[Dashboard], prefix: str = DEFAULT_PREFIX) -> str:
    return kibana.to_ndjson(kibana.saved_objects(dashboards, prefix))


def grafana_files(
    dashboards: Sequence[Dashboard],
    prefix: str = DEFAULT_PREFIX,
    es_url: str = grafana.DEFAULT_ES_URL,
    dashboards_path: str = grafana.DASHBOARDS_PATH,
) -> dict[str, str]:
    """Grafana's provisioning directory and dashboards, by path relative to one folder."""
    files = {
        GRAFANA_DATASOURCES: grafana.datasources_yaml(dashboards, prefix, es_url),
        GRAFANA_PROVIDER: grafana.provider_yaml(dashboards_path),
    }
    for dashboard in dashboards:
        document = grafana.dashboard_json(dashboard, prefix)
        files[f"{GRAFANA_DASHBOARDS}/{dashboard.id}.json"] = grafana.to_json(document)
    return files


def shipped_files(dashboards: Sequence[Dashboard]) -> dict[str, str]:
    """What the repository ships (defaults: prefix ``metronome``, the node on 127.0.0.1:9200),
    by path from the repository's root."""
    files = {KIBANA_FILE: kibana_ndjson(dashboards)}
    files.update({f"grafana/{path}": text for path, text in grafana_files(dashboards).items()})
    files[GRAFANA_COMPOSE] = grafana.datasources_yaml(
        dashboards, DEFAULT_PREFIX, grafana.COMPOSE_ES_URL, grafana.COMPOSE_SECURED
    )
    return files


def write_shipped(root: Path) -> list[str]:
    """Write the shipped files of the built-in dashboards under ``root``; their paths."""
    files = shipped_files(builtin_dashboards())
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return sorted(files)


if __name__ == "__main__":  # python -m metronome.dashboards.export.files (from the repository)
    for written in write_shipped(Path.cwd()):
        print(written)
