"""Plan, render and write the offline demo set (see `build_demo_data`)."""
from __future__ import annotations

import functools
import json
import multiprocessing
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from labeling.demodata import recipes
from labeling.demodata.sources import SourcePhoto, load_source_photos
from labeling.demodata.writer import DemoImage, write_shard, write_testset
from labeling.domains import AMBIGUOUS, DOMAINS, NATURAL, RENDITION

POOL_SHARES = {NATURAL: 0.45, RENDITION: 0.35, AMBIGUOUS: 0.20}
RECIPES_BY_DOMAIN = {NATURAL: recipes.NATURAL_RECIPES, RENDITION: recipes.RENDITION_RECIPES,
                     AMBIGUOUS: recipes.AMBIGUOUS_RECIPES}
OUTPUT_NAMES = ("pool", "testset", "README.txt", "summary.json")
STAGING = ".partial-build"
FORMAT_VERSION = 1
_POOL_STREAM, _TEST_STREAM = 0, 1


class DemoDataError(ValueError):
    """Bad options or an output folder the builder must not touch; the message says what to do."""


@dataclass(frozen=True)
class _Job:
    stream: int
    index: int
    domain: str
    recipe: str
    source: int


@dataclass
class DemoSummary:
    outdir: Path
    options: dict
    n_pool: int
    n_shards: int
    pool_by_domain: dict[str, int]
    pool_by_recipe: dict[str, int]
    n_test: int
    test_classes: list[str]
    test_by_domain: dict[str, int]
    sources: list[str] = field(default_factory=list)
    seconds: float = 0.0
    reused: bool = False

    def to_json(self) -> dict:
        """What summary.json holds: no timings, so reruns with one seed are byte-identical."""
        data = asdict(self)
        data.pop("outdir"), data.pop("seconds"), data.pop("reused")
        return {"format_version": FORMAT_VERSION, **data}

    @classmethod
    def from_json(cls, outdir: Path, data: dict) -> DemoSummary:
        data = {k: v for k, v in data.items() if k != "format_version"}
        return cls(outdir=outdir, **data)

    def __str__(self) -> str:
        return self.line()

    def line(self) -> str:
        natural, rendition, ambiguous = (self.pool_by_domain.get(d, 0) for d in DOMAINS)
        verb = "reused" if self.reused else "wrote"
        return (f"{verb} {self.n_pool} pool images in {self.n_shards} shards (natural {natural} / rendition "
                f"{rendition} / ambiguous {ambiguous}) and {self.n_test} test images in "
                f"{len(self.test_classes)} classes to {self.outdir}")


def _split(total: int, shares: dict[str, float]) -> dict[str, int]:
    """Integer counts in the given shares, each at least 1 (callers guarantee total >= len(shares))."""
    counts = {name: max(1, int(round(total * share))) for name, share in shares.items()}
    largest = max(counts, key=counts.get)
    counts[largest] += total - sum(counts.values())
    return counts


def _plan_pool(n: int, n_sources: int, rng: np.random.Generator) -> list[_Job]:
    """Balanced over sources and recipes (coprime-ish cycles mix them), then shuffled across shards."""
    specs: list[tuple[str, str, int]] = []
    for domain, count in _split(n, POOL_SHARES).items():
        names = list(RECIPES_BY_DOMAIN[domain])
        offset = int(rng.integers(n_sources))
        specs += [(domain, names[i % len(names)], (i + offset) % n_sources) for i in range(count)]
    order = rng.permutation(len(specs))
    return [_Job(_POOL_STREAM, index, *specs[int(k)]) for index, k in enumerate(order)]


def _plan_test(n: int, n_sources: int) -> list[_Job]:
    """Spread over as many classes as allow at least one natural and one rendition image each."""
    n_classes = min(n_sources, max(1, n // 2))
    specs: list[tuple[str, str, int]] = []
    for source in range(n_classes):
        m = n // n_classes + (1 if source < n % n_classes else 0)
        ambiguous = int(m * 0.1)
        rendition = max(1, int(round(m * 0.3)))
        natural = m - rendition - ambiguous
        for domain, count in ((NATURAL, natural), (RENDITION, rendition), (AMBIGUOUS, ambiguous)):
            names = list(RECIPES_BY_DOMAIN[domain])
            specs += [(domain, names[(i + source) % len(names)], source) for i in range(count)]
    return [_Job(_TEST_STREAM, index, *spec) for index, spec in enumerate(specs)]


def _render(job: _Job, *, seed: int, size: int) -> DemoImage:
    """One image from its own generator seeded by (seed, stream, index): order- and process-independent."""
    rng = np.random.default_rng([seed, job.stream, job.index])
    source: SourcePhoto = load_source_photos()[job.source]
    crop, crop_w, crop_h = recipes.random_crop(rng, source.rgb, max_side=size)
    recipe = RECIPES_BY_DOMAIN[job.domain][job.recipe]
    if job.recipe == "collage":
        recipe = functools.partial(recipes.collage, source=source.rgb)
    rgb = np.ascontiguousarray(recipe(rng, crop), dtype=np.uint8)
    return DemoImage(index=job.index, domain=job.domain, label=source.label, recipe=job.recipe,
                     caption=recipes.CAPTIONS[job.recipe].format(s=source.subject), rgb=rgb,
                     original_width=crop_w, original_height=crop_h)


def _render_all(jobs: list[_Job], *, seed: int, size: int, workers: int) -> Iterator[DemoImage]:
    render = functools.partial(_render, seed=seed, size=size)
    if workers <= 1 or len(jobs) < 8:
        yield from map(render, jobs)
        return
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        yield from pool.imap(render, jobs, chunksize=4)


def _check_options(*, outdir: Path, n_pool: int, n_test: int, size: int, shard_size: int, workers: int) -> None:
    if outdir.exists() and not outdir.is_dir():
        raise DemoDataError(f"{outdir} exists and is not a directory")
    if n_pool < 3:
        raise DemoDataError(f"n_pool must be at least 3 (one image per domain), got {n_pool}")
    if n_test < 3:
        raise DemoDataError(f"n_test must be at least 3, got {n_test}")
    if not 64 <= size <= 4096:
        raise DemoDataError(f"size must be between 64 and 4096 pixels, got {size}")
    if not 1 <= shard_size <= 10_000:
        raise DemoDataError(f"shard_size must be between 1 and 10000 (4-digit keys), got {shard_size}")
    if -(-n_pool // shard_size) > 99_999:
        raise DemoDataError("too many shards for 5-digit shard ids; raise shard_size")
    if workers < 1:
        raise DemoDataError(f"workers must be at least 1, got {workers}")


def _existing(outdir: Path, options: dict, *, force: bool) -> DemoSummary | None:
    """The finished set already in outdir when its options match; raise when outdir holds something else."""
    summary_path = outdir / "summary.json"
    if force or not outdir.is_dir():
        return None
    if summary_path.is_file():
        try:
            summary = DemoSummary.from_json(outdir, json.loads(summary_path.read_text()))
        except (ValueError, TypeError) as error:
            raise DemoDataError(f"{summary_path} is unreadable ({error}); pass --force to rebuild") from error
        if summary.options != options:
            raise DemoDataError(f"{outdir} holds a demo set built with other options ({summary.options}); "
                                "pass --force to rebuild it")
        shards = [outdir / "pool" / f"{i:05d}.{ext}" for i in range(summary.n_shards) for ext in ("tar", "parquet")]
        if all(p.is_file() for p in [*shards, outdir / "testset" / "manifest.csv"]):
            summary.reused = True
            return summary
        raise DemoDataError(f"{outdir} has summary.json but files are missing; pass --force to rebuild")
    clashing = [name for name in OUTPUT_NAMES if (outdir / name).exists()]
    if clashing:
        raise DemoDataError(f"{outdir} already has {', '.join(clashing)} but no finished demo set; "
                            "pass --force to replace them")
    return None


def _readme(summary: DemoSummary, photos: list[SourcePhoto]) -> str:
    lines = ["DomainSieve offline demo data", "=============================", "",
             "Built by `manage.py make_demo_data` only from sample photos the installed packages ship:"]
    lines += [f"  - {p.label}: {p.origin}" for p in photos]
    lines += ["", f"Options: {json.dumps(summary.options, sort_keys=True)}", "",
              "pool/      img2dataset layout: NNNNN.tar (KEY.jpg, KEY.txt, KEY.json), NNNNN.parquet,",
              "           NNNNN_stats.json; json and parquet carry domain, class and recipe.",
              "testset/   ImageFolder layout images/<class>/*.jpg and manifest.csv (path, class, domain, uid).",
              "", f"Pool: {summary.n_pool} images in {summary.n_shards} shards"]
    lines += [f"  {d:<10} {summary.pool_by_domain.get(d, 0)}" for d in DOMAINS]
    lines += ["", "Pool by recipe:"]
    for domain in DOMAINS:
        lines += [f"  {domain:<10} {name:<15} {summary.pool_by_recipe.get(name, 0)}" for name in RECIPES_BY_DOMAIN[domain]]
    lines += ["", f"Test set: {summary.n_test} images in {len(summary.test_classes)} classes "
              f"({', '.join(summary.test_classes)})"]
    lines += [f"  {d:<10} {summary.test_by_domain.get(d, 0)}" for d in DOMAINS]
    return "\n".join(lines) + "\n"


def build_demo_data(*, outdir: Path, n_pool: int = 360, n_test: int = 100, seed: int = 0, size: int = 320,
                    shard_size: int = 100, progress: Callable[[int], None] | None = None, force: bool = False,
                    workers: int = 1) -> DemoSummary:
    """Build (or reuse) the demo pool and test set under outdir and return what is there.

    progress, when given, is called with the number of images just finished (n_pool + n_test in
    all; not called when a finished set is reused). The set is staged in outdir/.partial-build and moved into place at the end, summary.json
    last, so an interrupted build never looks finished. Without force, a finished set with the same
    options is reused at once; other contents under the output names raise DemoDataError.
    Cost: about 0.03-0.15 s of CPU per image at size 320.
    """
    outdir = Path(outdir)
    _check_options(outdir=outdir, n_pool=n_pool, n_test=n_test, size=size, shard_size=shard_size, workers=workers)
    options = {"n_pool": n_pool, "n_test": n_test, "seed": seed, "size": size, "shard_size": shard_size}
    existing = _existing(outdir, options, force=force)
    if existing is not None:
        return existing

    started = time.monotonic()
    photos = load_source_photos()
    staging = outdir / STAGING
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "pool").mkdir(parents=True)
    (staging / "testset").mkdir()

    pool_jobs = _plan_pool(n_pool, len(photos), np.random.default_rng([seed, _POOL_STREAM]))
    test_jobs = _plan_test(n_test, len(photos))
    pool_rows: list[dict] = []
    batch: list[DemoImage] = []
    images = _render_all(pool_jobs + test_jobs, seed=seed, size=size, workers=workers)
    for image in (next(images) for _ in pool_jobs):
        batch.append(image)
        if len(batch) == shard_size:
            pool_rows += write_shard(folder=staging / "pool", shard=len(pool_rows) // shard_size, images=batch)
            batch = []
        if progress is not None:
            progress(1)
    if batch:
        pool_rows += write_shard(folder=staging / "pool", shard=len(pool_rows) // shard_size, images=batch)
    test_images: list[DemoImage] = []
    for image in images:
        test_images.append(image)
        if progress is not None:
            progress(1)
    test_rows = write_testset(folder=staging / "testset", images=test_images)

    summary = DemoSummary(
        outdir=outdir, options=options, n_pool=len(pool_rows), n_shards=-(-len(pool_rows) // shard_size),
        pool_by_domain={d: n for d in DOMAINS if (n := Counter(r["domain"] for r in pool_rows)[d])},
        pool_by_recipe=dict(sorted(Counter(r["recipe"] for r in pool_rows).items())),
        n_test=len(test_rows), test_classes=sorted({r["class"] for r in test_rows}),
        test_by_domain={d: n for d in DOMAINS if (n := Counter(r["domain"] for r in test_rows)[d])},
        sources=[p.origin for p in photos],
    )
    (staging / "README.txt").write_text(_readme(summary, photos))
    (staging / "summary.json").write_text(json.dumps(summary.to_json(), indent=2, sort_keys=True) + "\n")
    (outdir / "summary.json").unlink(missing_ok=True)  # a forced rebuild must never look finished midway
    for name in OUTPUT_NAMES:  # summary.json last: its presence means "finished"
        target = outdir / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        (staging / name).rename(target)
    staging.rmdir()
    summary.seconds = time.monotonic() - started
    return summary
