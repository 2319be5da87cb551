"""The Typer application every command module registers on."""

import typer

app = typer.Typer(
    name="cinecluster",
    help="MovieLens movie clusters and recommendations served from PostgreSQL.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
