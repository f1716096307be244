"""bfloat16 runs (losses and the picture's measure in float32), and style Grams reused."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from shared.params import JobParams
from tests.support.engine import quick, sample
from worker.engine import StyleEngine
from worker.engine import precision as arithmetic
from worker.engine.gram_cache import GramCache


def test_bfloat16_runs_the_network_and_keeps_float32_losses(
    hed_engine: StyleEngine, content: np.ndarray, style: np.ndarray
) -> None:
    f32 = hed_engine.run(
        content, [style], quick(iterations=6, optimizer="adam", precision="float32")
    )
    bf16 = hed_engine.run(
        content, [style], quick(iterations=6, optimizer="adam", precision="bfloat16")
    )
    assert (f32.precision, bf16.precision) == ("float32", "bfloat16")
    assert bf16.image.dtype == np.uint8 and bf16.image.shape == f32.image.shape
    assert isinstance(bf16.losses["total"], float)
    assert bf16.initial_losses["total"] == pytest.approx(f32.initial_losses["total"], rel=0.05)
    assert bf16.losses["total"] < 0.7 * bf16.initial_losses["total"]
    assert bf16.quality.style_ratio == pytest.approx(f32.quality.style_ratio, rel=0.5)


def test_auto_picks_bfloat16_for_adam_where_it_is_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    assert arithmetic.resolve("float32", "adam") == "float32"
    assert arithmetic.resolve("bfloat16", "adam") == "bfloat16"
    expected = "bfloat16" if arithmetic.bfloat16_is_fast() else "float32"
    assert arithmetic.resolve("auto", "adam") == expected
    assert arithmetic.resolve("auto", "lbfgs") == "float32", "L-BFGS needs float32 losses"
    monkeypatch.setattr(arithmetic, "bfloat16_is_fast", lambda: False)
    assert arithmetic.resolve("auto", "adam") == "float32"


def test_bfloat16_with_lbfgs_is_refused_naming_the_fix() -> None:
    with pytest.raises(ValidationError, match="precision=bfloat16 works with optimizer=adam"):
        JobParams(optimizer="lbfgs", precision="bfloat16")
    assert JobParams(optimizer="adam", precision="bfloat16").precision == "bfloat16"


def test_cpu_flags_decide_without_a_gpu(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor : 0\nflags : fpu sse avx512f avx512_bf16\n")
    assert "avx512_bf16" in arithmetic._cpu_flags(cpuinfo)
    cpuinfo.write_text("processor : 0\nflags : fpu sse avx2\n")
    assert not arithmetic._cpu_flags(cpuinfo) & arithmetic.BF16_CPU_FLAGS


def test_a_rerun_with_the_same_style_reuses_its_grams(content: np.ndarray) -> None:
    engine = StyleEngine.load("random")
    style = sample("style-brick", (40, 40))
    first = engine.run(content, [style], quick(iterations=2, precision="float32"))
    assert engine.grams.misses == 1, "computed once (the final measure reuses it)"
    hits = engine.grams.hits
    again = engine.run(content, [style], quick(iterations=2, precision="float32"))
    assert engine.grams.misses == 1 and engine.grams.hits > hits
    np.testing.assert_array_equal(first.image, again.image)
    gravel = sample("style-gravel", (40, 40))
    engine.run(content, [gravel], quick(iterations=2, precision="float32"))
    assert engine.grams.misses == 2, "another style is computed"


def test_a_bfloat16_rerun_reuses_both_its_grams_and_the_measures(content: np.ndarray) -> None:
    engine = StyleEngine.load("random")
    style = sample("style-brick", (40, 40))
    engine.run(content, [style], quick(iterations=2, precision="bfloat16"))
    assert engine.grams.misses == 2, "the bfloat16 targets and the float32 final measure's"
    engine.run(content, [style], quick(iterations=2, precision="bfloat16"))
    assert engine.grams.misses == 2


def test_the_cache_is_bounded_least_recently_used_first() -> None:
    cache = GramCache(max_entries=2)
    keys = [GramCache.key(np.full((4, 4, 3), n, np.float32), ("l",), "float32") for n in range(3)]
    for key in keys:
        cache.get(key, lambda: ["grams"])
    cache.get(keys[0], lambda: ["again"])  # evicted: computed again
    assert (cache.hits, cache.misses) == (0, 4)
    assert cache.get(keys[2], lambda: ["never"]) == ["grams"] and cache.hits == 1
