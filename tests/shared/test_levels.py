"""The coarse-to-fine levels of a job: sizes and iterations."""

from __future__ import annotations

from shared.levels import level_sides, levels, output_size
from shared.params import JobParams, iterations_allowed


def test_auto_levels_grow_by_root_two_from_min_scale_to_the_output() -> None:
    assert level_sides(512, JobParams(scales="auto")) == [128, 181, 256, 362, 512]
    assert level_sides(1000, JobParams(scales="auto", min_scale=300)) == [354, 500, 707, 1000]
    assert level_sides(100, JobParams(scales="auto")) == [100], "no larger than min_scale: one"
    assert level_sides(512, JobParams(scales=3)) == [128, 256, 512], "the old pyramid"
    assert level_sides(512, JobParams(scales=1)) == [512]


def test_iterations_are_shared_by_the_levels_and_the_output_is_never_enlarged() -> None:
    planned = levels((300, 451), JobParams(scales="auto", iterations=200, max_size=1024))
    assert [size for size, _ in planned][-1] == (300, 451) == output_size((300, 451), JobParams())
    assert sum(its for _, its in planned) == 200 and len(planned) == 4  # 159, 226, 319, 451
    few = levels((512, 512), JobParams(scales="auto", iterations=2))
    assert few == [((512, 512), 2)], "levels with no iteration are skipped"


def test_a_job_naming_no_iterations_gets_40_a_level_above_five_levels() -> None:
    assert [JobParams(max_size=size).iterations for size in (256, 512, 721, 722, 1024, 2048)] == [
        200,
        200,
        200,
        240,
        280,
        360,
    ]
    assert JobParams(max_size=8192).iterations == iterations_allowed(8192), "never above the cap"
    assert JobParams(max_size=1024, iterations=100).iterations == 100, "a number given is kept"
    assert JobParams(max_size=1024, scales=3).iterations == 200, "the old pyramid: 200"
    assert JobParams.model_validate({"max_size": "1024"}).iterations == 280, "form fields too"
    stored = JobParams(max_size=1024).model_dump(mode="json")
    assert stored["iterations"] == 280 and JobParams.model_validate(stored).iterations == 280
    assert all(its == 40 for _, its in levels((1024, 1024), JobParams(max_size=1024))), (
        "seven levels of 40"
    )


def test_a_job_naming_no_grid_jitter_gets_8_px_from_722_px() -> None:
    sizes = (256, 512, 721, 722, 1024, 4096)
    assert [JobParams(max_size=size).grid_jitter for size in sizes] == [0, 0, 0, 8, 8, 8]
    assert JobParams(max_size=1024, grid_jitter=0).grid_jitter == 0, "a number given is kept"
    assert JobParams(max_size=256, grid_jitter=4).grid_jitter == 4
    both = JobParams(max_size=1024)
    assert (both.grid_jitter, both.iterations) == (8, 280), "both defaults by size at once"
    stored = both.model_dump(mode="json")
    assert JobParams.model_validate(stored) == both
    assert JobParams.model_validate({"max_size": "2048"}).grid_jitter == 8, "form fields too"
