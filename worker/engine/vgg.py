"""The VGG16 feature extractor: Caffe preprocessing inside, cut after the deepest layer needed."""

from __future__ import annotations

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
    """``width`` px of border that mirror the picture, its edge pixels included: one pixel
    repeats the edge (what the first convolution sees beyond the picture instead of zeros,
    which VGG16 reads as a dark frame); more reflect the picture outwards."""

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


def build_vgg16(
    weights: LayerWeights | None, dtype: str = "float32", edge: str = "zero"
) -> keras.Model:
    """The 13 conv layers of VGG16 (as keras.applications names them) on RGB input.

    ``weights=None`` keeps Keras's random initialisation; only tests ask for that. ``dtype`` is
    a Keras dtype policy: ``mixed_bfloat16`` computes in bfloat16 with float32 weights. ``edge``:
    what the first convolution sees beyond the edge, zeros (VGG16's own) or ``replicate``.
    """
    rgb = keras.Input(shape=(None, None, 3), name="rgb")
    x = CaffePreprocess(name="caffe_preprocess", dtype=dtype)(rgb)
    if edge == "replicate":
        x = ReplicatePad(name="replicate_pad", dtype=dtype)(x)
    for block, size in enumerate(BLOCK_SIZES, start=1):
        for conv in range(1, size + 1):
            first = block == conv == 1
            x = layers.Conv2D(
                64 * 2 ** min(block - 1, 3),
                3,
                padding="valid" if first and edge == "replicate" else "same",
                activation="relu",
                name=f"block{block}_conv{conv}",
                dtype=dtype,
            )(x)
        if block < len(BLOCK_SIZES):
            x = layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool", dtype=dtype)(x)
    model = keras.Model(rgb, x, name="vgg16_features")
    if weights is not None:
        for name in VGG16_LAYERS:
            model.get_layer(name).set_weights(list(weights[name]))
    return model


def variant(vgg: keras.Model, dtype: str, edge: str) -> keras.Model:
    """``vgg`` (zero padding, float32) computing under the dtype policy ``dtype``, with ``edge``
    padding at the first convolution: in float32 it shares ``vgg``'s layers but the first
    convolution's (the weights are held once); in another policy it is a copy."""
    if dtype != "float32":
        copy = build_vgg16(None, dtype, edge)
        for name in VGG16_LAYERS:
            copy.get_layer(name).set_weights(vgg.get_layer(name).get_weights())
        return copy
    rgb = keras.Input(shape=(None, None, 3), name="rgb")
    x = vgg.get_layer("caffe_preprocess")(rgb)
    first = vgg.get_layer("block1_conv1")
    if edge == "replicate":
        x = ReplicatePad(name="replicate_pad")(x)
        first = layers.Conv2D(64, 3, padding="valid", activation="relu", name="block1_conv1")
        first.build((None, None, None, 3))
        first.set_weights(vgg.get_layer("block1_conv1").get_weights())
    x = first(x)
    outputs = {"block1_conv1": x}
    for layer in vgg.layers[3:]:  # after the input, the preprocessing and block1_conv1
        x = outputs[layer.name] = layer(x)
    # Every conv output: a shared layer's .output is its first model's, so feature_model picks
    # this model's tensors from here.
    return keras.Model(rgb, [outputs[name] for name in VGG16_LAYERS], name=f"vgg16_{edge}")


def feature_model(vgg: keras.Model, outputs: tuple[str, ...]) -> keras.Model:
    """A model sharing ``vgg``'s layers that returns ``outputs`` and stops at the deepest one."""
    if len(vgg.outputs) == len(VGG16_LAYERS):  # a variant sharing another model's layers
        tensors = [vgg.outputs[VGG16_LAYERS.index(name)] for name in outputs]
    else:
        tensors = [vgg.get_layer(name).output for name in outputs]
    return keras.Model(
        vgg.input,
        tensors,
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
