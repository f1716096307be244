"""Event bodies and the progress object: one definition for the worker, SSE and the job JSON."""

from __future__ import annotations

from shared.job_events import preview_event, progress, progress_event, status_event

LOSSES = {"content": 1.0, "style": 2.0, "tv": 0.5, "total": 3.5}


def test_progress_has_percent_and_an_eta_only_while_running() -> None:
    assert progress(25, 100, LOSSES, 200.0004, running=True) == {
        "iteration": 25,
        "total": 100,
        "percent": 25.0,
        "losses": LOSSES,
        "ms_per_iter": 200.0,
        "eta_s": 15.0,
    }
    assert progress(25, 100, LOSSES, 200.0, running=False)["eta_s"] is None
    assert progress(0, 10, None, None, running=True)["eta_s"] is None
    assert progress(12, 10, None, 5.0, running=True)["eta_s"] == 0.0, "never a negative ETA"


def test_events_name_their_type() -> None:
    assert progress_event(1, 4, LOSSES, 10.0) == {
        "type": "progress",
        **progress(1, 4, LOSSES, 10.0, running=True),
    }
    assert preview_event(3) == {"type": "preview", "iteration": 3}


def test_status_event_carries_an_error_only_when_there_is_one() -> None:
    assert status_event("running") == {"type": "status", "status": "running"}
    assert status_event("failed", "time_limit", "too slow") == {
        "type": "status",
        "status": "failed",
        "error": {"code": "time_limit", "message": "too slow"},
    }
