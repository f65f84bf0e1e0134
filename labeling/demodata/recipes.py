"""Image recipes for the three domains, each a pure function of (random generator, photo) -> image.

natural: crops of real photos with only mild edits (flip, tone, rescale) so fine texture survives.
rendition: real non-photorealistic rendering (OpenCV's domain-transform `stylization` and
`pencilSketch`, a bilateral+adaptive-threshold cartoon, median-cut posterization, an edge-preserving
painting, a Canny line drawing) that flattens or replaces the texture.
ambiguous: both at once, per the paper's rules: a photo with a large drawn element, a meme-style
photo with big text banners, a collage of photo and rendered tiles, a photo half turned into a
drawing, and mostly-text posters with a small photo.

All arrays are RGB uint8; OpenCV's colour filters expect BGR, so the helpers convert around them.
"""
from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from PIL import Image

Recipe = Callable[[np.random.Generator, np.ndarray], np.ndarray]


# -- photo crops --------------------------------------------------------------------------------

def random_crop(rng: np.random.Generator, rgb: np.ndarray, *, max_side: int) -> tuple[np.ndarray, int, int]:
    """A crop of 25-100% of the photo's area with aspect ratio 0.6-1.67, resized to at most max_side.

    Returns (image, crop width, crop height): the crop's size before resizing plays img2dataset's
    original_width/original_height. Upscaling is capped at 1.25x so small crops stay sharp photos.
    """
    height, width = rgb.shape[:2]
    area = rng.uniform(0.25, 1.0) * height * width
    aspect = float(np.exp(rng.uniform(np.log(0.6), np.log(1 / 0.6))))
    crop_w = int(min(width, max(16, round(np.sqrt(area * aspect)))))
    crop_h = int(min(height, max(16, round(np.sqrt(area / aspect)))))
    x0 = int(rng.integers(0, width - crop_w + 1))
    y0 = int(rng.integers(0, height - crop_h + 1))
    crop = rgb[y0:y0 + crop_h, x0:x0 + crop_w]
    side = min(max_side * rng.uniform(0.8, 1.0), max(crop_w, crop_h) * 1.25)
    return resize_to(crop, max_side=int(round(side))), crop_w, crop_h


def resize_to(rgb: np.ndarray, *, max_side: int) -> np.ndarray:
    height, width = rgb.shape[:2]
    scale = max_side / max(height, width)
    size = (max(8, round(width * scale)), max(8, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(rgb, size, interpolation=interpolation)


def fit_exact(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Centre-crop to the target aspect ratio, then resize: used for collage tiles and insets."""
    h, w = rgb.shape[:2]
    target = width / height
    if w / h > target:
        new_w = max(1, round(h * target))
        x0 = (w - new_w) // 2
        rgb = rgb[:, x0:x0 + new_w]
    else:
        new_h = max(1, round(w / target))
        y0 = (h - new_h) // 2
        rgb = rgb[y0:y0 + new_h]
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)


# -- natural ------------------------------------------------------------------------------------

def photo(rng: np.random.Generator, rgb: np.ndarray) -> np.ndarray:
    return rgb


def photo_flip(rng: np.random.Generator, rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rgb[:, ::-1])


def photo_tone(rng: np.random.Generator, rgb: np.ndarray) -> np.ndarray:
    """Slight brightness, contrast and gamma changes: the photo stays a photo."""
    out = rgb.astype(np.float32) / 255.0
    out = out ** rng.uniform(0.85, 1.15)
    out = (out - 0.5) * rng.uniform(0.9, 1.1) + 0.5 + rng.uniform(-0.05, 0.05)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)


def photo_rescale(rng: np.random.Generator, rgb: np.ndarray) -> np.ndarray:
    """Down- and up-sampling by a little, as web images often are; texture survives."""
    height, width = rgb.shape[:2]
    factor = rng.uniform(0.7, 0.9)
    small = cv2.resize(rgb, (max(8, round(width * factor)), max(8, round(height * factor))),
                       interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


# -- renditions ---------------------------------------------------------------------------------

def _bgr(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rgb[:, :, ::-1])


def _from_bgr(bgr: np.ndarray) -> np.ndarray:
    if bgr.ndim == 2:
        return np.ascontiguousarray(np.stack([bgr] * 3, axis=-1))
    return np.ascontiguousarray(bgr[:, :, ::-1])


def _edges(rgb: np.ndarray, rng: np.random.Generator, *, thick: bool) -> np.ndarray:
    grey = cv2.GaussianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (5, 5), 0)
    low = rng.uniform(40, 90)
    edges = cv2.Canny(grey, low, low * rng.uniform(2.0, 3.0))
    if thick:
        edges = cv2.dilate(edges, np.ones((2, 2), np.uint8))
    return edges > 0


def stylization(rng: np.random.Generator, rgb: np.ndarray) -> np.ndarray:
    out = cv2.stylization(_bgr(rgb), sigma_s=float(rng.uniform(40, 120)), sigma_r=float(rng.uniform(0.35, 0.6)))
    return _from_bgr(out)


def _pencil(rng: np.random.Generator, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return cv2.pencilSketch(_bgr(rgb), sigma_s=float(rng.uniform(40, 90)), sigma_r=float(rng.uniform(0.05, 0.1)),
                            shade_factor=float(rng.uniform(0.02, 0.06)))


def pencil_grey(rng: np.random.Generator, rgb: np.ndarray) -> np.ndarray:
    return _from_bgr(_pencil(rng, rgb)[0])


def pencil_colour(rng: np.random.Generator, rgb: np.ndarray) -> np.ndarray:
    return _from_bgr(_pencil(rng, rgb)[1])


def cartoon(rng: np.random.Generator, rgb: np.ndarray) -> np.ndarray:
    """Repeated bilateral smoothing, colour quantization, and dark adaptive-threshold outlines."""
    smooth = _bgr(rgb)
    for _ in range(int(rng.integers(3, 7))):
        smooth = cv2.bilateralFilter(smooth, 9, float(rng.uniform(50, 120)), 7)
    step = int(rng.choice([32, 48, 64]))
    smooth = (smooth // step) * step + step // 2
    grey = cv2.medianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), 7)
    lines = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY,
                                  int(rng.choice([7, 9, 11])), float(rng.uniform(2, 6)))
    return _from_bgr(cv2.bitwise_and(smooth, smooth, mask=lines))


def posterize(rng: np.random.Generator, rgb: np.ndarray) -> np.ndarray:
    """Median-cut palette of 4-10 flat colours (deterministic, unlike k-means), optional outlines."""
    flat = cv2.bilateralFilter(_bgr(rgb), 9, 80, 9)
    image = Image.fromarray(_from_bgr(flat)).quantize(colors=int(rng.integers(4, 11)),
                                                      method=Image.Quantize.MEDIANCUT,
                                                      dither=Image.Dither.NONE)
    out = np.array(image.convert("RGB"))
    if rng.random() < 0.6:
        out[_edges(rgb, rng, thick=True)] = (20, 20, 30)
    return out


def painting(rng: np.random.Generator, rgb: np.ndarray) -> np.ndarray:
    """Edge-preserving smoothing with boosted saturation and, often, painted outlines."""
    flags = int(rng.choice([cv2.RECURS_FILTER, cv2.NORMCONV_FILTER]))
    out = cv2.edgePreservingFilter(_bgr(rgb), flags=flags, sigma_s=float(rng.uniform(80, 180)),
                                   sigma_r=float(rng.uniform(0.6, 0.9)))
    hsv = cv2.cvtColor(out, cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[:, :, 1] = np.clip(hsv[:, :, 1] * rng.uniform(1.2, 1.6), 0, 255)
    step = int(rng.choice([16, 24, 32]))
    hsv[:, :, 2] = (hsv[:, :, 2] // step) * step + step // 2
    out = _from_bgr(cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2BGR))
    if rng.random() < 0.7:
        out[_edges(rgb, rng, thick=bool(rng.random() < 0.5))] = (40, 30, 30)
    return out


def line_art(rng: np.random.Generator, rgb: np.ndarray) -> np.ndarray:
    """Canny contours in ink on off-white paper, sometimes over a pale flat colour wash."""
    edges = _edges(rgb, rng, thick=bool(rng.random() < 0.6))
    paper = np.empty_like(rgb)
    paper[:] = (int(rng.integers(238, 256)), int(rng.integers(235, 252)), int(rng.integers(225, 245)))
    if rng.random() < 0.5:
        wash = np.array(Image.fromarray(cv2.medianBlur(rgb, 9)).quantize(
            colors=6, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).convert("RGB"))
        paper = cv2.addWeighted(paper, 0.55, wash, 0.45, 0)
    paper[edges] = (25, 25, 35)
    return paper


# -- ambiguous ----------------------------------------------------------------------------------

_PALETTE = ((230, 57, 70), (255, 183, 3), (42, 157, 143), (69, 123, 157), (255, 255, 255),
            (131, 56, 236), (251, 86, 7), (58, 134, 255), (6, 214, 160), (17, 17, 17))
_WORDS = ("sale", "new", "best", "today", "free", "photo", "club", "news", "top", "ten", "facts", "about",
          "the", "world", "why", "you", "need", "this", "week", "guide", "how", "to", "love", "great",
          "summer", "big", "deal", "event", "join", "us", "now", "only", "more", "info", "day")


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(c) for c in _PALETTE[int(rng.integers(len(_PALETTE)))])


def _phrase(rng: np.random.Generator, n: int) -> str:
    return " ".join(_WORDS[int(i)] for i in rng.integers(0, len(_WORDS), size=n)).upper()


def _put_text(image: np.ndarray, text: str, *, box: tuple[int, int, int, int], colour: tuple[int, int, int],
              font: int) -> None:
    """Write one line of text as large as fits inside box=(x, y, w, h)."""
    x, y, w, h = box
    thickness = max(1, h // 14)
    (tw, th), _ = cv2.getTextSize(text, font, 1.0, thickness)
    scale = max(0.2, min(w / max(tw, 1), h * 0.75 / max(th, 1)))
    (tw, th), _ = cv2.getTextSize(text, font, scale, thickness)
    origin = (x + max(0, (w - tw) // 2), y + (h + th) // 2)
    cv2.putText(image, text, origin, font, scale, colour, thickness, cv2.LINE_AA)


def _shape_points(rng: np.random.Generator, centre: np.ndarray, radius: float) -> np.ndarray:
    kind = int(rng.integers(3))
    if kind == 0:  # star
        angles = np.linspace(0, 2 * np.pi, 11)[:-1] + rng.uniform(0, np.pi)
        radii = np.where(np.arange(10) % 2 == 0, radius, radius * 0.45)
    elif kind == 1:  # regular polygon
        sides = int(rng.integers(3, 7))
        angles = np.linspace(0, 2 * np.pi, sides + 1)[:-1] + rng.uniform(0, np.pi)
        radii = np.full(sides, radius)
    else:  # blob
        angles = np.sort(rng.uniform(0, 2 * np.pi, size=8))
        radii = radius * rng.uniform(0.6, 1.0, size=8)
    points = centre + np.stack([np.cos(angles) * radii, np.sin(angles) * radii], axis=1)
    return points.round().astype(np.int32)


def drawn_overlay(rng: np.random.Generator, rgb: np.ndarray) -> np.ndarray:
    """Flat clipart shapes with thick outlines drawn over the photo until 30-50% is covered."""
    out = rgb.copy()
    height, width = out.shape[:2]
    covered = np.zeros((height, width), np.uint8)
    target = rng.uniform(0.3, 0.5)
    for _ in range(12):
        if covered.mean() / 255 >= target:
            break
        radius = rng.uniform(0.18, 0.35) * min(height, width)
        centre = np.array([rng.uniform(0.15, 0.85) * width, rng.uniform(0.15, 0.85) * height])
        points = _shape_points(rng, centre, radius)
        cv2.fillPoly(out, [points], _colour(rng), cv2.LINE_AA)
        cv2.polylines(out, [points], True, (15, 15, 15), int(rng.integers(2, 6)), cv2.LINE_AA)
        cv2.fillPoly(covered, [points], 255)
    return out


def text_overlay(rng: np.random.Generator, rgb: np.ndarray) -> np.ndarray:
    """Meme-style: solid banners with big text over 30-45% of the photo's height."""
    out = rgb.copy()
    height, width = out.shape[:2]
    share = rng.uniform(0.3, 0.45)
    bands = [(0, share)] if rng.random() < 0.4 else [(0, share / 2), (1 - share / 2, share / 2)]
    font = int(rng.choice([cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_TRIPLEX]))
    background, ink = _colour(rng), (255, 255, 255)
    if background == ink:
        ink = (17, 17, 17)
    for start, size in bands:
        y0, y1 = int(start * height), int((start + size) * height)
        out[y0:y1] = background
        _put_text(out, _phrase(rng, int(rng.integers(2, 4))), box=(6, y0, width - 12, y1 - y0), colour=ink,
                  font=font)
    return out


NPR_FOR_MIXING: tuple[Recipe, ...] = (stylization, pencil_grey, pencil_colour, cartoon, posterize, painting,
                                      line_art)


def collage(rng: np.random.Generator, rgb: np.ndarray, *, source: np.ndarray | None = None) -> np.ndarray:
    """A grid of tiles from one photo: some plain crops, some renditions (at least one of each)."""
    height, width = rgb.shape[:2]
    rows, cols = [(1, 2), (2, 1), (2, 2), (1, 3), (2, 3)][int(rng.integers(5))]
    gutter = int(rng.integers(3, 9))
    canvas = np.empty_like(rgb)
    canvas[:] = (255, 255, 255) if rng.random() < 0.6 else (20, 20, 20)
    tile_w = (width - gutter * (cols + 1)) // cols
    tile_h = (height - gutter * (rows + 1)) // rows
    n = rows * cols
    rendered = rng.permutation(np.arange(n) < max(1, n // 2))
    pool = rgb if source is None else source
    for index in range(n):
        tile, _, _ = random_crop(rng, pool, max_side=max(tile_w, tile_h) * 2)
        tile = fit_exact(tile, tile_w, tile_h)
        if rendered[index]:
            tile = NPR_FOR_MIXING[int(rng.integers(len(NPR_FOR_MIXING)))](rng, tile)
        r, c = divmod(index, cols)
        y, x = gutter + r * (tile_h + gutter), gutter + c * (tile_w + gutter)
        canvas[y:y + tile_h, x:x + tile_w] = tile
    return canvas


def half_rendered(rng: np.random.Generator, rgb: np.ndarray) -> np.ndarray:
    """The same photo, one region (a half, a diagonal, a disc) turned into a rendition."""
    height, width = rgb.shape[:2]
    drawn = NPR_FOR_MIXING[int(rng.integers(len(NPR_FOR_MIXING)))](rng, rgb)
    mask = np.zeros((height, width), np.uint8)
    kind = int(rng.integers(3))
    if kind == 0:
        split = int(width * rng.uniform(0.35, 0.65))
        mask[:, split:] = 1
    elif kind == 1:
        ys, xs = np.mgrid[0:height, 0:width]
        mask[(xs / width + ys / height) > rng.uniform(0.8, 1.2)] = 1
    else:
        radius = int(min(height, width) * rng.uniform(0.3, 0.45))
        cv2.circle(mask, (int(width * rng.uniform(0.3, 0.7)), int(height * rng.uniform(0.3, 0.7))), radius, 1, -1)
    if rng.random() < 0.5:
        mask = 1 - mask
    return np.where(mask[:, :, None] == 1, drawn, rgb)


def mostly_text(rng: np.random.Generator, rgb: np.ndarray) -> np.ndarray:
    """A slide or poster: a title and lines of text on a flat background, a small photo inset."""
    height, width = rgb.shape[:2]
    canvas = np.empty_like(rgb)
    background = _colour(rng)
    canvas[:] = background
    ink = (17, 17, 17) if sum(background) > 380 else (250, 250, 250)
    font = int(rng.choice([cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX]))
    inset_w, inset_h = int(width * rng.uniform(0.3, 0.42)), int(height * rng.uniform(0.3, 0.42))
    inset_x = int(rng.integers(int(width * 0.04), width - inset_w - int(width * 0.04) + 1))
    inset_y = height - inset_h - int(height * 0.05)
    canvas[inset_y:inset_y + inset_h, inset_x:inset_x + inset_w] = fit_exact(rgb, inset_w, inset_h)
    margin = int(width * 0.05)
    _put_text(canvas, _phrase(rng, 2), box=(margin, int(height * 0.03), width - 2 * margin, int(height * 0.17)),
              colour=ink, font=font)
    line_h = max(10, int(height * 0.07))
    y = int(height * 0.22)
    while y + line_h < inset_y - 2:
        _put_text(canvas, _phrase(rng, int(rng.integers(3, 6))).lower(),
                  box=(margin, y, int((width - 2 * margin) * rng.uniform(0.7, 1.0)), line_h), colour=ink, font=font)
        y += int(line_h * 1.2)
    return canvas


NATURAL_RECIPES: dict[str, Recipe] = {
    "photo": photo, "photo_flip": photo_flip, "photo_tone": photo_tone, "photo_rescale": photo_rescale,
}
RENDITION_RECIPES: dict[str, Recipe] = {
    "stylization": stylization, "pencil_grey": pencil_grey, "pencil_colour": pencil_colour, "cartoon": cartoon,
    "posterize": posterize, "painting": painting, "line_art": line_art,
}
AMBIGUOUS_RECIPES: dict[str, Recipe] = {
    "drawn_overlay": drawn_overlay, "text_overlay": text_overlay, "collage": collage,
    "half_rendered": half_rendered, "mostly_text": mostly_text,
}

CAPTIONS: dict[str, str] = {
    "photo": "a photo of {s}", "photo_flip": "a picture of {s}", "photo_tone": "a close-up photo of {s}",
    "photo_rescale": "a photo of {s}, web size",
    "stylization": "a stylized painting of {s}", "pencil_grey": "a pencil sketch of {s}",
    "pencil_colour": "a coloured pencil drawing of {s}", "cartoon": "a cartoon of {s}",
    "posterize": "a posterized illustration of {s}", "painting": "a painting of {s}",
    "line_art": "a line drawing of {s}",
    "drawn_overlay": "a photo of {s} with big drawn shapes on it", "text_overlay": "a meme: a photo of {s} with big text",
    "collage": "a collage of photos and drawings of {s}", "half_rendered": "a photo of {s} half turned into a drawing",
    "mostly_text": "a text poster with a small photo of {s}",
}
