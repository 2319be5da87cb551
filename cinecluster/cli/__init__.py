"""The `cinecluster` command: one module per command group, registered on one Typer app."""

import sys

import cinecluster.cli.demo as _demo  # noqa: F401  (deployment engineer: `cinecluster demo`)
import cinecluster.cli.evaluate as _evaluate  # noqa: F401  (evaluation engineer: `cinecluster evaluate`)
import cinecluster.cli.export as _export  # noqa: F401  (`cinecluster export-recommendations`)
import cinecluster.cli.load as _load  # noqa: F401  (loaders engineer: `cinecluster load`, `cinecluster synth`)
import cinecluster.cli.recluster as _recluster  # noqa: F401  (recluster, model, export-model/-clusters, scheduler)
import cinecluster.cli.report as _report  # noqa: F401  (deployment engineer: `cinecluster report`)
import cinecluster.cli.serve  # noqa: F401  (API engineer: `cinecluster serve`)
from cinecluster.cli import db  # noqa: F401  (modules register their commands on import)
from cinecluster.cli.app import app
from cinecluster.errors import UserError


def main() -> None:
    """Console-script entry point: user mistakes become one line on stderr, never a traceback."""
    try:
        app()
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
