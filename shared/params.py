"""The job parameter schema: one definition, used by the API to validate and the worker to run."""

from __future__ import annotations

import itertools
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    ModelWrapValidatorHandler,
    field_validator,
    model_validator,
)

from shared.levels import level_sides

# One row per block: a table the formatter leaves as it is.
VGG16_LAYERS: tuple[str, ...] = (
    "block1_conv1", "block1_conv2",
    "block2_conv1", "block2_conv2",
    "block3_conv1", "block3_conv2", "block3_conv3",
    "block4_conv1", "block4_conv2", "block4_conv3",
    "block5_conv1", "block5_conv2", "block5_conv3",
)  # fmt: skip

DEFAULT_CONTENT_LAYERS = ("block4_conv2",)
DEFAULT_STYLE_LAYERS = (
    "block1_conv1",
    "block2_conv1",
    "block3_conv1",
    "block4_conv1",
    "block5_conv1",
)

WebhookEvent = Literal["running", "progress", "completed"]
WEBHOOK_EVENTS: tuple[str, ...] = get_args(WebhookEvent)

# The schema's ceiling; whether a size fits a worker's memory is the memory model's call
# (shared/memory_model.py: larger levels are refined in tiles).
MAX_SIZE = 8192
MAX_ITERATIONS = 5000
# The most iterations a job of up to this max_size may ask for: iterations x (max_size/256)²
# stays under the old largest job's (5000 at 2048 px), so that time limits and the broker's
# visibility timeout stay as they were. Bands, so that the JSON Schema can state them too.
ITERATIONS_BY_SIZE = ((2048, 5000), (2896, 2500), (4096, 1250), (5792, 625), (MAX_SIZE, 312))
# The iterations of a job that names none: DEFAULT_ITERATIONS, or ITERATIONS_PER_LEVEL at each
# level where scales=auto makes more levels than that covers (from 722 px): the finest levels
# draw the style's finest texture, and at 1024 px 200 over seven levels left them 28 each.
DEFAULT_ITERATIONS = 200
ITERATIONS_PER_LEVEL = 40
# The grid_jitter of a job that names none: GRID_JITTER px from GRID_JITTER_FROM px (a print's
# edges carry no light band, at 1.07x the time and the same style at 1024 px), none below it,
# where a shifted grid costs the deep layers' style a tenth to a third (docs/engine.md).
GRID_JITTER = 8
GRID_JITTER_FROM = 722
MAX_WORK = MAX_ITERATIONS * (2048 / 256) ** 2  # iterations of 256 x 256 pixels
DEFAULT_STYLE_LAYER_COUNT = len(DEFAULT_STYLE_LAYERS)

Weight = Annotated[float, Field(ge=0, le=1e9)]
LAYER_LIST_SCHEMA = {"items": {"type": "string", "enum": list(VGG16_LAYERS)}, "uniqueItems": True}
# What pydantic's HttpUrl accepts, narrowed so that every string the schema allows is accepted.
WEBHOOK_URL_PATTERN = r"^https?://[a-z0-9]+(\.[a-z0-9]+)*(:[1-9][0-9]{0,3})?(/[A-Za-z0-9._~-]*)*$"


def iterations_allowed(max_size: int) -> int:
    """The most iterations a job of ``max_size`` may ask for (ITERATIONS_BY_SIZE)."""
    return next(most for size, most in ITERATIONS_BY_SIZE if max_size <= size)


def default_iterations(params: JobParams) -> int:
    """The iterations of ``params``' job when it names none: 200, or 40 for each level of
    max_size's pyramid where that is more (280 at 1024 px, 360 at 2048 px), at most what the
    size allows."""
    if params.scales != "auto":
        return DEFAULT_ITERATIONS
    per_level = ITERATIONS_PER_LEVEL * len(level_sides(params.max_size, params))
    return min(max(DEFAULT_ITERATIONS, per_level), iterations_allowed(params.max_size))


def default_grid_jitter(params: JobParams) -> int:
    """The grid_jitter of ``params``' job when it names none: GRID_JITTER px from
    GRID_JITTER_FROM px, 0 below."""
    return GRID_JITTER if params.max_size >= GRID_JITTER_FROM else 0


# Parameters whose default depends on the job's max_size: what each gets when not given.
DEFAULTS_BY_SIZE = {"iterations": default_iterations, "grid_jitter": default_grid_jitter}


def _cross_field_rules(schema: dict[str, Any]) -> None:
    """State the cross-field rules in the JSON Schema too: each pyramid level needs >= 32 px and
    an iteration; bfloat16 runs with Adam only; fewer iterations for larger pictures; one style
    layer weight per style layer."""
    schema["allOf"] = [
        {
            "if": {"properties": {"scales": {"const": scales}}, "required": ["scales"]},
            "then": {
                "properties": {
                    "max_size": {"minimum": 32 << (scales - 1)},
                    "iterations": {"minimum": scales},
                }
            },
        }
        for scales in range(2, 5)
    ]
    adam_only = {"properties": {"optimizer": {"const": "adam"}}}
    if schema["properties"]["optimizer"].get("default") != "adam":
        adam_only["required"] = ["optimizer"]
    schema["allOf"].append(
        {
            "if": {"properties": {"precision": {"const": "bfloat16"}}, "required": ["precision"]},
            "then": adam_only,
        }
    )
    for (smaller, _), (_, most) in itertools.pairwise(ITERATIONS_BY_SIZE):
        schema["allOf"].append(
            {
                "if": {
                    "properties": {"max_size": {"minimum": smaller + 1}},
                    "required": ["max_size"],
                },
                "then": {"properties": {"iterations": {"maximum": most}}},
            }
        )
    for count in range(1, len(VGG16_LAYERS) + 1):
        same_count = {"anyOf": [{"type": "null"}, {"minItems": count, "maxItems": count}]}
        given = {
            "properties": {"style_layers": {"minItems": count, "maxItems": count}},
            "required": ["style_layers"],
        }
        if count == DEFAULT_STYLE_LAYER_COUNT:  # omitted style_layers: the default five
            given = {"anyOf": [given, {"not": {"required": ["style_layers"]}}]}
        schema["allOf"].append(
            {
                "if": given,
                "then": {"properties": {"style_layer_weights": same_count}},
            }
        )


def _by_size(schema: dict[str, Any]) -> None:
    """A default that depends on max_size is stated in the description, not as one value."""
    schema.pop("default", None)


class JobParams(BaseModel):
    """Everything that shapes one style transfer. Each default gives a good picture."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_cross_field_rules)

    max_size: int = Field(
        512,
        ge=32,
        le=MAX_SIZE,
        description="Longest side of the output, px (a smaller content image is not enlarged).",
    )
    iterations: int = Field(
        DEFAULT_ITERATIONS,
        ge=1,
        le=MAX_ITERATIONS,
        description="Optimiser iterations, all pyramid scales together. Not given: 200, or 40 "
        "for each level where scales=auto makes more than five (240 from 722 px, 280 at 1024 "
        "px, 360 at 2048 px); the job document shows the number.",
        json_schema_extra=_by_size,
    )
    optimizer: Literal["lbfgs", "adam"] = Field(
        "adam",
        description="Adam (the default: clipped to displayable pixels every step, cheapest per "
        "step, fastest to a given loss in stylize bench engine) or L-BFGS (fewer iterations "
        "late in a long run, float32 only).",
    )
    precision: Literal["auto", "float32", "bfloat16"] = Field(
        "auto",
        description="Arithmetic of the VGG16 passes: bfloat16 is faster where the hardware "
        "has it (GPUs of compute capability 8.0+, CPUs with AVX512-BF16 or AMX; elsewhere it is "
        "emulated and about 4x slower); losses and the image stay float32, and it works with "
        "optimizer=adam only. auto picks it for Adam where it is fast, float32 elsewhere.",
    )
    learning_rate: float = Field(
        10.0, gt=0, le=255, description="Adam step size in pixel units (unused by L-BFGS)."
    )
    content_weight: Weight = Field(1.0, description="Weight of the content loss (feature MSE).")
    style_weight: Weight = Field(
        0.3,
        description="Weight of the style loss; raise it for more style. The Gram loss is about "
        "1000x larger: with style_loss=gram, 3e-4 (its old default) is comparable.",
    )
    tv_weight: Weight = Field(
        5e-4, description="Weight of the total-variation loss; raise it for a smoother picture."
    )
    laplacian_weight: Weight = Field(
        2e-3,
        description="Weight of the Laplacian loss (Li et al. 2017): the picture's edges, pooled "
        "4x, held to the photo's, so that faces and fine shapes stay recognisable under a strong "
        "style; 0 = off (more style, less likeness), 5e-3 close to the photo.",
    )
    palette_weight: Weight = Field(
        0.01,
        description="Weight of the palette loss: the picture's colours, pooled 4x, matched as a "
        "distribution to the styles' (a sliced Wasserstein distance), so that no colour the "
        "style holds as a speck covers a large area; 0 = off.",
    )
    gram_weight: Weight = Field(
        1e-4,
        description="Weight of a Gram-matrix loss (Gatys) added to the style loss at every style "
        "layer: it fits the style's dominant tones and strokes (pure black on white, say) that "
        "the Wasserstein loss leaves half done; 0 = off. With style_loss=gram it adds to that "
        "loss.",
    )
    style_blend: list[Annotated[float, Field(gt=0, le=1e3)]] | None = Field(
        None, description="Relative weight of each style image; equal when omitted."
    )
    style_scale: float = Field(
        1.0, ge=0.1, le=4.0, description="Style image size relative to the output size."
    )
    preserve_color: bool = Field(False, description="Luminance-only transfer.")
    init: Literal["content", "noise", "style"] = Field("content", description="Starting image.")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Random seed; same seed, same picture.")
    content_layers: list[str] = Field(
        default=list(DEFAULT_CONTENT_LAYERS),  # a plain default: the schema and /docs show it
        min_length=1,
        max_length=13,
        description="VGG16 layers whose features the output keeps from the content.",
        json_schema_extra=LAYER_LIST_SCHEMA,
    )
    style_layers: list[str] = Field(
        default=list(DEFAULT_STYLE_LAYERS),
        min_length=1,
        max_length=13,
        description="VGG16 layers whose Gram matrices the output takes from the styles.",
        json_schema_extra=LAYER_LIST_SCHEMA,
    )
    scales: Annotated[int, Field(ge=1, le=4)] | Literal["auto"] = Field(
        "auto",
        description="Coarse-to-fine levels: auto = from min_scale up to the output in steps of "
        "√2, the optimiser's state carried from level to level; 1-4 = that many levels, each "
        "half the size of the next (1: the output size only).",
    )
    min_scale: int = Field(
        128,
        ge=32,
        le=MAX_SIZE,
        description="Longest side of the coarsest level with scales=auto, px (an output no "
        "larger runs at its own size only).",
    )
    style_loss: Literal["gram", "wasserstein"] = Field(
        "wasserstein",
        description="How the style is matched at each layer: gram (Gatys: mean squared "
        "difference of Gram matrices) or wasserstein (the distance between Gaussians fitted to "
        "the features: their means and covariances).",
    )
    style_layer_weights: list[Annotated[float, Field(gt=0, le=1e6)]] | None = Field(
        None,
        description="Relative weight of each style layer, in the order of style_layers; "
        "equal when omitted.",
    )
    edge_padding: Literal["zero", "replicate", "replicate_first", "mirror"] = Field(
        "replicate",
        description="What VGG16's convolutions see beyond the edge of their maps: replicate "
        "(the edge again, at every convolution: no dark or light frame, no ticks), "
        "replicate_first (the edge again at the first convolution, zeros deeper: the default "
        "before 2026-12-06), mirror (the picture reflected 16 px outwards, zeros beyond it, at "
        "a quarter more time at 512 px) or zero (the network's own).",
    )
    grid_jitter: int = Field(
        0,
        ge=0,
        le=16,
        description="Adam, untiled levels: VGG16 sees the picture shifted by a random 0 to "
        "grid_jitter px against its grid (the picture reflected beyond its edges), a new shift "
        "every 5 steps, so that the picture is fitted to every alignment of the network's "
        "strides and not to one (no light band along the edges); 0 = off. Not given: 8 from "
        "722 px, 0 below.",
        json_schema_extra=_by_size,
    )
    limit_chroma: bool = Field(
        True,
        description="Keep every pixel's chroma inside the region the content's and the styles' "
        "chroma occupy: no colour casts or blotches that neither input has. Adam only.",
    )
    iterate_average: float = Field(
        0.9,
        ge=0.0,
        le=0.999,
        description="Adam only: the picture shown and returned is the exponential moving "
        "average of the iterates with this decay per iteration, restarted at each level; "
        "0 = the last iterate.",
    )
    preview_every: int = Field(
        10, ge=0, le=5000, description="Save a preview every N iterations; 0 disables previews."
    )
    output_format: Literal["png", "jpeg"] = Field("png", description="Result image format.")
    webhook_url: HttpUrl | None = Field(
        None,
        description=(
            "http(s) URL that receives a signed JSON POST of the job (X-Stylize-Signature: "
            "HMAC-SHA256 of timestamp.body under your key's webhook secret) on each event of "
            "webhook_events; retried with backoff for up to an hour. It must resolve to a "
            "public address (loopback, private and link-local ones are refused unless the "
            "operator's STYLIZE_WEBHOOK_ALLOW names them)."
        ),
        json_schema_extra={"pattern": WEBHOOK_URL_PATTERN},
    )
    webhook_events: list[WebhookEvent] = Field(
        default=["completed"],
        min_length=1,
        max_length=len(WEBHOOK_EVENTS),
        description=(
            "Which events are delivered to webhook_url: running (the job started), progress "
            "(at most once per 10 %), completed (it ended: succeeded, failed or canceled)."
        ),
        json_schema_extra={"uniqueItems": True},
    )

    @field_validator("content_layers", "style_layers")
    @classmethod
    def _known_layers(cls, layers: list[str]) -> list[str]:
        unknown = [name for name in layers if name not in VGG16_LAYERS]
        if unknown:
            raise ValueError(
                f"unknown VGG16 layer {', '.join(unknown)}; choose from {', '.join(VGG16_LAYERS)}"
            )
        if len(set(layers)) != len(layers):
            raise ValueError("a layer is listed twice")
        return layers

    @field_validator("webhook_events")
    @classmethod
    def _distinct_events(cls, events: list[str]) -> list[str]:
        if len(set(events)) != len(events):
            raise ValueError("an event is listed twice")
        return events

    @model_validator(mode="wrap")
    @classmethod
    def _defaults_by_size(
        cls, data: Any, handler: ModelWrapValidatorHandler[JobParams]
    ) -> JobParams:
        """A parameter of DEFAULTS_BY_SIZE that is not given gets its default at the job's
        max_size."""
        params = handler(data)
        if not isinstance(data, dict):
            return params
        defaults = {
            name: default(params)
            for name, default in DEFAULTS_BY_SIZE.items()
            if name not in params.model_fields_set
        }
        by_size = {name: v for name, v in defaults.items() if v != getattr(params, name)}
        return handler({**data, **by_size}) if by_size else params

    @model_validator(mode="after")
    def _pyramid_fits(self) -> JobParams:
        if self.scales != "auto" and self.max_size >> (self.scales - 1) < 32:
            raise ValueError(
                f"scales={self.scales} makes the coarsest level smaller than 32 px at "
                f"max_size={self.max_size}; lower scales or raise max_size"
            )
        if self.scales != "auto" and self.iterations < self.scales:
            raise ValueError("iterations must be at least scales (one per level)")
        if self.iterations > iterations_allowed(self.max_size):
            raise ValueError(
                f"iterations={self.iterations} at max_size={self.max_size} is more work than one "
                f"job may ask for: at most {iterations_allowed(self.max_size)} iterations at this "
                "size; lower iterations or max_size"
            )
        if self.style_layer_weights is not None and (
            len(self.style_layer_weights) != len(self.style_layers)
        ):
            raise ValueError(
                f"style_layer_weights has {len(self.style_layer_weights)} weight(s) for "
                f"{len(self.style_layers)} style layer(s); give one weight per style layer"
            )
        if self.precision == "bfloat16" and self.optimizer != "adam":
            raise ValueError(
                "precision=bfloat16 works with optimizer=adam only (L-BFGS's line search needs "
                "float32 losses); use precision=auto or float32, or optimizer=adam"
            )
        return self

    def check_style_count(self, count: int) -> None:
        """Raise ValueError when ``style_blend`` does not give one weight per style image."""
        if self.style_blend is not None and len(self.style_blend) != count:
            raise ValueError(
                f"style_blend has {len(self.style_blend)} weight(s) for {count} style image(s); "
                "give one weight per style image"
            )

    def deepest_layer(self) -> str:
        """The deepest VGG16 layer this job needs (the model is cut after it)."""
        return max(self.content_layers + self.style_layers, key=VGG16_LAYERS.index)
