"""SynthpipeReportOperator: the QA report of a dataset (fidelity and privacy metrics)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synthpipe.airflow.operators.base import SynthpipeOperator, ref

if TYPE_CHECKING:
    from airflow.sdk import Context


class SynthpipeReportOperator(SynthpipeOperator):
    """Compare a synthetic dataset with the real rows kept beside its generator and write the
    QA report (``qa_report.html``, ``qa_metrics.json``) into the dataset's folder, where the
    validation gates and the "Synthetic data" page read it.

    :param dataset: dataset id or name, or the commit/generate task's result (templated).
    :param seed: seed of the metrics' sampling (templated).

    Returns ``{"dataset": id, "report": file URI, "headline": {accuracy, dcr_share,
    discriminator_auc, verdict}}``.
    """

    template_fields = ("dataset", "seed", "home")

    def __init__(self, *, dataset: Any, seed: int | str = 0, **kwargs):
        super().__init__(**kwargs)
        self.dataset = dataset
        self.seed = seed

    def execute(self, context: Context) -> dict[str, Any]:
        from synthpipe import api
        from synthpipe.airflow.summary import headline

        dataset = ref(self.dataset, "dataset")
        store = self.store()
        html = api.report(dataset, home=store.root, seed=int(self.seed), progress=self.progress())
        found = headline(html.parent)
        self.log.info("QA report of %s: %s (%s)", dataset, found, html)
        return {"dataset": dataset, "report": html.resolve().as_uri(), "headline": found}
