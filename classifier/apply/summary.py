"""Finalizing an apply job: domain counts at strict and default thresholds, and subset id lists.

The table follows the paper's Table 7 layout: one row per domain (natural, ambiguous, rendition),
count and percentage at the strict (98%-precision) thresholds and at the default thresholds.
Domains are recomputed from ``p_natural`` / ``p_rendition`` in the parquet files, so the table and
the id lists always agree with the stored scores whatever threshold the job's ``domain`` column used.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from classifier.apply.scoring import AMBIGUOUS, NATURAL, RENDITION, Thresholds, assign_domains
from classifier.apply.uids import UID_DTYPE, save_uid_list, uids_to_array

TABLE_ORDER = (NATURAL, AMBIGUOUS, RENDITION)
SUBSETS = (NATURAL, RENDITION)


def summarize_scores(parquet_paths: Iterable[str | Path], *, strict: Thresholds, default: Thresholds,
                     subsets_dir: str | Path | None = None) -> dict[str, Any]:
    """Counts per domain at both threshold sets; writes ``{natural,rendition}_{strict,default}.npy``.

    Memory: one uid array per subset (16 bytes a sample), built shard by shard.
    """
    counts = {level: dict.fromkeys(TABLE_ORDER, 0) for level in ("strict", "default")}
    parts: dict[str, list[np.ndarray]] = {f"{d}_{lvl}": [] for d in SUBSETS for lvl in ("strict", "default")}
    total = 0
    for path in parquet_paths:
        table = pq.read_table(path, columns=["uid", "p_natural", "p_rendition"])
        p_nat = table.column("p_natural").to_numpy()
        p_ren = table.column("p_rendition").to_numpy()
        uid_array = uids_to_array(table.column("uid").to_pylist()) if table.num_rows else np.zeros(0, UID_DTYPE)
        total += table.num_rows
        for level, thresholds in (("strict", strict), ("default", default)):
            domains = assign_domains(p_nat, p_ren, thresholds)
            for domain in TABLE_ORDER:
                counts[level][domain] += int(np.count_nonzero(domains == domain))
            for domain in SUBSETS:
                parts[f"{domain}_{level}"].append(uid_array[domains == domain])
    subsets: dict[str, dict[str, Any]] = {}
    if subsets_dir is not None:
        out = Path(subsets_dir)
        for name, arrays in parts.items():
            array = np.concatenate(arrays) if arrays else np.zeros(0, UID_DTYPE)
            path = out / f"{name}.npy"
            subsets[name] = {"path": str(path), "count": save_uid_list(path, array)}
    rows = []
    for domain in TABLE_ORDER:
        row: dict[str, Any] = {"domain": domain}
        for level in ("strict", "default"):
            row[f"{level}_count"] = counts[level][domain]
            row[f"{level}_pct"] = round(100.0 * counts[level][domain] / total, 2) if total else 0.0
        rows.append(row)
    return {
        "total": total,
        "thresholds": {"strict": strict.as_dict(), "default": default.as_dict()},
        "rows": rows,
        "subsets": subsets,
    }


def table7_markdown(summary: dict[str, Any]) -> str:
    """The summary as a markdown table (paper Table 7 layout)."""
    s, d = summary["thresholds"]["strict"], summary["thresholds"]["default"]
    lines = [
        f"| domain | strict (n={s[NATURAL]:.3g}, r={s[RENDITION]:.3g}) | % | "
        f"default (n={d[NATURAL]:.3g}, r={d[RENDITION]:.3g}) | % |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in summary["rows"]:
        lines.append(f"| {row['domain']} | {row['strict_count']:,} | {row['strict_pct']:.1f} | "
                     f"{row['default_count']:,} | {row['default_pct']:.1f} |")
    lines.append(f"| total | {summary['total']:,} | 100.0 | {summary['total']:,} | 100.0 |")
    return "\n".join(lines)
