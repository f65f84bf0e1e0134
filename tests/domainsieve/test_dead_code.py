"""No dead code in the product: vulture (scripts/dead_code.py) finds no unused function, class or name."""
from __future__ import annotations

from pathlib import Path

from scripts import dead_code


def test_the_product_has_no_unused_code():
    assert dead_code.unused_names() == []


def test_it_reports_an_unused_function_but_not_one_a_test_calls(tmp_path: Path):
    (tmp_path / "labeling").mkdir()
    (tmp_path / "tests").mkdir()
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "vulture_whitelist.py").write_text("\n")
    (tmp_path / "labeling" / "maths.py").write_text(
        "def used_by_a_test():\n    return 1\n\n\ndef forgotten():\n    return 2\n")
    (tmp_path / "tests" / "test_maths.py").write_text(
        "from labeling.maths import used_by_a_test\n\n\ndef test_it():\n    assert used_by_a_test() == 1\n")
    assert dead_code.unused_names(tmp_path) == ["labeling/maths.py:5: unused function 'forgotten'"]
