"""How long each Metronome child process takes to load its code, and what it loads.

``metronome serve`` starts the shipper, the forward listener and the scheduler as
``python -m metronome.cli <command>``; a restart after a crash pays the same start-up again.
This bench runs, for one checkout, each command's ``--help`` (the whole import of the
command's code path, then an immediate exit) and a bare import of the spool's framing module,
``--runs`` times interleaved, and prints JSON: the median and spread of the wall time, each as a
ratio against the bare interpreter (``python -c pass``, the baseline, run in the same loop), the
number of modules imported and whether Flask was among them.

    python -m bench.startup                    # this checkout
    python -m bench.startup --tree ../old      # another checkout of the repository, same venv

``--tree`` puts that checkout first on ``PYTHONPATH``, so both trees are measured with the same
interpreter and the same installed libraries.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CASES: dict[str, list[str]] = {
    "python (baseline)": ["-c", "pass"],
    "import metronome.spool.framing": ["-c", "import metronome.spool.framing"],
    "shipper": ["-m", "metronome.cli", "shipper", "--help"],
    "forward listener": ["-m", "metronome.cli", "forward", "--help"],
    "scheduler": ["-m", "metronome.cli", "scheduler", "--help"],
}


def _env(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "0"}


def _wall(args: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, *args], env=env, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def _modules(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, bool]:
    """How many modules the command imports (``-X importtime`` lines) and whether Flask is one."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        check=True,
    )
    lines = [line for line in run.stderr.decode().splitlines() if line.startswith("import time:")]
    names = {line.rsplit("|", 1)[-1].strip() for line in lines[1:]}
    return len(names), any(name == "flask" or name.startswith("flask.") for name in names)


def measure(tree: Path, runs: int) -> dict[str, object]:
    env = _env(tree)
    for args in CASES.values():  # warm the byte-code caches and the page cache
        subprocess.run([sys.executable, *args], env=env, cwd=tree, capture_output=True, check=True)
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(runs):
        for name, args in CASES.items():
            times[name].append(_wall(args, env, tree))
    baseline = statistics.median(times["python (baseline)"])
    report: dict[str, object] = {"tree": str(tree), "runs": runs, "baseline_s": round(baseline, 4)}
    for name, args in CASES.items():
        median = statistics.median(times[name])
        modules, flask = _modules(args, env, tree)
        report[name] = {
            "median_s": round(median, 3),
            "min_s": round(min(times[name]), 3),
            "max_s": round(max(times[name]), 3),
            "ratio_to_baseline": round(median / baseline, 2),
            "modules": modules,
            "imports_flask": flask,
        }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout to measure")
    parser.add_argument("--runs", type=int, default=7, help="runs of each case (default 7)")
    options = parser.parse_args()
    print(json.dumps(measure(options.tree.resolve(), options.runs), indent=2))


if __name__ == "__main__":
    main()
