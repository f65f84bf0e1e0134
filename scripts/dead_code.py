"""Dead code in the product, found by vulture: prints each unused name and exits 1 when there is any.

    .venv/bin/python scripts/dead_code.py

Usage counts everywhere (tests and bench included), but only the product's code is reported.
Names the frameworks reach by convention (``get_queryset``, ``Meta``, ``add_arguments`` ...) are
ignored by pattern; names reached by string (settings, templates, scripts, serializer ``fields``)
are ignored where those texts name them; the rest stand in scripts/vulture_whitelist.py with why.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import vulture

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("classifier", "labeling", "training", "domainsieve", "frontend")
SCANNED = (*PRODUCT, "scripts", "bench", "tests")
# Called by Django, DRF, Celery or pytest through their conventions, never by our code.
FRAMEWORK_NAMES = [
    "get", "post", "patch", "put", "delete", "get_*", "ready", "add_arguments", "handle", "has_permission",
    "has_object_permission", "authenticate_credentials", "select_parser", "select_renderer", "to_representation",
    "validate*", "Meta", "model", "fields", "read_only_fields", "abstract", "verbose_name*", "ordering", "indexes",
    "constraints", "permission_classes", "serializer_class", "throttle_classes", "content_negotiation_class",
    "list_*", "readonly_fields", "search_fields", "raw_id_fields", "filter_horizontal", "inlines", "can_delete",
    "default_*", "site_header", "site_title", "help", "Command", "*Config", "*Admin", "*AdminSite", "*Middleware",
    "*Parser", "application", "urlpatterns", "pytestmark", "test_*", "pytest_*",
]
FRAMEWORK_DECORATORS = ["@pytest.fixture", "@shared_task", "@register.*", "@receiver", "@admin.register", "@*.connect"]
# Texts that name code by string: settings (dotted paths), templates and scripts (attributes).
NAMING_TEXTS = ("domainsieve/settings.py", "frontend/templates/**/*.html", "frontend/static/**/*.js")


def unused_names(root: Path = ROOT) -> list[str]:
    finder = vulture.Vulture(ignore_names=FRAMEWORK_NAMES, ignore_decorators=FRAMEWORK_DECORATORS)
    paths = [root / path for path in SCANNED if (root / path).exists()]
    finder.scavenge([str(path) for path in paths] + [str(root / "scripts" / "vulture_whitelist.py")],
                    exclude=["*/migrations/*", "*/settings.py"])
    named = "\n".join(path.read_text(errors="ignore") for pattern in NAMING_TEXTS for path in root.glob(pattern))
    serializer_fields = set(re.findall(r'"(\w+)"', "\n".join(
        path.read_text() for app in PRODUCT for path in (root / app).rglob("api/*.py"))))
    found = []
    for item in finder.get_unused_code(min_confidence=60):
        path = Path(item.filename).resolve().relative_to(root)
        if path.parts[0] not in PRODUCT:
            continue
        if re.search(rf"\b{re.escape(item.name)}\b", named) or item.name in serializer_fields:
            continue
        found.append(f"{path}:{item.first_lineno}: {item.message}")
    return found


if __name__ == "__main__":
    names = unused_names()
    print("\n".join(names) if names else "no dead code")
    sys.exit(1 if names else 0)
