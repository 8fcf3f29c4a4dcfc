"""Where Airflow tasks and the UI plugin find the synthpipe artifact store.

Every worker and the API server must see the same store (a shared volume or object-store
mount), so it is set once: ``SYNTHPIPE_HOME`` in the environment, or ``[synthpipe] home`` in
airflow.cfg (``AIRFLOW__SYNTHPIPE__HOME``); an operator's ``home`` argument wins over both.
"""

from __future__ import annotations

import os
from pathlib import Path


def synthpipe_home(home: str | Path | None = None) -> Path | None:
    """The store root for a task: ``home``, else SYNTHPIPE_HOME, else airflow.cfg; None if unset."""
    if home:
        return Path(home)
    if os.environ.get("SYNTHPIPE_HOME"):
        return Path(os.environ["SYNTHPIPE_HOME"])
    configured = _airflow_setting()
    return Path(configured) if configured else None


def _airflow_setting() -> str | None:
    try:
        from airflow.sdk import conf
    except ImportError:  # outside Airflow (tests, the CLI): nothing configured there
        return None
    return conf.get("synthpipe", "home", fallback=None) or None
