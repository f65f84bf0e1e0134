"""Evaluated runs in the shape of the paper's experiments, for the results views."""
from __future__ import annotations

from training.models import EvalResult, TrainingRun

# (run, natural M, rendition M, natural clean top-1, rendition clean top-1): paper-like figures.
RUNS = [
    ("laion_natural", 57, 0, 0.3972, 0.1875),
    ("mix_44_13", 44, 13, 0.3897, 0.4309),
    ("mix_8_8", 8, 8, 0.2500, 0.3300),
    ("mix_12_4", 12, 4, 0.2700, 0.2900),
    ("mix_4_12", 4, 12, 0.2000, 0.3500),
]
TEST_SETS = [("IN-Val", "natural"), ("ObjectNet", "natural"), ("IN-Sketch", "rendition"), ("DN-Clipart", "rendition")]


def make_evaluated_runs() -> list[TrainingRun]:
    runs = []
    for name, nat, ren, nat_acc, ren_acc in RUNS:
        total = (nat + ren) * 1_000_000
        sources = []
        if nat:
            sources.append({"name": "natural", "share": nat / (nat + ren), "per_epoch": nat * 1_000_000})
        if ren:
            sources.append({"name": "rendition", "share": ren / (nat + ren), "per_epoch": ren * 1_000_000})
        run = TrainingRun.objects.create(name=name, logs_dir="/logs", status="succeeded",
                                         plan={"sources": sources, "train_num_samples": total})
        for epoch in (31, 32):
            for test_set, domain in TEST_SETS:
                for clean in (False, True):
                    acc = nat_acc if domain == "natural" else ren_acc
                    acc = acc - (0.02 if not clean else 0.0) - (0.01 if epoch == 31 else 0.0)
                    EvalResult.objects.create(training_run=run, model="ViT-B-32", checkpoint=f"/logs/{name}/epoch_{epoch}.pt",
                                              epoch=epoch, test_set=test_set, domain=domain, clean=clean, top1=acc,
                                              top5=min(1.0, acc + 0.2), n=1000, n_classes=200)
        runs.append(run)
    return runs
