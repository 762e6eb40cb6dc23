"""The one DAG file of airflow-hub: an Airflow DAG per enabled job (see docs/generator.md)."""

from hubctl.dag_builder import generate_dags

globals().update(generate_dags())
