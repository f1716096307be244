"""Benchmarks (``stylize bench``) and their harness; production packages never import this."""
