"""Import throughput: the DomainSieve pipeline against a naive loop, on the same shards, same run.

Generates N JPEGs of mixed sizes (max side 64..1024 px) as img2dataset-style webdataset shards
(``NNNNN.tar`` with jpg/txt/json per sample + ``NNNNN.parquet``), cached under
``$DOMAINSIEVE_VAR/bench/``, then imports them twice into the configured database (PostgreSQL):

- pipeline: ``import_run`` (draft-mode JPEG decoding, IMPORT_WORKERS processes, bulk inserts);
- naive: for each sample open, fully decode, thumbnail, save both files, insert one row.

Each phase writes to its own fresh MEDIA_ROOT, so neither profits from the other's files.
Prints images/s for both, the ratio and peak memory. Bench datasets are deleted afterwards.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/domainsieve .venv/bin/python bench/import_bench.py --n 31000
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import resource
import shutil
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from multiprocessing import get_context
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _image(seed: int) -> bytes:
    """A photo-like JPEG: smooth colour field, grain and a few shapes (~90 KB on average)."""
    import numpy as np
    from PIL import Image, ImageChops, ImageDraw

    rng = np.random.default_rng(seed)
    side = int(rng.integers(64, 1025))
    aspect = float(rng.uniform(0.6, 1.6))
    width, height = (side, max(16, int(side / aspect))) if aspect >= 1 else (max(16, int(side * aspect)), side)
    field = Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)).resize((width, height), Image.Resampling.BICUBIC)
    grain = Image.fromarray(rng.integers(0, 20, (height, width), dtype=np.uint8)).convert("RGB")
    image = ImageChops.add(field, grain)
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        draw.ellipse([x0, y0, x0 + width // 4, y0 + height // 4], fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _write_shard(args: tuple[Path, int, int]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path, start, count = args
    rows = []
    temp = path.with_suffix(".tmp")
    with tarfile.open(temp, "w") as tar:
        for index in range(start, start + count):
            key = f"{index:09d}"
            caption = f"synthetic image {index}"
            url = f"https://bench.invalid/{key}.jpg"
            for ext, data in (("jpg", _image(index)), ("txt", caption.encode()),
                              ("json", json.dumps({"key": key, "url": url, "caption": caption, "status": "success"}).encode())):
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            rows.append({"key": key, "url": url, "caption": caption, "status": "success"})
    pq.write_table(pa.Table.from_pylist(rows), path.with_suffix(".parquet"))
    os.replace(temp, path)
    return count


def generate(folder: Path, n: int, shard_size: int, workers: int) -> list[Path]:
    """Shards for n images, made once and reused (a marker file says they are complete)."""
    marker = folder / "complete"
    shards = [folder / f"{i:05d}.tar" for i in range((n + shard_size - 1) // shard_size)]
    if marker.exists():
        return shards
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [(shard, i * shard_size, min(shard_size, n - i * shard_size)) for i, shard in enumerate(shards)]
    started = time.perf_counter()
    with get_context("forkserver").Pool(workers) as pool:
        done = sum(pool.imap_unordered(_write_shard, jobs))
    marker.write_text(str(done))
    print(f"generated {done} JPEGs in {len(shards)} shards in {time.perf_counter() - started:.0f}s -> {folder}")
    return shards


def naive_import(shards: list[Path], dataset: object, media: Path, thumb_size: int) -> int:
    """The obvious loop: one image at a time, full decode, one INSERT per row."""
    from PIL import Image as PILImage

    from labeling.models import Image

    count = 0
    for shard in shards:
        with tarfile.open(shard) as tar:
            captions: dict[str, str] = {}
            for member in tar:
                key, _, ext = member.name.partition(".")
                data = tar.extractfile(member).read()  # type: ignore[union-attr]
                if ext == "txt":
                    captions[key] = data.decode()
                if ext != "jpg":
                    continue
                sha = hashlib.sha256(data).hexdigest()
                image = PILImage.open(io.BytesIO(data)).convert("RGB")
                width, height = image.size
                thumb = image.copy()
                thumb.thumbnail((thumb_size, thumb_size))
                file_rel, thumb_rel = f"images/{sha[:2]}/{sha}.jpg", f"thumbs/{sha[:2]}/{sha}.jpg"
                (media / file_rel).parent.mkdir(parents=True, exist_ok=True)
                (media / thumb_rel).parent.mkdir(parents=True, exist_ok=True)
                (media / file_rel).write_bytes(data)
                thumb.save(media / thumb_rel, format="JPEG", quality=85)
                Image.objects.create(dataset=dataset, sha256=sha, file=file_rel, thumb=thumb_rel, width=width,
                                     height=height, format="JPEG", size_bytes=len(data), uid=sha[:32], key=key,
                                     source=f"{shard}:{member.name}", caption=captions.get(key, ""))
                count += 1
    return count


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class DescendantWatch(threading.Thread):
    """Samples /proc for this process's descendants (pool workers sit under a forkserver, so
    RUSAGE_CHILDREN cannot see them): the CPU seconds each used and its peak RSS (VmHWM)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.halt = threading.Event()
        self.cpu_ticks: dict[int, int] = {}
        self.peak_kb: dict[int, int] = {}

    def run(self) -> None:
        while not self.halt.wait(0.2):
            self.sample()

    def sample(self) -> None:
        children: dict[int, list[int]] = {}
        ticks: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry))
            ticks[int(entry)] = int(fields[11]) + int(fields[12])
        todo, seen = list(children.get(os.getpid(), [])), set()
        while todo:
            pid = todo.pop()
            seen.add(pid)
            todo.extend(children.get(pid, []))
        for pid in seen:
            self.cpu_ticks[pid] = max(self.cpu_ticks.get(pid, 0), ticks.get(pid, 0))
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_kb[pid] = max(self.peak_kb.get(pid, 0), int(line.split()[1]))

    def stop(self) -> tuple[float, float]:
        """(CPU seconds of all descendants, largest descendant peak RSS in MB)."""
        self.halt.set()
        self.join()
        return sum(self.cpu_ticks.values()) / os.sysconf("SC_CLK_TCK"), max(self.peak_kb.values(), default=0) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=31_000, help="number of JPEGs (default 31000)")
    parser.add_argument("--shard-size", type=int, default=1000, help="samples per shard (default 1000)")
    parser.add_argument("--workers", type=int, default=None, help="pipeline processes (default IMPORT_WORKERS)")
    parser.add_argument("--data", type=Path, default=None, help="where shards are cached (default VAR/bench)")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "domainsieve.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from labeling.models import Dataset
    from labeling.services.datasets import dataset_create, import_create, import_run

    workers = args.workers or settings.IMPORT_WORKERS
    settings.IMPORT_WORKERS = workers
    data = (args.data or Path(settings.VAR_DIR) / "bench" / f"import-{args.n}-{args.shard_size}").resolve()
    shards = generate(data, args.n, args.shard_size, max(1, os.cpu_count() or 1))
    call_command("migrate", verbosity=0)
    scratch = Path(tempfile.mkdtemp(prefix="import-bench-"))
    settings.IMPORT_ROOTS = [data]
    settings.ARTIFACTS_ROOT = scratch / "artifacts"
    tag = uuid.uuid4().hex[:8]
    datasets = []
    try:
        settings.MEDIA_ROOT = scratch / "media-pipeline"
        dataset = dataset_create(name=f"bench-pipeline-{tag}")
        datasets.append(dataset)
        job = import_create(dataset=dataset, source=str(data), format="webdataset", enqueue=False)
        watch = DescendantWatch()
        watch.start()
        started, cpu_before = time.perf_counter(), _cpu_s()
        job = import_run(job=job)
        pipeline_s = time.perf_counter() - started
        worker_cpu, worker_peak = watch.stop()
        main_cpu = _cpu_s() - cpu_before
        pipeline_cpu = main_cpu + worker_cpu
        if job.imported != args.n:
            raise SystemExit(f"pipeline imported {job.imported} of {args.n}: {job.error or job.summary()}")
        pipeline_peak = _peak_mb()
        started = time.perf_counter()
        again = import_run(job=import_create(dataset=dataset, source=str(data), format="webdataset", enqueue=False))
        rerun_s = time.perf_counter() - started
        if again.imported or again.duplicates != args.n:
            raise SystemExit(f"re-run was not a no-op: {again.summary()}")

        media = scratch / "media-naive"
        dataset = dataset_create(name=f"bench-naive-{tag}")
        datasets.append(dataset)
        started, cpu_before = time.perf_counter(), _cpu_s()
        count = naive_import(shards, dataset, media, settings.THUMBNAIL_SIZE)
        naive_s, naive_cpu = time.perf_counter() - started, _cpu_s() - cpu_before
        naive_peak = _peak_mb()
    finally:
        Dataset.objects.filter(pk__in=[d.pk for d in datasets]).delete()
        shutil.rmtree(scratch, ignore_errors=True)

    pipeline_rate, naive_rate = args.n / pipeline_s, count / naive_s
    print(f"import bench: n={args.n} JPEGs (max side 64-1024 px) in {len(shards)} shards, "
          f"db={connection.vendor}, cpus={os.cpu_count()}, pipeline workers={workers}")
    print(f"  pipeline: {pipeline_s:7.1f}s  {pipeline_rate:7.1f} images/s  "
          f"{1000 * pipeline_cpu / args.n:5.1f} CPU-ms/image (main {1000 * main_cpu / args.n:.1f})  "
          f"(peak RSS main {pipeline_peak:.0f} MB, largest worker {worker_peak:.0f} MB)")
    print(f"  re-run of the same import: {rerun_s:.1f}s (adds nothing, decodes nothing)")
    print(f"  naive:    {naive_s:7.1f}s  {naive_rate:7.1f} images/s  "
          f"{1000 * naive_cpu / count:5.1f} CPU-ms/image  (peak RSS {naive_peak:.0f} MB)")
    print(f"  ratio: {pipeline_rate / naive_rate:.2f}x images/s, "
          f"{(naive_cpu / count) / (pipeline_cpu / args.n):.2f}x less CPU per image; "
          f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
