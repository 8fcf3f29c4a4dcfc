"""What Airflow's providers manager learns about synthpipe (the ``apache_airflow_provider``
entry point): the distribution, its hook, operators and connection type. The UI plugin
loads through its own ``airflow.plugins`` entry point, so it is not listed here twice.
"""

from __future__ import annotations

import synthpipe

PACKAGE = "synthpipe"


def get_provider_info() -> dict:
    """The provider description Airflow validates against its provider_info schema."""
    return {
        "package-name": PACKAGE,
        "name": "synthpipe",
        "description": "Train synthetic-data generators, generate, validate and deliver "
        "synthetic datasets from Airflow.",
        "versions": [synthpipe.__version__],
        "integrations": [
            {
                "integration-name": "synthpipe",
                "external-doc-url": "https://github.com/synthpipe/synthpipe",
                "tags": ["software"],
            }
        ],
        "operators": [
            {
                "integration-name": "synthpipe",
                "python-modules": ["synthpipe.airflow.operators"],
            }
        ],
        "hooks": [
            {
                "integration-name": "synthpipe",
                "python-modules": ["synthpipe.airflow.hook"],
            }
        ],
        "connection-types": [
            {
                "connection-type": "synthpipe",
                "hook-class-name": "synthpipe.airflow.hook.SynthpipeHook",
                "hook-name": "synthpipe connector",
            }
        ],
    }
