"""An offline demo data set built only from sample photos the installed packages ship.

Pure Python (numpy, OpenCV, Pillow, pyarrow; no Django models) so it is usable and testable alone.
`build_demo_data` writes an img2dataset-style pool (tar shards + parquet) and an ImageFolder test
set, with the intended domain of every image recorded.
"""
from __future__ import annotations

from labeling.demodata.build import DemoDataError, DemoSummary, build_demo_data

__all__ = ["DemoDataError", "DemoSummary", "build_demo_data"]
