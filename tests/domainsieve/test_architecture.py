"""The import directions of docs/architecture.md, checked against the code.

Apps stand in layers: domainsieve (settings, access, shared helpers) <- labeling <- classifier <-
training, and frontend (the home page) on top. An app imports only the layers below it, at import
time or inside a function; where a lower app needs a higher one's action it calls a hook the higher
app installs (labeling/hooks.py). Inside an app the packages stand in layers too (PACKAGE_LAYERS).
The pure packages load no Django at all.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scripts import code_map

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ["domainsieve", "labeling", "classifier", "training", "frontend"]
PURE_PACKAGES = ["classifier.ml", "classifier.apply", "labeling.agreement", "labeling.ingest", "labeling.exports",
                 "labeling.domains", "labeling.guidelines", "training.mixtures", "training.specs", "training.hostinfo",
                 "training.zeroshot", "domainsieve.shards"]


# Inside an app: a package imports only packages of a lower number, or modules outside this table
# (pure code such as agreement/, ingest/, ml/, apply/, mixtures.py, which import none of these).
# labeling.hooks is a registry any layer may call; classifier.hooks installs into it at start-up.
PACKAGE_LAYERS = {
    "models": 1, "leasing": 1, "selectors": 2, "services": 3, "tasks": 4, "worker": 4, "api": 5, "views": 5,
    "management": 6, "urls": 7, "api_urls": 7, "admin": 7, "hooks": 7, "apps": 8,
}
REGISTRIES = {"labeling.hooks"}



def test_each_app_imports_only_the_layers_below_it():
    upward = [f"{e.source}:{e.line} imports {e.target}" + (" (inside a function)" if e.deferred else "")
              for e in code_map.import_edges()
              if LAYERS.index(e.target.split(".")[0]) > LAYERS.index(e.source.split(".")[0])]
    assert upward == []


def _package_layer(module: str) -> int | None:
    parts = module.split(".")
    if ".".join(parts[:2]) in REGISTRIES or len(parts) < 2:
        return None
    return PACKAGE_LAYERS.get(parts[1])


def test_inside_an_app_each_package_imports_only_lower_layers():
    """Services may queue their own app's tasks (inside the function, on commit); tasks call services."""
    wrong = []
    for e in code_map.import_edges():
        if e.source.split(".")[0] != e.target.split(".")[0]:
            continue
        source, target = _package_layer(e.source), _package_layer(e.target)
        queues_a_task = e.deferred and e.source.split(".")[1] == "services" and e.target.split(".")[1] == "tasks"
        if target is not None and (source is None or target > source) and not queues_a_task:
            wrong.append(f"{e.source}:{e.line} imports {e.target}")
    assert wrong == []


def test_the_edge_finder_sees_deferred_and_relative_imports(tmp_path):
    (tmp_path / "labeling" / "views").mkdir(parents=True)
    (tmp_path / "labeling" / "__init__.py").write_text("")
    (tmp_path / "labeling" / "hooks.py").write_text("")
    (tmp_path / "labeling" / "views" / "__init__.py").write_text("")
    (tmp_path / "labeling" / "views" / "pages.py").write_text(
        "from .. import hooks\n\ndef page():\n    from classifier.services import configure\n")
    edges = {(e.source, e.target, e.deferred) for e in code_map.import_edges(tmp_path)}
    assert edges == {("labeling.views.pages", "labeling.hooks", False),
                     ("labeling.views.pages", "classifier.services", True)}


@pytest.mark.parametrize("package", PURE_PACKAGES)
def test_pure_packages_load_without_django(package):
    """Every module of the package, imported in a fresh interpreter, leaves Django unloaded."""
    script = f"""
import importlib, pkgutil, sys
top = importlib.import_module({package!r})
names = [{package!r}]
if hasattr(top, "__path__"):
    names += [info.name for info in pkgutil.walk_packages(top.__path__, {package!r} + ".")]
for name in names:
    importlib.import_module(name)
    if "django" in sys.modules:
        sys.exit("importing " + name + " loaded Django")
print(len(names))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout.split()[-1]) >= 1


def test_selectors_that_take_a_user_use_it():
    """A selector's ``user`` decides what it returns (tests per selector show how); one that ignored
    it would hand every caller everything."""
    import ast

    ignored = []
    for path in sorted(ROOT.glob("*/selectors/*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                params = {a.arg for a in node.args.args + node.args.kwonlyargs}
                reads = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
                ignored += [f"{path.relative_to(ROOT)}:{node.lineno} {node.name}({name})"
                            for name in ("user", "viewer") if name in params and name not in reads]
    assert ignored == []
