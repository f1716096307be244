"""The ``stylize`` command line."""
