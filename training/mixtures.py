"""Training-data mixtures: sources of webdataset shards mixed at a ratio, as OpenCLIP arguments.

Pure code (no Django). A mixture is a list of sources, each a shard set with a known sample count,
plus either a ratio per source and a total per epoch, or an absolute count per source. It becomes
OpenCLIP's ``--train-data 'A::B'``, ``--train-data-upsampling-factors``, ``--dataset-resampled``
and ``--train-num-samples``.

Why the factors are ``p_i * N / n_i``: with ``--dataset-resampled`` OpenCLIP draws *shards* with
replacement, each shard of source i with weight w_i, and a drawn shard yields all its samples. So
the share of samples from source i is proportional to (shards_i * w_i) * (n_i / shards_i) =
w_i * n_i. Setting w_i proportional to p_i / n_i realizes the ratio p; scaling by N = sum(n) makes
a factor of 1 mean "as often as its natural share", >1 upsampled, <1 downsampled.
"""
from __future__ import annotations

import glob
import json
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from domainsieve.shards import NotAShardError, check_tar_shards, expand_part, expand_spec, spec_parts

# The paper's mixtures, named mix_<natural M>_<rendition M> (PAPER.md, "CLIP experiments").
# Only the ones PAPER.md names; any other mix_<n>_<r> is accepted by preset_sources too.
PAPER_MIXES: tuple[str, ...] = ("mix_44_13", "mix_15_15", "mix_8_8", "mix_12_4", "mix_4_12", "mix_2_14",
                                *(f"mix_{n}_{8 - n}" for n in range(9)))  # the 8M series 0_8 ... 8_0
PAPER_RANDOM_SIZES_M: tuple[int, ...] = (57, 45, 30, 16)
MILLION = 1_000_000
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")


class MixtureError(ValueError):
    """A mixture that cannot be realized; the message says which source and why."""


@dataclass(frozen=True)
class Source:
    """One shard set. ``shards`` is a brace pattern, a directory of ``*.tar``, or ``A::B`` parts."""

    name: str
    shards: str
    n_samples: int | None = None  # None: count from sizes.json / *_stats.json / the tars
    ratio: float | None = None
    count: int | None = None


@dataclass
class MixturePlan:
    sources: list[dict[str, object]]
    train_data: str
    upsampling_factors: str | None
    resampled: bool
    train_num_samples: int
    warnings: list[str] = field(default_factory=list)

    def args(self) -> list[str]:
        out = ["--train-data", self.train_data, "--train-num-samples", str(self.train_num_samples),
               "--dataset-type", "webdataset"]
        if self.resampled:
            out.append("--dataset-resampled")
        if self.upsampling_factors is not None:
            out += ["--train-data-upsampling-factors", self.upsampling_factors]
        return out

    def as_dict(self) -> dict[str, object]:
        return {"sources": self.sources, "train_data": self.train_data,
                "upsampling_factors": self.upsampling_factors, "resampled": self.resampled,
                "train_num_samples": self.train_num_samples, "warnings": self.warnings}


def expand_shards(shards: str) -> list[str]:
    """Every existing shard path of a source, a shard spec (``domainsieve.shards``: ``::``-joined
    parts, braces, globs, folders of ``*.tar``); ``count_samples`` reports the names that are missing."""
    return expand_spec(shards).found


def _compress(paths: list[str]) -> list[str]:
    """Consecutive zero-padded ``NNNNN.tar`` in one folder as one brace pattern; others as is."""
    if len(paths) < 2:
        return paths
    parents = {str(Path(p).parent) for p in paths}
    stems = [Path(p).stem for p in paths]
    suffixes = {Path(p).suffix for p in paths}
    if (len(parents) == 1 and suffixes == {".tar"} and all(s.isdigit() for s in stems)
            and len({len(s) for s in stems}) == 1
            and [int(s) for s in stems] == list(range(int(stems[0]), int(stems[0]) + len(stems)))):
        return [f"{parents.pop()}/{{{stems[0]}..{stems[-1]}}}.tar"]
    return paths


def shard_components(shards: str) -> list[str]:
    """The ``::`` components OpenCLIP gets for a source: brace patterns as given (OpenCLIP expands
    them), a folder or a glob as one brace pattern when its tars are numbered consecutively, else
    one component per tar (OpenCLIP does not glob)."""
    parts: list[str] = []
    for part in spec_parts(shards):
        if glob.has_magic(part) or Path(part).is_dir():
            parts += _compress(expand_part(part).found)
        else:
            parts.append(part)
    return parts


def _count_one_shard(path: Path) -> int:
    stats = path.with_name(path.stem + "_stats.json")  # img2dataset writes NNNNN_stats.json
    if stats.exists():
        try:
            return int(json.loads(stats.read_text())["successes"])
        except (KeyError, ValueError, TypeError):
            pass
    keys = set()
    with tarfile.open(path) as tar:
        for member in tar:
            name = member.name
            stem, dot, ext = name.rpartition(".")
            if dot and "." + ext.lower() in IMAGE_EXTENSIONS:
                keys.add(stem)
    return len(keys)


def count_samples(shards: str) -> int:
    """Samples in a shard set. Reads OpenCLIP's ``sizes.json`` where present (cheap), otherwise
    img2dataset's per-shard stats, otherwise the tar headers (one pass over each tar)."""
    expansion = expand_spec(shards)
    missing = expansion.missing
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        what = "no shards match" if glob.has_magic(missing[0]) or Path(missing[0]).is_dir() else "missing shard"
        raise MixtureError(f"{what} {missing[0]}{more}")
    paths = expansion.found
    if not paths:
        raise MixtureError(f"no shards match {shards!r}")
    try:
        check_tar_shards(paths)
    except NotAShardError as exc:
        raise MixtureError(str(exc)) from None
    total = 0
    sizes_cache: dict[Path, dict[str, int]] = {}
    for raw in paths:
        path = Path(raw)
        sizes_file = path.parent / "sizes.json"
        if sizes_file.exists():
            sizes = sizes_cache.setdefault(path.parent, json.loads(sizes_file.read_text()))
            if path.name in sizes:
                total += int(sizes[path.name])
                continue
        try:
            total += _count_one_shard(path)
        except (tarfile.TarError, OSError) as exc:
            raise MixtureError(f"shard {path} cannot be read as a tar: {exc}") from None
    return total


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _check_specs(sources: list[Source]) -> None:
    """MixtureError unless the sources are named uniquely and all give ratios or all give counts."""
    if not sources:
        raise MixtureError("a mixture needs at least one source")
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise MixtureError(f"source names must be unique, got {names}")
    has_ratio = [s.ratio is not None for s in sources]
    has_count = [s.count is not None for s in sources]
    if any(has_ratio) and any(has_count):
        raise MixtureError("give every source either a ratio or a count, not both kinds")
    if any(has_count) and not all(has_count):
        raise MixtureError("give every source a count (0 is allowed)")
    if any(has_ratio) and not all(has_ratio):
        raise MixtureError("give every source a ratio (0 is allowed)")


def _source_sizes(sources: list[Source], *, count_missing: bool) -> list[int]:
    """How many samples each source holds: given, or counted from its shards."""
    sizes = []
    for s in sources:
        if s.n_samples is not None:
            sizes.append(int(s.n_samples))
        elif count_missing:
            try:
                sizes.append(count_samples(s.shards))
            except MixtureError as exc:
                raise MixtureError(f"source {s.name!r}: {exc}") from exc
        else:
            raise MixtureError(f"source {s.name!r}: sample count unknown")
    return sizes


def _shares_and_total(sources: list[Source], sizes: list[int], total: int | None) -> tuple[list[float], int]:
    """Each source's share of an epoch and the epoch's size, from counts, ratios or the sizes alone."""
    has_ratio = [s.ratio is not None for s in sources]
    has_count = [s.count is not None for s in sources]
    if all(has_count):
        counts = [int(s.count) for s in sources]  # type: ignore[arg-type]
        if any(c < 0 for c in counts):
            raise MixtureError("counts must be >= 0")
        wanted_total = sum(counts)
        if total is not None and total != wanted_total:
            raise MixtureError(f"the counts add up to {wanted_total:,}, not the total {total:,}")
        total = wanted_total
        shares = [c / total if total else 0.0 for c in counts]
    elif all(has_ratio):
        ratios = [float(s.ratio) for s in sources]  # type: ignore[arg-type]
        if any(r < 0 for r in ratios) or sum(ratios) <= 0:
            raise MixtureError("ratios must be >= 0 and not all 0")
        shares = [r / sum(ratios) for r in ratios]
        if total is None:
            # Without a total, one pass over all the data at the given ratio: the source that
            # runs out first decides.
            total = int(min(n / p for n, p in zip(sizes, shares, strict=True) if p > 0))
    else:
        # Plain concatenation: every sample once per epoch.
        shares = [n / sum(sizes) if sum(sizes) else 0.0 for n in sizes]
        total = sum(sizes) if total is None else total
    return shares, total


def plan_mixture(sources: list[Source], *, total: int | None = None, allow_repeats: bool = False,
                 count_missing: bool = True) -> MixturePlan:
    """Turn sources with ratios (and a total) or absolute counts into OpenCLIP arguments.

    Raises MixtureError when the mix cannot be met: no sources, a source with no samples but a
    positive share, mixed ratio/count specs, or (unless ``allow_repeats``) a source asked for more
    samples per epoch than it holds.
    """
    _check_specs(sources)
    sizes = _source_sizes(sources, count_missing=count_missing)
    shares, total = _shares_and_total(sources, sizes, total)
    if total <= 0:
        raise MixtureError("the mixture's total number of samples must be positive")

    per_source = []
    for s, n, p in zip(sources, sizes, shares, strict=True):
        need = round(p * total)
        if p > 0 and n == 0:
            raise MixtureError(f"source {s.name!r} has no samples but is asked for {p:.1%} of the mix")
        if need > n and not allow_repeats:
            raise MixtureError(
                f"source {s.name!r} holds {n:,} samples but the mixture needs {need:,} from it per epoch; "
                "lower the total, change the ratio, add shards, or allow repeats")
        per_source.append({"name": s.name, "shards": s.shards, "n_samples": n, "share": p,
                           "per_epoch": need, "n_shards": len(expand_shards(s.shards))})
    used = [(s, row) for s, row in zip(sources, per_source, strict=True) if row["share"] > 0]
    used_sizes = [int(row["n_samples"]) for _, row in used]
    n_all = sum(used_sizes)
    factors = [float(row["share"]) * n_all / int(row["n_samples"]) for _, row in used]
    for (_, row), w in zip(used, factors, strict=True):
        row["upsampling_factor"] = w
    # OpenCLIP wants one weight per "::" component, so a source split in several components
    # repeats its factor.
    components = [(c, w) for (s, _), w in zip(used, factors, strict=True) for c in shard_components(s.shards)]
    train_data = "::".join(c for c, _ in components)
    natural_mix = all(abs(w - 1.0) < 1e-9 for w in factors)
    whole_epoch = total == n_all
    # Without resampling OpenCLIP walks every shard once per epoch, which realizes the ratio only
    # when it is the natural one and the total is all the data.
    resampled = not (natural_mix and whole_epoch)
    warnings = []
    for s, row in used:
        if int(row["per_epoch"]) > int(row["n_samples"]):
            warnings.append(f"source {s.name!r} repeats: {row['per_epoch']:,} per epoch from {row['n_samples']:,}")
    return MixturePlan(
        sources=per_source,
        train_data=train_data,
        upsampling_factors="::".join(_fmt(w) for _, w in components) if resampled and len(used) > 1 else None,
        resampled=resampled,
        train_num_samples=int(total),
        warnings=warnings,
    )


_MIX = re.compile(r"^mix_(\d+(?:\.\d+)?)_(\d+(?:\.\d+)?)(_resampled)?$")
_RANDOM = re.compile(r"^random_(\d+(?:\.\d+)?)M(_resampled)?$")
RESAMPLED_SUFFIX = "_resampled"


def _fixed_source(name: str, shards: str, wanted: int, preset: str, n_samples: int | None = None) -> Source:
    """A source that must be a fixed subset of exactly ``wanted`` samples (one pass per epoch)."""
    try:
        held = count_samples(shards) if n_samples is None else n_samples
    except MixtureError as exc:
        raise MixtureError(f"source {name!r}: {exc}") from exc
    if held != wanted:
        origin = {"pool": "the pool's uid list (an apply job's --subset all)",
                  "natural": "the natural uid list", "rendition": "the rendition uid list"}[name]
        raise MixtureError(
            f"preset {preset} trains on a fixed {wanted:,}-sample {name} subset, one pass per epoch; "
            f"{shards} holds {held:,}. Build it with `make_subset --n {wanted} --seed 0` from {origin} "
            f"(with --reshard-into DIR) and pass DIR, or use {preset}{RESAMPLED_SUFFIX} to redraw from the whole "
            "set every epoch (a different experiment)")
    return Source(name=name, shards=shards, n_samples=held, count=wanted)


def preset_sources(name: str, *, natural: str = "", rendition: str = "", pool: str = "",
                   unit: int = MILLION) -> tuple[list[Source], int | None]:
    """Sources and total for a paper preset. ``unit`` scales the "M" (a demo uses e.g. 10).

    The paper trains on fixed subsets (PAPER.md, "Experiments as run"): every preset plans one
    pass per epoch over shard sets that hold exactly the preset's samples, so 32 epochs see each
    image 32 times. Build those sets with ``make_subset``; a set of another size is refused.

    - ``laion_natural``: all of the natural subset.
    - ``random_<N>M``: ``pool`` is a fixed random subset of N*unit samples of the unfiltered pool.
    - ``mix_<n>_<r>``: ``natural`` holds n*unit, ``rendition`` r*unit samples.
    - ``random_<N>M_resampled``, ``mix_<n>_<r>_resampled``: the old behaviour, a different
      experiment: N*unit (n*unit + r*unit) samples per epoch redrawn from the whole shard sets with
      OpenCLIP's ``--dataset-resampled``, so over 32 epochs far more distinct images are seen.
    """
    if name == "laion_natural":
        if not natural:
            raise MixtureError("preset laion_natural needs the natural shard set")
        return [Source(name="natural", shards=natural)], None
    if m := _RANDOM.match(name):
        if not pool:
            raise MixtureError(f"preset {name} needs the pool shard set")
        wanted = int(float(m.group(1)) * unit)
        if m.group(2):
            return [Source(name="pool", shards=pool, count=wanted)], None
        return [_fixed_source("pool", pool, wanted, name)], None
    if m := _MIX.match(name):
        n_nat, n_ren = (int(float(g) * unit) for g in m.groups()[:2])
        resampled = bool(m.group(3))
        wanted_sets = [(src, shards, n) for src, shards, n in (("natural", natural, n_nat),
                                                               ("rendition", rendition, n_ren)) if n]
        for source, shards, _ in wanted_sets:
            if not shards:
                raise MixtureError(f"preset {name} needs the {source} shard set")
        sources = []
        for source, shards, wanted in wanted_sets:
            sources.append(Source(name=source, shards=shards, count=wanted) if resampled
                           else _fixed_source(source, shards, wanted, name))
        if not sources:
            raise MixtureError(f"preset {name} asks for no samples")
        return sources, None
    raise MixtureError(f"unknown preset {name!r}; known: laion_natural, random_<N>M, mix_<n>_<r> "
                       f"(each also as ..._resampled)")


def preset_names() -> list[str]:
    return ["laion_natural", *(f"random_{m}M" for m in PAPER_RANDOM_SIZES_M), *dict.fromkeys(PAPER_MIXES)]


def epoch_samples(plan: MixturePlan, *, epochs: int, seed: int = 0) -> list[list[str]]:
    """The sample keys each epoch of ``plan`` reads, as OpenCLIP's webdataset loader does.

    Without ``--dataset-resampled`` every shard is read once per epoch; with it, shards are drawn
    with replacement, weighted by the upsampling factors, until ``train_num_samples`` samples.
    For tests and the subset page's check; reads tar headers, so use it on small sets.
    """
    import numpy as np

    components = spec_parts(plan.train_data)
    weights = [float(w) for w in plan.upsampling_factors.split("::")] if plan.upsampling_factors else [1.0] * len(
        components)
    shards: list[tuple[str, float]] = []
    for component, weight in zip(components, weights, strict=True):
        shards += [(path, weight) for path in expand_part(component).found]
    keys = {path: _shard_keys(Path(path)) for path, _ in shards}
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(epochs):
        if not plan.resampled:
            out.append([k for path, _ in shards for k in keys[path]])
            continue
        p = np.array([w for _, w in shards], dtype=float)
        p /= p.sum()
        seen: list[str] = []
        while len(seen) < plan.train_num_samples:
            seen += keys[shards[int(rng.choice(len(shards), p=p))][0]]
        out.append(seen[:plan.train_num_samples])
    return out


def _shard_keys(path: Path) -> list[str]:
    with tarfile.open(path) as tar:
        return list(dict.fromkeys(m.name.rpartition(".")[0] for m in tar
                                  if "." + m.name.rpartition(".")[2].lower() in IMAGE_EXTENSIONS))


def rendition_fraction(plan_sources: list[dict[str, object]]) -> float | None:
    """Share of renditions in a planned mixture (for colouring Figure 3), None when unknown."""
    total = sum(float(s.get("share", 0)) for s in plan_sources)
    if not total:
        return None
    ren = sum(float(s.get("share", 0)) for s in plan_sources if "rendition" in str(s.get("name", "")))
    return ren / total
