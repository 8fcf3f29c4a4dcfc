"""SynthpipeValidateOperator: check a dataset before delivery; a failed check fails the task."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synthpipe.airflow.operators.base import SynthpipeOperator, load, ref

if TYPE_CHECKING:
    from airflow.sdk import Context


class SynthpipeValidateOperator(SynthpipeOperator):
    """Validate a synthetic dataset (expectations derived from the training data, relational
    checks, quality gates) and record the result on it.

    A dataset that fails fails this task without retries (generating the same dataset again
    cannot fix it), so the delivery tasks downstream never run and the destinations keep their
    previous data; delivery would refuse the dataset anyway unless forced.

    :param dataset: dataset id or name, or the commit/generate task's result (templated).
    :param pipeline: pipeline file whose ``validation`` section gives the settings (templated).
    :param settings: validation settings overriding the file's (a ``Validation`` as a dict).

    Returns ``{"dataset": id, "success", "statistics": {evaluated, successful, failed},
    "summary": text, "report": URI of validation.html}``; a failed
    validation pushes the same under XCom key ``validation`` before failing.
    """

    template_fields = ("dataset", "pipeline", "home")

    def __init__(
        self, *, dataset: Any, pipeline: str | None = None, settings: dict | None = None, **kwargs
    ):
        super().__init__(**kwargs)
        self.dataset = dataset
        self.pipeline = pipeline
        self.settings = settings

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from synthpipe.validate import validate_dataset

        dataset = ref(self.dataset, "dataset")
        store = self.store()
        validation = self._settings()
        outcome = validate_dataset(
            dataset, home=store.root, settings=validation, progress=self.progress()
        )
        summary = outcome.summary()
        report = {
            "dataset": dataset,
            "success": bool(outcome.success),
            "statistics": outcome.counts(),
            "summary": summary,
            "report": (store.dataset_dir(outcome.dataset) / "validation.html").resolve().as_uri(),
        }
        if outcome.success:
            self.log.info("dataset %s passed validation: %s", dataset, summary)
            return report
        context["ti"].xcom_push(key="validation", value=report)
        raise AirflowFailException(
            f"{summary}\nThe dataset is not delivered: the destinations keep their previous "
            "data. Fix the generator or the pipeline's validation settings, or deliver it "
            "anyway with force=True (recorded on the dataset)."
        )

    def _settings(self):
        from synthpipe.pipeline import Validation

        if self.settings is not None:
            return Validation.model_validate(self.settings)
        pipeline = load(self.pipeline)
        return pipeline.validation if pipeline else None
