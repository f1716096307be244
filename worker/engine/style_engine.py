"""StyleEngine: VGG16 loaded once, compiled steps cached by layer set, one ``run`` per job."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
from keras import ops

from shared.levels import edge_margin, style_size
from shared.memory_model import LevelPlan, Plan, largest_fit
from shared.memory_model import plan as memory_plan
from shared.params import JobParams
from worker.engine import imaging, precision
from worker.engine.backend_choice import get_backend
from worker.engine.errors import JobTooLarge
from worker.engine.gamut import gamut
from worker.engine.gram_cache import GramCache
from worker.engine.hooks import EngineResult, PreviewHook, ProgressHook, Quality
from worker.engine.inputs import check_job
from worker.engine.iteration_hook import IterationHook, loss_dict
from worker.engine.jitter import per_step, shifted_region, shifted_view
from worker.engine.losses import objective
from worker.engine.memory_release import release_memory
from worker.engine.optimize import (
    AdamState,
    CompiledStep,
    LevelResult,
    adam_step,
    gradient_step,
    lbfgs_step,
    loss_weights,
    resized_adam,
    run_adam,
    run_lbfgs,
)
from worker.engine.quality import Meter, ratios, references
from worker.engine.style_targets import (
    blend,
    blended_statistics,
    content_features,
    laplacian_target,
    loss_targets,
    palette_sources,
    palette_target,
)
from worker.engine.tiling import run_tiled_adam
from worker.engine.vgg import Network, build_vgg16, feature_model, mirrored, variant
from worker.engine.weights import read_conv_weights, resolve_source


class StyleEngine:
    """Holds VGG16 and the compiled steps; ``run`` is safe to call for job after job."""

    def __init__(self, vgg: Network, weights_source: str, weights_path: str = "") -> None:
        self.vgg = vgg.model  # zero padding, float32: VGG16 as trained
        self.weights_source = weights_source  # what the weights are, safe to show users
        self.weights_path = weights_path  # where they were read from, for the worker's log
        self.backend = get_backend()
        self._vggs: dict[tuple[str, str], Network] = {("float32", "zero"): vgg}
        self._models: dict[tuple[str, ...], keras.Model] = {}
        self.grams = GramCache()
        self._steps: dict[tuple[Any, ...], CompiledStep] = {}
        # The memory one job may use (STYLIZE_WORKER_MEMORY_MB, set by the worker and
        # `stylize run`); None: one pass per level, never refused.
        self.memory_budget_mb: float | None = None

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

    def warm_up(self, params: JobParams | None = None) -> None:
        """Trace the step of ``params``' layers, loss, arithmetic and grid jitter (the default
        job's) on two small shapes, so that it becomes shape-generic: a later job, whatever its
        size, starts without tracing (on a GPU, XLA still compiles each new shape once). The
        two differ in height and width at every layer's stride, the deepest map's included: a
        dimension the two traces share stays fixed in the generic graph, and another size
        retraces. A job with another jitter (prints: ``GRID_JITTER``) traces its own step once
        per worker: warming it up too doubled every worker's start (4.7 -> 8.3 s here)."""
        params = (params or JobParams()).model_copy(
            update={"iterations": 1, "preview_every": 0, "max_size": 48, "scales": 1}
        )
        rng = np.random.default_rng(0)
        style = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
        for shape in ((40, 48, 3), (48, 32, 3)):
            self.run(rng.integers(0, 256, shape, dtype=np.uint8), [style], params)

    @property
    def trace_count(self) -> int:
        """How often any compiled step was traced (once per image shape and layer set)."""
        return sum(step.traces for step in self._steps.values())

    def plan(
        self, content: np.ndarray, styles: list[np.ndarray], params: JobParams, arithmetic: str
    ) -> Plan:
        """How the job runs within ``memory_budget_mb`` (tiles where one pass would not fit);
        JobTooLarge, naming what would fit, when it cannot."""
        style_hws = [style.shape[:2] for style in styles]
        figures = precision.memory_figures(arithmetic)
        plan = memory_plan(
            params,
            content.shape[:2],
            style_hws,
            figures,
            self.memory_budget_mb,
            self.backend.name,
        )
        if plan.fits:
            return plan
        assert self.memory_budget_mb is not None
        fit = largest_fit(
            params,
            content.shape[:2],
            style_hws,
            self.memory_budget_mb,
            figures,
            self.backend.name,
        )
        advice = (
            "no max_size or style_scale fits it"
            if fit is None
            else f"the largest that fits is max_size={fit.max_size} with "
            f"style_scale={fit.style_scale:g}"
        )
        if params.optimizer != "adam":
            advice += "; optimizer=adam can refine large pictures in tiles"
        raise JobTooLarge(
            f"this job needs about {plan.peak_mb:.0f} MB, more than this worker's "
            f"{self.memory_budget_mb:.0f} MB (STYLIZE_WORKER_MEMORY_MB); {advice}"
        )

    def run(
        self,
        content: np.ndarray,
        styles: list[np.ndarray],
        params: JobParams,
        on_progress: ProgressHook | None = None,
        on_preview: PreviewHook | None = None,
    ) -> EngineResult:
        """Stylise ``content`` (RGB uint8) with ``styles``; EngineInputError for bad input,
        JobTooLarge (before any model work) when it would not fit ``memory_budget_mb``.

        ``on_progress`` runs after every iteration and may return a Stop to end the run there.
        """
        started = time.perf_counter()
        content, styles, params = check_job(content, styles, params)
        arithmetic = precision.resolve(params.precision, params.optimizer)
        plan = self.plan(content, styles, params, arithmetic)
        limits = None
        if params.limit_chroma:
            content_o, styles_o = self._optimised_space(content, styles, params)
            limits = gamut([content_o, *styles_o])
        job = Job(
            content,
            styles,
            params,
            arithmetic,
            self._feature_model(params, arithmetic),
            plan.forward_pixels,
            limits,
        )
        hook = IterationHook(
            [lv.iterations for lv in plan.levels],
            [lv.size for lv in plan.levels],
            params.preview_every,
            on_progress,
            on_preview,
            started,
        )
        meter: Meter | None = None
        level: LevelResult | None = None
        adam: AdamState | None = None
        initial: dict[str, float] = {}
        for number, planned in enumerate(plan.levels):
            if number == len(plan.levels) - 1:  # float32, whatever runs; measured before, so
                meter = self.quality_meter(
                    content, styles, params, plan.measure_size, plan.forward_pixels
                )  # that the end waits less
                hook.finish_s = meter.pass_s
            level, adam = self._level(job, planned, hook, level, adam)
            if number < len(plan.levels) - 1:  # what the pass freed goes back before the next;
                release_memory()  # after the last, the job's end would wait ~0.2 s for it
            initial = initial or loss_dict(level.initial_losses)
            if level.stopped is not None:
                break

        assert level is not None
        final = imaging.to_uint8(hook.finish(level.image[0]))
        if meter is not None and level.stopped is None:
            measured = (
                final
                if final.shape[:2] == plan.measure_size
                else imaging.to_uint8(imaging.resize(final, plan.measure_size))
            )
            quality = meter(measured)
        else:  # a run stopped early: measured at its own size
            quality = self.quality(content, styles, params, final)
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
            first_preview_s=hook.first_preview_s,
        )

    def _level(
        self,
        job: Job,
        planned: LevelPlan,
        hook: IterationHook,
        previous: LevelResult | None,
        adam: AdamState | None,
    ) -> tuple[LevelResult, AdamState | None]:
        """One level of the run: in one pass, or in tiles when the plan says so."""
        params, size = job.params, planned.size
        content_l, styles_l = self.level_inputs(job.content, job.styles, params, size)
        content_o, styles_o = self._optimised_space(content_l, styles_l, params)
        if previous is None:
            image = self._start_image(content_l, styles_l, params)
        else:
            image = imaging.resize(previous.image[0], size)
        stats = blended_statistics(
            job.model, styles_o, params, job.arithmetic, self.grams, job.forward_pixels
        )
        style_targets, layer_weights = loss_targets(stats, params)
        palette = palette_sources(styles_o, params)
        hook.start_level(functools.partial(self._finish, content=content_l, params=params))
        n_content = len(params.content_layers)
        state = self.backend.model_state(job.model)

        def targets(region: np.ndarray, shift: np.ndarray | None = None) -> Any:
            """The loss's targets for a region of the content (all of it in one pass), the
            network seeing it at ``shift`` (``jitter.shifted_view``; None: as it is)."""
            seen = region if shift is None else shifted_region(region, shift, params.grid_jitter)
            return (
                content_features(job.model, seen, n_content),
                style_targets,
                layer_weights,
                laplacian_target(region, params),
                palette_target(palette, region.shape[:2], params),
                None if shift is None else ops.convert_to_tensor(shift),
            )

        if params.optimizer == "lbfgs":
            step = self._step(params, job.model, job.arithmetic)
            return run_lbfgs(
                step,
                state,
                image[None],
                targets(content_o),
                job.loss_weights,
                planned.iterations,
                hook,
            ), None
        adam = resized_adam(adam, size) if adam is not None and params.scales == "auto" else None
        if planned.tile is None:
            return run_adam(
                self._step(params, job.model, job.arithmetic, jitter=params.grid_jitter),
                state,
                image[None],
                per_step(targets, content_o, params.grid_jitter, params.seed, size),
                job.loss_weights,
                planned.iterations,
                params.learning_rate,
                hook,
                params.iterate_average,
                adam,
                job.gamut,
            )
        tile_h, tile_w = planned.tile
        return run_tiled_adam(
            self._gradient(params, job.model, job.arithmetic),
            state,
            image[None],
            planned.tile,
            lambda y, x: targets(content_o[y : y + tile_h, x : x + tile_w]),
            job.loss_weights,
            planned.iterations,
            params.learning_rate,
            hook,
            params.iterate_average,
            adam,
            job.gamut,
        )

    def quality(
        self,
        content: np.ndarray,
        styles: list[np.ndarray],
        params: JobParams,
        picture: np.ndarray,
    ) -> Quality:
        """The ratios of ``picture`` (RGB uint8, e.g. a saved result) for this job's inputs,
        measured in float32."""
        return self.quality_meter(content, styles, params, picture.shape[:2])(picture)

    def quality_meter(
        self,
        content: np.ndarray,
        styles: list[np.ndarray],
        params: JobParams,
        size: tuple[int, int],
        forward_pixels: int | None = None,
    ) -> Meter:
        """The float32 yardstick for this job's pictures of ``size``: its references are
        measured now, each picture then costs one forward pass (a job's end waits for no more,
        and the meter says how long that took). Styles larger than ``forward_pixels`` are
        measured in tiles."""
        content, styles, params = check_job(content, styles, params)
        model, targets, content_l, styles_l = self._float32_view(
            content, styles, params, size, forward_pixels
        )
        content_o, styles_o = self._optimised_space(content_l, styles_l, params)
        n_content = len(params.content_layers)
        refs = references(
            model,
            n_content,
            targets,
            content_o,
            styles_o,
            blend(params, len(styles)),
            self._start_image(content_l, styles_l, params),
        )

        def measure(picture: np.ndarray) -> Quality:
            picture = check_job(picture, styles, params)[0]
            seen = imaging.luminance(picture) if params.preserve_color else picture
            return ratios(model, n_content, targets, seen.astype(np.float32), refs)

        return Meter(measure, refs.pass_s)

    def loss(
        self,
        content: np.ndarray,
        styles: list[np.ndarray],
        params: JobParams,
        picture: np.ndarray,
    ) -> dict[str, float]:
        """The job's weighted losses of ``picture`` (RGB uint8), computed in float32: the
        yardstick for comparing runs made in other arithmetic."""
        content, styles, params = check_job(content, styles, params)
        picture = check_job(picture, styles, params)[0]
        model = self._feature_model(params, "float32")
        content_l, styles_l = self.level_inputs(content, styles, params, picture.shape[:2])
        content_o, styles_o = self._optimised_space(content_l, styles_l, params)
        stats = blended_statistics(model, styles_o, params, "float32", self.grams)
        targets = (
            content_features(model, content_o, len(params.content_layers)),
            *loss_targets(stats, params),
            laplacian_target(content_o, params),
            palette_target(palette_sources(styles_o, params), content_o.shape[:2], params),
        )
        seen = imaging.luminance(picture) if params.preserve_color else picture
        image = ops.convert_to_tensor(seen.astype(np.float32)[None])
        total, parts = objective(
            model(image),
            image,
            targets,
            loss_weights(params),
            len(params.content_layers),
            params.style_loss,
            params.gram_weight > 0,
        )
        return loss_dict((total, parts))

    def features(self, image: np.ndarray, layers: tuple[str, ...]) -> list[np.ndarray]:
        """``image``'s (H, W, 3, RGB 0-255) feature maps (H', W', C) at ``layers``, float32."""
        params = JobParams(
            content_layers=[layers[0]], style_layers=list(layers), edge_padding="zero"
        )  # VGG16 as it is: a fixed yardstick
        model = self._feature_model(params, "float32")
        outputs = model(np.asarray(image, np.float32)[None])[1:]
        return [ops.convert_to_numpy(f)[0] for f in outputs]

    def _float32_view(
        self,
        content: np.ndarray,
        styles: list[np.ndarray],
        params: JobParams,
        size: tuple[int, int],
        forward_pixels: int | None = None,
    ) -> tuple[keras.Model, tuple[list[Any], list[Any]], np.ndarray, list[np.ndarray]]:
        """A checked job's float32 model, its Gram targets and inputs at ``size``."""
        model = self._feature_model(params, "float32")
        content_l, styles_l = self.level_inputs(content, styles, params, size)
        content_o, styles_o = self._optimised_space(content_l, styles_l, params)
        stats = blended_statistics(model, styles_o, params, "float32", self.grams, forward_pixels)
        content_targets = content_features(model, content_o, len(params.content_layers))
        return model, (content_targets, [gram for _, gram in stats]), content_l, styles_l

    def _feature_model(self, params: JobParams, arithmetic: str) -> keras.Model:
        """VGG16 cut after the job's deepest layer, computing in ``arithmetic``, with the job's
        edge padding (mirror: the zero-padded network on the picture and its margins)."""
        outputs = (*params.content_layers, *params.style_layers)
        edge = "zero" if params.edge_padding == "mirror" else params.edge_padding
        network = (arithmetic, edge)
        if network not in self._vggs:
            self._vggs[network] = variant(
                self._vggs["float32", "zero"], precision.DTYPE_POLICIES[arithmetic], edge
            )
        key = (arithmetic, params.edge_padding, *outputs)
        if key not in self._models:
            model = feature_model(self._vggs[network], outputs)
            margin = edge_margin(params)
            self._models[key] = mirrored(model, outputs, margin) if margin else model
        return self._models[key]

    def _step(
        self,
        params: JobParams,
        model: keras.Model,
        arithmetic: str,
        kind_of: str | None = None,
        jitter: int = 0,
    ) -> CompiledStep:
        """The compiled step of ``kind_of`` (the job's optimiser by default) for this layer set,
        arithmetic and style loss; with ``jitter`` px the network sees the picture at the
        targets' shift (``jitter.shifted_view``)."""
        kind_of = kind_of or params.optimizer
        key = (
            kind_of,
            jitter,
            arithmetic,
            params.style_loss,
            params.gram_weight > 0,
            params.edge_padding,
            tuple(params.content_layers),
            tuple(params.style_layers),
        )
        if key not in self._steps:
            n_content, kind = len(params.content_layers), params.style_loss
            gram_term = params.gram_weight > 0

            def loss(forward: Any, image: Any, targets: Any, loss_weights: Any) -> Any:
                seen = shifted_view(image, targets[5], jitter) if jitter else image
                features = forward(seen)
                return objective(
                    features, image, targets[:5], loss_weights, n_content, kind, gram_term
                )

            value_and_grad = self.backend.value_and_grad(model, loss)
            make = {"adam": adam_step, "lbfgs": lbfgs_step, "gradient": gradient_step}[kind_of]
            self._steps[key] = make(self.backend, value_and_grad)
        return self._steps[key]

    def _gradient(self, params: JobParams, model: keras.Model, arithmetic: str) -> CompiledStep:
        """(state, tile, targets, loss_weights) -> (total, parts, gradient): a tiled level's
        step."""
        return self._step(params, model, arithmetic, "gradient")

    @staticmethod
    def level_inputs(
        content: np.ndarray, styles: list[np.ndarray], params: JobParams, size: tuple[int, int]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Content at ``size``; styles keep their aspect, longest side style_scale x ours."""
        content_l = imaging.resize(content, size)
        styles_l = [
            imaging.resize(style, style_size(style.shape[:2], size, params)) for style in styles
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
    def _finish(image: np.ndarray, content: np.ndarray, params: JobParams) -> np.ndarray:
        """The optimised image as RGB; with preserve_color, in the content's colours."""
        return imaging.with_content_colour(image, content) if params.preserve_color else image


@dataclass(frozen=True)
class Job:
    """What every level of one run shares."""

    content: np.ndarray
    styles: list[np.ndarray]
    params: JobParams
    arithmetic: str
    model: keras.Model
    forward_pixels: int  # forward-only passes larger than this run in tiles
    gamut: tuple[np.ndarray, ...] | None  # every pixel's chroma is kept in it (gamut.py)

    @property
    def loss_weights(self) -> Any:
        """The job's loss weights as a tensor (``optimize.loss_weights``)."""
        return loss_weights(self.params)
