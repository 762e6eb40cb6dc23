"""Airflow-free market data: price sources, validation, indicators and the `market` schema SQL.

The DAG builders only orchestrate these functions, so everything here is testable without Airflow.
"""
