"""Driving Debian's ``wrk`` (a C load generator) and reading its results.

A Python load generator would share this machine's two cores with the API under test and
become the bottleneck; wrk needs a fraction of one core. A Lua ``done`` hook prints one
``STYLIZE_WRK {json}`` line with exact percentiles, which :func:`parse_report` reads.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = "wrk is not installed; install it with: apt-get install -y wrk"
REPORT_MARKER = "STYLIZE_WRK "

# Every request the same (wrk.method/body/headers set from the environment at load time);
# the done hook reports in microseconds.
LUA_SCRIPT = r"""
local body_file = os.getenv("STYLIZE_WRK_BODY_FILE")
if body_file then
  local f = assert(io.open(body_file, "rb"))
  wrk.body = f:read("*a")
  f:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = os.getenv("STYLIZE_WRK_CONTENT_TYPE")
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'STYLIZE_WRK {"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, '
    .. '"p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f, "connect_errors": %d, '
    .. '"read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


class WrkError(RuntimeError):
    """wrk is missing, failed, or printed no report; the message says which."""


@dataclass(frozen=True)
class WrkResult:
    """One wrk run: throughput and latency (ms) of the requests it completed."""

    requests: int
    seconds: float
    requests_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # socket errors, timeouts and HTTP statuses of 400 and above

    def as_dict(self) -> dict[str, float | int]:
        return dict(self.__dict__)


def wrk_path() -> str:
    """The wrk executable, or WrkError with the one-line install hint."""
    path = shutil.which("wrk")
    if path is None:
        raise WrkError(INSTALL_HINT)
    return path


def parse_report(output: str) -> WrkResult:
    """The result in wrk's output (the ``STYLIZE_WRK`` line the Lua hook printed)."""
    for line in reversed(output.splitlines()):
        if line.startswith(REPORT_MARKER):
            raw = json.loads(line.removeprefix(REPORT_MARKER))
            break
    else:
        raise WrkError(f"wrk printed no report:\n{output[-2000:]}")
    seconds = raw["duration_us"] / 1e6
    errors = sum(
        raw[name]
        for name in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    )
    return WrkResult(
        requests=raw["requests"],
        seconds=round(seconds, 3),
        requests_per_s=round(raw["requests"] / seconds, 1) if seconds else 0.0,
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        errors=errors,
    )


def wrk_command(
    url: str, connections: int, seconds: float, script: Path, headers: Mapping[str, str]
) -> list[str]:
    """wrk's argv: one thread (the API needs the other core), ``connections`` kept busy."""
    argv = [wrk_path(), "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s"]
    argv += ["--timeout", "10s", "-s", str(script)]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    return [*argv, url]


def run_wrk(
    url: str,
    connections: int,
    seconds: float,
    workdir: Path,
    headers: Mapping[str, str],
    body: tuple[bytes, str] | None = None,
) -> WrkResult:
    """Load ``url`` for ``seconds``: GET, or POST ``body`` (bytes, content type) every time."""
    script = workdir / "stylize-report.lua"
    script.write_text(LUA_SCRIPT)
    env: dict[str, str] = {}
    if body is not None:
        body_file = workdir / "wrk-body.bin"
        body_file.write_bytes(body[0])
        env = {"STYLIZE_WRK_BODY_FILE": str(body_file), "STYLIZE_WRK_CONTENT_TYPE": body[1]}
    argv = wrk_command(url, connections, seconds, script, headers)
    completed = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **env},
        timeout=seconds + 60,
        check=False,
    )
    if completed.returncode != 0:
        raise WrkError(f"wrk failed ({completed.returncode}): {completed.stderr[-2000:]}")
    return parse_report(completed.stdout)


def multipart_body(fields: Sequence[tuple[str, str, bytes, str]]) -> tuple[bytes, str]:
    """A multipart/form-data body of (name, filename or '', data, content type) parts."""
    boundary = "stylize-bench-6c1d3e0f9a"
    chunks: list[bytes] = []
    for name, filename, data, content_type in fields:
        disposition = f'form-data; name="{name}"'
        if filename:
            disposition += f'; filename="{filename}"'
        head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
        if content_type:
            head += f"Content-Type: {content_type}\r\n"
        chunks += [head.encode(), b"\r\n", data, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"
