"""Every ```sh example of README.md (and docs/*.md) runs, as written, against a real Metronome.

The web process and the shipper run as `metronome serve` runs them, on a free port, with the
repository's config/metronome.yml (whose generated read key the examples read from var/keys)
and the test Elasticsearch; the GitHub webhook secret is set and the Allezon endpoints are on,
as their pages tell a user to do.
Each block runs in bash with `set -e`; only the address is changed (localhost:8080 -> the test
port). `curl` fails on an HTTP error answer, so an example the server refuses fails the test.
An answer shown in a comment (`# {"accepted":1}`, `# 204`) must be what the example printed.

A block the test cannot run is marked in the Markdown, right before it, with
`<!-- not run: why -->`; NOT_RUN lists them, so a new marker is a deliberate change here too.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from elasticsearch import Elasticsearch

from ingesters.github import GitHubOptions, GitHubSource
from metronome.es.naming import index_for
from metronome.es.templates import install_templates
from metronome.sources.base import iso
from metronome.sources.runner import run_source
from tests.conftest import ROOT
from tests.e2e.processes import Metronome, running, wait_for_count
from tests.fakes.github import FakeGitHub
from tests.fakes.server import serving
from tests.integration.sources.contract import services

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_RUN = {  # (file, first line of the block) -> the reason given in the marker
    ("README.md", "make run"): "starts its own Elasticsearch and server",
    ("README.md", "make lint"): "runs the linters and the unit tests",
    ("operations.md", "export METRONOME_ARCHIVE__BUCKET=metronome-archive"): "needs an S3 bucket",
    ("operations.md", ".venv/bin/metronome es start"): "starts and stops its own Elasticsearch",
    (
        "operations.md",
        "METRONOME_ES_URL=https://es.internal:9200 METRONOME_BIND=127.0.0.1:8080 \\",
    ): "starts long-running processes",
}
# What the pages ask a user to switch on before their examples (the shipped configuration
# leaves both off). The Allezon tags go to the keyless default site: a site defined from the
# environment alone would replace the built-in ones of the CLI examples (run without a file).
SETTINGS = {
    "METRONOME_WEBHOOKS__GITHUB__SECRET": "docs-example-secret",
    "METRONOME_ALLEZON__ENABLED": "true",
    "METRONOME_ALLEZON__SITE": "default",
}
MARKER = re.compile(r"<!--\s*not run:\s*(.+?)\s*-->")
ADDRESS = re.compile(r"(?:http://)?(?:localhost|127\.0\.0\.1):8080")
SECRET = SETTINGS["METRONOME_WEBHOOKS__GITHUB__SECRET"]


@dataclass(frozen=True)
class Block:
    document: str
    line: int  # of the opening fence
    text: str
    not_run: str | None  # the marker's reason

    @property
    def first_line(self) -> str:
        return self.text.strip().splitlines()[0]

    @property
    def name(self) -> str:
        return f"{self.document}:{self.line}"


def sh_blocks(path: Path) -> list[Block]:
    """The ```sh blocks of a Markdown file, each with the `not run` marker right before it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```sh":
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
            before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            marker = MARKER.search(before)
            text = "\n".join(lines[i + 1 : end])
            blocks.append(Block(path.name, i + 1, text, marker.group(1) if marker else None))
            i = end
        i += 1
    return blocks


def shown_answers(text: str) -> list[str]:
    """The answers the block shows: the first line of each comment that follows a command
    (a continuation of an earlier comment, `#  ...`, is not an answer of its own)."""
    answers = []
    previous = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# ") and not previous.startswith("#"):
            answers.append(stripped[2:].strip())
        previous = stripped
    return answers


def printed_objects(output: str) -> list[Any]:
    decoder = json.JSONDecoder()
    found = []
    for start in (m.start() for m in re.finditer(r"\{", output)):
        try:
            value, _ = decoder.raw_decode(output, start)
        except ValueError:
            continue
        found.append(value)
    return found


def matches(shown: Any, printed: Any) -> bool:
    """``printed`` has every key of ``shown`` with the same value ("..." stands for any)."""
    if shown == "...":
        return True
    if isinstance(shown, dict):
        return isinstance(printed, dict) and all(
            key in printed and matches(value, printed[key]) for key, value in shown.items()
        )
    return bool(shown == printed)


def check_answer(block: Block, answer: str, output: str) -> None:
    try:
        shown = json.loads(answer)
    except ValueError:
        shown = None
    if isinstance(shown, dict):
        assert any(matches(shown, printed) for printed in printed_objects(output)), (
            f"{block.name}: no answer like {answer} in:\n{output}"
        )
    elif not answer.startswith("{"):  # an abridged JSON answer ({"id":..., ...) is not checked
        token = re.split(r"\s{2,}|\s\(", answer)[0]  # "204   (the shipper ...)" -> "204"
        assert token in output, f"{block.name}: {token!r} not printed:\n{output}"


ALL_BLOCKS = [block for path in DOCUMENTS for block in sh_blocks(path)]


def test_the_blocks_not_run_are_the_listed_ones() -> None:
    marked = {(b.document, b.first_line.split("#")[0].strip()): b.not_run for b in ALL_BLOCKS}
    listed = {key: reason for key, reason in marked.items() if reason is not None}
    assert listed == NOT_RUN
    assert len(ALL_BLOCKS) > len(NOT_RUN)


@pytest.fixture(scope="module")
def server(
    es_url: str, es: Elasticsearch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Metronome]:
    prefix = f"docs{uuid.uuid4().hex[:8]}"
    install_templates(es, prefix)
    workdir = tmp_path_factory.mktemp("docs")
    with running(es_url, prefix, workdir, **SETTINGS) as metronome:
        seed(metronome, es, prefix)
        yield metronome
    names = list(es.indices.get(index=f"{prefix}-*", expand_wildcards="all").body)
    if names:
        es.indices.delete(index=",".join(names))


def seed(metronome: Metronome, es: Elasticsearch, prefix: str) -> None:
    """What the query examples ask about: a hit with the fields they name, the repository of
    docs/sources.md (read by the github source from the GitHub stand-in), S3 downloads."""
    hit = {
        "id": "seed",
        "event": "view",
        "url": "https://shop.example/blog/seed",
        "referrer": "https://example.org/blog",
        "price": 12.5,
        "load_ms": 180,
    }
    assert requests.post(f"{metronome.base}/tick", json=hit, timeout=10).status_code == 202
    assert wait_for_count(metronome.env["METRONOME_ES_URL"], f"{prefix}-hits-*", 1) == 1
    fake = FakeGitHub(token="ghp_docs")
    fake.add_repo("acme/widgets")
    fake.star("acme/widgets", "octocat", datetime.now(UTC))
    with serving(fake.app) as url:
        options = {"repos": ["acme/widgets"], "token": "ghp_docs", "api_url": url}
        source = GitHubSource("metronome_repo", "default", GitHubOptions().load(options))
        report = run_source(source, services(es, prefix))
        assert report.ok, report.error
    now = datetime.now(UTC)
    download = {"@timestamp": iso(now), "site": "default", "kind": "request", "event": "download"}
    es.index(index=index_for(prefix, "s3", now), document={**download, "key": "datasets/42.csv"})
    es.indices.refresh(index=f"{prefix}-*")


@pytest.mark.parametrize(
    "block", [b for b in ALL_BLOCKS if b.not_run is None], ids=lambda b: b.name
)
def test_the_example_runs_as_written(server: Metronome, block: Block, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # uuidgen (util-linux) is missing from slim images; the webhook example uses it
    (bin_dir / "uuidgen").write_text("#!/bin/sh\npython3 -c 'import uuid; print(uuid.uuid4())'\n")
    (bin_dir / "uuidgen").chmod(0o755)
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")  # the examples call .venv/bin/metronome
    # ... and read the generated read key from var/keys/, where this server keeps it
    (tmp_path / "var").symlink_to(Path(server.env["METRONOME_SPOOL__DIR"]).parent)
    script = "\n".join(
        [
            "set -e -o pipefail",
            # an HTTP error fails the example; a newline after each answer keeps them apart
            'curl() { command curl --fail-with-body "$@"; echo; }',
            ADDRESS.sub(f"127.0.0.1:{server.port}", block.text),
        ]
    )
    env = {**server.env, "SECRET": SECRET, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "-c", script],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout
    assert done.returncode == 0, f"{block.name} failed:\n{output}\n{done.stderr}"
    for answer in shown_answers(block.text):
        check_answer(block, answer, output)


def test_answers_are_read_from_comments_after_commands() -> None:
    text = 'curl x\n# {"accepted":1}\ncurl y\n# {"a":1,\n#  "b":2}\ncurl z\n# 204   (then:)'
    assert shown_answers(text) == ['{"accepted":1}', '{"a":1,', "204   (then:)"]
    assert matches({"ok": True, "delivery": "..."}, {"ok": True, "delivery": "x", "zen": "z"})
    assert not matches({"accepted": 1}, {"accepted": 2})
