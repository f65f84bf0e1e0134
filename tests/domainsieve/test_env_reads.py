"""Environment variables are read in one place, ``domainsieve/settings.py``: everything else reads
``settings.X`` at call time (so tests override settings, not the process environment). The walk
below fails on any other ``os.environ`` / ``os.getenv`` use in the apps, except the few listed
with their reason."""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("classifier", "training", "labeling", "domainsieve")
SETTINGS = "domainsieve/settings.py"

_BOOTSTRAP = "bootstrap: names the settings module before Django can read any setting"
_CHILD_ENV = "copies the whole environment for a child process it starts (passed on, no variable read)"
ALLOWED = {
    ("domainsieve/celery.py", 'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "domainsieve.settings")'): _BOOTSTRAP,
    ("domainsieve/wsgi.py", 'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "domainsieve.settings")'): _BOOTSTRAP,
    ("domainsieve/asgi.py", 'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "domainsieve.settings")'): _BOOTSTRAP,
    ("training/backends/local.py", "dict(os.environ)"): _CHILD_ENV + " (the torchrun supervisor)",
    ("labeling/management/commands/demo.py", "dict(os.environ)"): _CHILD_ENV + " (the demo's worker and web)",
}


def _is_os_attr(node: ast.AST, name: str) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == name
            and isinstance(node.value, ast.Name) and node.value.id == "os")


def env_uses(source: str) -> list[str]:
    """Each use of the process environment in ``source``, as the source text of the expression
    that uses it: ``os.environ.get("X")``, ``os.environ["X"]``, ``os.getenv("X")``,
    ``dict(os.environ)``, ``"X" in os.environ``..., and ``from os import environ``."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    uses = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            uses += [f"from os import {a.name}" for a in node.names if a.name in ("environ", "getenv", "environb")]
            continue
        if not (_is_os_attr(node, "environ") or _is_os_attr(node, "environb") or _is_os_attr(node, "getenv")):
            continue
        use: ast.AST = node
        parent = parents.get(use)
        # Widen to the expression that does something with it: a method and its call, a subscript,
        # a call it is passed to, a comparison it takes part in.
        if isinstance(parent, ast.Attribute) and parent.value is use:
            use, parent = parent, parents.get(parent)
        if isinstance(parent, ast.Call | ast.Subscript | ast.Compare):
            use = parent
        uses.append(ast.get_source_segment(source, use) or ast.dump(use))
    return uses


def app_env_uses() -> set[tuple[str, str]]:
    found = set()
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            relative = path.relative_to(REPO).as_posix()
            if relative != SETTINGS:
                found |= {(relative, use) for use in env_uses(path.read_text())}
    return found


def test_it_reads_environment_variables_only_in_settings() -> None:
    stray = sorted(app_env_uses() - ALLOWED.keys())
    assert not stray, ("read these in domainsieve/settings.py (envstr/envint/envbool) and use settings.X, "
                       f"or list them in ALLOWED with the reason: {stray}")


def test_it_lists_no_allowance_that_the_code_no_longer_needs() -> None:
    assert not sorted(ALLOWED.keys() - app_env_uses())


def test_it_sees_every_shape_of_an_environment_read() -> None:
    source = ('import os\nfrom os import environ\n'
              'a = os.environ.get("A")\nb = os.environ["B"]\nc = os.getenv("C", "")\nd = "D" in os.environ\n'
              'e = dict(os.environ)\nos.environ.setdefault("F", "1")\n')
    assert sorted(env_uses(source)) == sorted(["from os import environ", 'os.environ.get("A")', 'os.environ["B"]',
                                               'os.getenv("C", "")', '"D" in os.environ', "dict(os.environ)",
                                               'os.environ.setdefault("F", "1")'])
