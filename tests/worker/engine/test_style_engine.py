"""StyleEngine.run: shapes, convergence, determinism, tracing, callbacks, options, bad input."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from shared.memory_model import tile_grid
from shared.params import JobParams
from tests.support.engine import quick, sample
from worker.engine import EngineInputError, JobTooLarge, Progress, Stop, StyleEngine
from worker.engine.imaging import luminance


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_run_keeps_aspect_and_lowers_the_loss(
    hed_engine: StyleEngine, content: np.ndarray, style: np.ndarray, optimizer: str
) -> None:
    result = hed_engine.run(content, [style], quick(optimizer=optimizer, iterations=8))
    assert result.image.shape == (32, 48, 3) and result.image.dtype == np.uint8
    assert result.iterations == result.total_iterations == 8 and result.stopped is None
    assert result.losses["total"] < 0.7 * result.initial_losses["total"]
    assert result.weights_source == "hed-bsds500"
    assert set(result.losses) == {"content", "style", "tv", "total"}


def test_same_seed_same_picture(hed_engine: StyleEngine, content, style) -> None:
    params = quick(init="noise", seed=7)
    first = hed_engine.run(content, [style], params).image
    second = hed_engine.run(content, [style], params).image
    assert np.abs(first.astype(int) - second.astype(int)).max() == 0
    other = hed_engine.run(content, [style], quick(init="noise", seed=8)).image
    assert not np.array_equal(first, other)


def test_step_is_traced_once_per_shape_and_reused_across_jobs(content, style) -> None:
    engine = StyleEngine.load("random")
    engine.run(content, [style], quick(iterations=2))
    assert engine.trace_count == 1
    engine.run(content, [sample("style-gravel", (30, 50))], quick(iterations=2, style_weight=3))
    assert engine.trace_count == 1  # new job, new style and weights, same content shape
    engine.run(content, [style], quick(iterations=2, max_size=40))
    assert engine.trace_count == 2


def test_after_the_warm_up_a_job_of_any_shape_runs_without_tracing(content, style) -> None:
    engine = StyleEngine.load("random")
    engine.warm_up()
    traced = engine.trace_count
    job = JobParams(iterations=2, preview_every=0, max_size=64, scales=1)
    for shape in ((44, 36), (36, 44), (64, 52)):
        engine.run(sample("content-chelsea", shape), [style], job)
    assert engine.trace_count == traced == 2


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_progress_every_iteration_and_stop_within_one(
    random_engine: StyleEngine, content, style, optimizer: str
) -> None:
    seen: list[Progress] = []

    def on_progress(progress: Progress) -> Stop | None:
        seen.append(progress)
        return Stop.CANCELED if progress.iteration == 3 else None

    result = random_engine.run(
        content, [style], quick(optimizer=optimizer, iterations=10), on_progress=on_progress
    )
    assert [p.iteration for p in seen] == [1, 2, 3]
    assert result.stopped is Stop.CANCELED and result.iterations == 3
    assert all(p.total == 10 and p.ms_per_iter > 0 for p in seen)
    assert set(seen[0].losses) == {"content", "style", "tv", "total"}


def test_previews_every_k_and_pyramid_counts_across_levels(
    random_engine: StyleEngine, content, style
) -> None:
    iterations: list[int] = []
    previews: list[tuple[int, tuple[int, ...], np.dtype]] = []
    result = random_engine.run(
        content,
        [style],
        quick(iterations=7, scales=2, max_size=64, preview_every=3),
        on_progress=lambda p: iterations.append(p.iteration),
        on_preview=lambda i, image: previews.append((i, image.shape, image.dtype)),
    )
    assert iterations == list(range(1, 8))
    # max_size=64 never enlarges the 48 px content: levels of 24 then 48 px
    assert previews == [(3, (16, 24, 3), np.uint8), (6, (32, 48, 3), np.uint8)]
    assert result.image.shape == (32, 48, 3)


def test_the_last_level_reports_what_its_final_measure_costs(
    random_engine: StyleEngine, content, style
) -> None:
    seen: list[Progress] = []
    random_engine.run(
        content, [style], quick(iterations=6, scales=2, max_size=64), on_progress=seen.append
    )
    coarse = [p for p in seen if p.finish_s == 0.0]  # its final pass not yet measured
    last = [p for p in seen if p.finish_s > 0.0]
    assert coarse and last and coarse[-1].iteration < last[0].iteration
    # the coarse level counts the rest in its own iterations (the final level's weigh 4x, the
    # final measure with them); the last counts its iterations and adds the measured seconds
    assert coarse[-1].iterations_left > 4 * (6 - coarse[-1].iteration)
    assert last[-1].iterations_left == 0 and 0 < last[-1].finish_s < 10
    assert len({p.finish_s for p in last}) == 1


@pytest.mark.parametrize("edge", ["zero", "replicate", "replicate_first", "mirror"])
def test_model_is_cut_after_the_deepest_layer_used(random_engine: StyleEngine, edge: str) -> None:
    params = quick(
        content_layers=["block2_conv2"],
        style_layers=["block1_conv1", "block2_conv1"],
        edge_padding=edge,
    )

    def names(model: keras.Model) -> list[str]:
        nested = (names(layer) for layer in model.layers if isinstance(layer, keras.Model))
        return [layer.name for layer in model.layers] + [n for inner in nested for n in inner]

    found = names(random_engine._feature_model(params, "float32"))
    assert "block2_conv2" in found and not any(n.startswith("block3") for n in found)


def test_the_zero_padded_network_is_vgg16_as_keras_builds_it(random_engine: StyleEngine) -> None:
    """Every convolution runs ``valid`` on its input padded by one pixel (so that paddings can
    share layers); with zeros that is keras.applications' VGG16 (``same``) on the same weights."""
    from keras.applications import VGG16

    from worker.engine.vgg import BGR_MEAN

    reference = VGG16(weights=None, include_top=False, input_shape=(None, None, 3))
    for layer in reference.layers:
        if layer.weights:
            layer.set_weights(random_engine.vgg.get_layer(layer.name).get_weights())
    names = ("block1_conv2", "block3_conv1", "block5_conv3")
    probe = keras.Model(reference.input, [reference.get_layer(n).output for n in names])
    rgb = np.random.default_rng(3).uniform(0, 255, (1, 40, 56, 3)).astype(np.float32)
    expected = probe(rgb[..., ::-1] - np.asarray(BGR_MEAN, np.float32))
    params = quick(content_layers=[names[0]], style_layers=list(names[1:]), edge_padding="zero")
    found = random_engine._feature_model(params, "float32")(rgb)
    for name, want, got in zip(names, expected, found, strict=True):
        want, got = np.asarray(want), np.asarray(got)
        assert want.shape == got.shape, name
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


def test_every_edge_padding_runs_on_one_copy_of_the_weights(random_engine: StyleEngine) -> None:
    """The networks of every edge padding share the float32 network's conv layers: a worker
    holds VGG16's weights once per arithmetic, not once per padding."""
    for edge in ("replicate", "replicate_first", "mirror"):
        random_engine._feature_model(quick(edge_padding=edge), "float32")
    networks = [
        net for (arithmetic, _), net in random_engine._vggs.items() if arithmetic == "float32"
    ]
    assert len(networks) == 3  # zero (mirror's too), replicate, replicate_first
    assert len({id(w) for net in networks for w in net.model.weights}) == 2 * 13


@pytest.mark.parametrize("arithmetic", ["float32", "bfloat16"])
def test_replicate_and_mirror_padding_show_no_layer_an_edge(
    hed_engine: StyleEngine, arithmetic: str
) -> None:
    """On a flat grey picture every feature of block1-block3 is the same at the edge as in the
    middle with edge_padding=replicate (every convolution sees the edge repeated) and mirror
    (their receptive fields end inside the 16 px margin); with replicate_first, from block2 on,
    the layers' zero padding makes the edge differ (what the optimiser paints into the
    picture as a frame and ticks along its edges)."""
    layers = ["block1_conv1", "block2_conv1", "block3_conv1"]

    def spread(edge: str) -> list[float]:
        params = quick(content_layers=["block1_conv1"], style_layers=layers, edge_padding=edge)
        grey = np.full((1, 48, 64, 3), 128.0, np.float32)
        maps = hed_engine._feature_model(params, arithmetic)(grey)[1:]
        spreads = []
        for features in (np.asarray(m, np.float32) for m in maps):
            middle = features[:, features.shape[1] // 2, features.shape[2] // 2]
            spreads.append(float(np.abs(features - middle[:, None, None]).max()))
        return spreads

    assert max(spread("replicate")) == 0.0
    assert max(spread("mirror")) == 0.0
    first_only = spread("replicate_first")
    assert first_only[0] == 0.0 and min(first_only[1:]) > 1.0, first_only


@pytest.mark.parametrize("edge", ["replicate", "zero"])
def test_with_replicate_the_deepest_layer_covers_an_odd_picture_to_its_last_row(
    random_engine: StyleEngine, edge: str
) -> None:
    """VGG16's pooling drops an odd map's last row and column, so its deep layers saw the
    picture's last rows only through their neighbours (the optimiser left them lighter: a
    white line along the 512 px cup's bottom edge); with edge_padding=replicate every pooling
    keeps them, and the last row moves block5 as much as the first."""
    params = quick(
        content_layers=["block1_conv1"], style_layers=["block5_conv1"], edge_padding=edge
    )
    model = random_engine._feature_model(params, "float32")
    picture = np.random.default_rng(5).uniform(0, 255, (1, 49, 67, 3)).astype(np.float32)
    deepest = np.asarray(model(picture)[1])
    covered = (4, 5) if edge == "replicate" else (3, 4)  # ceil or floor of 49/16 and 67/16
    assert deepest.shape[1:3] == covered

    def moved(rows: slice, columns: slice) -> float:
        changed = picture.copy()
        changed[:, rows, columns] = 255.0 - changed[:, rows, columns]
        return float(np.abs(np.asarray(model(changed)[1]) - deepest).sum())

    if edge == "replicate":
        every = slice(None)
        assert moved(slice(-1, None), every) > 0.5 * moved(slice(0, 1), every)
        assert moved(every, slice(-1, None)) > 0.5 * moved(every, slice(0, 1))


def test_preserve_color_keeps_the_content_colours(hed_engine: StyleEngine, content) -> None:
    red_style = np.zeros((40, 40, 3), np.uint8)
    red_style[..., 0] = np.random.default_rng(0).integers(100, 255, (40, 40))
    result = hed_engine.run(content, [red_style], quick(preserve_color=True, iterations=5))
    plain = hed_engine.run(content, [red_style], quick(iterations=5))

    def chroma(image: np.ndarray) -> np.ndarray:
        return image.astype(np.float32) - luminance(image)

    kept = np.abs(chroma(result.image) - chroma(content)).mean()
    assert kept < 3.0 < np.abs(chroma(plain.image) - chroma(content)).mean()


def test_blend_of_styles_and_other_inits(hed_engine: StyleEngine, content, style) -> None:
    gravel = sample("style-gravel", (48, 48))
    for init in ("style", "noise"):
        params = quick(style_blend=[3.0, 1.0], init=init, style_scale=0.5)
        result = hed_engine.run(content, [style, gravel], params)
        assert result.image.shape == (32, 48, 3)
        assert result.losses["total"] < result.initial_losses["total"]


@pytest.mark.parametrize(
    ("content", "styles", "params", "message"),
    [
        (np.zeros((0, 5, 3), np.uint8), None, quick(), "content image is empty"),
        (np.zeros((8, 8), np.uint8), None, quick(), "content image must be an RGB"),
        (None, [], quick(), "at least one style"),
        (None, [np.zeros((8, 8, 3), np.float32)], quick(), "style image 1 must be RGB uint8"),
        (None, None, quick(style_blend=[1.0, 2.0]), "style_blend has 2 weight"),
        (
            None,
            None,
            JobParams.model_construct(**{**quick().__dict__, "style_layers": ["fc7"]}),
            "unknown VGG16 layer fc7",
        ),
        (
            None,
            None,
            JobParams.model_construct(**{**quick().__dict__, "iterations": 0}),
            "iterations",
        ),
        (None, None, JobParams.model_construct(**{**quick().__dict__, "max_size": -4}), "max_size"),
    ],
)
def test_bad_input_is_refused_before_any_model_work(
    content: np.ndarray | None, styles: list | None, params: JobParams, message: str
) -> None:
    engine = StyleEngine.load("random")
    engine._feature_model = None  # type: ignore[assignment]  # would fail if reached
    with pytest.raises(EngineInputError, match=message):
        engine.run(
            sample("content-coffee", (20, 30)) if content is None else content,
            [sample("style-brick", (20, 20))] if styles is None else styles,
            params,
        )


def test_auto_levels_carry_adams_state_and_count_every_iteration(
    random_engine: StyleEngine, content, style
) -> None:
    """scales=auto runs every √2 level from min_scale up; previews come from each level."""
    previews: list[tuple[int, tuple[int, ...]]] = []
    result = random_engine.run(
        content,
        [style],
        quick(
            iterations=6,
            scales="auto",
            min_scale=32,
            max_size=64,
            preview_every=2,
            iterate_average=0.5,
        ),
        on_preview=lambda i, image: previews.append((i, image.shape)),
    )
    # 48 px content: levels of 34 and 48 px (32 x 48 output), 3 iterations each
    assert previews == [(2, (23, 34, 3)), (4, (32, 48, 3)), (6, (32, 48, 3))]
    assert result.iterations == 6 and result.image.shape == (32, 48, 3)
    assert result.first_preview_s is not None and 0 < result.first_preview_s < result.seconds


def test_carried_moments_are_rescaled_to_the_new_levels_gradients() -> None:
    from worker.engine.optimize import AdamState, resized_adam

    adam = AdamState(
        np.full((1, 10, 10, 3), 2.0, np.float32), np.full((1, 10, 10, 3), 4.0, np.float32), 7.0
    )
    bigger = resized_adam(adam, (20, 20))  # 4x the pixels: 1/4 the gradient per pixel
    np.testing.assert_allclose(bigger.m, 0.5, rtol=1e-5)
    np.testing.assert_allclose(bigger.v, 0.25, rtol=1e-5)
    assert bigger.t == 7.0 and bigger.m.shape == (1, 20, 20, 3)


def test_the_average_is_what_the_run_returns(hed_engine: StyleEngine, content, style) -> None:
    """With iterate_average the picture is the iterates' mean, smoother than the last one."""
    last = hed_engine.run(
        content, [style], quick(iterations=12, learning_rate=20.0, iterate_average=0.0)
    )
    averaged = hed_engine.run(
        content, [style], quick(iterations=12, learning_rate=20.0, iterate_average=0.8)
    )

    def roughness(image: np.ndarray) -> float:
        return float(np.mean(np.abs(np.diff(image.astype(np.float32), axis=1))))

    assert roughness(averaged.image) < roughness(last.image)


@pytest.mark.parametrize("edge", ["zero", "replicate", "mirror"])
def test_wasserstein_runs_and_lowers_its_loss(
    hed_engine: StyleEngine, content, style, edge: str
) -> None:
    result = hed_engine.run(
        content,
        [style],
        quick(style_loss="wasserstein", style_weight=0.3, iterations=8, edge_padding=edge),
    )
    assert result.losses["total"] < 0.8 * result.initial_losses["total"]
    assert np.isfinite(result.losses["style"]) and result.quality.style_drop > 0


def test_a_job_over_the_budget_is_refused_before_any_model_work(content, style) -> None:
    engine = StyleEngine.load("random")
    engine._feature_model = None  # type: ignore[assignment]  # would fail if reached
    engine.memory_budget_mb = 1.0
    with pytest.raises(JobTooLarge, match=r"STYLIZE_WORKER_MEMORY_MB.*no max_size"):
        engine.run(content, [style], quick())


@pytest.mark.parametrize("native", [True, False])
def test_bfloat16_is_planned_with_its_own_figures_only_where_it_runs_natively(
    native: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.memory_model import plan
    from worker.engine import precision

    monkeypatch.setattr(precision, "bfloat16_is_fast", lambda: native)
    engine = StyleEngine.load("random")
    engine.memory_budget_mb = 900.0
    content, style = np.zeros((512, 512, 3), np.uint8), np.zeros((446, 512, 3), np.uint8)
    params = JobParams(max_size=320, scales=1, style_scale=1.5, precision="bfloat16")
    planned = engine.plan(content, [style], params, "bfloat16")
    figures = "bfloat16" if native else "float32"
    expected = plan(params, (512, 512), [(446, 512)], figures, 900.0, engine.backend.name)
    other = plan(params, (512, 512), [(446, 512)], "float32" if native else "bfloat16", 900.0)
    assert planned == expected and planned.peak_mb != other.peak_mb


def test_colours_stay_in_the_inputs_gamut(hed_engine: StyleEngine, content) -> None:
    """Grey content and grey style: limit_chroma keeps the picture grey; without it the
    optimiser may tint it (the rainbow spots of grey pairs)."""
    from worker.engine.gamut import chroma

    grey = np.repeat(content[..., :1], 3, axis=-1)
    spots = np.repeat(sample("style-spots.png", (40, 40))[..., :1], 3, axis=-1)
    kept = hed_engine.run(grey, [spots], quick(iterations=10, learning_rate=30.0))
    free = hed_engine.run(
        grey, [spots], quick(iterations=10, learning_rate=30.0, limit_chroma=False)
    )
    assert chroma(kept.image).max() <= 2.0 < 10.0 < chroma(free.image).max()


def plan_in_tiles(
    engine: StyleEngine,
    monkeypatch: pytest.MonkeyPatch,
    content: np.ndarray,
    styles: list[np.ndarray],
    params: JobParams,
) -> None:
    """Give ``engine`` a budget of 0.8 of the job's one-pass peak, as the engine predicts it in
    the arithmetic it will run: the job's last level is then refined in 2x2 tiles or more."""
    from worker.engine.precision import resolve

    arithmetic = resolve(params.precision, params.optimizer)
    monkeypatch.setattr(engine, "memory_budget_mb", None)
    one_pass = engine.plan(content, styles, params, arithmetic)
    monkeypatch.setattr(engine, "memory_budget_mb", 0.8 * one_pass.peak_mb)
    last = engine.plan(content, styles, params, arithmetic).levels[-1]
    assert last.tile is not None and len(tile_grid(last.size, last.tile)) >= 4


def laplacian_distance(picture: np.ndarray, photo: np.ndarray) -> float:
    """Mean squared difference of the picture's pooled Laplacian and the photo's."""
    from worker.engine.imaging import resize
    from worker.engine.losses import laplacian

    seen = resize(photo, picture.shape[:2]).astype(np.float32)[None]
    lap = np.asarray(laplacian(picture.astype(np.float32)[None])) - laplacian(seen)
    return float(np.mean(np.square(lap)))


def palette_distance(picture: np.ndarray, styles: list[np.ndarray]) -> float:
    """The palette loss of the picture against the styles' whole palette."""
    from worker.engine.losses import palette_loss
    from worker.engine.style_targets import palette_sources, palette_target

    params = quick(palette_weight=1.0)
    target = palette_target(palette_sources(styles, params), picture.shape[:2], params)
    return float(palette_loss(picture.astype(np.float32)[None], target))


def test_the_laplacian_loss_holds_the_photos_edges(hed_engine: StyleEngine) -> None:
    """With laplacian_weight the picture's pooled Laplacian stays nearer the photo's."""
    photo = sample("content-chelsea", (48, 48))
    params = {"max_size": 48, "scales": 1, "iterations": 6, "style_weight": 2.0}
    free = hed_engine.run(photo, [STYLE_40], quick(**params, laplacian_weight=0)).image
    held = hed_engine.run(photo, [STYLE_40], quick(**params, laplacian_weight=0.05)).image
    assert laplacian_distance(held, photo) < 0.7 * laplacian_distance(free, photo)


STYLE_40 = sample("style-brick", (40, 40))


def grey_camera_and_spots(size: int) -> tuple[np.ndarray, np.ndarray]:
    """A grey photo, and black spots on white: a style whose greys are few and far apart."""
    photo = np.repeat(sample("content-camera", (size, size))[..., :1], 3, axis=-1)
    return photo, sample("style-spots.png", (size, size))


def test_the_palette_loss_takes_the_picture_to_the_styles_colours(
    hed_engine: StyleEngine,
) -> None:
    """With palette_weight the picture's pooled greys move to the style's (black and white,
    few greys between)."""
    photo, spots = grey_camera_and_spots(48)
    params = {"max_size": 48, "scales": 1, "iterations": 8, "learning_rate": 20.0}
    free = hed_engine.run(photo, [spots], quick(**params, palette_weight=0)).image
    held = hed_engine.run(photo, [spots], quick(**params, palette_weight=0.3)).image
    assert palette_distance(held, [spots]) < 0.7 * palette_distance(free, [spots])


def test_in_tiles_the_laplacian_and_palette_losses_still_hold(
    hed_engine: StyleEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refined in tiles, each tile against its own region of the photo and the styles' whole
    palette, the two losses still do what they do in one pass: with both on, the picture's
    pooled Laplacian stays nearer the photo's and its pooled greys move to the style's. (One
    tiled pair of runs for both: each costs a 384 px job.)"""
    photo, spots = grey_camera_and_spots(384)
    params = {"max_size": 384, "scales": 1, "iterations": 8, "learning_rate": 20.0}
    plan_in_tiles(hed_engine, monkeypatch, photo, [spots], quick(**params))
    free = hed_engine.run(
        photo, [spots], quick(**params, laplacian_weight=0, palette_weight=0)
    ).image
    held = hed_engine.run(
        photo, [spots], quick(**params, laplacian_weight=0.05, palette_weight=0.3)
    ).image
    assert laplacian_distance(held, photo) < 0.7 * laplacian_distance(free, photo)
    assert palette_distance(held, [spots]) < 0.7 * palette_distance(free, [spots])


def test_the_gram_term_takes_the_pictures_gram_matrices_to_the_styles(
    hed_engine: StyleEngine,
) -> None:
    """A grey photo and black spots on white: with gram_weight the picture's Gram matrices at
    the style layers (a fixed VGG16's, each layer's distance to the spots' relative to the
    photo's) come closer to the spots' than the Wasserstein loss alone takes them."""
    photo = np.repeat(sample("content-camera", (48, 48))[..., :1], 3, axis=-1)
    spots = sample("style-spots.png", (48, 48))
    layers = tuple(JobParams().style_layers)
    style_grams = [gram(f) for f in hed_engine.features(spots, layers)]

    def distances(picture: np.ndarray) -> np.ndarray:
        features = hed_engine.features(picture, layers)
        return np.array(
            [np.mean((gram(f) - g) ** 2) for f, g in zip(features, style_grams, strict=True)]
        )

    params = {"scales": 1, "iterations": 30, "learning_rate": 20.0, "palette_weight": 0}
    free = hed_engine.run(photo, [spots], quick(**params, gram_weight=0)).image
    held = hed_engine.run(photo, [spots], quick(**params, gram_weight=1e-3)).image
    photo_distances = distances(photo)
    assert np.sum(distances(held) / photo_distances) < 0.8 * np.sum(
        distances(free) / photo_distances
    )


def gram(features: np.ndarray) -> np.ndarray:
    """(H, W, C) features' Gram matrix over positions."""
    flat = features.reshape(-1, features.shape[-1]).astype(np.float64)
    return flat.T @ flat / len(flat)
