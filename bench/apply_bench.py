"""Benchmark: applying classifiers to webdataset shards, one worker vs two, and the 200M projection.

Writes ``--shards`` synthetic img2dataset shards of ``--per-shard`` JPEGs (``--size`` px), then runs
the production shard function (``classifier.apply.process.process_shard``: tar read, Pillow decode,
extractor forward pass, two heads, parquet write) over all of them:

- baseline: one worker process takes every shard;
- two workers: two processes pull shards from one shared queue (as two ``gpu`` Celery workers claim
  ApplyShard rows), same shards. Reported: samples/s of each and the ratio.

Projection: wall time for 200 million images on N GPUs = 2e8 / (N x per-GPU rate), where the per-GPU
rate is the one-worker rate measured here on ``--device`` (CPU figures by default; ``--device cuda``
on a GPU host; with several GPUs the two workers get ``cuda:0`` and ``cuda:1``). Decode throughput
matters at scale: ``--decode-only`` measures the tar+decode rate alone, the ceiling a GPU worker
with this many CPU cores reaches without DataLoader workers.

Run: .venv/bin/python bench/apply_bench.py [--extractor openclip:ViT-B-32/random] [--device cuda]
"""
from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import os
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TOTAL_IMAGES = 200_000_000


def write_shards(folder: Path, shards: int, per_shard: int, size: int) -> list[Path]:
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for s in range(shards):
        path = folder / f"{s:05d}.tar"
        with tarfile.open(path, "w") as tar:
            for i in range(per_shard):
                key = f"{s:05d}{i:04d}"
                array = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
                buffer = io.BytesIO()
                Image.fromarray(array).save(buffer, format="JPEG", quality=85)
                meta = json.dumps({"url": f"http://example.com/{key}.jpg", "key": key}).encode()
                for ext, data in (("jpg", buffer.getvalue()), ("txt", b"caption"), ("json", meta)):
                    info = tarfile.TarInfo(f"{key}.{ext}")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
        paths.append(path)
    return paths


def _worker(queue: mp.Queue, results: mp.Queue, extractor: str, device: str, out_dir: str, batch_size: int,
            threads: int, decode_only: bool, decode_threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    from bench.product_heads import fitted_heads
    from classifier.apply.process import process_shard
    from classifier.apply.scoring import HeadPair, Thresholds
    from classifier.ml.extractors import build_extractor

    ex = build_extractor(extractor, device=device, precision="amp" if device.startswith("cuda") else "fp32")
    natural, rendition = fitted_heads(ex.dim)  # the product's fitted linear and dr-R heads
    heads = HeadPair(natural=natural, rendition=rendition)

    def embed(images: list) -> np.ndarray:
        if decode_only:
            return np.ones((len(images), ex.dim), np.float32)
        batch = torch.stack([ex.preprocess(im) for im in images])
        return ex.encode(batch).cpu().numpy()

    embed([__import__("PIL.Image", fromlist=["Image"]).new("RGB", (64, 64))] * 2)  # warm-up
    results.put(("ready", 0))
    rows = 0
    while True:
        shard = queue.get()
        if shard is None:
            break
        out = Path(out_dir) / (Path(shard).stem + ".parquet")
        rows += process_shard(shard_path=shard, out_path=out, embed_fn=embed, heads=heads,
                              thresholds=Thresholds(0.5, 0.5), batch_size=batch_size,
                              decode_threads=decode_threads).rows
    results.put(("rows", rows))


def run(workers: int, shards: list[Path], args: argparse.Namespace, devices: list[str]) -> tuple[float, int]:
    ctx = mp.get_context("spawn")  # CUDA-safe; each worker owns its device like a solo Celery worker
    queue, results = ctx.Queue(), ctx.Queue()
    out_dir = tempfile.mkdtemp(prefix=f"apply-bench-{workers}w-")
    threads = max(1, args.threads // workers)
    procs = [ctx.Process(target=_worker, args=(queue, results, args.extractor, devices[i % len(devices)], out_dir,
                                               args.batch_size, threads, args.decode_only, args.decode_threads))
             for i in range(workers)]
    for p in procs:
        p.start()
    for _ in procs:
        assert results.get()[0] == "ready"
    start = time.perf_counter()  # model loading excluded: a long-lived worker loads it once
    for shard in shards:
        queue.put(str(shard))
    for _ in procs:
        queue.put(None)
    rows = sum(results.get()[1] for _ in procs)
    elapsed = time.perf_counter() - start
    for p in procs:
        p.join()
    return elapsed, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--extractor", default="openclip:ds-tiny-vit/random")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--per-shard", type=int, default=64)
    parser.add_argument("--size", type=int, default=128, help="JPEG side in pixels")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads, split over workers")
    parser.add_argument("--gpus", default="1,8,64,256", help="GPU counts for the 200M projection")
    parser.add_argument("--decode-threads", type=int, default=1, help="JPEG decode threads per worker")
    parser.add_argument("--decode-only", action="store_true", help="skip the model: tar + decode + parquet only")
    args = parser.parse_args()
    from classifier.ml.extractors import register_tiny_openclip

    register_tiny_openclip()
    devices = [args.device]
    if args.device == "cuda":
        import torch

        devices = [f"cuda:{i}" for i in range(max(1, torch.cuda.device_count()))]
    with tempfile.TemporaryDirectory(prefix="apply-bench-shards-") as folder:
        shards = write_shards(Path(folder), args.shards, args.per_shard, args.size)
        one_s, rows1 = run(1, shards, args, devices)
        two_s, rows2 = run(2, shards, args, devices)
    assert rows1 == rows2 == args.shards * args.per_shard
    rate1, rate2 = rows1 / one_s, rows2 / two_s
    print(f"apply bench: {args.shards} shards x {args.per_shard} images ({args.size}px), extractor {args.extractor}, "
          f"device {', '.join(devices[:2])}, {args.threads} CPU threads, batch {args.batch_size}"
          f"{', decode only' if args.decode_only else ''}")
    print("| workers | seconds | samples/s | ratio |")
    print("|---:|---:|---:|---:|")
    print(f"| 1 | {one_s:.2f} | {rate1:.1f} | 1.00 |")
    print(f"| 2 | {two_s:.2f} | {rate2:.1f} | {rate2 / rate1:.2f} |")
    per_gpu = rate1  # one worker owns one device, as one solo Celery worker per GPU does
    label = "per-GPU rate" if args.device == "cuda" else "per-worker CPU rate (stand-in for a GPU)"
    print(f"\nprojection for {TOTAL_IMAGES:,} images at {per_gpu:.1f} samples/s {label}:")
    print("| GPUs | wall time |")
    print("|---:|---:|")
    for n in (int(x) for x in args.gpus.split(",")):
        seconds = TOTAL_IMAGES / (per_gpu * n)
        print(f"| {n} | {seconds / 3600:,.1f} h ({seconds / 86400:,.2f} days) |")


if __name__ == "__main__":
    main()
