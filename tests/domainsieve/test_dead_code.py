"""No dead code in the product: vulture (scripts/dead_code.py) finds no unused function, class or name."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _dead_code():
    spec = importlib.util.spec_from_file_location("dead_code", ROOT / "scripts" / "dead_code.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["dead_code"] = module
    spec.loader.exec_module(module)
    return module


def test_the_product_has_no_unused_code():
    assert _dead_code().unused_names() == []


def test_it_reports_an_unused_function_but_not_one_a_test_calls(tmp_path: Path):
    (tmp_path / "labeling").mkdir()
    (tmp_path / "tests").mkdir()
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "vulture_whitelist.py").write_text("\n")
    (tmp_path / "labeling" / "maths.py").write_text(
        "def used_by_a_test():\n    return 1\n\n\ndef forgotten():\n    return 2\n")
    (tmp_path / "tests" / "test_maths.py").write_text(
        "from labeling.maths import used_by_a_test\n\n\ndef test_it():\n    assert used_by_a_test() == 1\n")
    assert _dead_code().unused_names(tmp_path) == ["labeling/maths.py:5: unused function 'forgotten'"]
