"""The output-format table: names, extensions and media types, in one place."""

from __future__ import annotations

import io
import typing

import numpy as np
import pytest
from PIL import Image

from shared.images import OUTPUT_FORMATS, PREVIEW_FORMAT, encode_image, format_for_path
from shared.params import JobParams


def test_the_table_covers_the_parameter_schema() -> None:
    choices = typing.get_args(JobParams.model_fields["output_format"].annotation)
    assert set(OUTPUT_FORMATS) == set(choices)
    assert PREVIEW_FORMAT in OUTPUT_FORMATS.values()


@pytest.mark.parametrize("name", sorted(OUTPUT_FORMATS))
def test_each_format_encodes_as_its_media_type_says(name: str) -> None:
    fmt = OUTPUT_FORMATS[name]
    image = np.random.default_rng(0).integers(0, 256, (12, 20, 3), dtype=np.uint8)
    with Image.open(io.BytesIO(encode_image(image, name))) as decoded:
        assert Image.MIME[decoded.format] == fmt.media_type and decoded.size == (20, 12)
    assert format_for_path(f"out.{fmt.extension.upper()}") is fmt


@pytest.mark.parametrize(
    ("path", "name"), [("a.png", "png"), ("b.jpg", "jpeg"), ("c.JPEG", "jpeg"), ("d.webp", None)]
)
def test_format_for_path(path: str, name: str | None) -> None:
    found = format_for_path(path)
    assert (found.name if found else None) == name


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="use png or jpeg"):
        encode_image(np.zeros((2, 2, 3), np.uint8), "gif")
