"""Embedding and head-application throughput on this machine, with same-run baselines.

1. Images/s for the tiny test model and a random-weight ViT-B-32 on CPU, split into decode +
   resize (PIL decode, preprocessing transform) and model time (forward under no_grad).
2. The product's own fitted heads (``bench/product_heads.py``: the ``linear`` probe and the
   published ``dr-R``, fitted by ``fit_method``) over N precomputed 768-d float16 embeddings,
   against a numpy memory copy of the same array in the same run (the memory-bandwidth bound), as
   a ratio. N x 768 x 2 bytes is 15 GB for N = 10M, more than this box's RAM: the array is a
   float16 memmap on disk, streamed in chunks of --chunk rows (bounded memory); each pass is
   measured after a warm-up pass, so when the file fits in the page cache both read from RAM.
3. On a CUDA machine: images/s for ViT-L-14 in fp16 (model only, random weights).

    .venv/bin/python bench/embed_bench.py --n 2000000 --images 64
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def jpegs(n: int, size: int = 256) -> list[bytes]:
    from PIL import Image

    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(buffer, format="JPEG", quality=85)
        out.append(buffer.getvalue())
    return out


def bench_extractor(name: str, images: list[bytes], batch: int, device: str = "cpu", precision: str = "fp32") -> dict:
    import torch

    from classifier.ml.embed import load_rgb
    from classifier.ml.extractors import build_extractor

    extractor = build_extractor(name, device=device, precision=precision)
    started = time.perf_counter()
    tensors = [extractor.preprocess(load_rgb(b)) for b in images]
    decode_s = (time.perf_counter() - started) / len(images)
    stacked = torch.stack(tensors)
    extractor.encode(stacked[:batch])  # warm-up
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    started = time.perf_counter()
    for i in range(0, len(stacked), batch):
        extractor.encode(stacked[i:i + batch])
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    model_s = (time.perf_counter() - started) / len(stacked)
    return {"extractor": name, "device": device, "precision": precision, "decode_ms": decode_s * 1e3,
            "model_ms": model_s * 1e3, "images_per_s": 1 / (decode_s + model_s),
            "model_only_images_per_s": 1 / model_s}


def bench_head(n: int, dim: int, chunk: int, path: Path) -> dict:
    nbytes = n * dim * 2
    if not path.exists() or path.stat().st_size != nbytes:
        path.parent.mkdir(parents=True, exist_ok=True)
        array = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=(n, dim))
        rng = np.random.default_rng(0)
        block = rng.standard_normal((chunk, dim)).astype(np.float16)
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            array[start:stop] = block[: stop - start]
        array.flush()
        del array
    data = np.load(path, mmap_mode="r")
    from bench.product_heads import fitted_heads

    natural, rendition = fitted_heads(dim)
    buffer = np.empty((chunk, dim), np.float16)

    def copy_pass() -> float:
        started = time.perf_counter()
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            np.copyto(buffer[: stop - start], data[start:stop])
        return time.perf_counter() - started

    def head_pass(head: object) -> float:
        # The product's FittedModel.scores: float16 -> float32, L2-normalize, standardize, readout.
        started = time.perf_counter()
        for start in range(0, n, chunk):
            head.scores(np.asarray(data[start:start + chunk], dtype=np.float32))  # type: ignore[attr-defined]
        return time.perf_counter() - started

    copy_pass()  # warm the page cache
    head_s = head_pass(natural)
    dr_s = head_pass(rendition)
    copy_s = copy_pass()
    return {"n": n, "dim": dim, "gigabytes": nbytes / 1e9, "chunk_rows": chunk,
            "head_samples_per_s": n / head_s, "dr_samples_per_s": n / dr_s, "copy_samples_per_s": n / copy_s,
            "copy_gb_per_s": nbytes / copy_s / 1e9, "head_over_copy": copy_s / head_s, "dr_over_copy": copy_s / dr_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000_000, help="embeddings for the head bench (default 10M)")
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--chunk", type=int, default=32_768, help="rows per streamed chunk")
    parser.add_argument("--images", type=int, default=64, help="images per extractor bench")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2)))
    parser.add_argument("--memmap", type=Path, default=Path("var/bench/embeddings-f16.npy"))
    parser.add_argument("--keep-memmap", action="store_true", help="keep the memmap file for reruns")
    parser.add_argument("--skip-head", action="store_true")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from classifier.ml.extractors import tiny_extractor_string

    print(f"threads={args.threads} cpu_count={os.cpu_count()} torch={torch.__version__}")
    images = jpegs(args.images)
    for name in (tiny_extractor_string(), "openclip:ViT-B-32/random"):
        r = bench_extractor(name, images, args.batch)
        print(f"{r['extractor']:<28} {r['device']} {r['precision']}: decode+resize {r['decode_ms']:.2f} ms/img, "
              f"model {r['model_ms']:.2f} ms/img -> {r['images_per_s']:.1f} img/s "
              f"(model only {r['model_only_images_per_s']:.1f} img/s)")
    if torch.cuda.is_available():
        r = bench_extractor("openclip:ViT-L-14/random", images * 4, 128, device="cuda", precision="fp16")
        print(f"ViT-L-14 cuda fp16: model only {r['model_only_images_per_s']:.1f} img/s, "
              f"with CPU decode (1 process) {r['images_per_s']:.1f} img/s")
    else:
        print("no CUDA device: ViT-L-14 fp16 skipped")
    if not args.skip_head:
        try:
            r = bench_head(args.n, args.dim, args.chunk, args.memmap)
        finally:
            if not args.keep_memmap:
                args.memmap.unlink(missing_ok=True)
        print(f"product heads over {r['n']:,} x {r['dim']} float16 ({r['gigabytes']:.2f} GB memmap, "
              f"{r['chunk_rows']:,}-row chunks): linear {r['head_samples_per_s'] / 1e6:.2f} M samples/s, "
              f"dr-R {r['dr_samples_per_s'] / 1e6:.2f} M samples/s; memory copy "
              f"{r['copy_samples_per_s'] / 1e6:.2f} M samples/s ({r['copy_gb_per_s']:.2f} GB/s); "
              f"linear/copy = {r['head_over_copy']:.2f}, dr-R/copy = {r['dr_over_copy']:.2f}")


if __name__ == "__main__":
    main()
