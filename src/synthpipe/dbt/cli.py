"""``synthpipe dbt``: schema import from a dbt manifest and ``sources.yml`` for a dataset.

The group is attached to the main CLI with ``cli.add_command(dbt)``; it reads ``--home`` and
``--json`` from the main CLI's context when there is one, and works on its own otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path

import click


def _root_option(name: str, default=None):
    """A setting of the main ``synthpipe`` CLI (``home``, ``as_json``), if it is the parent."""
    ctx = click.get_current_context()
    obj = ctx.find_root().obj
    return getattr(obj, name, default) if obj is not None else default


@click.group()
def dbt():
    """dbt integration: import a project's schema, describe a dataset as dbt sources."""


@dbt.command("import")
@click.option(
    "--manifest",
    "manifest",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="dbt's target/manifest.json (`dbt parse` writes it).",
)
@click.option(
    "--scope",
    type=click.Choice(["sources", "models"]),
    default="sources",
    show_default=True,
    help="Tables: the sources (model tests folded onto them), or every source and model.",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), default=None, help="File [default: stdout]."
)
def import_(manifest: str, scope: str, output: str | None) -> None:
    """Turn dbt sources, models and tests into generator tables (keys, value sets) and
    validation expectations, as the `generator.tables` and `validation.expectations` blocks of a
    pipeline file."""
    from synthpipe.dbt.manifest import import_manifest

    result = import_manifest(manifest, scope=scope)
    if _root_option("as_json", False):
        text = json.dumps({**result.fragment(), "notes": result.notes}, indent=2)
    else:
        text = result.to_yaml(manifest)
    _write(text, output)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)


@dbt.command("sources")
@click.argument("dataset")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), default=None, help="File [default: stdout]."
)
@click.option("--name", default=None, help="Source name [default: from the generator's name].")
@click.option("--schema", default=None, help="Schema the dataset was delivered to.")
@click.option("--database", default=None, help="Database the dataset was delivered to.")
@click.option(
    "--materialize",
    is_flag=True,
    help="Add the plugin's meta block: dbt-duckdb generates the tables itself.",
)
def sources(dataset, output, name, schema, database, materialize) -> None:
    """Write a sources.yml describing DATASET (id or name) for dbt, with tests derived from
    the generator's schema."""
    import yaml

    from synthpipe.dbt.sources import sources_yml, write_sources_yml

    document = sources_yml(
        dataset,
        home=_root_option("home"),
        name=name,
        schema=schema,
        database=database,
        materialize=materialize,
    )
    if output:
        path = write_sources_yml(output, document)
        click.echo(f"wrote {path}", err=True)
    else:
        click.echo(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), nl=False)


def _write(text: str, output: str | None) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(text)
    click.echo(f"wrote {output}", err=True)
