"""SynthpipeHook: synthpipe connectors built from the Airflow connections a team already has.

``SynthpipeHook("warehouse").get_conn()`` opens the synthpipe connector for the Airflow
connection ``warehouse`` (postgres, mysql, oracle, aws, google_cloud_platform, duckdb, fs, or
the generic ``synthpipe`` type), following the declarative mappings of
``synthpipe.airflow.connections``. In pipeline files, ``options: {airflow_conn_id: warehouse}``
names a connection the same way; ``resolve`` swaps it for the connection's settings at run
time. Every secret is handed to Airflow's secrets masker before use and is never logged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from synthpipe.airflow.connections import CONN_ID_OPTION, synthpipe_connection

if TYPE_CHECKING:
    from synthpipe.connectors.base import Connector
    from synthpipe.pipeline import Connection


class SynthpipeHook(BaseHook):
    """Builds synthpipe connectors from Airflow connections.

    :param synthpipe_conn_id: the Airflow connection to read.
    :param connector: the synthpipe connector kind expected (checked against the connection's
        type; for types serving several kinds, e.g. mysql/mariadb, it picks one).
    :param options: connector options that win over what the connection holds.
    """

    conn_name_attr = "synthpipe_conn_id"
    default_conn_name = "synthpipe_default"
    conn_type = "synthpipe"
    hook_name = "synthpipe connector"

    def __init__(
        self,
        synthpipe_conn_id: str = default_conn_name,
        *,
        connector: str | None = None,
        options: dict | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.synthpipe_conn_id = synthpipe_conn_id
        self.connector = connector
        self.options = dict(options or {})

    def connection(self) -> Connection:
        """The synthpipe connection (kind and options) for the Airflow connection."""
        from synthpipe.pipeline import Connection

        airflow_conn = self.get_connection(self.synthpipe_conn_id)
        spec, secrets = synthpipe_connection(airflow_conn, self.connector, self.options)
        connection = Connection.model_validate(spec)
        # The mapping's secrets, and any option the connector itself declares secret (e.g. one
        # kept in the extra of a generic 'synthpipe' connection).
        mask([*secrets, *_secret_options(connection)])
        return connection

    def get_conn(self) -> Connector:
        """An open synthpipe connector; close it (or use it as a context manager) when done."""
        from synthpipe import engine

        return engine.connect(self.connection())

    def test_connection(self) -> tuple[bool, str]:
        """Airflow's "Test" button: connect and list what the connector can see."""
        try:
            with self.get_conn() as connector:
                found = connector.tables(None)
        except Exception as exc:
            return False, f"{type(exc).__name__}: {exc}"
        return True, f"connected; {len(found)} table(s) at the default location"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form of the generic 'synthpipe' type: kind and options in extra."""
        return {
            "hidden_fields": ["host", "port", "login", "schema"],
            "relabeling": {"password": "Secret option 'password' (optional)"},
            "placeholders": {
                "extra": '{"connector": "postgres", "options": {"host": "db", "database": "x"}}'
            },
        }


def mask(secrets: list[Any]) -> None:
    """Register secret values with Airflow's masker so no log line shows them."""
    from airflow.sdk.log import mask_secret

    for secret in secrets:
        if secret not in (None, ""):
            mask_secret(secret)


def resolve(connection: Connection) -> Connection:
    """A pipeline connection with ``options.airflow_conn_id`` replaced by that connection.

    Options written beside ``airflow_conn_id`` win; connections without it are returned with
    their secret options masked, so a password typed into a pipeline file stays out of logs.
    """
    options = connection.options
    if CONN_ID_OPTION not in options:
        mask(_secret_options(connection))
        return connection
    hook = SynthpipeHook(
        options[CONN_ID_OPTION], connector=connection.connector or None, options=options
    )
    found = hook.connection()
    return connection.model_copy(update={"connector": found.connector, "options": found.options})


def _secret_options(connection: Connection) -> list[Any]:
    from synthpipe import plugins
    from synthpipe.errors import PluginError

    try:
        fields = plugins.connector_class(connection.connector).secret_fields
    except PluginError:  # unknown kinds fail later, with the fix, when connected
        return []
    return [connection.options.get(name) for name in fields]
