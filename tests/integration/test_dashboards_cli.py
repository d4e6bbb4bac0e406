"""``metronome dashboards export-kibana`` / ``export-grafana``: the built-in dashboards, the
files of ``dashboards.dir`` and ``--definition`` files, for the configured index prefix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result

from metronome.cli import cli
from metronome.dashboards.builtins import builtin_dashboards
from tests.conftest import ROOT

SALES_WIDGET: dict[str, Any] = {
    "id": "sales", "type": "number", "layout": {"x": 0, "y": 0, "w": 4, "h": 2},
    "query": {"metrics": ["count"], "filters": [["is", "action", ["BUY"]]]},
}  # fmt: skip
CUSTOM: dict[str, Any] = {
    "id": "shop-sales", "title": "Shop sales", "stream": "hits", "widgets": [SALES_WIDGET],
}  # fmt: skip


def _config(tmp_path: Path) -> Path:
    folder = tmp_path / "dashboards"
    folder.mkdir()
    (folder / "sales.yml").write_text(yaml.safe_dump(CUSTOM))
    config = tmp_path / "metronome.yml"
    config.write_text(yaml.safe_dump({"elasticsearch": {"index_prefix": "acme"}}))
    return config


def _run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config), "dashboards", *args])


def test_export_kibana_includes_file_and_definition_dashboards(tmp_path: Path) -> None:
    config = _config(tmp_path)
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({**CUSTOM, "id": "extra", "title": "Extra"}))
    out = tmp_path / "out" / "objects.ndjson"
    result = _run(config, "export-kibana", "--out", str(out), "--definition", str(extra))
    assert result.exit_code == 0, result.output
    objects = [json.loads(line) for line in out.read_text().splitlines()]
    dashboards = {o["id"] for o in objects if o["type"] == "dashboard"}
    expected = {f"acme-{d.id}" for d in builtin_dashboards()} | {"acme-shop-sales", "acme-extra"}
    assert dashboards == expected
    assert f"wrote {len(objects)} saved objects ({len(expected)} dashboards) to {out}" in (
        result.output
    )
    assert all(o["id"].startswith("acme-") for o in objects)


def test_export_kibana_to_stdout_is_the_shipped_file_for_the_default_prefix(
    tmp_path: Path,
) -> None:
    config = tmp_path / "metronome.yml"
    config.write_text(yaml.safe_dump({"dashboards": {"dir": str(tmp_path / "none")}}))
    result = _run(config, "export-kibana")
    assert result.exit_code == 0, result.output
    assert result.output == (ROOT / "kibana" / "metronome.ndjson").read_text()


def test_export_grafana_writes_provisioning_and_dashboards(tmp_path: Path) -> None:
    config = _config(tmp_path)
    out = tmp_path / "grafana"
    result = _run(config, "export-grafana", "--out", str(out), "--es-url", "https://es:9200")
    assert result.exit_code == 0, result.output
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert "dashboards/shop-sales.json" in names
    assert {
        "provisioning/datasources/metronome.yaml",
        "provisioning/dashboards/metronome.yaml",
    } <= names
    sources = yaml.safe_load((out / "provisioning/datasources/metronome.yaml").read_text())
    assert {s["url"] for s in sources["datasources"]} == {"https://es:9200"}
    assert "acme-hits-*" in {s["jsonData"]["index"] for s in sources["datasources"]}
    sales = json.loads((out / "dashboards/shop-sales.json").read_text())
    assert sales["uid"] == "acme-shop-sales" and sales["panels"][0]["type"] == "stat"


def test_a_bad_definition_is_a_clear_error(tmp_path: Path) -> None:
    config = _config(tmp_path)
    bad = tmp_path / "bad.json"
    radar = {**SALES_WIDGET, "type": "radar"}
    bad.write_text(json.dumps({**CUSTOM, "id": "bad", "widgets": [radar]}))
    result = _run(config, "export-kibana", "--definition", str(bad))
    assert result.exit_code == 1
    assert f"{bad}: widgets[0] (sales).type: unknown widget type 'radar'" in result.output
    taken = tmp_path / "taken.json"
    taken.write_text(json.dumps(CUSTOM))
    result = _run(
        config, "export-grafana", "--out", str(tmp_path / "g"), "--definition", str(taken)
    )
    assert result.exit_code == 1
    assert "another dashboard has the id 'shop-sales'" in result.output
