"""Reading a build's log: a step's output where it ran, and the layer it left either way."""

from __future__ import annotations

import pytest

from tests.deploy.docker_tools import Build

RAN = """Step 20/25 : COPY bench bench
 ---> 1f0e4a2b3c4d
Step 21/25 : RUN stylize weights bake --imagenet "$IMAGENET"
 ---> Running in 580e493139bb
ImageNet weights not downloaded (no network)
baked VGG16 weights: hed-bsds500 (/opt/weights/hed.h5)
Removing intermediate container 580e493139bb
 ---> 3c079025fd78
Step 22/25 : ENV STYLIZE_LOG_FORMAT=json
 ---> Running in 0a1b2c3d4e5f
"""
CACHED = """Step 21/25 : RUN stylize weights bake --imagenet "$IMAGENET"
 ---> Using cache
 ---> 3c079025fd78
Step 22/25 : ENV STYLIZE_LOG_FORMAT=json
 ---> Using cache
 ---> 9d8c7b6a5f4e
Successfully built 9d8c7b6a5f4e
"""


def test_a_step_that_ran_gives_its_output_and_its_layer() -> None:
    output, layer = Build("w:ran", 0.0, RAN).step("RUN stylize weights bake")
    assert output is not None and "baked VGG16 weights: hed-bsds500" in output
    assert "STYLIZE_LOG_FORMAT" not in output  # the next step's lines are not this one's
    assert layer == "3c079025fd78"


def test_a_cached_step_gives_no_output_and_the_same_layer() -> None:
    assert Build("w:cached", 0.0, CACHED).step("RUN stylize weights bake") == (None, "3c079025fd78")
    assert Build("w:cached", 0.0, CACHED).step("ENV STYLIZE_LOG_FORMAT") == (None, "9d8c7b6a5f4e")


def test_a_missing_step_fails_naming_it() -> None:
    with pytest.raises(AssertionError, match="no step 'RUN pip'"):
        Build("w:cached", 0.0, CACHED).step("RUN pip")
