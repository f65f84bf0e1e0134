"""The project's shape in numbers: imports between apps and packages, and the longest functions.

    .venv/bin/python scripts/code_map.py            # both reports
    .venv/bin/python scripts/code_map.py --packages # imports between packages (labeling.services -> ...)

tests/domainsieve/test_architecture.py checks the allowed import directions with ``import_edges``.
"""
from __future__ import annotations

import ast
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("domainsieve", "labeling", "classifier", "training", "frontend")


@dataclass(frozen=True)
class Edge:
    source: str  # importing module, dotted
    target: str  # imported module, dotted
    line: int
    deferred: bool  # inside a function (runs on call, not at import)


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules(root: Path = ROOT) -> Iterator[tuple[str, Path]]:
    """Every module of the apps, migrations left out (they name apps by label, not by import)."""
    for app in APPS:
        for path in sorted((root / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield _module_name(path, root), path


def import_edges(root: Path = ROOT) -> list[Edge]:
    """Every import of a project module by a project module, with where it stands."""
    edges: list[Edge] = []
    for module, path in project_modules(root):
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        _collect(ast.parse(path.read_text(), str(path)), module, package, root, False, edges)
    return sorted(set(edges), key=lambda edge: (edge.source, edge.line, edge.target))


def _collect(node: ast.AST, module: str, package: list[str], root: Path, deferred: bool,
             edges: list[Edge]) -> None:
    for child in ast.iter_child_nodes(node):
        inner = deferred or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
        targets: list[str] = []
        if isinstance(child, ast.Import):
            targets = [alias.name for alias in child.names]
        elif isinstance(child, ast.ImportFrom):
            base = package[: len(package) - child.level + 1] if child.level else []
            stem = ".".join([*base, *([child.module] if child.module else [])])
            # "from pkg import mod" imports pkg.mod when mod is a module
            targets = [f"{stem}.{alias.name}" if _is_module(root, f"{stem}.{alias.name}") else stem
                       for alias in child.names]
        edges.extend(Edge(module, target, child.lineno, inner)
                     for target in targets if target.split(".")[0] in APPS)
        _collect(child, module, package, root, inner, edges)


def _is_module(root: Path, dotted: str) -> bool:
    path = root.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def longest_functions(root: Path = ROOT, count: int = 15) -> list[tuple[int, str]]:
    found = []
    for module, path in project_modules(root):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                where = f"{path.relative_to(root)}:{node.lineno}"
                found.append((node.end_lineno - node.lineno + 1, f"{module}.{node.name} ({where})"))
    return sorted(found, reverse=True)[:count]


def _group(name: str, depth: int) -> str:
    return ".".join(name.split(".")[:depth])


def main(argv: list[str]) -> None:
    depth = 2 if "--packages" in argv else 1
    print("Longest functions (lines):")
    for lines, name in longest_functions():
        print(f"  {lines:4d}  {name}")
    for deferred, title in ((False, "at import"), (True, "inside functions")):
        counts = Counter((_group(e.source, depth), _group(e.target, depth)) for e in import_edges()
                         if e.deferred == deferred and _group(e.source, depth) != _group(e.target, depth))
        print(f"Imports between {'packages' if depth == 2 else 'apps'} ({title}):")
        for (source, target), n in sorted(counts.items()):
            print(f"  {source} -> {target}: {n}")


if __name__ == "__main__":
    main(sys.argv[1:])
