"""Why a run stops, in one place: the checks that run after every iteration of a job.

Each check is a peer with one interface (``RunCheck``: progress and the run's state in, a
``Stop`` or None out); ``worker/tasks.py`` lists the ones a job runs with, once, in order, and
``run_checks`` calls them all after each iteration. The hard time limit is the one reason that
cannot wait for an iteration: it watches from a thread (``hard_time_limit.py``).
"""
