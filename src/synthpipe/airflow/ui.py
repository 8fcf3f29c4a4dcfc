"""The Airflow UI plugin (``airflow.plugins`` entry point): a "Synthetic data" page.

The page lists generators and datasets with status, sizes and headline QA metrics, and links
their QA and validation reports. Airflow 3 serves it as a FastAPI app under ``/synthpipe``
and shows it in the navigation as an external view. Airflow loads plugins in every component
(scheduler, workers, DAG processor), so the app itself is built only on its first request.
"""

from __future__ import annotations

from airflow.sdk.plugins_manager import AirflowPlugin

URL_PREFIX = "/synthpipe"


class LazyApp:
    """An ASGI app that builds the real FastAPI app when the first request arrives."""

    def __init__(self):
        self._app = None

    async def __call__(self, scope, receive, send) -> None:
        if self._app is None:
            from synthpipe.airflow.web import create_app

            self._app = create_app()
        await self._app(scope, receive, send)


class SynthpipePlugin(AirflowPlugin):
    """Registers the "Synthetic data" page with Airflow's API server and UI."""

    name = "synthpipe"
    fastapi_apps = [{"app": LazyApp(), "url_prefix": URL_PREFIX, "name": "synthpipe"}]
    external_views = [
        {
            "name": "Synthetic data",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "category": "browse",
            "url_route": "synthetic-data",
        }
    ]
