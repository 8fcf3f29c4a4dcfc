"""SynthpipeDeliverOperator: write a dataset to a destination and emit one Asset per table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset, AssetAlias

from synthpipe.airflow.assets import table_uri
from synthpipe.airflow.connections import CONN_ID_OPTION
from synthpipe.airflow.operators.base import SynthpipeOperator, load, ref

if TYPE_CHECKING:
    from airflow.sdk import Context

    from synthpipe.pipeline import Connection, Delivery
    from synthpipe.store import DatasetRecord


class SynthpipeDeliverOperator(SynthpipeOperator):
    """Deliver a synthetic dataset (overwrite by default: readers see old or new tables).

    The destination is one of: delivery ``delivery`` (an index) of a ``pipeline`` file; a
    ``delivery`` dict as a pipeline file spells it; or an Airflow connection ``conn_id`` (with
    ``connector`` where its type serves several kinds and ``options`` on top). ``location``,
    ``mode`` and ``create_constraints`` override the delivery's.

    A dataset whose validation failed is refused (the task fails without retries) unless
    ``force``. Each delivered table is an Asset event: on the outlets computed when the DAG was
    built (pass ``tables``), or else through the ``synthpipe/<dag>/<task>`` asset alias, so
    downstream DAGs (dbt runs) can be scheduled on the tables.

    Returns ``{"dataset": id, "destination": kind, "location", "mode", "forced",
    "tables": {table: {"rows": n, "uri": asset URI}}}``.
    """

    template_fields = ("dataset", "pipeline", "conn_id", "location", "home")

    def __init__(
        self,
        *,
        dataset: Any,
        pipeline: str | None = None,
        delivery: int | dict | None = None,
        conn_id: str | None = None,
        connector: str | None = None,
        options: dict | None = None,
        location: str | None = None,
        mode: str | None = None,
        create_constraints: bool | None = None,
        force: bool = False,
        tables: list[str] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.dataset = dataset
        self.pipeline = pipeline
        self.delivery = delivery
        self.conn_id = conn_id
        self.connector = connector
        self.options = dict(options or {})
        self.location = location
        self.mode = mode
        self.create_constraints = create_constraints
        self.force = force
        if not self.outlets:
            static = self._static_delivery()
            self.outlets = delivery_outlets(static, tables or [], self._alias_name())

    def _alias_name(self) -> str:
        dag_id = self.dag_id if self.has_dag() else "-"
        return f"synthpipe/{dag_id}/{self.task_id}"

    def _static_delivery(self) -> Delivery | None:
        """The delivery when it is known before the run (a dict given here), else None."""
        if isinstance(self.delivery, dict) and not self.conn_id:
            return self._override(_delivery(self.delivery))
        return None

    def _override(self, delivery: Delivery) -> Delivery:
        given = {
            "location": self.location,
            "mode": self.mode,
            "create_constraints": self.create_constraints,
        }
        update = {k: v for k, v in given.items() if v is not None}
        if not update:
            return delivery
        data = delivery.model_dump(exclude_none=True)
        if "mode" in update:  # the shorthand would otherwise win over the mode given here
            data.pop("overwrite_tables", None)
        return _delivery({**data, **update})

    def delivery_spec(self) -> Delivery:
        """The delivery this task performs, before Airflow connections are resolved."""
        from synthpipe.pipeline import Connection

        if self.conn_id:
            options = {**self.options, CONN_ID_OPTION: self.conn_id}
            destination = Connection(connector=self.connector or "", options=options)
            return self._override(_delivery({"destination": destination.model_dump()}))
        if isinstance(self.delivery, dict):
            return self._override(_delivery(self.delivery))
        pipeline = load(self.pipeline)
        index = self.delivery or 0
        if pipeline is None or index >= len(pipeline.delivery):
            from synthpipe.errors import ConfigError

            raise ConfigError(
                f"task '{self.task_id}' has no destination: pass conn_id, a delivery dict, or a "
                f"pipeline file with a delivery number {index}"
            )
        return self._override(pipeline.delivery[index])

    def execute(self, context: Context) -> dict[str, Any]:
        from synthpipe import api

        store = self.store()
        record = store.dataset(ref(self.dataset, "dataset"))
        self._refuse_failed(record)
        delivery = self.delivery_spec()
        delivery = delivery.model_copy(update={"destination": _resolve(delivery.destination)})
        written = api.deliver(
            record.id, delivery, home=store.root, force=self.force, progress=self.progress()
        )
        kind = delivery.destination.connector
        spec = delivery.destination.model_dump()
        tables = {
            name: {"rows": rows, "uri": _normalized(table_uri(spec, delivery.location, name))}
            for name, rows in written[kind].items()
        }
        self._emit(context, record, tables)
        self.log.info("delivered %s to %s: %s", record.id, kind, tables)
        return {
            "dataset": record.id,
            "destination": kind,
            "location": delivery.location,
            "mode": delivery.mode.value,
            "forced": bool(self.force or delivery.force),
            "tables": tables,
        }

    def _refuse_failed(self, record: DatasetRecord) -> None:
        from airflow.sdk.exceptions import AirflowFailException

        if (record.validation or {}).get("success") is False and not self.force:
            raise AirflowFailException(
                f"dataset '{record.name}' ({record.id}) failed validation and is not delivered; "
                "the destination keeps its previous data. Fix the generator, or set force=True "
                "to deliver it anyway (recorded on the dataset)."
            )

    def _emit(self, context: Context, record: DatasetRecord, tables: dict) -> None:
        """Attach rows and dataset to the table Asset events (static outlets or the alias)."""
        events = context["outlet_events"]
        static = {o.uri: o for o in self.outlets if isinstance(o, Asset)}
        alias = next((o for o in self.outlets if isinstance(o, AssetAlias)), None)
        for name, info in tables.items():
            if info["uri"] is None:
                continue
            extra = {"rows": info["rows"], "dataset": record.id, "table": name}
            if info["uri"] in static:
                events[static[info["uri"]]].extra.update(extra)
            elif alias is not None:
                events[alias].add(Asset(info["uri"]), extra=extra)


def delivery_outlets(delivery: Delivery | None, tables: list[str], alias: str) -> list:
    """The outlets of a delivery task: one Asset per table known now, and an alias for the rest."""
    outlets: list = []
    if delivery is not None and CONN_ID_OPTION not in delivery.destination.options:
        spec = delivery.destination.model_dump()
        uris = [table_uri(spec, delivery.location, t) for t in tables]
        outlets = [Asset(u) for u in dict.fromkeys(uris) if u is not None]
    return [*outlets, AssetAlias(alias)]


def _delivery(data: dict) -> Delivery:
    from synthpipe.pipeline import Delivery

    return Delivery.model_validate(data)


def _resolve(connection: Connection) -> Connection:
    from synthpipe.airflow.hook import resolve

    return resolve(connection)


def _normalized(uri: str | None) -> str | None:
    return Asset(uri).uri if uri is not None else None
