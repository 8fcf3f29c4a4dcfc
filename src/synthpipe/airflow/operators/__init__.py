"""One operator per verb: train, generate (whole or partitioned), report, validate, deliver."""

from synthpipe.airflow.operators.deliver import SynthpipeDeliverOperator, delivery_outlets
from synthpipe.airflow.operators.generate import (
    SynthpipeCommitDatasetOperator,
    SynthpipeCreateDatasetOperator,
    SynthpipeGenerateOperator,
    SynthpipeGeneratePartitionOperator,
)
from synthpipe.airflow.operators.report import SynthpipeReportOperator
from synthpipe.airflow.operators.train import SynthpipeTrainOperator
from synthpipe.airflow.operators.validate import SynthpipeValidateOperator

__all__ = [
    "SynthpipeCommitDatasetOperator",
    "SynthpipeCreateDatasetOperator",
    "SynthpipeDeliverOperator",
    "SynthpipeGenerateOperator",
    "SynthpipeGeneratePartitionOperator",
    "SynthpipeReportOperator",
    "SynthpipeTrainOperator",
    "SynthpipeValidateOperator",
    "delivery_outlets",
]
