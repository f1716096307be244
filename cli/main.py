"""``stylize``: one console script, subcommands registered from small modules.

Modules are imported lazily so ``stylize config`` never pays for TensorFlow.
"""

from __future__ import annotations

import importlib
import sys

import click

from shared.settings import SettingsError

# subcommand name -> "module:attribute" of a click command or group
COMMANDS = {
    "config": "cli.config_cmd:config",
    "db": "cli.db_cmd:db",
    "keys": "cli.keys_cmd:keys",
    "run": "cli.run_cmd:run",
    "weights": "cli.weights_cmd:weights",
    "bench": "cli.bench_cmd:bench",
    "up": "cli.service_cmd:up",
    "api": "cli.service_cmd:api",
    "worker": "cli.service_cmd:worker",
    "flower": "cli.service_cmd:flower",
    "webhooks": "cli.webhooks_cmd:webhooks",
    "reaper": "cli.reaper_cmd:reaper",
    "submit": "cli.client_cmd:submit",
    "jobs": "cli.client_cmd:jobs",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if self._importable(name))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        return getattr(importlib.import_module(module_name), attribute)

    @staticmethod
    def _importable(name: str) -> bool:
        return importlib.util.find_spec(COMMANDS[name].split(":")[0]) is not None


@click.group(cls=LazyGroup)
def cli() -> None:
    """Stylize: neural style transfer as a job service."""
    from shared.logs import configure_logging
    from shared.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)


def main() -> None:
    """Entry point: configuration errors become one line on stderr and exit code 2."""
    try:
        cli.main(standalone_mode=True)
    except SettingsError as exc:
        click.echo(f"stylize: configuration error: {exc}", err=True)
        sys.exit(2)
