"""The "Synthetic data" page, served by Airflow's own API server app with the plugin loaded
from its entry point, and exercised with a test client."""

from __future__ import annotations

import json

import pytest
from airflow_support import write_pipeline

from synthpipe import api
from synthpipe.pipeline import Validation
from synthpipe.store import Store

IMPOSSIBLE = {"plots": [{"type": "expect_table_row_count_to_equal", "kwargs": {"value": 1}}]}
HEADLINE = {"accuracy": 0.912, "dcr_share": 0.49, "discriminator_auc": 0.61, "verdict": "good"}


@pytest.fixture(scope="module")
def ui_store(tmp_path_factory) -> dict:
    """A store with one generator and three datasets: passed, failed and not validated."""
    from synthpipe.validate import validate_dataset

    home = tmp_path_factory.mktemp("ui") / "home"
    generator = api.train(write_pipeline(home.parent, "ui_demo"), home=home)
    passed, failed, fresh = (
        api.generate(generator.id, sizes={"plots": n}, name=f"ds{n}", home=home) for n in (4, 5, 6)
    )
    validate_dataset(passed.id, home=home)
    validate_dataset(failed.id, home=home, settings=Validation(expectations=IMPOSSIBLE))
    # The QA metrics file in the layout docs/qa.md documents (only its headline is read here).
    metrics = {"schema_version": 1, "headline": HEADLINE, "tables": {}}
    (Store(home).dataset_dir(passed.id) / "qa_metrics.json").write_text(json.dumps(metrics))
    return {"home": home, "generator": generator, "passed": passed, "failed": failed,
            "fresh": fresh}  # fmt: skip


@pytest.fixture(scope="module")
def airflow_app(airflow_db):
    from airflow.api_fastapi.app import create_app

    return create_app()


@pytest.fixture
def client(airflow_app, ui_store, monkeypatch):
    """A client signed in to Airflow (a JWT from its auth manager), reading the UI store."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi.testclient import TestClient

    monkeypatch.setenv("SYNTHPIPE_HOME", str(ui_store["home"]))
    token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="u", role="admin"))
    return TestClient(airflow_app, headers={"Authorization": f"Bearer {token}"})


def test_page_requires_a_signed_in_airflow_user(airflow_app):
    from fastapi.testclient import TestClient

    assert TestClient(airflow_app).get("/synthpipe/").status_code == 401


def test_plugin_adds_the_synthetic_data_page_to_the_navigation(client):
    plugins = client.get("/api/v2/plugins").json()["plugins"]
    (plugin,) = [p for p in plugins if p["name"] == "synthpipe"]
    (view,) = plugin["external_views"]
    assert (view["name"], view["href"], view["destination"]) == (
        "Synthetic data", "/synthpipe/", "nav"
    )  # fmt: skip


def test_page_lists_generators_and_datasets_with_status(client, ui_store):
    page = client.get("/synthpipe/")
    assert page.status_code == 200
    for record in (ui_store["generator"], ui_store["passed"], ui_store["failed"]):
        assert record.id in page.text
    assert "DONE" in page.text


def test_page_links_validation_reports_and_shows_headline_metrics(client, ui_store):
    page = client.get("/synthpipe/").text
    assert f'href="datasets/{ui_store["passed"].id}/validation"' in page
    assert f'href="datasets/{ui_store["failed"].id}/validation"' in page
    assert "91.2%" in page  # the passed dataset's QA accuracy
    assert "not run" in page  # the dataset never validated


def test_summary_reports_rows_sizes_and_validation(client, ui_store):
    data = client.get("/synthpipe/api/summary").json()
    datasets = {d["id"]: d for d in data["datasets"]}
    passed = datasets[ui_store["passed"].id]
    assert passed["rows"]["plots"] == 4
    assert passed["bytes"] > 0
    assert passed["validation"] is True
    assert passed["qa"] == HEADLINE
    assert datasets[ui_store["failed"].id]["validation"] is False
    assert datasets[ui_store["fresh"].id]["validation"] is None
    (generator,) = data["generators"]
    assert generator["datasets"] == 3
    assert generator["training_rows"]["plots"] > 0


def test_validation_report_is_served(client, ui_store):
    response = client.get(f"/synthpipe/datasets/{ui_store['failed'].id}/validation")
    assert response.status_code == 200
    assert "expect_table_row_count_to_equal" in response.text


def test_dataset_never_validated_has_no_validation_report(client, ui_store):
    response = client.get(f"/synthpipe/datasets/{ui_store['fresh'].id}/validation")
    assert response.status_code == 404
    assert "not been validated" in response.json()["detail"]


def test_unknown_dataset_is_not_found(client):
    assert client.get("/synthpipe/datasets/ds-nope/qa").status_code == 404


def test_qa_report_written_by_synthpipe_is_served(client, ui_store):
    html = api.report(ui_store["fresh"].id, home=ui_store["home"])
    response = client.get(f"/synthpipe/datasets/{ui_store['fresh'].id}/qa")
    assert response.status_code == 200
    assert response.text == html.read_text(encoding="utf-8")


def test_a_damaged_record_is_named_on_the_page(client, tmp_path, monkeypatch):
    broken = tmp_path / "home" / "datasets" / "ds-broken"
    broken.mkdir(parents=True)
    (broken / "record.json").write_text("{not json")
    monkeypatch.setenv("SYNTHPIPE_HOME", str(tmp_path / "home"))
    page = client.get("/synthpipe/")
    assert page.status_code == 200
    assert "ds-broken" in page.text
