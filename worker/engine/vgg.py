"""The VGG16 feature extractor: Caffe preprocessing inside, cut after the deepest layer needed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import keras
from keras import layers, ops

from shared.params import VGG16_LAYERS
from worker.engine.weights import BLOCK_SIZES, LayerWeights

# ImageNet channel means in BGR order, as keras.applications.vgg16.preprocess_input uses.
BGR_MEAN = (103.939, 116.779, 123.68)


def layer_stride(name: str) -> int:
    """Input pixels per feature of a VGG16 layer (``blockN_...``: 2 ** (N - 1))."""
    return 2 ** (int(name[5]) - 1)


@keras.saving.register_keras_serializable(package="stylize")
class CaffePreprocess(layers.Layer):
    """RGB [0, 255] to BGR minus the ImageNet mean: what VGG16's weights expect."""

    def call(self, rgb):  # type: ignore[no-untyped-def]
        bgr = ops.flip(rgb, axis=-1)
        return bgr - ops.convert_to_tensor(BGR_MEAN, dtype=rgb.dtype)


@keras.saving.register_keras_serializable(package="stylize")
class ReplicatePad(layers.Layer):
    """``width`` px of border that mirror the input, its edge pixels included: one pixel
    repeats the edge (what a convolution sees beyond its map instead of zeros, which VGG16
    reads as a dark frame); more reflect the picture outwards."""

    def __init__(self, width: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.width = width

    def call(self, x):  # type: ignore[no-untyped-def]
        w = self.width
        return ops.pad(x, [[0, 0], [w, w], [w, w], [0, 0]], mode="symmetric")

    def compute_output_shape(self, input_shape: tuple[Any, ...]) -> tuple[Any, ...]:
        # given, not traced: JAX cannot trace a wide symmetric pad of an unknown size
        batch, height, width, channels = input_shape
        pad = 2 * self.width
        return (
            batch,
            None if height is None else height + pad,
            None if width is None else width + pad,
            channels,
        )

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "width": self.width}


def replicates(edge: str, block: int, conv: int) -> bool:
    """Whether the convolution ``block``/``conv`` sees its input's edge repeated (``edge``:
    ``replicate`` every one, ``replicate_first`` the first only) rather than zeros."""
    return edge == "replicate" or (edge == "replicate_first" and block == conv == 1)


@dataclass(frozen=True)
class Network:
    """VGG16's 13 conv layers on RGB input with one edge padding, and each conv layer's map in
    this network's own graph: its layers may also run in another network (the same weights
    under another padding), where ``layer.output`` would name the other graph's map."""

    model: keras.Model
    maps: dict[str, Any]


def build_vgg16(
    weights: LayerWeights | None,
    dtype: str = "float32",
    edge: str = "zero",
    convs: Mapping[str, layers.Conv2D] | None = None,
) -> Network:
    """The 13 conv layers of VGG16 (as keras.applications names them) on RGB input.

    ``weights=None`` keeps Keras's random initialisation (only tests ask for that) or the
    weights of ``convs``: conv layers of another network with the same ``dtype``, run here
    too, so that both networks hold one copy of the weights. ``dtype`` is a Keras dtype policy:
    ``mixed_bfloat16`` computes in bfloat16 with float32 weights. ``edge``: what the
    convolutions see beyond their maps' edges, zeros (VGG16's own), the edge repeated at every
    one (``replicate``) or at the first only (``replicate_first``). Every convolution is
    ``valid`` on its input padded by one pixel, so that any padding can share its layers.
    With ``replicate`` the pooling keeps an odd map's last row and column (VGG16's own drops
    them, and with them what the deeper layers see of the picture's last rows).
    """
    rgb = keras.Input(shape=(None, None, 3), name="rgb")
    x = CaffePreprocess(name="caffe_preprocess", dtype=dtype)(rgb)
    pooling = "same" if edge == "replicate" else "valid"
    maps: dict[str, Any] = {}
    for block, size in enumerate(BLOCK_SIZES, start=1):
        for conv in range(1, size + 1):
            name = f"block{block}_conv{conv}"
            pad = ReplicatePad if replicates(edge, block, conv) else layers.ZeroPadding2D
            x = pad(1, name=f"{name}_pad", dtype=dtype)(x)
            layer = convs[name] if convs is not None else conv_layer(name, block, dtype)
            x = maps[name] = layer(x)
        if block < len(BLOCK_SIZES):
            x = layers.MaxPooling2D(
                2, strides=2, padding=pooling, name=f"block{block}_pool", dtype=dtype
            )(x)
    vgg = Network(keras.Model(rgb, x, name=f"vgg16_{edge}"), maps)
    if weights is not None:
        for name in VGG16_LAYERS:
            vgg.model.get_layer(name).set_weights(list(weights[name]))
    return vgg


def conv_layer(name: str, block: int, dtype: str) -> layers.Conv2D:
    """VGG16's 3x3 convolution ``name`` of ``block`` (64 to 512 filters), ``valid``."""
    filters = 64 * 2 ** min(block - 1, 3)
    return layers.Conv2D(filters, 3, padding="valid", activation="relu", name=name, dtype=dtype)


def variant(vgg: Network, dtype: str, edge: str) -> Network:
    """``vgg`` computing under the dtype policy ``dtype`` with ``edge`` padding: on the same
    layers where the dtype is ``vgg``'s, else on a copy of its weights."""
    convs = {name: vgg.model.get_layer(name) for name in VGG16_LAYERS}
    if all(layer.dtype_policy.name == dtype for layer in convs.values()):
        return build_vgg16(None, dtype, edge, convs)
    return build_vgg16({name: tuple(c.get_weights()) for name, c in convs.items()}, dtype, edge)


def feature_model(vgg: Network, outputs: tuple[str, ...]) -> keras.Model:
    """A model sharing ``vgg``'s layers that returns ``outputs`` and stops at the deepest one."""
    return keras.Model(
        vgg.model.input,
        [vgg.maps[name] for name in outputs],
        name="vgg16_" + max(outputs, key=VGG16_LAYERS.index),
    )


def mirrored(model: keras.Model, outputs: tuple[str, ...], margin: int) -> keras.Model:
    """``model`` (returning the maps at ``outputs``) run on its input reflected ``margin`` px
    beyond each edge, every map cropped back to the input's own positions: no layer's zero
    padding borders the picture, so the optimiser cannot paint the network's edge response
    into it (``margin`` a multiple of the deepest layer's stride)."""
    rgb = keras.Input(shape=(None, None, 3), name="rgb")
    maps = model(ReplicatePad(margin, name="mirror_margin")(rgb))
    single = not isinstance(maps, (list, tuple))
    dtype = model.layers[-1].dtype_policy  # the network's: crops cast nothing
    cropped = [
        layers.Cropping2D(margin // layer_stride(name), dtype=dtype)(features)
        for name, features in zip(outputs, [maps] if single else maps, strict=True)
    ]
    return keras.Model(rgb, cropped[0] if single else cropped, name=f"{model.name}_mirrored")
