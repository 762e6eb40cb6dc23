# Airflow 3 with airflow-hub installed: the image every Airflow service in docker-compose.yml runs.
FROM apache/airflow:3.3.2-python3.11

COPY --chown=airflow:0 . /opt/airflow-hub
RUN pip install --no-cache-dir -e /opt/airflow-hub

ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/airflow-hub/dags \
    HUB_HOME=/opt/airflow/hub
