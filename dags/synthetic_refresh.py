"""Synthetic data refresh: one Airflow DAG per pipeline file in dags/pipelines/.

Each DAG trains a generator, generates a fresh synthetic dataset in parallel partitions,
validates it and delivers it (see synthpipe.airflow.pipeline_dag). Set SYNTHPIPE_PIPELINES to
read the pipeline files from another folder, and SYNTHPIPE_HOME (or ``[synthpipe] home``) to a
store every worker shares.
"""

from __future__ import annotations

import os
from pathlib import Path

from synthpipe.airflow import pipeline_dags

PIPELINES = Path(os.environ.get("SYNTHPIPE_PIPELINES") or Path(__file__).parent / "pipelines")

globals().update(pipeline_dags(PIPELINES))
