"""The paper's result views from EvalResult rows: Table 2 (natural / rendition averages,
standard vs clean) and Figure 3 (rendition vs natural average per run, coloured by mixing ratio;
accuracy vs renditions added), as rows, CSV and server-side SVG (matplotlib, no build step)."""
from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from statistics import mean
from typing import Any

from training.mixtures import rendition_fraction
from training.models import EvalResult, TrainingRun

COLUMNS = ("natural_standard", "natural_clean", "rendition_standard", "rendition_clean")


@dataclass
class RunRow:
    run_id: int
    name: str
    epoch: int | None
    total_samples: int | None
    rendition_fraction: float | None
    renditions_per_epoch: int | None
    cells: dict[str, float | None] = field(default_factory=dict)  # top-1 averages, 0..1
    counts: dict[str, int] = field(default_factory=dict)  # test sets averaged per cell

    @property
    def percents(self) -> list[str]:
        return ["" if self.cells.get(c) is None else f"{100 * self.cells[c]:.2f}" for c in COLUMNS]

    @property
    def total_label(self) -> str:
        return short_count(self.total_samples)

    @property
    def rendition_percent(self) -> str:
        return "" if self.rendition_fraction is None else f"{100 * self.rendition_fraction:.0f}%"


def short_count(n: int | None) -> str:
    """57000000 -> 57M, 16000 -> 16k; the paper names sizes in millions."""
    if n is None:
        return "?"
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n >= size:
            value = n / size
            return f"{value:.0f}{suffix}" if value == int(value) else f"{value:.1f}{suffix}"
    return str(n)


def _renditions(plan: dict[str, Any]) -> int | None:
    sources = plan.get("sources") or []
    if not sources:
        return None
    return sum(int(s.get("per_epoch", 0)) for s in sources if "rendition" in str(s.get("name", "")))


def table2(*, runs: list[TrainingRun], epoch: str = "last") -> list[RunRow]:
    """One row per run: mean top-1 over its natural and its rendition test sets, standard and
    clean, at the run's last evaluated epoch (or the given epoch number)."""
    rows = []
    by_run: dict[int, list[EvalResult]] = defaultdict(list)
    for result in EvalResult.objects.filter(training_run__in=runs).exclude(domain=""):  # one query for every run
        by_run[result.training_run_id].append(result)
    for run in runs:
        results = by_run[run.id]
        epochs = sorted({r.epoch for r in results if r.epoch is not None})
        chosen = (int(epoch) if epoch != "last" else (epochs[-1] if epochs else None))
        picked = [r for r in results if r.epoch == chosen] if chosen is not None else results
        cells: dict[str, list[float]] = defaultdict(list)
        for r in picked:
            if r.domain in ("natural", "rendition"):
                cells[f"{r.domain}_{'clean' if r.clean else 'standard'}"].append(r.top1)
        plan = run.plan or {}
        rows.append(RunRow(
            run_id=run.id, name=run.name, epoch=chosen, total_samples=plan.get("train_num_samples"),
            rendition_fraction=rendition_fraction(plan.get("sources") or []),
            renditions_per_epoch=_renditions(plan),
            cells={c: (mean(cells[c]) if cells.get(c) else None) for c in COLUMNS},
            counts={c: len(cells.get(c, [])) for c in COLUMNS}))
    return rows


def table2_csv(rows: list[RunRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["run", "epoch", "total_samples", "rendition_fraction", "renditions_per_epoch", *COLUMNS])
    for row in rows:
        writer.writerow([row.name, row.epoch, row.total_samples,
                         "" if row.rendition_fraction is None else f"{row.rendition_fraction:.4f}",
                         row.renditions_per_epoch,
                         *("" if row.cells[c] is None else f"{100 * row.cells[c]:.2f}" for c in COLUMNS)])
    return buffer.getvalue()


def detail_csv(*, runs: list[TrainingRun]) -> str:
    """Every stored result of the runs: per test set, per epoch, standard and clean."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["run", "epoch", "checkpoint", "test_set", "domain", "clean", "top1", "top5", "n", "n_classes"])
    for r in EvalResult.objects.filter(training_run__in=runs).select_related("training_run").order_by(
            "training_run_id", "epoch", "test_set", "clean"):
        writer.writerow([r.training_run.name, r.epoch, r.checkpoint, r.test_set, r.domain, int(r.clean),
                         f"{100 * r.top1:.2f}", f"{100 * r.top5:.2f}", r.n, r.n_classes])
    return buffer.getvalue()


def _svg(fig: Any) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # drop the XML prologue so it inlines in HTML


def figure3_svgs(rows: list[RunRow], *, clean: bool = True) -> dict[str, str]:
    """(a) rendition vs natural average per run, one curve per total size, coloured by rendition
    fraction; (b) both averages vs renditions per epoch, each run in the same colour as in (a)
    (circles natural, squares rendition). Runs missing a value are left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mode = "clean" if clean else "standard"
    points = [r for r in rows if r.cells.get(f"natural_{mode}") is not None
              and r.cells.get(f"rendition_{mode}") is not None]
    fig_a, ax = plt.subplots(figsize=(5.2, 4.2))
    by_total: dict[Any, list[RunRow]] = defaultdict(list)
    for r in points:
        by_total[r.total_samples].append(r)
    for total, group in sorted(by_total.items(), key=lambda kv: kv[0] or 0):
        group = sorted(group, key=lambda r: r.rendition_fraction or 0)
        xs = [100 * r.cells[f"natural_{mode}"] for r in group]
        ys = [100 * r.cells[f"rendition_{mode}"] for r in group]
        ax.plot(xs, ys, color="0.7", lw=1, zorder=1)
        scatter = ax.scatter(xs, ys, c=[r.rendition_fraction or 0 for r in group], cmap="viridis", vmin=0, vmax=1,
                             s=40, zorder=2, edgecolors="k", linewidths=0.5)
        if xs:
            ax.annotate(short_count(total), (xs[-1], ys[-1]), fontsize=7, xytext=(4, 2),
                        textcoords="offset points")
    if points:
        fig_a.colorbar(scatter, ax=ax, label="rendition fraction of the mix")
    ax.set_xlabel(f"natural test sets, mean top-1 ({mode}) %")
    ax.set_ylabel(f"rendition test sets, mean top-1 ({mode}) %")
    ax.set_title("Rendition vs natural accuracy (labels: samples/epoch)", fontsize=9)
    ax.grid(alpha=0.3)

    fig_b, bx = plt.subplots(figsize=(5.2, 4.2))
    added = sorted((r for r in points if r.renditions_per_epoch is not None), key=lambda r: r.renditions_per_epoch)
    scale, unit = (1_000_000, " (millions)") if added and added[-1].renditions_per_epoch >= 1_000_000 else (1, "")
    xs = [r.renditions_per_epoch / scale for r in added]
    # Each run keeps its colour from (a), its mix's rendition fraction; the marker tells the test sets apart.
    fractions = [r.rendition_fraction or 0 for r in added]
    for domain, marker, style in (("natural", "o", "-"), ("rendition", "s", "--")):
        ys = [100 * r.cells[f"{domain}_{mode}"] for r in added]
        bx.plot(xs, ys, style, color="0.6", lw=1, zorder=1)
        bx.scatter(xs, ys, c=fractions, cmap="viridis", vmin=0, vmax=1, marker=marker, s=40, zorder=2,
                   edgecolors="k", linewidths=0.5, label=f"{domain} test sets")
    bx.set_xlabel(f"renditions per epoch in the training mix{unit}")
    bx.set_ylabel(f"mean top-1 ({mode}) %")
    bx.set_title("Accuracy vs renditions added", fontsize=9)
    bx.grid(alpha=0.3)
    legend = bx.legend(fontsize=8)
    for handle in legend.legend_handles:  # the marker says which test sets; colour is per run, not here
        handle.set_facecolor("0.85")
    out = {"ratio": _svg(fig_a), "added": _svg(fig_b)}
    plt.close(fig_a)
    plt.close(fig_b)
    return out
