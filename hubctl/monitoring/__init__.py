"""hub_monitor: read Airflow and the prices, evaluate the alert rules, deliver notifications."""
