"""Class-name spaces of the paper's test sets: folder keys -> prompt names, in class-index order.

Django-free. Folder names such as WordNet ids (``n01440764``) or ImageNet-V2's numbers (``0`` ..
``999``) are keys, never prompt text (PAPER.md, "Experiments as run"). A ``ClassSpace`` lists
every class of a test set's label space, in its index order, with its key and its name:

- ``imagenet-1k``: 1000 WordNet ids (sorted) -> OpenAI's names (open_clip's
  ``IMAGENET_CLASSNAMES``; vendored from clip-benchmark, see ``data/README.md``);
- ``imagenet-1k-index``: the same classes keyed by index (ImageNet-V2's folders);
- ``imagenet-r`` / ``imagenet-a``: the 200-class subsets, keyed by WordNet id;
- ``objectnet``: the 113 ObjectNet classes that map to ImageNet, read from the download's
  ``mappings/`` files, names lower-cased (as clip-benchmark does);
- ``domainnet``: the dataset's folder names, underscores read as spaces, in the order of the
  ``<domain>_test.txt`` labels where they exist.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"
BUILTIN_SETS = ("imagenet-1k", "imagenet-1k-index", "imagenet-r", "imagenet-a")
FILE_SETS = ("objectnet", "domainnet")  # built from the dataset's own files at import
CLASS_SET_CHOICES = ("auto", "none", *BUILTIN_SETS, *FILE_SETS)

_WNID = re.compile(r"^n\d{8}$")
_INDEX = re.compile(r"^\d+$")
_HINTS = {"imagenet-r": re.compile(r"imagenet[-_ ]?r(?![a-z])|(?<![a-z])in[-_ ]?r(?![a-z])"),
          "imagenet-a": re.compile(r"imagenet[-_ ]?a(?![a-z])|(?<![a-z])in[-_ ]?a(?![a-z])")}


class ClassNameError(ValueError):
    """A class-name set that does not fit the folders it is asked to name."""


@dataclass(frozen=True)
class ClassSpace:
    """A test set's label space: ``keys[i]`` is how images carry class i, ``names[i]`` its prompt name."""

    name: str
    keys: tuple[str, ...]
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.keys) != len(self.names) or not self.keys:
            raise ClassNameError(f"class set {self.name}: {len(self.keys)} keys for {len(self.names)} names")
        if len(set(self.keys)) != len(self.keys):
            raise ClassNameError(f"class set {self.name}: duplicate keys")

    def as_json(self) -> dict[str, Any]:
        return {"set": self.name, "classes": [[k, n] for k, n in zip(self.keys, self.names, strict=True)]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ClassSpace:
        pairs = data.get("classes") or []
        return cls(str(data.get("set", "")), tuple(str(k) for k, _ in pairs), tuple(str(n) for _, n in pairs))

    def name_of(self) -> dict[str, str]:
        return dict(zip(self.keys, self.names, strict=True))


def _load(name: str) -> list[str]:
    return json.loads((DATA / name).read_text())


@cache
def builtin(name: str) -> ClassSpace:
    """One of ``BUILTIN_SETS``."""
    wnids, names = _load("imagenet_wnids.json"), _load("imagenet_classnames.json")
    if name == "imagenet-1k":
        return ClassSpace(name, tuple(wnids), tuple(names))
    if name == "imagenet-1k-index":
        return ClassSpace(name, tuple(str(i) for i in range(len(names))), tuple(names))
    if name in ("imagenet-r", "imagenet-a"):
        subset = set(_load(f"imagenet_{name[-1]}_wnids.json"))
        pairs = [(w, n) for w, n in zip(wnids, names, strict=True) if w in subset]
        return ClassSpace(name, tuple(w for w, _ in pairs), tuple(n for _, n in pairs))
    raise ClassNameError(f"unknown class set {name!r}; expected one of {', '.join(CLASS_SET_CHOICES)}")


def looks_like_ids(names: Iterable[str]) -> list[str]:
    """The names that are WordNet ids or bare numbers: keys that must never be prompt text."""
    return [n for n in names if _WNID.match(n) or _INDEX.match(n)]


def objectnet_space(search: Sequence[Path]) -> ClassSpace | None:
    """ObjectNet's 113 ImageNet-mapped classes from ``mappings/`` in the first of ``search`` that has
    them (the download's ``objectnet-1.0/mappings``), keyed by image folder; None when absent."""
    for base in search:
        mappings = base / "mappings"
        folder_file, imagenet_file = mappings / "folder_to_objectnet_label.json", mappings / "objectnet_to_imagenet_1k.json"
        if folder_file.is_file() and imagenet_file.is_file():
            folder_to_label = json.loads(folder_file.read_text())
            mapped = set(json.loads(imagenet_file.read_text()))
            keys = sorted(f for f, label in folder_to_label.items() if label in mapped)
            return ClassSpace("objectnet", tuple(keys), tuple(folder_to_label[k].lower() for k in keys))
    return None


def domainnet_space(keys: Iterable[str], labels: Mapping[str, int] | None = None) -> ClassSpace:
    """DomainNet classes named by their folders with spaces; ordered by the list files' label
    where given (the 345-class index), else alphabetically."""
    labels = dict(labels or {})
    ordered = sorted(set(keys), key=lambda k: (labels.get(k, 10**9), k))
    return ClassSpace("domainnet", tuple(ordered), tuple(k.replace("_", " ") for k in ordered))


def recognize(keys: Iterable[str], *, requested: str = "auto", hint: str = "", format: str = "",
              search: Sequence[Path] = (), labels: Mapping[str, int] | None = None) -> ClassSpace | None:
    """The class space that names folders ``keys``, or None when the keys are names already.

    ``requested`` is ``auto``, ``none`` or a set name; an explicit set must hold every key.
    ``auto`` recognizes WordNet ids (ImageNet-R / -A when ``hint``, the dataset's name, says so,
    else ImageNet-1k), numeric folders 0..999 (ImageNet-V2), ObjectNet's mapping files in one of
    the ``search`` folders (the import root and its parents that the caller allows) and DomainNet
    (``format == "domainnet"``). Raises ClassNameError when an explicit set does not fit.
    """
    keys = sorted({k for k in keys if k})
    if requested == "none" or not keys:
        return None
    if requested not in ("auto", *BUILTIN_SETS, *FILE_SETS):
        raise ClassNameError(f"unknown class set {requested!r}; expected one of {', '.join(CLASS_SET_CHOICES)}")
    if requested in BUILTIN_SETS:
        return _fitting(builtin(requested), keys)
    if requested == "objectnet" or (requested == "auto" and format != "domainnet"):
        space = objectnet_space(search)
        if space is not None:
            return space
        if requested == "objectnet":
            raise ClassNameError("objectnet needs the download's mappings/folder_to_objectnet_label.json and "
                                 "mappings/objectnet_to_imagenet_1k.json next to the images")
    if requested == "domainnet" or format == "domainnet":
        return domainnet_space(keys, labels)
    if all(_WNID.match(k) for k in keys):
        lowered = hint.lower()
        for name, pattern in _HINTS.items():
            if pattern.search(lowered) and set(keys) <= set(builtin(name).keys):
                return builtin(name)
        return _fitting(builtin("imagenet-1k"), keys)
    if all(_INDEX.match(k) for k in keys) and max(int(k) for k in keys) < 1000:
        return builtin("imagenet-1k-index")
    return None


def _fitting(space: ClassSpace, keys: list[str]) -> ClassSpace:
    unknown = sorted(set(keys) - set(space.keys))
    if unknown:
        more = f" (and {len(unknown) - 3} more)" if len(unknown) > 3 else ""
        raise ClassNameError(f"class set {space.name} has no class {', '.join(unknown[:3])}{more}")
    return space
