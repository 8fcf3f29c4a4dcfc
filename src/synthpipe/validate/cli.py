"""``synthpipe validate DATASET``: validate a dataset, exit 1 with a one-screen summary on failure.

The command works attached to the ``synthpipe`` group (it then honours the group's ``--home``
and ``--json``) and on its own.
"""

from __future__ import annotations

import json
import sys

import click


def _group_options(ctx: click.Context) -> tuple[str | None, bool]:
    obj = ctx.find_root().obj
    return getattr(obj, "home", None), bool(getattr(obj, "as_json", False))


def _progress(ctx: click.Context):
    """The synthpipe group's progress output (bars or log lines; none with --quiet), or None
    when the command runs on its own."""
    obj = ctx.find_root().obj
    return obj.progress() if hasattr(obj, "progress") else None


@click.command("validate")
@click.argument("dataset")
@click.option(
    "--pipeline",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Pipeline file whose `validation` block (disable, expectations, gates) applies.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the full JSON result.")
@click.pass_context
def validate_command(ctx: click.Context, dataset: str, pipeline: str | None, as_json: bool):
    """Validate DATASET (id or name) against the suites derived from its generator.

    Exits 1 when a check or gate fails; the dataset is then refused by delivery unless forced.
    """
    from synthpipe.validate.dataset import validate_dataset

    home, group_json = _group_options(ctx)
    settings = None
    if pipeline is not None:
        from synthpipe.pipeline import load_pipeline

        settings = load_pipeline(pipeline).validation
    result = validate_dataset(dataset, home=home, settings=settings, progress=_progress(ctx))
    if as_json or group_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        click.echo(result.summary())
    if not result.success:
        # SystemExit, not ctx.exit: the synthpipe CLI runs click with standalone_mode=False,
        # which would swallow the exit code.
        sys.exit(1)
