"""A yardstick of the style that no loss weighting can tilt: every classic layer on its own.

For a picture, its content photo and its style image (as a job sees them), measured with the
engine's VGG16 in float32 at the five classic Gatys layers (``block1_conv1`` ... ``block5_conv1``),
whatever layers or loss the job used:

- ``gram_ratios``: each layer's Gram loss on the picture ÷ on the content photo (0 = the
  style's Gram matched at that depth, 1 = none arrived), and their geometric mean
  (``gram_geo``: each layer weighs the same);
- ``sw_ratios``: each layer's sliced Wasserstein distance to the style's features on the
  picture ÷ on the photo, and ``sw_geo``. It compares whole distributions of feature vectors
  along random directions, so a picture cannot score well by matching second moments with
  noise;
- ``content_ratio``: the content loss (``block4_conv2``) of the picture ÷ of the style image
  (0 = the photo's content kept, 1 = as far from it as the style image is), as jobs measure it;
- ``content_off_grid``: the same ratio with the picture and the photo both cut by 2, 4 and 6 px
  at the top and the left (VGG16's grid moved against the picture; ``block4_conv2``'s is
  8 px), the mean of the three: a picture fitted to one alignment of the network's grid reads
  much further from its photo off it, which the eye does not see;
- ``chroma_drift``: how far (CIELAB a*b* units) the picture's mean chroma lies outside the
  segment between the photo's and the style's mean chroma (0 = the colours come from them);
- ``foreign_chroma``: the share of the picture's pixels whose chroma neither input has (a
  4-unit a*b* histogram bin, and its neighbours, empty in both);
- ``edge_dark``: the outer band's mean lightness minus the next band's, the picture's less the
  photo's (negative = a darker frame); ``edge_detail``: gradient energy in the outer band ÷ in
  the next one, the picture's over the photo's (under 1 = a blurred frame);
- ``edge_ticks``: how much a row of marks runs along the edges: the brightness profile along
  each outer band, high-passed, its spread ÷ the median of the same over bands further in,
  the picture's over the photo's, averaged over the four edges (1 = edges as textured as
  inside, relative to the photo; the dark ticks a picture's border can carry score 2-3);
- ``edge_row``: how much lighter the outermost row of pixels is than the four rows inside it
  (L*), the picture's less the photo's, averaged over the four edges (0 = no line along the
  edges; a thin light line reads from about +5);
- ``likeness``: the structural similarity (SSIM, luminance) of the picture and the photo, both
  shrunk to a thumbnail ``LIKENESS_SIDE`` px on the long side: the photo's layout as a glance
  sees it (1 = the same), which the style's texture cannot reach and ``content_ratio``, in
  VGG16's terms, barely sees.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from shared.params import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS
from worker.engine import StyleEngine
from worker.engine.imaging import resize

CLASSIC_LAYERS: tuple[str, ...] = DEFAULT_STYLE_LAYERS
CONTENT_LAYER = DEFAULT_CONTENT_LAYERS[0]
MEASURED_LAYERS = (*CLASSIC_LAYERS, CONTENT_LAYER)
SW_DIRECTIONS = 64
SW_QUANTILES = 256
SW_MAX_POSITIONS = 65_536  # feature vectors sampled per layer (fixed seed)
CHROMA_BIN = 4.0  # a*b* units per histogram bin
LIKENESS_SIDE = 64  # px, the long side of the thumbnails ``likeness`` compares
OFF_GRID_SHIFTS = (2, 4, 6)  # px cut off the top and the left for ``content_off_grid``


@dataclass(frozen=True)
class StyleMetrics:
    """The picture's figures; see the module docstring."""

    gram_ratios: tuple[float, ...]
    gram_geo: float
    sw_ratios: tuple[float, ...]
    sw_geo: float
    content_ratio: float
    content_off_grid: float
    chroma_drift: float
    foreign_chroma: float
    edge_dark: float
    edge_detail: float
    likeness: float
    edge_ticks: float
    edge_row: float

    def as_dict(self) -> dict[str, object]:
        """Rounded for reports and ``--json``."""
        return {
            name: [round(v, 4) for v in value] if isinstance(value, tuple) else round(value, 4)
            for name, value in asdict(self).items()
        }


def geometric_mean(values: list[float] | tuple[float, ...]) -> float:
    """exp(mean(log v)), zeros floored at 1e-12."""
    return math.exp(sum(math.log(max(v, 1e-12)) for v in values) / len(values))


def gram(features: np.ndarray) -> np.ndarray:
    """(H, W, C) features -> C x C Gram matrix normalised by H·W (the engine's)."""
    flat = features.reshape(-1, features.shape[-1]).astype(np.float64)
    return flat.T @ flat / flat.shape[0]


def sliced_wasserstein(a: np.ndarray, b: np.ndarray, directions: np.ndarray) -> float:
    """Mean squared distance between the quantiles of ``a`` and ``b`` (N x C feature vectors)
    projected on each of ``directions`` (C x D unit vectors)."""
    probabilities = (np.arange(SW_QUANTILES) + 0.5) / SW_QUANTILES
    qa = np.quantile(a @ directions, probabilities, axis=0)
    qb = np.quantile(b @ directions, probabilities, axis=0)
    return float(np.mean((qa - qb) ** 2))


def _sample(features: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    flat = features.reshape(-1, features.shape[-1]).astype(np.float32)
    if flat.shape[0] > SW_MAX_POSITIONS:
        flat = flat[rng.choice(flat.shape[0], SW_MAX_POSITIONS, replace=False)]
    return flat


class Yardstick:
    """Measures pictures of one job (content, style as the job sees them, output size)."""

    def __init__(self, engine: StyleEngine, content: np.ndarray, style: np.ndarray) -> None:
        """``content`` at the output size, ``style`` as the job sees it (RGB, 0-255)."""
        self.engine = engine
        self.content = np.asarray(content, np.float32)
        self.style = np.asarray(style, np.float32)
        style_features = engine.features(self.style, CLASSIC_LAYERS)
        *content_features, self.content_map = engine.features(self.content, MEASURED_LAYERS)
        style_map = engine.features(resize(self.style, self.content.shape[:2]), (CONTENT_LAYER,))
        self.style_content_loss = float(np.mean((style_map[0] - self.content_map) ** 2))
        self.content_maps_off_grid = [self._content_map(self.content, k) for k in OFF_GRID_SHIFTS]
        rng = np.random.default_rng(0)
        self.directions = []
        for features in style_features:
            d = rng.normal(size=(features.shape[-1], SW_DIRECTIONS))
            self.directions.append((d / np.linalg.norm(d, axis=0)).astype(np.float32))
        self.style_grams = [gram(f) for f in style_features]
        self.style_samples = [_sample(f, rng) for f in style_features]
        self.content_gram_losses = self._gram_losses(content_features)
        self.content_sw = self._sw(content_features)
        self.content_lab = _lab(self.content)
        self.style_lab = _lab(self.style)
        self.content_edges = _edge_figures(self.content_lab[..., 0])
        self.content_ticks = _edge_ticks(self.content_lab[..., 0])
        self.content_rows = _edge_rows(self.content_lab[..., 0])

    def _content_map(self, image: np.ndarray, cut: int) -> np.ndarray:
        """``image``'s content-layer map with ``cut`` px cut off its top and left."""
        return self.engine.features(image[cut:, cut:], (CONTENT_LAYER,))[0]

    def _gram_losses(self, features: list[np.ndarray]) -> list[float]:
        return [
            float(np.mean((gram(f) - g) ** 2))
            for f, g in zip(features, self.style_grams, strict=True)
        ]

    def _sw(self, features: list[np.ndarray]) -> list[float]:
        rng = np.random.default_rng(1)
        return [
            sliced_wasserstein(_sample(f, rng), s, d)
            for f, s, d in zip(features, self.style_samples, self.directions, strict=True)
        ]

    def measure(self, picture: np.ndarray) -> StyleMetrics:
        """The figures of ``picture`` (RGB, the output size; uint8 as saved, or float)."""
        picture = np.asarray(picture, np.float32)
        *features, content_map = self.engine.features(picture, MEASURED_LAYERS)
        gram_ratios = tuple(
            p / max(c, 1e-12)
            for p, c in zip(self._gram_losses(features), self.content_gram_losses, strict=True)
        )
        sw_ratios = tuple(
            p / max(c, 1e-12) for p, c in zip(self._sw(features), self.content_sw, strict=True)
        )
        content_loss = float(np.mean((content_map - self.content_map) ** 2))
        off_grid = np.mean(
            [
                np.mean((self._content_map(picture, k) - photo) ** 2)
                for k, photo in zip(OFF_GRID_SHIFTS, self.content_maps_off_grid, strict=True)
            ]
        )
        lab = _lab(picture)
        dark, detail = _edge_figures(lab[..., 0])
        content_dark, content_detail = self.content_edges
        return StyleMetrics(
            gram_ratios=gram_ratios,
            gram_geo=geometric_mean(gram_ratios),
            sw_ratios=sw_ratios,
            sw_geo=geometric_mean(sw_ratios),
            content_ratio=content_loss / max(self.style_content_loss, 1e-12),
            content_off_grid=float(off_grid) / max(self.style_content_loss, 1e-12),
            chroma_drift=chroma_drift(lab, self.content_lab, self.style_lab),
            foreign_chroma=foreign_chroma(lab, self.content_lab, self.style_lab),
            edge_dark=dark - content_dark,
            edge_detail=detail / max(content_detail, 1e-12),
            likeness=likeness(lab[..., 0], self.content_lab[..., 0]),
            edge_ticks=float(
                np.mean(_edge_ticks(lab[..., 0]) / np.maximum(self.content_ticks, 1e-12))
            ),
            edge_row=float(np.mean(_edge_rows(lab[..., 0]) - self.content_rows)),
        )


def likeness(lightness: np.ndarray, photo: np.ndarray) -> float:
    """Mean SSIM (Wang et al. 2004: 7 px Gaussian windows, sigma 1.5) of two lightness images
    of one size, both shrunk to ``LIKENESS_SIDE`` px on the long side."""
    h, w = lightness.shape
    scale = LIKENESS_SIDE / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    a, b = (
        cv2.resize(np.asarray(image, np.float32), size, interpolation=cv2.INTER_AREA)
        for image in (lightness, photo)
    )
    c1, c2 = (0.01 * 100) ** 2, (0.03 * 100) ** 2  # L* spans 0-100

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (7, 7), 1.5)

    ma, mb = blur(a), blur(b)
    va, vb, cov = blur(a * a) - ma * ma, blur(b * b) - mb * mb, blur(a * b) - ma * mb
    ssim = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))
    return float(np.mean(ssim))


def _lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (L 0-100, a*, b*) of an RGB 0-255 image."""
    return cv2.cvtColor(np.clip(rgb, 0, 255).astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def chroma_drift(picture: np.ndarray, content: np.ndarray, style: np.ndarray) -> float:
    """Distance of the picture's mean a*b* from the segment between the inputs' mean a*b*."""
    p, c, s = (image[..., 1:].reshape(-1, 2).mean(axis=0) for image in (picture, content, style))
    span = s - c
    t = float(np.clip(np.dot(p - c, span) / max(float(np.dot(span, span)), 1e-12), 0.0, 1.0))
    return float(np.linalg.norm(p - (c + t * span)))


def _chroma_bins(lab: np.ndarray) -> np.ndarray:
    return np.floor(lab[..., 1:].reshape(-1, 2) / CHROMA_BIN).astype(np.int64) + 64


def foreign_chroma(picture: np.ndarray, content: np.ndarray, style: np.ndarray) -> float:
    """The share of the picture's pixels in an a*b* bin that neither input (nor a neighbouring
    bin of theirs) has."""
    known = np.zeros((130, 130), bool)
    for image in (content, style):
        bins = np.clip(_chroma_bins(image), 1, 128)
        known[bins[:, 0], bins[:, 1]] = True
    known = cv2.dilate(known.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    bins = np.clip(_chroma_bins(picture), 0, 129)
    return float(np.mean(~known[bins[:, 0], bins[:, 1]]))


def _edge_figures(lightness: np.ndarray) -> tuple[float, float]:
    """(outer band's mean L - next band's, outer band's gradient energy ÷ next band's)."""
    h, w = lightness.shape
    band = max(2, round(0.02 * min(h, w)))
    outer = np.zeros((h, w), bool)
    outer[:band], outer[-band:], outer[:, :band], outer[:, -band:] = True, True, True, True
    inner = np.zeros((h, w), bool)
    inner[band : 3 * band, band : w - band] = True
    inner[h - 3 * band : h - band, band : w - band] = True
    inner[band : h - band, band : 3 * band] = True
    inner[band : h - band, w - 3 * band : w - band] = True
    gy, gx = np.gradient(lightness.astype(np.float64))
    energy = gx**2 + gy**2
    dark = float(lightness[outer].mean() - lightness[inner].mean())
    return dark, float(energy[outer].mean() / max(float(energy[inner].mean()), 1e-12))


def _edge_ticks(lightness: np.ndarray) -> np.ndarray:
    """Per edge (top, bottom, left, right): the spread of the outer band's brightness profile
    along the edge, high-passed (less its 15 px running mean), ÷ the median spread of the same
    profile in the bands 3-12 band depths in."""
    band = max(2, round(0.01 * min(lightness.shape)))
    kernel = np.ones(15) / 15

    def spread(rows: np.ndarray) -> float:
        profile = rows.mean(axis=0)
        smooth = np.convolve(np.pad(profile, 7, mode="reflect"), kernel, mode="valid")
        return float((profile - smooth).std())

    def edge(image: np.ndarray) -> float:
        depths = range(3 * band, min(12 * band, len(image) - band), band)
        inside = [spread(image[d : d + band]) for d in depths] or [spread(image[band:])]
        return spread(image[:band]) / max(float(np.median(inside)), 1e-12)

    return _per_edge(lightness, edge)


def _edge_rows(lightness: np.ndarray) -> np.ndarray:
    """Per edge (top, bottom, left, right): the outermost row's mean lightness less that of
    the four rows inside it."""

    def step(image: np.ndarray) -> float:
        return float(image[0].mean() - image[1:5].mean())

    return _per_edge(lightness, step)


def _per_edge(lightness: np.ndarray, figure: Callable[[np.ndarray], float]) -> np.ndarray:
    """``figure`` of the picture seen from each edge (top, bottom, left, right): the
    picture flipped or transposed so that the edge is its first row."""
    light = lightness.astype(np.float64)
    return np.array([figure(light), figure(light[::-1]), figure(light.T), figure(light.T[::-1])])


def _boundaries(
    picture: np.ndarray, corners: list[tuple[int, int]], tile: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, list[int], list[int]]:
    """Each row and column boundary's energy (the mean squared difference of the two pixel
    lines it separates), and which boundaries are the tiles' inner edges."""
    image = np.asarray(picture, np.float64)
    across_rows = np.mean(np.square(np.diff(image, axis=0)), axis=(1, 2))  # boundary y | y+1
    across_columns = np.mean(np.square(np.diff(image, axis=1)), axis=(0, 2))
    height, width = image.shape[:2]
    rows = {edge - 1 for y, _ in corners for edge in (y, y + tile[0]) if 0 < edge < height}
    columns = {edge - 1 for _, x in corners for edge in (x, x + tile[1]) if 0 < edge < width}
    return across_rows, across_columns, sorted(rows), sorted(columns)


def _edge_log_ratios(
    picture: np.ndarray, untiled: np.ndarray, corners: list[tuple[int, int]], tile: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each row and column boundary's log gradient energy, ``picture``'s less ``untiled``'s (each
    centred on its mean), and the tiles' inner edges among them."""
    across_rows, across_columns, rows, columns = _boundaries(picture, corners, tile)
    untiled_rows, untiled_columns, _, _ = _boundaries(untiled, corners, tile)
    by_row = np.log(across_rows + 1e-9) - np.log(untiled_rows + 1e-9)
    by_column = np.log(across_columns + 1e-9) - np.log(untiled_columns + 1e-9)
    return by_row - by_row.mean(), by_column - by_column.mean(), np.array(rows), np.array(columns)


def seam_excess(
    picture: np.ndarray, untiled: np.ndarray, corners: list[tuple[int, int]], tile: tuple[int, int]
) -> float:
    """The tiles' edge lines' gradient energy in ``picture`` against the same lines of
    ``untiled`` (the same job in one pass), relative to the two pictures' other lines: the mean
    log ratio (0: the edges are like the untiled picture's; 0.1: about 10 % more energy)."""
    by_row, by_column, rows, columns = _edge_log_ratios(picture, untiled, corners, tile)
    if not rows.size and not columns.size:
        return 0.0
    return float(np.mean(np.concatenate([by_row[rows], by_column[columns]])))


def seam_rank(
    picture: np.ndarray,
    untiled: np.ndarray,
    corners: list[tuple[int, int]],
    tile: tuple[int, int],
    guard: int = 2,
) -> float:
    """The share of the tile grid's shifts (by every offset beyond ``guard`` px, rows and
    columns alike, wrapping) whose lines stand out less from ``untiled`` than the edges do, in
    either direction: 0.5 is a grid like any other, near 1 a seam. Against the untiled run,
    what the picture itself holds along the lines cancels (the lines of a picture alone vary too
    much: the same job untiled ranked 0.96 on the tiled run's edges by their energy alone)."""
    by_row, by_column, rows, columns = _edge_log_ratios(picture, untiled, corners, tile)
    if not rows.size and not columns.size:
        return 0.5

    def standing_out(shift: int) -> float:
        shifted_rows = by_row[(rows + shift) % by_row.size]
        shifted_columns = by_column[(columns + shift) % by_column.size]
        return abs(float(np.mean(np.concatenate([shifted_rows, shifted_columns]))))

    edges = standing_out(0)
    shifts = range(guard + 1, min(by_row.size, by_column.size) - guard)
    return float(np.mean([standing_out(shift) < edges for shift in shifts]))
