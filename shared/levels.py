"""The sizes a job runs at, coarse to fine, and its iterations per level: pure arithmetic that
the engine runs and the memory model predicts from."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.params import JobParams

MIN_SIDE = 16  # what block5 of VGG16 needs
# edge_padding=mirror: px of the picture reflected beyond each edge before VGG16 (a multiple of
# block5's 16 px stride, so that every layer's features crop back to the picture exactly).
MIRROR_MARGIN = 16


def fit_size(height: int, width: int, longest: int) -> tuple[int, int]:
    """(H, W) with the longest side ``longest``, keeping the aspect ratio."""
    scale = longest / max(height, width)
    return max(MIN_SIDE, round(height * scale)), max(MIN_SIDE, round(width * scale))


def output_size(content_hw: tuple[int, int], params: JobParams) -> tuple[int, int]:
    """The picture's (H, W): the content's aspect, longest side ``max_size`` (never enlarged)."""
    return fit_size(*content_hw, min(params.max_size, max(content_hw)))


def style_size(
    style_hw: tuple[int, int],
    level_hw: tuple[int, int],
    params: JobParams,
) -> tuple[int, int]:
    """A style image's (H, W) at a level: its aspect, longest side style_scale x the level's."""
    return fit_size(*style_hw, max(MIN_SIDE, round(params.style_scale * max(level_hw))))


def level_sides(longest: int, params: JobParams) -> list[int]:
    """The longest side of each level, coarsest first, the output's (``longest``) last.

    ``scales=auto``: ``longest / √2ᵏ`` for every k that stays at or above ``min_scale``;
    ``scales=n``: n levels, each half the next (the old pyramid).
    """
    if params.scales != "auto":
        return [
            max(MIN_SIDE, longest >> (params.scales - 1 - level)) for level in range(params.scales)
        ]
    sides, k = [longest], 1
    while round(longest / 2 ** (k / 2)) >= params.min_scale:
        sides.append(round(longest / 2 ** (k / 2)))
        k += 1
    return sides[::-1]


# scales=auto: a level's share of the iterations goes as (output side / its side) ** this, so
# that the cheap coarse levels, where the style's large structures form, get more of them.
AUTO_SPLIT_EXPONENT = 0.0


def split_iterations(total: int, sides: list[int], exponent: float = 0.0) -> list[int]:
    """Iterations per level (``sides`` coarsest first): shares going as
    (finest / side) ** ``exponent`` (0: equal), rounded down, the remainder to the finest (with
    fewer iterations than levels some get none: levels with none are skipped)."""
    weights = [(sides[-1] / side) ** exponent for side in sides]
    shares = [int(total * w / sum(weights)) for w in weights]
    return [*shares[:-1], total - sum(shares[:-1])]


def levels(content_hw: tuple[int, int], params: JobParams) -> list[tuple[tuple[int, int], int]]:
    """((H, W), iterations) of each level that runs, coarsest first."""
    height, width = output_size(content_hw, params)
    sides = level_sides(max(height, width), params)
    exponent = AUTO_SPLIT_EXPONENT if params.scales == "auto" else 0.0
    budgets = split_iterations(params.iterations, sides, exponent)
    return [
        (fit_size(height, width, side), budget)
        for side, budget in zip(sides, budgets, strict=True)
        if budget
    ]


def edge_margin(params: JobParams) -> int:
    """Px that VGG16's passes add beyond each edge of a picture of this job."""
    return MIRROR_MARGIN if params.edge_padding == "mirror" else 0


def pass_pixels(size: tuple[int, int], params: JobParams, shifted: bool = False) -> int:
    """The pixels a VGG16 pass over a picture (or tile) of ``size`` runs on, margins included;
    ``shifted``: a step of an untiled Adam level, which sees the picture with ``grid_jitter``
    px more each way."""
    jitter = params.grid_jitter if shifted and params.optimizer == "adam" else 0
    margin = 2 * edge_margin(params) + jitter
    return (size[0] + margin) * (size[1] + margin)


def work(params: JobParams, content_hw: tuple[int, int] | None = None) -> float:
    """Iterations x pass pixels / 256² over the levels: what a job costs (a content of
    max_size x max_size when ``content_hw`` is not given)."""
    content_hw = content_hw or (params.max_size, params.max_size)
    return sum(
        iterations * pass_pixels(size, params, shifted=True) / 256**2
        for size, iterations in levels(content_hw, params)
    )
