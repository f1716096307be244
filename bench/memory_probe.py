"""One job in this fresh process; prints its peak memory above the loaded engine as JSON.

``python -m bench.memory_probe '{"max_size": 512, ...}' [BUDGET_MB|none]`` (run by ``stylize bench
memory``). The engine (VGG16 and its weights) and the inputs are loaded first; then the kernel's
peak-RSS mark is reset (``/proc/self/clear_refs``) and the job runs; the job's peak is
``VmHWM`` minus the ``VmRSS`` just before it: what the job added to a warm worker. With a
third argument, the picture is written there as PNG.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def status_kb(field: str) -> int:
    """A ``/proc/self/status`` field in kB (VmRSS, VmHWM)."""
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE).group(1))  # type: ignore[union-attr]


def reset_peak() -> None:
    """Make VmHWM the current RSS (Linux: clear_refs 5)."""
    Path("/proc/self/clear_refs").write_text("5")


def main() -> None:
    """Run the job given as JSON in argv[1] (with the budget in argv[2], when given and not
    ``none``)."""
    from bench.quality import enlarged
    from shared.images import encode_image, read_image
    from shared.params import JobParams
    from worker.engine import StyleEngine

    overrides = json.loads(sys.argv[1])
    budget = float(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] != "none" else None
    content = read_image(str(EXAMPLES / overrides.pop("content", "content-astronaut.jpg")))
    style = read_image(str(EXAMPLES / overrides.pop("style", "style-hubble.jpg")))
    params = JobParams(**{"preview_every": 0, **overrides})
    content = enlarged(content, params.max_size)
    engine = StyleEngine.load()
    engine.memory_budget_mb = budget
    from worker.engine.precision import resolve

    final = engine.plan(content, [style], params, resolve(params.precision, params.optimizer))
    tile = final.levels[-1].tile
    before = status_kb("VmRSS")
    reset_peak()
    started = time.perf_counter()
    result = engine.run(content, [style], params)
    peak = status_kb("VmHWM")
    if len(sys.argv) > 3:
        Path(sys.argv[3]).write_bytes(encode_image(result.image, "png"))
    print(
        json.dumps(
            {
                "job_mb": (peak - before) / 1024,
                "engine_mb": before / 1024,
                "seconds": time.perf_counter() - started,
                "precision": result.precision,
                "size": list(result.image.shape[:2]),
                "tile": None if tile is None else list(tile),
            }
        )
    )


if __name__ == "__main__":
    main()
