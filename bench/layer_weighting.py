"""Would weighting the style layers evenly make better pictures? ``python -m bench.layer_weighting``

The engine's style loss per layer is the mean squared difference of Gram matrices normalised by
H·W, so layers with larger activations weigh more. jcjohnson/neural-style also divides each
Gram by the channel count C, i.e. each layer's loss by C². This experiment runs the examples
with three weightings: the engine's, jcjohnson's, and one that gives every layer the same
share of the content photo's style loss (the last two rescaled per pair so that photo's total
style loss, and so ``style_weight``'s meaning, is unchanged; run through the job parameter
``style_layer_weights``) and compares the saved pictures
by a yardstick that favours none: every layer's own style ratio (its loss on the picture over
its loss on the content photo; lower means more of the style), their geometric mean and the
worst layer, plus the content ratio. It prints each layer's share of the starting style loss
under each weighting and writes ``layer-weighting-<size>.png`` (per pair: default, per-C², equal).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
from keras import ops

from bench.quality import LEGACY_DEFAULT, example_pairs, sheet_row, stack_rows, write_png
from shared.images import decode_image, encode_image, read_image
from shared.params import JobParams
from worker.engine import StyleEngine
from worker.engine.losses import gram_matrix


def style_layer_losses(
    engine: StyleEngine,
    content: np.ndarray,
    style: np.ndarray,
    params: JobParams,
    picture: np.ndarray,
) -> list[float]:
    """Each style layer's unweighted loss of ``picture`` (RGB uint8), in float32."""
    model, targets, _, _ = engine._float32_view(content, [style], params, picture.shape[:2])
    features = model(np.asarray(picture, np.float32)[None])[len(params.content_layers) :]
    return [
        float(ops.mean(ops.square(gram_matrix(f) - t)))
        for f, t in zip(features, targets[1], strict=True)
    ]


def rescaled(factors: list[float], start_losses: list[float]) -> list[float]:
    """``factors`` times the constant that keeps the content photo's total style loss."""
    weighted = sum(f * loss for f, loss in zip(factors, start_losses, strict=True))
    return [f * sum(start_losses) / weighted for f in factors]


def weightings(channels: list[int], start_losses: list[float]) -> dict[str, list[float]]:
    """Per-layer factors: the engine's (all 1), jcjohnson's 1/C², and equal starting shares."""
    return {
        "default": [1.0] * len(channels),
        "per-C²": rescaled([1 / c**2 for c in channels], start_losses),
        "equal": rescaled([1 / loss for loss in start_losses], start_losses),
    }


def weighted(params: JobParams, factors: list[float]) -> JobParams:
    """``params`` with the n-th style layer's loss times ``factors[n]`` (style_layer_weights are
    normalised to sum 1, so style_weight carries their mean)."""
    return params.model_copy(
        update={
            "style_layer_weights": factors,
            "style_weight": params.style_weight * sum(factors) / len(factors),
        }
    )


def run_variant(
    engine: StyleEngine, content: np.ndarray, style: np.ndarray, params: JobParams
) -> tuple[np.ndarray, float]:
    """The saved (PNG round-tripped) picture of one run, and its content ratio."""
    result = engine.run(content, [style], params)
    saved = decode_image(encode_image(result.image, "png"))
    return saved, engine.quality(content, [style], params, saved).content_ratio


def summary(ratios: list[float]) -> str:
    """Per-layer ratios, their geometric mean and the worst."""
    geo = math.exp(sum(math.log(max(r, 1e-12)) for r in ratios) / len(ratios))
    return " ".join(f"{r:.3f}" for r in ratios) + f" | geo {geo:.4f} worst {max(ratios):.3f}"


def main() -> None:
    """Every weighting on every example pair; a table and a contact sheet."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--sheet-dir", type=Path, default=Path("var/bench"))
    args = parser.parse_args()
    engine = StyleEngine.load()
    params = JobParams(
        **{
            **LEGACY_DEFAULT,
            "max_size": args.size,
            "iterations": args.iterations,
            "preview_every": 0,
        }
    )  # the Gram loss this study is about
    channels = [
        int(o.shape[-1])
        for o in engine._feature_model(params, "float32").outputs[len(params.content_layers) :]
    ]
    print(f"style layers {params.style_layers} channels {channels}")
    rows: list[np.ndarray] = []
    for content_path, style_path in example_pairs():
        content, style = read_image(str(content_path)), read_image(str(style_path))
        start = style_layer_losses(engine, content, style, params, content)
        variants = weightings(channels, start)
        print(f"\n{content_path.name} + {style_path.name}")
        for name, factors in variants.items():
            weighted = [f * loss for f, loss in zip(factors, start, strict=True)]
            shares = " ".join(f"{v / sum(weighted):.2f}" for v in weighted)
            print(f"  {name:8} start shares {shares}")
        for name, factors in variants.items():
            picture, content_ratio = run_variant(engine, content, style, weighted(params, factors))
            end = style_layer_losses(engine, content, style, params, picture)
            ratios = [e / s for e, s in zip(end, start, strict=True)]
            print(f"  {name:8} layer ratios {summary(ratios)}  content {content_ratio:.4f}")
            rows.append(sheet_row(content, style, [(picture, f"{name}: {summary(ratios)}")]))
    args.sheet_dir.mkdir(parents=True, exist_ok=True)
    out = args.sheet_dir / f"layer-weighting-{args.size}.png"
    write_png(out, stack_rows(rows))
    print(f"\nsheet: {out}")


if __name__ == "__main__":
    main()
