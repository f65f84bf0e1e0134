"""The import directions of docs/architecture.md, checked against the code.

Apps stand in layers: domainsieve (settings, access, shared helpers) <- labeling <- classifier <-
training, and frontend (the home page) on top. An app imports only the layers below it, at import
time or inside a function; where a lower app needs a higher one's action it calls a hook the higher
app installs (labeling/hooks.py). The pure packages load no Django at all.
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ["domainsieve", "labeling", "classifier", "training", "frontend"]
PURE_PACKAGES = ["classifier.ml", "classifier.apply", "labeling.agreement", "labeling.ingest", "training.mixtures",
                 "domainsieve.shards"]


def _code_map():
    spec = importlib.util.spec_from_file_location("code_map", ROOT / "scripts" / "code_map.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["code_map"] = module
    spec.loader.exec_module(module)
    return module


def test_each_app_imports_only_the_layers_below_it():
    upward = [f"{e.source}:{e.line} imports {e.target}" + (" (inside a function)" if e.deferred else "")
              for e in _code_map().import_edges()
              if LAYERS.index(e.target.split(".")[0]) > LAYERS.index(e.source.split(".")[0])]
    assert upward == []


def test_the_edge_finder_sees_deferred_and_relative_imports(tmp_path):
    (tmp_path / "labeling" / "views").mkdir(parents=True)
    (tmp_path / "labeling" / "__init__.py").write_text("")
    (tmp_path / "labeling" / "hooks.py").write_text("")
    (tmp_path / "labeling" / "views" / "__init__.py").write_text("")
    (tmp_path / "labeling" / "views" / "pages.py").write_text(
        "from .. import hooks\n\ndef page():\n    from classifier.services import configure\n")
    edges = {(e.source, e.target, e.deferred) for e in _code_map().import_edges(tmp_path)}
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
