"""An apply worker keeps at most APPLY_MODEL_CACHE_SIZE head pairs (and extractors) loaded: the
least recently used one goes when another is loaded, so a worker serving many jobs does not grow
without bound (each model may hold GPU memory)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from classifier.apply.lru import LRUCache
from classifier.ml import methods
from classifier.models import ApplyJob
from classifier.services import apply as services_apply
from tests.classifier.apply_factories import write_centroid_heads


def test_it_drops_the_least_recently_used_value_beyond_maxsize() -> None:
    cache = LRUCache()
    loaded: list[str] = []

    def get(key: str, maxsize: int = 2) -> str:
        return cache.get_or_load(key, lambda: loaded.append(key) or key.upper(), maxsize=maxsize)

    assert [get("a"), get("b"), get("a")] == ["A", "B", "A"] and loaded == ["a", "b"]
    get("c")  # "b" is the least recently used now
    assert cache.keys() == ["a", "c"] and loaded == ["a", "b", "c"]
    assert get("a") == "A" and loaded == ["a", "b", "c"]
    get("b")
    assert cache.keys() == ["a", "b"] and loaded == ["a", "b", "c", "b"] and cache.loads == 4
    get("d", maxsize=1)  # a smaller setting applies at the next miss
    assert cache.keys() == ["d"]
    get("e", maxsize=0)  # at least one value is kept: the caller is about to use it
    assert cache.keys() == ["e"]


def test_it_keeps_only_the_most_recent_head_pairs(tmp_path: Path, settings: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    settings.APPLY_MODEL_CACHE_SIZE = 2
    monkeypatch.setattr(services_apply, "_HEADS", LRUCache())
    loads: list[str] = []
    real_load_head = methods.load_head

    def counting_load_head(path: str) -> Any:
        loads.append(Path(path).parent.name)
        return real_load_head(path)

    monkeypatch.setattr(methods, "load_head", counting_load_head)
    jobs = {}
    for name in ("a", "b", "c"):
        natural, rendition = write_centroid_heads(tmp_path / name)
        jobs[name] = ApplyJob(extractor="x", device="cpu", natural_head_path=str(natural),
                              rendition_head_path=str(rendition))

    first_a = services_apply._load_heads(jobs["a"])
    services_apply._load_heads(jobs["b"])
    assert services_apply._load_heads(jobs["a"]) is first_a  # a hit: nothing read again, a is the most recent
    assert loads == ["a", "a", "b", "b"]
    services_apply._load_heads(jobs["c"])  # a third pair: b, the least recently used, goes
    assert loads == ["a", "a", "b", "b", "c", "c"]
    assert services_apply._load_heads(jobs["a"]) is first_a
    services_apply._load_heads(jobs["b"])  # evicted, so read again (and c goes)
    assert loads == ["a", "a", "b", "b", "c", "c", "b", "b"]
    assert len(services_apply._HEADS) == 2
