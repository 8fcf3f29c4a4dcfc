"""The `synthpipe` command line: the API's verbs for people and scripts.

Errors print as one line and exit 1 (``--debug`` shows the traceback); ``--json`` prints
machine-readable results; progress goes to stderr and ``--quiet`` silences it.
"""

from __future__ import annotations

import json
import sys

import click

from synthpipe import __version__
from synthpipe.errors import CanceledError, SynthpipeError


class Context:
    def __init__(self, home: str | None, as_json: bool, quiet: bool, debug: bool):
        self.home, self.as_json, self.quiet, self.debug = home, as_json, quiet, debug

    def emit(self, data, text: str | None = None) -> None:
        """Print ``data`` as JSON in --json mode, else the human ``text``."""
        if self.as_json:
            click.echo(json.dumps(data, indent=2, default=str))
        elif text is not None:
            click.echo(text)

    def progress(self):
        """Progress for a long verb: bars on a terminal, plain lines with percentages in logs
        (``synthpipe.progress.console``); none with --quiet."""
        from synthpipe.progress import Progress, console

        return Progress(listeners=[] if self.quiet else [console()])


pass_ctx = click.make_pass_decorator(Context)

# Flags of the whole CLI, accepted before the sub-command and after it, at any level:
# `synthpipe --json plugins`, `synthpipe plugins --json`, `synthpipe datasets list -q --json`.
GLOBAL_FLAGS = (
    (("--json",), "as_json", "Print results as JSON, for scripts."),
    (("-q", "--quiet"), "quiet", "No progress output."),
    (("--debug",), "debug", "Show tracebacks on errors."),
)


def _set_global(attr: str):
    def callback(ctx: click.Context, _param, value: bool) -> None:
        obj = ctx.find_root().obj
        if value and isinstance(obj, Context):
            setattr(obj, attr, True)

    return callback


def _accept_global_flags(command: click.Command) -> None:
    """Give ``command`` and every sub-command the global flags they do not have yet."""
    for decls, attr, help_text in GLOBAL_FLAGS:
        taken = {opt for p in command.params for opt in getattr(p, "opts", [])}
        if not taken & set(decls):
            command.params.append(
                click.Option(
                    [*decls, f"_global_{attr}"],
                    is_flag=True,
                    expose_value=False,
                    callback=_set_global(attr),
                    help=help_text,
                )
            )
    for sub in getattr(command, "commands", {}).values():
        _accept_global_flags(sub)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="synthpipe")
@click.option(
    "--home",
    envvar="SYNTHPIPE_HOME",
    default=None,
    help="Artifact store root [env SYNTHPIPE_HOME; default ./.synthpipe].",
)
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON, for scripts.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.pass_context
def cli(ctx, home, as_json, quiet, debug):
    """Train generators on real tables, generate synthetic datasets that keep their statistics
    and relations, check them and deliver them."""
    ctx.obj = Context(home, as_json, quiet, debug)


# -- plugins & connectors -----------------------------------------------------------------------


@cli.command()
@pass_ctx
def plugins(ctx):
    """List plugins, their origin and what they provide (broken ones with the fix)."""
    from synthpipe.plugins import get_registry

    infos = get_registry().plugins
    ctx.emit([vars(i) for i in infos])
    if ctx.as_json:
        return
    for info in infos:
        provides = ", ".join(
            [
                *(f"connector:{c}" for c in info.connectors),
                *(f"generator:{g}" for g in info.generators),
            ]
        )
        if info.broken:
            click.echo(f"{info.name:40} {info.origin:28} BROKEN: {info.error}")
            click.echo(f"{'':40} fix: {info.fix}")
        else:
            click.echo(f"{info.name:40} {info.origin:28} {provides}")


def _options(pairs: tuple[str, ...]) -> dict:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"'{pair}' is not KEY=VALUE", param_hint="--option")
        options[key] = value
    return options


@cli.group()
def connectors():
    """Explore a source: its locations and the schema of its tables."""


_option = click.option(
    "-o",
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Connector setting, e.g. -o path=data/ (repeatable).",
)


@connectors.command("locations")
@click.argument("connector")
@_option
@click.option("--prefix", default="", help="Only locations starting with this.")
@pass_ctx
def connectors_locations(ctx, connector, options, prefix):
    """List the locations (schemas, folders, prefixes) a connector can read."""
    from synthpipe.api import connect

    with connect({"connector": connector, "options": _options(options)}) as conn:
        found = conn.locations(prefix)
    ctx.emit(found, "\n".join(loc or "." for loc in found))


@connectors.command("schema")
@click.argument("connector")
@_option
@click.option("--location", default=None, help="Schema, folder or prefix.")
@click.option("--table", "tables", multiple=True, help="Only these tables (repeatable).")
@pass_ctx
def connectors_schema(ctx, connector, options, location, tables):
    """Show tables, columns, types and keys as the connector's catalog describes them."""
    from synthpipe.api import connect

    with connect({"connector": connector, "options": _options(options)}) as conn:
        found = conn.schema(location, list(tables) or None)
    data = [t.model_dump(mode="json", exclude_none=True) for t in found]
    ctx.emit(data, None)
    if not ctx.as_json:
        for table in found:
            rows = f"{table.rows:,} rows" if table.rows is not None else "rows unknown"
            click.echo(f"{table.name} ({rows}) pk={table.primary_key or '-'}")
            for column in table.columns or []:
                null = "" if column.nullable else " not null"
                click.echo(f"  {column.name}: {column.type.value}{null}")
            for fk in table.foreign_keys:
                click.echo(
                    f"  fk {','.join(fk.columns)} -> {fk.referenced_table}"
                    f"{' (context)' if fk.is_context else ''}"
                )


# -- verbs --------------------------------------------------------------------------------------


@cli.command()
@click.argument("pipeline", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", default=None, help="Generator name [default: from the pipeline].")
@click.option("--generator", "kind", default=None, help="Generator kind, e.g. independent.")
@pass_ctx
def train(ctx, pipeline, name, kind):
    """Train a generator on the source tables of PIPELINE."""
    from synthpipe import api

    record = api.train(pipeline, name=name, generator=kind, home=ctx.home, progress=ctx.progress())
    ctx.emit(
        record.model_dump(mode="json", exclude={"statistics", "config"}),
        f"trained generator {record.name} ({record.id}) in "
        f"{record.timings.get('train', 0):.1f}s on {_rows(record.training_rows)}",
    )


def _rows(counts: dict[str, int]) -> str:
    return ", ".join(f"{t}: {n:,} rows" for t, n in counts.items())


def _sizes(pairs: tuple[str, ...]) -> dict[str, int]:
    sizes = {}
    for pair in pairs:
        table, sep, n = pair.partition("=")
        if not sep or not table:
            raise click.BadParameter(f"'{pair}' is not TABLE=ROWS", param_hint="--size")
        if not n.strip().isdigit():
            raise click.BadParameter(
                f"'{pair}': rows of table '{table}' must be a whole number, 0 or more "
                "(0 generates an empty table), e.g. --size plots=100",
                param_hint="--size",
            )
        sizes[table] = int(n)
    return sizes


@cli.command()
@click.argument("generator")
@click.option(
    "--size",
    "sizes",
    multiple=True,
    metavar="TABLE=ROWS",
    help="Rows of a learned table, 0 or more (repeatable); root default = training rows.",
)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--partitions", default=1, show_default=True, type=click.IntRange(1))
@click.option(
    "--name", default=None, help="Dataset name [default: <generator>-<date>-<id suffix>]."
)
@pass_ctx
def generate(ctx, generator, sizes, seed, partitions, name):
    """Generate a synthetic dataset from GENERATOR (id, or name: the newest DONE one)."""
    from synthpipe import api

    record = api.generate(
        generator,
        sizes=_sizes(sizes),
        seed=seed,
        partitions=partitions,
        name=name,
        home=ctx.home,
        progress=ctx.progress(),
    )
    rows = {t: v["rows"] for t, v in record.tables.items()}
    ctx.emit(
        record.model_dump(mode="json"),
        f"generated dataset {record.name} ({record.id}): {_rows(rows)}\n"
        f"parts in {api.Store(ctx.home).dataset_dir(record.id) / 'tables'}",
    )


@cli.command()
@click.argument("dataset")
@click.argument("pipeline", type=click.Path(exists=True, dir_okay=False))
@click.option("--force", is_flag=True, help="Deliver even if validation failed (recorded).")
@pass_ctx
def deliver(ctx, dataset, pipeline, force):
    """Deliver DATASET to the destinations of PIPELINE."""
    from synthpipe import api

    result = api.deliver(dataset, pipeline, home=ctx.home, force=force, progress=ctx.progress())
    ctx.emit(result, "\n".join(f"{dest}: {_rows(rows)}" for dest, rows in result.items()))


@cli.command()
@click.argument("pipeline", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--force",
    is_flag=True,
    help="Deliver and exit 0 even if validation failed (recorded on the dataset).",
)
@pass_ctx
def run(ctx, pipeline, force):
    """Run PIPELINE end to end: train, generate, QA report, validate, deliver, then delete
    old datasets as its retention policy says.

    Exits 1 when validation fails (delivering only where the file sets force), unless --force.
    """
    from synthpipe import api

    result = api.run(pipeline, home=ctx.home, progress=ctx.progress(), force=force)
    lines = [
        f"generator {result['generator']}",
        f"dataset {result['name']} ({result['dataset']})",
        f"QA report {result['report']}",
    ]
    if "validation" in result:
        lines.append(f"validation {'passed' if result['validation'] else 'FAILED (--force)'}")
    lines += [f"delivered to {d}: {_rows(rows)}" for d, rows in result["delivered"].items()]
    deleted = result.get("retention") or {}
    for kind in ("datasets", "generators"):
        if deleted.get(kind):
            lines.append(f"retention deleted {kind}: {', '.join(deleted[kind])}")
    ctx.emit(result, "\n".join(lines))


@cli.command()
@click.argument("dataset")
@click.option("--open", "open_", is_flag=True, help="Open the report in a browser.")
@pass_ctx
def report(ctx, dataset, open_):
    """Write the QA report of DATASET (HTML + JSON metrics) beside it and print its path."""
    from synthpipe import api
    from synthpipe.qa import load_metrics

    path = api.report(dataset, home=ctx.home, progress=ctx.progress())
    headline = load_metrics(path.parent)["headline"]
    ctx.emit({"report": str(path), "headline": headline}, str(path))
    if open_:
        import webbrowser

        webbrowser.open(path.resolve().as_uri())


@cli.command()
@pass_ctx
def schema(ctx):
    """Print the JSON Schema of pipeline files (for editors)."""
    from synthpipe.pipeline import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


# -- artifacts ----------------------------------------------------------------------------------


@cli.group()
def generators():
    """List, inspect, export, import, clone and delete generators."""


@generators.command("list")
@pass_ctx
def generators_list(ctx):
    """List generators, oldest first: id, name, status and kind."""
    from synthpipe import api

    records = api.list_generators(ctx.home)
    ctx.emit(
        [
            r.model_dump(
                mode="json",
                include={"id", "name", "status", "generator", "created_at", "training_rows"},
            )
            for r in records
        ],
        "\n".join(f"{r.id}  {r.name:24} {r.status.value:12} {r.generator}" for r in records)
        or "no generators yet; train one with `synthpipe train PIPELINE`",
    )


@generators.command("show")
@click.argument("generator")
@pass_ctx
def generators_show(ctx, generator):
    """Show the record of GENERATOR (id, or name: the newest DONE one)."""
    from synthpipe import api

    record = api.get_generator(generator, ctx.home)
    data = record.model_dump(mode="json", exclude={"statistics"})
    # logic the real data holds and the model keeps (fidelity generator; see docs/fidelity.md)
    from synthpipe.generators.fidelity.logic import stored_relationships
    from synthpipe.store import Store

    data["relationships"] = stored_relationships(Store(ctx.home).generator_dir(record.id) / "model")
    ctx.emit(data, json.dumps(data, indent=2, default=str))


@generators.command("export")
@click.argument("generator")
@click.argument("path", type=click.Path(dir_okay=False))
@pass_ctx
def generators_export(ctx, generator, path):
    """Write GENERATOR to one file (no real data inside)."""
    from synthpipe import api

    out = api.export_generator(generator, path, ctx.home)
    ctx.emit({"path": str(out)}, f"exported to {out}")


@generators.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", default=None)
@pass_ctx
def generators_import(ctx, path, name):
    from synthpipe import api

    record = api.import_generator(path, name=name, home=ctx.home)
    ctx.emit(
        {"id": record.id, "name": record.name}, f"imported generator {record.name} ({record.id})"
    )


@generators.command("clone")
@click.argument("generator")
@click.option("--name", default=None)
@pass_ctx
def generators_clone(ctx, generator, name):
    from synthpipe import api

    record = api.clone_generator(generator, name=name, home=ctx.home)
    ctx.emit({"id": record.id, "name": record.name}, f"cloned to {record.name} ({record.id})")


@generators.command("delete")
@click.argument("generators", nargs=-1, required=True, metavar="NAME_OR_ID...")
@click.option(
    "--force", is_flag=True, help="Delete even if datasets of it remain or it is training."
)
@pass_ctx
def generators_delete(ctx, generators, force):
    """Delete generators with their models and real reference rows.

    A name must be unique; pass ids where a name repeats. Refused while datasets of the
    generator remain (delete them first) unless --force.
    """
    from synthpipe import api

    records = api.delete_generators(list(generators), ctx.home, force=force)
    ctx.emit(
        [{"id": r.id, "name": r.name} for r in records],
        "\n".join(f"deleted generator {r.name} ({r.id})" for r in records),
    )


@cli.group()
def datasets():
    """List, inspect and delete synthetic datasets."""


@datasets.command("list")
@pass_ctx
def datasets_list(ctx):
    """List datasets, oldest first: id, name, status and rows per table."""
    from synthpipe import api

    records = api.list_datasets(ctx.home)
    ctx.emit(
        [
            r.model_dump(mode="json", include={"id", "name", "status", "generator_id", "tables"})
            for r in records
        ],
        "\n".join(
            f"{r.id}  {r.name:28} {r.status.value:12} "
            f"{_rows({t: v['rows'] for t, v in r.tables.items()})}"
            for r in records
        )
        or "no datasets yet; generate one with `synthpipe generate GENERATOR`",
    )


@datasets.command("show")
@click.argument("dataset")
@pass_ctx
def datasets_show(ctx, dataset):
    """Show the record of DATASET (id, or name: the newest DONE one)."""
    from synthpipe import api

    data = api.get_dataset(dataset, ctx.home).model_dump(mode="json")
    ctx.emit(data, json.dumps(data, indent=2, default=str))


@datasets.command("delete")
@click.argument("datasets", nargs=-1, required=True, metavar="NAME_OR_ID...")
@click.option(
    "--force", is_flag=True, help="Delete even if it seems to be generated or delivered now."
)
@pass_ctx
def datasets_delete(ctx, datasets, force):
    """Delete datasets and their parts (every one is checked before any is deleted).

    A name must be unique; pass ids where a name repeats. A dataset being generated or
    delivered is refused unless --force (for one whose process is gone).
    """
    from synthpipe import api

    records = api.delete_datasets(list(datasets), ctx.home, force=force)
    ctx.emit(
        [{"id": r.id, "name": r.name} for r in records],
        "\n".join(f"deleted dataset {r.name} ({r.id})" for r in records),
    )


def _attach_integrations() -> None:
    """Sub-commands that live beside their integration (imported lazily inside them)."""
    from synthpipe.dbt.cli import dbt as dbt_group
    from synthpipe.validate.cli import validate_command

    cli.add_command(validate_command)
    cli.add_command(dbt_group)


_attach_integrations()
for _command in cli.commands.values():
    _accept_global_flags(_command)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning synthpipe errors into one line and exit code 1."""
    debug = "--debug" in (argv if argv is not None else sys.argv)
    try:
        cli.main(args=argv, prog_name="synthpipe", standalone_mode=False)
    except click.exceptions.Abort:  # Ctrl-C: a running job is recorded CANCELED, cleaned up
        click.echo("canceled (Ctrl-C)", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (SynthpipeError, OSError) as exc:
        if debug:
            raise
        label = "canceled" if isinstance(exc, CanceledError) else "error"
        click.echo(f"{label}: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:  # a bug, not bad input: still one line unless --debug
        if debug:
            raise
        from synthpipe.errors import missing_dependency

        missing = missing_dependency(exc)  # an optional dependency: name its install command
        if missing is not None:
            click.echo(f"error: {missing}", err=True)
            sys.exit(1)
        click.echo(
            f"error: unexpected {type(exc).__name__}: {exc} (rerun with --debug for "
            "the traceback and report it)",
            err=True,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
