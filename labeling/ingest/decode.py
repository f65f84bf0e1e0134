"""The worker side of an import: read bytes, validate, make the thumbnail, store both files.

Runs in pool processes, so it imports neither Django nor settings (they come in DecodeConfig).
Storage is content-addressed: ``images/<sha[:2]>/<sha>.<ext>`` and ``thumbs/<sha[:2]>/<sha>.jpg``
under ``media_root``. Every check and all decoding happen before the first write; the original
is then renamed into place before its thumbnail, so a thumbnail never exists without its file,
and a file is only ever left without a thumbnail if the thumbnail write itself fails, in which
case the file written here is removed again. The caller inserts the row only after this returns.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import uuid
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from labeling.domains import domain_from_any

from .items import DecodeConfig, Item, Member, Result

# Pillow format -> stored extension. Anything else is rejected as unsupported.
EXTENSIONS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "BMP": "bmp", "TIFF": "tif"}
# Signatures that say "this was meant to be an image", to tell a corrupt image from a non-image.
_MAGIC = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG", "PNG"), (b"GIF8", "GIF"), (b"RIFF", "WEBP"), (b"BM", "BMP"),
          (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"))
ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated image must fail, not decode grey


class Rejected(Exception):
    """An item is bad; the message is the reason written to the rejects CSV."""


def process_batch(items: Sequence[Item], cfg: DecodeConfig) -> list[Result]:
    """Process items in order; never raises for a bad item (it becomes a rejected Result)."""
    Image.MAX_IMAGE_PIXELS = cfg.max_image_pixels
    handles: dict[str, IO[bytes]] = {}
    try:
        return [process_item(item, cfg, handles) for item in items]
    finally:
        for handle in handles.values():
            handle.close()


def process_item(item: Item, cfg: DecodeConfig, handles: dict[str, IO[bytes]] | None = None) -> Result:
    if item.error:
        return Result(item, reason=item.error)
    handles = {} if handles is None else handles
    try:
        data = _read(item.image, handles, cfg)
        if not data:
            raise Rejected("empty file (0 bytes)")
        _read_sidecars(item, handles, cfg)
        if item.domain:
            try:
                item.domain = domain_from_any(item.domain)
            except ValueError as exc:
                raise Rejected(f"bad domain: {exc}") from None
        return _store(item, data, cfg)
    except Rejected as exc:
        return Result(item, reason=str(exc))
    except Exception as exc:  # noqa: BLE001 - one odd file must not stop a million-image import
        return Result(item, reason=f"cannot decode: {type(exc).__name__}: {exc}")


def _too_large(size: int, limit: int) -> Rejected:
    return Rejected(f"too large: {size} bytes exceeds the limit of {limit} bytes (IMPORT_MAX_BYTES)")


def _open_checked(path: str, cfg: DecodeConfig) -> IO[bytes]:
    """Open a listed file for reading: refused if it is now a symlink (O_NOFOLLOW), resolves outside
    the import roots, or is not a regular file (a FIFO would block; O_NONBLOCK makes it answer)."""
    if cfg.roots:
        real = os.path.realpath(path)
        if not any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in cfg.roots):
            raise Rejected("path escapes the import root")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    handle = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        handle.close()
        raise Rejected("not a regular file")
    return handle


def _read(member: Member | None, handles: dict[str, IO[bytes]], cfg: DecodeConfig) -> bytes:
    """The member's bytes, refused before reading when larger than ``cfg.max_bytes``."""
    if member is None:
        raise Rejected("nothing to read")
    limit = cfg.max_bytes
    try:
        if member.offset is None:
            with _open_checked(member.path, cfg) as handle:
                size = os.fstat(handle.fileno()).st_size
                if limit and size > limit:
                    raise _too_large(size, limit)
                data = handle.read(limit + 1 if limit else -1)
            if limit and len(data) > limit:  # it grew while being read
                raise _too_large(len(data), limit)
            return data
        if limit and (member.size or 0) > limit:
            raise _too_large(member.size or 0, limit)
        handle = handles.get(member.path)
        if handle is None:
            handle = handles[member.path] = _open_checked(member.path, cfg)  # closed by process_batch
        handle.seek(member.offset)
        data = handle.read(member.size or 0)
    except OSError as exc:
        raise Rejected(f"unreadable: {exc.strerror or exc}") from None
    if len(data) != (member.size or 0):
        raise Rejected("unreadable tar member: data truncated")
    return data


def _read_sidecars(item: Item, handles: dict[str, IO[bytes]], cfg: DecodeConfig) -> None:
    if "txt" in item.sidecars:
        caption = _read(item.sidecars["txt"], handles, cfg).decode("utf-8", errors="replace").strip()
        item.caption = caption or item.caption
    if "json" in item.sidecars:
        try:
            meta = json.loads(_read(item.sidecars["json"], handles, cfg))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise Rejected(f"bad sample json: {exc}") from None
        if not isinstance(meta, dict):
            raise Rejected("bad sample json: not an object")
        item.url = str(meta.get("url") or item.url)
        item.uid = str(meta.get("uid") or item.uid)
        item.key = str(meta.get("key") or item.key)
        item.caption = item.caption or str(meta.get("caption") or "")
        item.class_name = str(meta.get("class") or item.class_name)
        item.domain = str(meta.get("domain") or item.domain)
        item.meta.update({k: v for k, v in meta.items() if k not in ("caption", "url", "uid", "key", "class", "domain")})


def _store(item: Item, data: bytes, cfg: DecodeConfig) -> Result:
    sha = hashlib.sha256(data).hexdigest()
    try:
        with warnings.catch_warnings():  # between 1x and 2x the limit Pillow only warns; we refuse below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))  # reads the header only
    except UnidentifiedImageError:
        kind = next((name for magic, name in _MAGIC if data.startswith(magic)), None)
        raise Rejected(f"corrupt {kind} header" if kind else "not an image (unrecognised format)") from None
    except Image.DecompressionBombError as exc:  # Pillow's own guard (above twice the limit) fires on open
        raise Rejected(f"decompression bomb: {exc}") from None
    fmt = image.format or ""
    if fmt not in EXTENSIONS:
        raise Rejected(f"unsupported image format {fmt}")
    width, height = image.size
    if width < 1 or height < 1:
        raise Rejected(f"bad image size {width}x{height}")
    if width * height > cfg.max_image_pixels:
        raise Rejected(f"decompression bomb: {width}x{height} pixels exceeds the limit of {cfg.max_image_pixels}")
    rel_file = f"images/{sha[:2]}/{sha}.{EXTENSIONS[fmt]}"
    rel_thumb = f"thumbs/{sha[:2]}/{sha}.jpg"
    file_path, thumb_path = Path(cfg.media_root) / rel_file, Path(cfg.media_root) / rel_thumb
    result = Result(item, sha256=sha, file=rel_file, thumb=rel_thumb, width=width, height=height,
                    format=fmt, size_bytes=len(data))
    if file_path.exists() and thumb_path.exists():
        return result  # these bytes were validated when the files were first written
    thumb = _thumbnail(image, cfg)
    created = not file_path.exists()
    if created:
        _write_atomic(file_path, data)
    try:
        _write_atomic(thumb_path, thumb)
    except OSError as exc:
        if created:
            file_path.unlink(missing_ok=True)
        raise Rejected(f"cannot write thumbnail: {exc.strerror or exc}") from None
    return result


def _thumbnail(image: Image.Image, cfg: DecodeConfig) -> bytes:
    """Decode fully (truncation raises here) and return JPEG bytes of max side ``thumbnail_size``.

    For JPEG, ``draft`` lets libjpeg decode at 1/2, 1/4 or 1/8 scale via DCT scaling: the whole
    entropy-coded stream is still read (so truncation is still caught) but far fewer pixels are
    produced, which is most of the import speed-up.
    """
    size = (cfg.thumbnail_size, cfg.thumbnail_size)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        if cfg.draft and image.format in ("JPEG", "MPO"):
            # Ask for the thumbnail's own shape: draft keeps both sides at or above the request.
            scale = cfg.thumbnail_size / max(image.size)
            if scale < 1:
                image.draft("RGB", (max(1, int(image.width * scale)), max(1, int(image.height * scale))))
        image.load()
    image = ImageOps.exif_transpose(image, in_place=True) or image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.new("RGB", rgba.size, (255, 255, 255))
        image.paste(rgba, mask=rgba.getchannel("A"))
    elif image.mode != "RGB":
        image = image.convert("RGB")
    # After draft the image is at most about twice the target, where bilinear (antialiased in
    # Pillow when shrinking) looks the same as bicubic at two thirds of the cost.
    image.thumbnail(size, Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=cfg.thumbnail_quality)
    return buffer.getvalue()


_made_dirs: set[Path] = set()  # per process: skips a mkdir syscall per write on big imports


def _write_atomic(path: Path, data: bytes) -> None:
    if path.parent not in _made_dirs:
        path.parent.mkdir(parents=True, exist_ok=True)
        _made_dirs.add(path.parent)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(temp, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
