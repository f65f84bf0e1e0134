"""Format readers: turn a source into a stable, ordered list of Items without decoding anything.

Formats (``--format``, auto-detected by default, see ``detect_format``):

- ``folder``: every non-hidden regular file under a folder, recursively (or one file).
- ``imagefolder``: ``ROOT/CLASS/.../img.jpg``; the first folder level is the class name.
- ``domainnet``: ``ROOT/DOMAIN/CLASS/img.jpg`` listed by ``DOMAIN_test.txt`` (else ``_train``)
  files of ``path label`` lines; the domain folder maps to the intended domain by
  ``DOMAINNET_DOMAINS`` (real -> natural; clipart, painting, sketch, quickdraw, infograph ->
  rendition). Without list files the tree itself is walked.
- ``webdataset``: img2dataset shards ``NNNNN.tar`` holding ``KEY.jpg`` + ``KEY.txt`` (caption) +
  ``KEY.json`` (url, key, uid, caption, status, optional domain and class) per sample, with an
  optional ``NNNNN.parquet`` beside each tar; the source is a folder, one tar, a glob or a
  brace pattern such as ``shards/{00000..00009}.tar``. Only the byte ranges are recorded here;
  workers read them.
- ``manifest``: CSV, JSONL or parquet with a ``path`` (relative to the manifest) or ``url``
  column, optional ``caption``, ``class``, ``uid``, ``key``, ``domain``; other columns go to
  ``meta``. Only ``file://`` urls and local paths can be read (no network); ``http(s)`` rows are
  rejected with that reason.
"""
from __future__ import annotations

import csv
import json
import os
import re
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from labeling.domains import NATURAL, RENDITION

from .items import ImportSourceError, Item, Listing, Member
from .paths import ESCAPES_ROOT, check_source, expand_pattern, has_pattern, inside_roots, safe_member_name

FORMATS = ("auto", "folder", "imagefolder", "domainnet", "webdataset", "manifest")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
MANIFEST_SUFFIXES = {".csv", ".jsonl", ".ndjson", ".parquet"}
WDS_IMAGE_EXTS = ("jpg", "jpeg", "png", "webp")
DOMAINNET_DOMAINS = {
    "real": NATURAL,
    "clipart": RENDITION,
    "painting": RENDITION,
    "sketch": RENDITION,
    "quickdraw": RENDITION,
    "infograph": RENDITION,
}
_DOMAINNET_LIST = re.compile(r"^(?P<domain>[a-z]+)_(?P<split>test|train)\.txt$")
# webdataset's rule: the key is the path up to the first dot of the file name.
_WDS_NAME = re.compile(r"^((?:.*/|)[^./]+)\.([^/]*)$")


def list_source(source: str, fmt: str, roots: Sequence[Path]) -> Listing:
    """List ``source`` in ``fmt`` (or the detected format). Raises ImportSourceError when unusable."""
    if fmt not in FORMATS:
        raise ImportSourceError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    path = check_source(source, roots)
    if fmt == "auto":
        fmt = detect_format(path, source)
    if fmt == "webdataset":
        return list_webdataset(source, path, roots)
    if fmt == "manifest":
        return list_manifest(path, roots)
    if fmt == "domainnet":
        return list_domainnet(path, roots)
    if fmt == "imagefolder":
        return Listing("imagefolder", _walk(path, roots, classes=True))
    return Listing("folder", _walk(path, roots, classes=False))


def detect_format(path: Path, source: str) -> str:
    if has_pattern(source):
        return "webdataset"
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".tar":
            return "webdataset"
        if suffix in MANIFEST_SUFFIXES:
            return "manifest"
        if _DOMAINNET_LIST.match(path.name):
            return "domainnet"
        return "folder"
    entries = [e for e in os.scandir(path) if not e.name.startswith(".")]
    names = {e.name for e in entries}
    if any(e.is_file() and e.name.endswith(".tar") for e in entries):
        return "webdataset"
    lists = [m for n in names if (m := _DOMAINNET_LIST.match(n))]
    dirs = {e.name for e in entries if e.is_dir()}
    if any(m["domain"] in DOMAINNET_DOMAINS for m in lists) or (dirs and dirs <= set(DOMAINNET_DOMAINS)):
        return "domainnet"
    top_images = [e for e in entries if e.is_file() and Path(e.name).suffix.lower() in IMAGE_SUFFIXES]
    if dirs and not top_images:
        return "imagefolder"
    return "folder"


def _walk(root: Path, roots: Sequence[Path], *, classes: bool) -> list[Item]:
    if root.is_file():
        return [_file_item(root, roots)]
    items = []
    for dirpath, dirnames, filenames in os.walk(root):  # symlinked folders are not followed
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            item = _file_item(Path(dirpath) / name, roots)
            if classes:
                parts = Path(dirpath).relative_to(root).parts
                item.class_name = parts[0] if parts else ""
            items.append(item)
    return items


def _file_item(path: Path, roots: Sequence[Path]) -> Item:
    resolved = inside_roots(path, roots)
    if resolved is None:
        return Item(source=str(path), error=ESCAPES_ROOT)
    if not resolved.is_file():
        return Item(source=str(path), error="not a regular file" if resolved.exists() else "file not found")
    return Item(source=str(path), image=Member(str(resolved)))


# -- DomainNet ----------------------------------------------------------------------------------

def list_domainnet(path: Path, roots: Sequence[Path]) -> Listing:
    root = path.parent if path.is_file() else path
    problems: list[tuple[str, str]] = []
    if path.is_file():
        lists = [path]
    else:
        found = sorted(p for p in root.iterdir() if _DOMAINNET_LIST.match(p.name))
        found, problems = _keep_inside(found, roots)
        lists = [p for p in found if p.name.endswith("_test.txt")] or found
    if not lists:  # no list files: walk DOMAIN/CLASS/img
        items = _walk(root, roots, classes=False)
        for item in items:
            parts = Path(item.source).relative_to(root).parts
            _domainnet_fields(item, parts)
        return Listing("domainnet", items, problems)
    items = []
    for list_file in lists:
        for number, line in enumerate(list_file.read_text(errors="replace").splitlines(), start=1):
            if not line.strip():
                continue
            fields = line.split()
            where = f"{list_file}:{number}"
            if len(fields) != 2 or not fields[1].lstrip("-").isdigit():
                items.append(Item(source=where, error="malformed list line; expected 'path label'"))
                continue
            item = _file_item(root / fields[0], roots)
            _domainnet_fields(item, Path(fields[0]).parts)
            item.meta["label"] = int(fields[1])
            items.append(item)
    return Listing("domainnet", items, problems)


def _keep_inside(paths: Sequence[Path], roots: Sequence[Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """The resolved paths that lie inside the roots, and a (path, reason) problem for each other
    one (a symlink out of the root): those are never opened."""
    kept: list[Path] = []
    problems: list[tuple[str, str]] = []
    for path in paths:
        resolved = inside_roots(path, roots)
        if resolved is None:
            problems.append((str(path), ESCAPES_ROOT))
        else:
            kept.append(resolved)
    return kept, problems


def _domainnet_fields(item: Item, parts: Sequence[str]) -> None:
    if len(parts) >= 3:
        item.class_name = parts[1]
    if parts:
        item.meta["domainnet_domain"] = parts[0]
        item.domain = DOMAINNET_DOMAINS.get(parts[0], "")


# -- webdataset (img2dataset) ------------------------------------------------------------------

def list_webdataset(source: str, path: Path, roots: Sequence[Path]) -> Listing:
    problems: list[tuple[str, str]] = []
    if has_pattern(source):
        shards = expand_pattern(source, roots)
    elif path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix == ".tar" and not p.name.startswith("."))
        shards, problems = _keep_inside(found, roots)
    else:
        shards = [path]
    if not shards and not problems:
        raise ImportSourceError(f"no .tar shards in {source}")
    listing = Listing("webdataset", [], problems)
    for shard in shards:
        _list_shard(shard, listing, roots)
    return listing


def _list_shard(shard: Path, listing: Listing, roots: Sequence[Path]) -> None:
    if not shard.is_file():
        listing.problems.append((str(shard), "shard not found"))
        return
    sidecar = shard.with_suffix(".parquet")
    if os.path.lexists(sidecar) and inside_roots(sidecar, roots) is None:
        extra, problem = {}, f"parquet sidecar: {ESCAPES_ROOT}; metadata taken from the tar only"
    else:
        extra, problem = _read_parquet_meta(sidecar)
    if problem:
        listing.problems.append((str(sidecar), problem))
    samples: dict[str, dict[str, tarfile.TarInfo | str]] = {}
    file_size = shard.stat().st_size
    truncated = False
    try:
        with tarfile.open(shard, "r:") as tar:
            for info in tar:
                if info.isdir():
                    continue
                if not safe_member_name(info.name):
                    listing.items.append(Item(source=f"{shard}:{info.name}", error=ESCAPES_ROOT))
                    continue
                match = _WDS_NAME.match(info.name)
                if match is None:
                    continue  # e.g. a file without extension: not part of any sample
                key, ext = match[1], match[2].lower()
                if not info.isfile():
                    samples.setdefault(key, {})[ext] = "unreadable tar member: not a regular file"
                elif info.offset_data + info.size > file_size:
                    truncated = True
                    samples.setdefault(key, {})[ext] = "unreadable tar member: data truncated"
                else:
                    samples.setdefault(key, {})[ext] = info
    except (tarfile.TarError, OSError) as exc:
        # Samples read before the damage are kept; the rest of the shard is reported once, unless
        # the damage is a member cut short (already rejected: the file ends inside it).
        if not truncated:
            listing.problems.append((str(shard), f"unreadable tar: {exc}"))
    for key, members in samples.items():
        listing.items.append(_sample_item(shard, key, members, extra.get(key.rsplit("/", 1)[-1], {})))


def _sample_item(shard: Path, key: str, members: dict[str, Any], extra: dict[str, Any]) -> Item:
    image_ext = next((e for e in WDS_IMAGE_EXTS if e in members), None)
    if image_ext is None:
        names = ", ".join(sorted(members))
        return Item(source=f"{shard}:{key}", key=key, error=f"no image in sample (members: {names})")
    info = members[image_ext]
    source = f"{shard}:{key}.{image_ext}"
    if isinstance(info, str):
        return Item(source=source, key=key, error=info)
    item = Item(source=source, key=key, image=Member(str(shard), info.offset_data, info.size))
    for ext in ("txt", "json"):
        side = members.get(ext)
        if isinstance(side, tarfile.TarInfo):
            item.sidecars[ext] = Member(str(shard), side.offset_data, side.size)
    item.url = str(extra.get("url") or "")
    item.caption = str(extra.get("caption") or "")
    item.uid = str(extra.get("uid") or "")
    item.meta["shard"] = shard.name
    return item


def _read_parquet_meta(path: Path) -> tuple[dict[str, dict[str, Any]], str]:
    if not path.exists():
        return {}, ""
    try:
        import pyarrow.parquet as pq

        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types; the shard is still usable
        return {}, f"unreadable parquet, metadata taken from the tar only: {exc}"
    if "key" not in table.column_names:
        return {}, "parquet has no 'key' column, metadata taken from the tar only"
    wanted = [c for c in ("key", "url", "caption", "uid", "status") if c in table.column_names]
    rows = table.select(wanted).to_pylist()
    return {str(row["key"]): row for row in rows if row.get("status", "success") == "success"}, ""


# -- manifests ----------------------------------------------------------------------------------

_MANIFEST_FIELDS = {"path", "url", "caption", "class", "class_name", "uid", "key", "domain"}


def list_manifest(path: Path, roots: Sequence[Path]) -> Listing:
    if not path.is_file():
        raise ImportSourceError(f"{path} is a folder; give the manifest file itself")
    rows, bad_lines = _read_manifest(path)
    columns = {c.lower() for row in rows for c in row}
    if "path" not in columns and "url" not in columns:
        found = ", ".join(sorted(columns)) or "none"
        raise ImportSourceError(f"manifest {path.name} has no 'path' or 'url' column (columns: {found})")
    items = [Item(source=f"{path}:{n}", error=reason) for n, reason in bad_lines]
    for number, raw in enumerate(rows, start=1):
        row = {str(k).lower(): v for k, v in raw.items()}
        items.append(_manifest_item(path, number, row, roots))
    return Listing("manifest", items)


def _read_manifest(path: Path) -> tuple[list[dict[str, Any]], list[tuple[int, str]]]:
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            with path.open(newline="", encoding="utf-8", errors="replace") as handle:
                return list(csv.DictReader(handle)), []
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path).to_pylist(), []
    except Exception as exc:  # csv/pyarrow errors vary; re-raised with the message that matters
        raise ImportSourceError(f"cannot read manifest {path.name}: {exc}") from exc
    if suffix not in (".jsonl", ".ndjson"):
        raise ImportSourceError(f"unknown manifest type {suffix}; expected .csv, .jsonl or .parquet")
    rows, bad = [], []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            bad.append((number, f"malformed JSON line: {exc.msg}"))
            continue
        if isinstance(value, dict):
            rows.append(value)
        else:
            bad.append((number, "JSON line is not an object"))
    return rows, bad


def _manifest_item(manifest: Path, number: int, row: dict[str, Any], roots: Sequence[Path]) -> Item:
    text = {k: ("" if v is None else str(v).strip()) for k, v in row.items()}
    rel, url = text.get("path", ""), text.get("url", "")
    if rel:
        item = _file_item(Path(rel) if os.path.isabs(rel) else manifest.parent / rel, roots)
    elif url:
        parsed = urlparse(url)
        if parsed.scheme == "file":
            item = _file_item(Path(unquote(parsed.path)), roots)
        elif parsed.scheme == "":
            item = _file_item(Path(url) if os.path.isabs(url) else manifest.parent / url, roots)
        else:
            item = Item(source=url, error=f"remote url not importable (no network access): {parsed.scheme}://")
        item.source = url
    else:
        return Item(source=f"{manifest}:{number}", error="row has neither path nor url")
    item.url = url
    item.caption = text.get("caption", "")
    item.class_name = text.get("class") or text.get("class_name", "")
    item.uid = text.get("uid", "")
    item.key = text.get("key", "")
    item.domain = text.get("domain", "")
    item.meta.update({k: v for k, v in row.items() if k not in _MANIFEST_FIELDS and _jsonable(v)})
    return item


def _jsonable(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)
