"""``python -m cli`` is the ``stylize`` command."""

from cli.main import main

main()
