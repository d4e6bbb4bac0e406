"""No import cycles between the modules of ``metronome/`` and ``ingesters/``, counting imports
inside functions and under ``TYPE_CHECKING``; and ``metronome.config`` imports no other part of
Metronome (it is the bottom layer: everything reads settings, settings read nothing).

The imports are read from the source with ``ast``, nothing is imported. An import names a
module (``import a.b``, ``from a import b`` when ``a.b`` is a module) or a package (``from a
import name``); a package is not counted as imported by its own submodules. Modules loaded by
name at run time (``importlib.import_module``) are not imports here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("metronome", "ingesters")
Graph = dict[str, set[str]]


def module_files(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def import_graph(files: Mapping[str, Path]) -> Graph:
    """Module -> the modules of ``files`` it imports, wherever in the module the import is."""
    graph: Graph = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(node, package)
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    targets.add(submodule if submodule in files else base)
        graph[name] = {target for target in targets if target in files and target != name}
    return graph


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    base = parts[: len(parts) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected sets of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(graph[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            members = []
            while True:
                member = stack.pop()
                members.append(member)
                if member == module:
                    break
            if len(members) > 1:
                found.append(sorted(members))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(found)


def a_cycle(members: list[str], graph: Graph) -> list[str]:
    """One way round a strongly connected set, from its first module back to it."""
    start = members[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        module = queue.pop(0)
        for target in sorted(graph[module] & set(members)):
            if target == start:
                return [*paths[module], start]
            if target not in paths:
                paths[target] = [*paths[module], target]
                queue.append(target)
    raise AssertionError("not a cycle")


def test_no_module_imports_itself_back() -> None:
    graph = import_graph(module_files(ROOT))
    found = [
        f"{len(members)} modules ({', '.join(members)}), e.g. "
        + " -> ".join(a_cycle(members, graph))
        for members in cycles(graph)
    ]
    assert found == [], "import cycles:\n" + "\n".join(found)


def test_config_imports_no_other_part_of_metronome() -> None:
    graph = import_graph(module_files(ROOT))

    def in_config(module: str) -> bool:
        return module == "metronome.config" or module.startswith("metronome.config.")

    outside = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        if in_config(module)
        for target in targets
        if not in_config(target)
    )
    assert outside == []


def test_cycles_through_a_function_or_type_checking_import_are_found(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    sources = {
        "__init__.py": "from pkg.sub import c\n",  # a package importing its own module: fine
        "a.py": "import pkg.b\n",
        "b.py": "def late():\n    from pkg import a\n",
        "sub/__init__.py": "",
        "sub/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..d import D\n",
        "d.py": "from pkg.sub.c import C\nimport pkg\n",
        "e.py": "import os\nfrom pkg import a\n",
    }
    for name, text in sources.items():
        (package / name).write_text(text)
    graph = import_graph(module_files(tmp_path, ["pkg"]))
    assert graph["pkg.sub.c"] == {"pkg.d"} and graph["pkg.d"] == {"pkg", "pkg.sub.c"}
    assert cycles(graph) == [["pkg", "pkg.d", "pkg.sub.c"], ["pkg.a", "pkg.b"]]
    assert a_cycle(["pkg.a", "pkg.b"], graph) == ["pkg.a", "pkg.b", "pkg.a"]
