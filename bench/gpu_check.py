"""GPU figures of the product's own code paths, random weights (no download), one line per figure.

Run through ``bench/gpu_check.sh`` (it refuses a machine without CUDA). Figures:

1. embed: ViT-L-14 fp16 end to end, JPEG bytes -> decode + preprocess (DataLoader workers) ->
   features written as float16 chunks (``classifier.ml.embed.embed_images``), images/s; and the
   model-only rate on the same batches (target: >= 2,000 images/s end to end on an H100/H200).
2. ft_step: one FT optimizer step of ViT-L-14 (``classifier.ml.finetune.finetune``, open_clip's
   training transform, amp), seconds per step at the batch size given, and the projected epoch
   time for the paper's 13,000 training images.
3. dr_fold: ``finetune_density_ratio`` (dr-ft) with 2 folds of a few steps: seconds per fold fit
   (fine-tune + out-of-fold scoring), and the projected fold time of the real run (K = 10, 50 epochs).
4. apply_shard: ``process_shard`` of one 1,000-sample webdataset shard with the ViT-L-14 fp16
   extractor and the product's fitted linear + dr-R heads, samples/s.
5. zeroshot: one ViT-B-32 checkpoint (the paper's CLIP) on 1,000 test images with the 1,000
   ImageNet names x 80 templates: seconds for the text classifier, images/s for the images.

``--dry-run`` runs the same code on CPU with the tiny test models and small sizes: it checks the
wiring, its numbers mean nothing.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def jpegs(n: int, size: int, seed: int = 0) -> list[bytes]:
    from PIL import Image

    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    out = []
    for i in range(n):
        array = np.roll(base, i * 7, axis=1)  # distinct bytes, same decode cost
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format="JPEG", quality=90)
        out.append(buffer.getvalue())
    return out


def line(name: str, value: float, unit: str, **extra: object) -> None:
    detail = " ".join(f"{k}={v}" for k, v in extra.items())
    print(f"{name}: {value:,.2f} {unit}{' ' + detail if detail else ''}", flush=True)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def check_embed(cfg: dict, work: Path) -> None:
    import torch

    from classifier.ml.embed import embed_images
    from classifier.ml.extractors import build_extractor

    extractor = build_extractor(cfg["extractor"], device=cfg["device"], precision=cfg["precision"])
    images = jpegs(cfg["n_embed"], cfg["image_px"])
    embed_images(extractor, images[: cfg["batch"]], work / "warm", batch_size=cfg["batch"], num_workers=0)
    sync(cfg["device"])
    started = time.perf_counter()
    result = embed_images(extractor, images, work / "embed", batch_size=cfg["batch"], num_workers=cfg["workers"],
                          chunk_size=cfg["n_embed"])
    sync(cfg["device"])
    wall = time.perf_counter() - started
    pixels = torch.stack([extractor.preprocess(__import__("PIL.Image", fromlist=["Image"]).open(io.BytesIO(b))
                                               .convert("RGB")) for b in images[: cfg["batch"]]])
    rounds = max(1, cfg["n_embed"] // cfg["batch"])
    extractor.encode(pixels)
    sync(cfg["device"])
    started = time.perf_counter()
    for _ in range(rounds):
        extractor.encode(pixels)
    sync(cfg["device"])
    model_only = rounds * cfg["batch"] / (time.perf_counter() - started)
    line("embed", result.count / wall, "images/s", model=cfg["extractor"], precision=cfg["precision"],
         images=result.count, px=cfg["image_px"], workers=cfg["workers"], model_only_images_per_s=round(model_only))


def check_ft_step(cfg: dict, work: Path) -> None:
    from classifier.ml.extractors import build_extractor
    from classifier.ml.finetune import finetune

    n = cfg["ft_batch"] * (cfg["ft_steps"] + 1)
    images = jpegs(n, cfg["image_px"], seed=1)
    labels = [("natural", "rendition", "ambiguous")[i % 3] for i in range(n)]
    extractor = build_extractor(cfg["extractor"], device=cfg["device"], precision="amp")
    started = time.perf_counter()
    result = finetune(extractor, images, labels, images[:6], labels[:6], ["natural", "rendition", "ambiguous"],
                      overrides={"epochs": 1, "batch_size": cfg["ft_batch"]}, max_steps=cfg["ft_steps"],
                      num_workers=cfg["workers"])
    sync(cfg["device"])
    per_step = result.history[0]["seconds"] / cfg["ft_steps"]
    line("ft_step", per_step, "s/step", batch=cfg["ft_batch"], steps=cfg["ft_steps"],
         projected_epoch_s_13k=round(per_step * 13_000 / cfg["ft_batch"], 1),
         wall_s=round(time.perf_counter() - started, 1))


def check_dr_fold(cfg: dict, work: Path) -> None:
    from classifier.ml.extractors import build_extractor
    from classifier.ml.finetune import finetune_density_ratio

    n = cfg["dr_images"]
    images = jpegs(n, cfg["image_px"], seed=2)
    labels = [("natural", "rendition", "ambiguous")[i % 3] for i in range(n)]

    def fresh() -> object:
        return build_extractor(cfg["extractor"], device=cfg["device"], precision="amp")

    started = time.perf_counter()
    result = finetune_density_ratio(fresh, images, labels, images[:6], labels[:6], "rendition", folds=2,
                                    overrides={"epochs": 1, "batch_size": cfg["ft_batch"]},
                                    max_steps=cfg["dr_steps"], num_workers=cfg["workers"])
    sync(cfg["device"])
    per_fit = (time.perf_counter() - started) / 3  # 2 folds + the final fit
    dr = result.hyperparameters["density_ratio"]
    line("dr_fold", per_fit, "s/fold", images=n, steps=cfg["dr_steps"], temperature=round(dr["temperature"], 3),
         note="fold = fine-tune + out-of-fold scoring; the real run is 11 such fits of 50 epochs")


def check_apply_shard(cfg: dict, work: Path) -> None:
    import torch

    from bench.product_heads import fitted_heads
    from classifier.apply.process import process_shard
    from classifier.apply.scoring import HeadPair, Thresholds
    from classifier.ml.extractors import build_extractor

    shard = work / "00000.tar"
    with tarfile.open(shard, "w") as tar:
        for i, data in enumerate(jpegs(cfg["n_shard"], cfg["image_px"], seed=3)):
            for ext, payload in (("jpg", data), ("txt", b"a caption"), ("json", json.dumps({"key": f"{i:09d}"}).encode())):
                info = tarfile.TarInfo(f"{i:09d}.{ext}")
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
    extractor = build_extractor(cfg["extractor"], device=cfg["device"], precision=cfg["precision"])
    natural, rendition = fitted_heads(extractor.dim)

    def embed(images: list) -> np.ndarray:
        return extractor.encode(torch.stack([extractor.preprocess(im) for im in images])).cpu().numpy()

    started = time.perf_counter()
    result = process_shard(shard_path=shard, out_path=work / "scores.parquet", embed_fn=embed,
                           heads=HeadPair(natural=natural, rendition=rendition), thresholds=Thresholds(0.5, 1.0),
                           batch_size=cfg["batch"], decode_threads=cfg["workers"])
    sync(cfg["device"])
    line("apply_shard", result.rows / (time.perf_counter() - started), "samples/s", rows=result.rows,
         heads="linear+dr-R", decode_threads=cfg["workers"])


def check_zeroshot(cfg: dict, work: Path) -> None:
    import open_clip
    import torch

    from labeling.classnames import builtin
    from training.specs import MODEL_CONFIG_DIR
    from training.zeroshot.evaluate import class_weights, evaluate, load_model, load_templates

    open_clip.add_model_config(MODEL_CONFIG_DIR / "DS-Tiny.json")
    torch.manual_seed(0)
    checkpoint = work / "clip.pt"
    torch.save({"epoch": 1, "state_dict": open_clip.create_model(cfg["clip"]).state_dict()}, checkpoint)
    model, preprocess, tokenizer = load_model(cfg["clip"], str(checkpoint), device=cfg["device"])
    names = list(builtin("imagenet-1k").names)[: cfg["zs_classes"]]
    templates = load_templates()[: cfg["zs_templates"]]
    started = time.perf_counter()
    weights = class_weights(model, tokenizer, names, templates, device=cfg["device"], classes_per_batch=50)
    sync(cfg["device"])
    text_s = time.perf_counter() - started
    folder = work / "testset"
    folder.mkdir()
    samples = []
    for i, data in enumerate(jpegs(cfg["zs_images"], cfg["image_px"], seed=4)):
        path = folder / f"{i:05d}.jpg"
        path.write_bytes(data)
        samples.append((str(path), i % len(names)))
    started = time.perf_counter()
    score = evaluate(model, preprocess, weights, samples, device=cfg["device"], batch_size=cfg["batch"])
    sync(cfg["device"])
    line("zeroshot", score.n / (time.perf_counter() - started), "images/s", model=cfg["clip"], classes=len(names),
         templates=len(templates), text_classifier_s=round(text_s, 2), images=score.n)


CONFIGS = {
    "gpu": {"device": "cuda", "precision": "fp16", "extractor": "openclip:ViT-L-14/random", "clip": "ViT-B-32",
            "n_embed": 8192, "image_px": 256, "batch": 256, "workers": 14, "ft_batch": 128, "ft_steps": 8,
            "dr_images": 512, "dr_steps": 3, "n_shard": 1000, "zs_classes": 1000, "zs_templates": 80,
            "zs_images": 1000},
    "dry": {"device": "cpu", "precision": "fp32", "extractor": "openclip:ds-tiny-vit/random", "clip": "DS-Tiny",
            "n_embed": 64, "image_px": 64, "batch": 16, "workers": 0, "ft_batch": 8, "ft_steps": 2,
            "dr_images": 24, "dr_steps": 1, "n_shard": 32, "zs_classes": 10, "zs_templates": 2, "zs_images": 16},
}
RUNNERS = {"embed": check_embed, "ft_step": check_ft_step, "dr_fold": check_dr_fold,
           "apply_shard": check_apply_shard, "zeroshot": check_zeroshot}
CHECKS = tuple(RUNNERS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny models: check the wiring only")
    parser.add_argument("--only", choices=CHECKS, action="append", help="run only these figures (repeatable)")
    args = parser.parse_args()
    import torch

    from classifier.ml.extractors import register_tiny_openclip

    register_tiny_openclip()
    cfg = CONFIGS["dry" if args.dry_run else "gpu"]
    if not args.dry_run and not torch.cuda.is_available():
        print("gpu_check: no CUDA device visible; run on a GPU host (or --dry-run on CPU)", file=sys.stderr)
        return 2
    where = torch.cuda.get_device_name(0) if cfg["device"] == "cuda" else "CPU (dry run: wiring only)"
    print(f"gpu_check on {where}, torch {torch.__version__}", flush=True)
    failures = 0
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        for name in args.only or CHECKS:
            work = Path(tmp) / name
            work.mkdir()
            try:
                RUNNERS[name](cfg, work)
            except Exception as exc:  # noqa: BLE001 - one figure failing (e.g. out of memory) must not hide the others
                failures += 1
                print(f"{name}: FAILED {type(exc).__name__}: {exc}", flush=True)
            finally:
                if cfg["device"] == "cuda":
                    torch.cuda.empty_cache()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
