"""StyleEngine: VGG16 loaded once, compiled steps cached by layer set, one ``run`` per job."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
from keras import ops

from shared.params import JobParams
from worker.engine import imaging, precision
from worker.engine.backend_choice import get_backend
from worker.engine.gram_cache import GramCache
from worker.engine.hooks import EngineResult, PreviewHook, ProgressHook, Quality
from worker.engine.inputs import check_job
from worker.engine.iteration_hook import IterationHook, loss_dict
from worker.engine.losses import gram_matrix, objective
from worker.engine.optimize import (
    CompiledStep,
    LevelResult,
    adam_step,
    lbfgs_step,
    range_penalty_weight,
    run_adam,
    run_lbfgs,
)
from worker.engine.quality import ratios, references
from worker.engine.vgg import build_vgg16, feature_model, with_dtype
from worker.engine.weights import read_conv_weights, resolve_source


class StyleEngine:
    """Holds VGG16 and the compiled steps; ``run`` is safe to call for job after job."""

    def __init__(self, vgg: keras.Model, weights_source: str, weights_path: str = "") -> None:
        self.vgg = vgg
        self.weights_source = weights_source  # what the weights are, safe to show users
        self.weights_path = weights_path  # where they were read from, for the worker's log
        self.backend = get_backend()
        self._vggs: dict[str, keras.Model] = {"float32": vgg}
        self._models: dict[tuple[str, ...], keras.Model] = {}
        self.grams = GramCache()
        self._steps: dict[tuple[Any, ...], CompiledStep] = {}

    @classmethod
    def load(cls, weights: str | None = None) -> StyleEngine:
        """Load VGG16 from ``weights`` (auto | imagenet | hed | path; None: STYLIZE_VGG_WEIGHTS).

        ``"random"`` (only as this argument, never from the environment) keeps Keras's random
        initialisation, for plumbing tests. Raises WeightsError when the source is unavailable.
        """
        if weights == "random":
            return cls(build_vgg16(None), "random")
        if weights is None:
            from shared.settings import get_settings

            weights = get_settings().vgg_weights
            if weights == "random":
                weights = "./random"  # a path like any other: never random from the environment
        source = resolve_source(weights)
        return cls(build_vgg16(read_conv_weights(source)), source.label, str(source.path))

    @property
    def trace_count(self) -> int:
        """How often any compiled step was traced (once per image shape and layer set)."""
        return sum(step.traces for step in self._steps.values())

    def run(
        self,
        content: np.ndarray,
        styles: list[np.ndarray],
        params: JobParams,
        on_progress: ProgressHook | None = None,
        on_preview: PreviewHook | None = None,
    ) -> EngineResult:
        """Stylise ``content`` (RGB uint8) with ``styles``; EngineInputError for bad input.

        ``on_progress`` runs after every iteration and may return a Stop to end the run there.
        """
        started = time.perf_counter()
        content, styles, params = check_job(content, styles, params)
        longest = min(params.max_size, max(content.shape[:2]))
        sizes = imaging.pyramid_sizes(*imaging.fit_size(*content.shape[:2], longest), params.scales)
        budgets = imaging.split_iterations(params.iterations, params.scales)
        arithmetic = precision.resolve(params.precision, params.optimizer)
        model = self._feature_model(params, arithmetic)
        step = self._step(params, model, arithmetic)
        state = self.backend.model_state(model)
        weights = ops.convert_to_tensor(np.array(
            [params.content_weight, params.style_weight, params.tv_weight,
             range_penalty_weight(params)], np.float32,
        ))  # fmt: skip
        meter = self.quality_meter(content, styles, params, sizes[-1])  # float32, whatever runs
        hook = IterationHook(budgets, sizes, params.preview_every, on_progress, on_preview,
                             arithmetic)
        level: LevelResult | None = None
        initial: dict[str, float] = {}
        for size, budget in zip(sizes, budgets, strict=True):
            content_l, styles_l = self._level_inputs(content, styles, params, size)
            content_o, styles_o = self._optimised_space(content_l, styles_l, params)
            targets = self._targets(model, content_o, styles_o, params, arithmetic)
            if level is None:
                image = self._start_image(content_l, styles_l, params)
            else:
                image = imaging.resize(level.image[0], size)

            hook.start_level(functools.partial(self._finish, content=content_l, params=params))
            if params.optimizer == "adam":
                level = run_adam(
                    step, state, image[None], targets, weights, budget, params.learning_rate, hook,
                )  # fmt: skip
            else:
                level = run_lbfgs(step, state, image[None], targets, weights, budget, hook)
            initial = initial or loss_dict(level.initial_losses)
            if level.stopped is not None:
                break

        assert level is not None
        final = imaging.to_uint8(hook.finish(level.image[0]))
        quality = meter(final)
        seconds = time.perf_counter() - started
        return EngineResult(
            image=final,
            iterations=hook.done,
            total_iterations=params.iterations,
            seconds=seconds,
            ms_per_iter=hook.steady_ms_per_iter,
            warmup_s=hook.warmup_ms / 1e3,
            losses=loss_dict(level.losses),
            initial_losses=initial,
            weights_source=self.weights_source,
            stopped=level.stopped,
            quality=quality,
            precision=arithmetic,
        )

    def quality(
        self, content: np.ndarray, styles: list[np.ndarray], params: JobParams,
        picture: np.ndarray,
    ) -> Quality:  # fmt: skip
        """The ratios of ``picture`` (RGB uint8, e.g. a saved result) for this job's inputs,
        measured in float32."""
        return self.quality_meter(content, styles, params, picture.shape[:2])(picture)

    def quality_meter(
        self, content: np.ndarray, styles: list[np.ndarray], params: JobParams,
        size: tuple[int, int],
    ) -> Callable[[np.ndarray], Quality]:  # fmt: skip
        """The float32 yardstick for this job's pictures of ``size``: its references are
        measured now, each picture then costs one forward pass (a job's end waits for no more)."""
        content, styles, params = check_job(content, styles, params)
        model, targets, content_l, styles_l = self._float32_view(content, styles, params, size)
        content_o, styles_o = self._optimised_space(content_l, styles_l, params)
        n_content = len(params.content_layers)
        refs = references(
            model, n_content, targets, content_o, styles_o, self._blend(params, len(styles)),
            self._start_image(content_l, styles_l, params),
        )  # fmt: skip

        def measure(picture: np.ndarray) -> Quality:
            picture = check_job(picture, styles, params)[0]
            seen = imaging.luminance(picture) if params.preserve_color else picture
            return ratios(model, n_content, targets, seen.astype(np.float32), refs)

        return measure

    def loss(
        self, content: np.ndarray, styles: list[np.ndarray], params: JobParams,
        picture: np.ndarray,
    ) -> dict[str, float]:  # fmt: skip
        """The job's weighted losses of ``picture`` (RGB uint8), computed in float32: the
        yardstick for comparing runs made in other arithmetic."""
        content, styles, params = check_job(content, styles, params)
        picture = check_job(picture, styles, params)[0]
        model, targets, _, _ = self._float32_view(content, styles, params, picture.shape[:2])
        seen = imaging.luminance(picture) if params.preserve_color else picture
        image = ops.convert_to_tensor(seen.astype(np.float32)[None])
        weights = ops.convert_to_tensor(
            np.array([params.content_weight, params.style_weight, params.tv_weight], np.float32)
        )
        total, parts = objective(model(image), image, targets, weights,
                                 len(params.content_layers))  # fmt: skip
        return loss_dict((total, parts))

    def _float32_view(
        self, content: np.ndarray, styles: list[np.ndarray], params: JobParams,
        size: tuple[int, int],
    ) -> tuple[keras.Model, tuple[list[Any], list[Any]], np.ndarray, list[np.ndarray]]:
        """A checked job's float32 model, targets and inputs at ``size``."""
        model = self._feature_model(params, "float32")
        content_l, styles_l = self._level_inputs(content, styles, params, size)
        content_o, styles_o = self._optimised_space(content_l, styles_l, params)
        targets = self._targets(model, content_o, styles_o, params, "float32")
        return model, targets, content_l, styles_l

    def _feature_model(self, params: JobParams, arithmetic: str) -> keras.Model:
        """VGG16 cut after the job's deepest layer, computing in ``arithmetic``."""
        outputs = (*params.content_layers, *params.style_layers)
        if arithmetic not in self._vggs:
            self._vggs[arithmetic] = with_dtype(self.vgg, precision.DTYPE_POLICIES[arithmetic])
        if (arithmetic, *outputs) not in self._models:
            self._models[(arithmetic, *outputs)] = feature_model(self._vggs[arithmetic], outputs)
        return self._models[(arithmetic, *outputs)]

    def _step(self, params: JobParams, model: keras.Model, arithmetic: str) -> CompiledStep:
        key = (params.optimizer, arithmetic, tuple(params.content_layers),
               tuple(params.style_layers))  # fmt: skip
        if key not in self._steps:
            n_content = len(params.content_layers)

            def loss(features: Any, image: Any, targets: Any, weights: Any) -> Any:
                return objective(features, image, targets, weights, n_content)

            value_and_grad = self.backend.value_and_grad(model, loss)
            make = adam_step if params.optimizer == "adam" else lbfgs_step
            self._steps[key] = make(self.backend, value_and_grad)
        return self._steps[key]

    @staticmethod
    def _level_inputs(
        content: np.ndarray, styles: list[np.ndarray], params: JobParams, size: tuple[int, int]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Content at ``size``; styles keep their aspect, longest side style_scale x ours."""
        longest = max(16, round(params.style_scale * max(size)))
        content_l = imaging.resize(content, size)
        styles_l = [
            imaging.resize(style, imaging.fit_size(*style.shape[:2], longest)) for style in styles
        ]
        return content_l, styles_l

    @staticmethod
    def _optimised_space(
        content: np.ndarray, styles: list[np.ndarray], params: JobParams
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """The images as the loss sees them: with preserve_color, luminance only (the styles'
        mean and spread matched to the content's, Gatys 2016)."""
        if not params.preserve_color:
            return content, styles
        content_y = imaging.luminance(content)
        return content_y, [imaging.match_luminance(imaging.luminance(s), content_y) for s in styles]

    @staticmethod
    def _start_image(
        content: np.ndarray, styles: list[np.ndarray], params: JobParams
    ) -> np.ndarray:
        """The first level's starting image, in the optimised space."""
        image = imaging.initial_image(params.init, content, styles[0], params.seed)
        return imaging.luminance(image) if params.preserve_color else image

    @staticmethod
    def _blend(params: JobParams, count: int) -> np.ndarray:
        """Each style's share of the target, summing to 1."""
        blend = np.asarray(params.style_blend or [1.0] * count, np.float32)
        return blend / blend.sum()

    def _targets(
        self, model: keras.Model, content: np.ndarray, styles: list[np.ndarray],
        params: JobParams, arithmetic: str,
    ) -> tuple[list[Any], list[Any]]:  # fmt: skip
        """Content feature maps and blended style Gram matrices, computed once per level; each
        style's Grams come from the cache when a job used the same style before."""
        n_content = len(params.content_layers)
        content_features = [ops.cast(f, "float32") for f in model(content[None])[:n_content]]
        grams: list[Any] = [0.0] * len(params.style_layers)
        for share, style in zip(self._blend(params, len(styles)), styles, strict=True):
            key = GramCache.key(style, tuple(params.style_layers), arithmetic)
            style_grams = self.grams.get(key, lambda style=style: [
                gram_matrix(ops.cast(f, "float32")) for f in model(style[None])[n_content:]
            ])  # fmt: skip
            grams = [gram + float(share) * style_gram
                     for gram, style_gram in zip(grams, style_grams, strict=True)]  # fmt: skip
        return content_features, grams

    @staticmethod
    def _finish(image: np.ndarray, content: np.ndarray, params: JobParams) -> np.ndarray:
        """The optimised image as RGB; with preserve_color, in the content's colours."""
        return imaging.with_content_colour(image, content) if params.preserve_color else image
