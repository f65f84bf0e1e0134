"""Context builders for the run report and comparison pages (tables from stored metrics JSON)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from classifier.ml.calibration import best_model_per_class
from classifier.models import ClassifierRun


def run_report_context(run: ClassifierRun) -> dict[str, Any]:
    m = run.metrics or {}
    classes = m.get("scored_classes", [])
    rows = []
    for c in classes:
        row = {"class": c, "threshold": m["thresholds"].get(c), "val": m["val"][c], "test": m["test"][c],
               "per_dataset": [(g, v[c]) for g, v in sorted(m.get("per_dataset", {}).items()) if c in v]}
        rows.append(row)
    confusion = m.get("confusion")
    heads = {c: (run.thresholds or {}).get(c) is not None for c in ("natural", "rendition")}
    apply_query = "&".join(f"{c}_run={run.id}" for c, usable in heads.items() if usable)
    others = (ClassifierRun.objects.filter(status="succeeded").exclude(pk=run.pk)
              .order_by("-id").values_list("id", flat=True)[:5])
    testsets = m.get("testsets") or {}
    testset_rows = [{"set": g, "cells": [v.get(c) for c in classes]} for g, v in sorted(testsets.items())]
    return {"run": run, "rows": rows, "confusion": confusion, "classes": classes, "testset_rows": testset_rows,
            "testsets_average": [m.get("testsets_average", {}).get(c) for c in classes] if testsets else [],
            "apply_query": apply_query if run.status == "succeeded" else "",
            "compare_runs": ",".join(str(i) for i in [run.id, *others]),
            "confusion_rows": list(zip(confusion["classes"], confusion["test"], strict=True)) if confusion else [],
            "curves": {f"run {run.id} {run.method}": m.get("pr_test", {})}}


def compare_context(runs: Sequence[ClassifierRun]) -> dict[str, Any]:
    results = {f"run {r.id} {r.method}": r.metrics for r in runs if r.metrics}
    classes = ["natural", "rendition", "ambiguous"]
    table = []
    for name, m in results.items():
        table.append({"name": name, "cells": [
            m["val"].get(c, {}).get("recall") if c in m.get("val", {}) else None for c in classes] + [
            m["test"].get(c, {}).get("recall") if c in m.get("test", {}) else None for c in classes]})
    # The paper's Table 4: per class, precision / recall averaged over the labeled test sets (an
    # evaluation set apart), beside the pool's own test split.
    table4 = []
    for name, m in results.items():
        avg, test = m.get("testsets_average") or {}, m.get("test", {})
        table4.append({"name": name, "sets": max((v.get("sets", 0) for v in avg.values()), default=0), "cells": [
            (avg.get(c), test.get(c)) for c in ("natural", "rendition")]})
    return {"runs": runs, "classes": classes, "table": table, "table4": table4,
            "best": best_model_per_class(results, classes=("natural", "rendition")),
            "curves": {name: m.get("pr_test", {}) for name, m in results.items()}}
