"""Does the offline demo backbone separate natural from rendition on held-out demo images?

Builds the demo data (labeling.demodata), embeds the pool (webdataset shards) and the test set
(ImageFolder + manifest) with an extractor, fits a linear probe on the pool's natural and
rendition images (threshold at target precision on a pool validation split), and reports on
the held-out test set: accuracy, ROC AUC and recall at the validation threshold. The same run
with random weights of the same architecture is the baseline (what the backbone adds).

    .venv/bin/python bench/classifier_demo_check.py --n-pool 360 --n-test 120 --size 224
"""
from __future__ import annotations

import argparse
import csv
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def load_demo(outdir: Path) -> tuple[list[bytes], list[str], list[bytes], list[str]]:
    pool_x, pool_y, test_x, test_y = [], [], [], []
    import json

    for tar_path in sorted((outdir / "pool").glob("*.tar")):
        with tarfile.open(tar_path) as tar:
            members = {m.name: m for m in tar.getmembers()}
            for name in sorted(n for n in members if n.endswith(".jpg")):
                meta = json.loads(tar.extractfile(members[name[:-4] + ".json"]).read())
                pool_x.append(tar.extractfile(members[name]).read())
                pool_y.append(meta["domain"])
    with (outdir / "testset" / "manifest.csv").open() as handle:
        for row in csv.DictReader(handle):
            test_x.append((outdir / "testset" / row["path"]).read_bytes())
            test_y.append(row["domain"])
    return pool_x, pool_y, test_x, test_y


def evaluate(extractor_string: str, data: tuple, *, image_size: int, target: float, seed: int) -> dict:
    import torch
    from sklearn.metrics import roc_auc_score

    from classifier.ml.calibration import operating_at, threshold_at_precision
    from classifier.ml.embed import embed_images, load_embeddings
    from classifier.ml.extractors import build_extractor
    from classifier.ml.methods import fit_linear_probe

    pool_x, pool_y, test_x, test_y = data
    extractor = build_extractor(extractor_string, image_size=image_size, seed=seed)
    feats = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name, xs in (("pool", pool_x), ("test", test_x)):
            embed_images(extractor, xs, Path(tmp) / name, batch_size=32, num_workers=0)
            feats[name] = load_embeddings(Path(tmp) / name)[1]
    embed_s = time.perf_counter() - started
    classes = ["natural", "rendition"]
    py, ty = np.asarray(pool_y), np.asarray(test_y)
    keep_pool, keep_test = np.isin(py, classes), np.isin(ty, classes)
    xp, yp = feats["pool"][keep_pool], py[keep_pool]
    rng = np.random.default_rng(seed)
    val = np.zeros(len(yp), bool)
    for c in classes:
        rows = rng.permutation(np.flatnonzero(yp == c))
        val[rows[: len(rows) // 4]] = True
    model = fit_linear_probe(xp[~val], yp[~val], classes, x_val=xp[val], y_val=yp[val], seed=seed)
    xt, yt = feats["test"][keep_test], ty[keep_test]
    scores_t, scores_v = model.scores(xt), model.scores(xp[val])
    out = {"extractor": extractor_string, "n_train": int((~val).sum()), "n_val": int(val.sum()), "n_test": len(yt),
           "embed_images_per_s": (len(pool_x) + len(test_x)) / embed_s,
           "test_accuracy": float((np.array(classes)[scores_t.argmax(1)] == yt).mean()),
           "test_auc_natural": float(roc_auc_score(yt == "natural", scores_t[:, 0]))}
    for j, c in enumerate(classes):
        op = threshold_at_precision(scores_v[:, j], yp[val] == c, target)
        test_op = operating_at(scores_t[:, j], yt == c, op.threshold)
        out[f"{c}_test_precision_at_val_thr"] = test_op.precision
        out[f"{c}_test_recall_at_val_thr"] = test_op.recall
    del torch
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-pool", type=int, default=360)
    parser.add_argument("--n-test", type=int, default=120)
    parser.add_argument("--size", type=int, default=224, help="demo image size (px)")
    parser.add_argument("--image-size", type=int, default=224, help="extractor input size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target-precision", type=float, default=0.98)
    parser.add_argument("--outdir", type=Path, default=Path("var/bench/demo-data"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from labeling.demodata.build import build_demo_data

    started = time.perf_counter()
    summary = build_demo_data(outdir=args.outdir, n_pool=args.n_pool, n_test=args.n_test, seed=args.seed,
                              size=args.size, shard_size=100)
    print(f"demo data: pool {summary.pool_by_domain}, test {summary.test_by_domain} "
          f"({time.perf_counter() - started:.1f}s)")
    data = load_demo(args.outdir)
    for extractor in ("timm:efficientnet_lite0/pypi", "timm:efficientnet_lite0/random"):
        result = evaluate(extractor, data, image_size=args.image_size, target=args.target_precision, seed=args.seed)
        print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
