"""airflow-hub: a database-driven control plane for Apache Airflow."""

__version__ = "0.1.0"
