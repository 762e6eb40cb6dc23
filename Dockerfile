# Airflow 3 with airflow-hub installed: the image every Airflow service in docker-compose.yml runs.
FROM apache/airflow:3.3.2-python3.11

COPY --chown=airflow:0 . /opt/airflow-hub
# A regular install, as from the wheel: the migrations and the DAG entry file ship in the package.
# Its DAG folder gets a fixed path for AIRFLOW__CORE__DAGS_FOLDER, wherever pip put the package.
RUN pip install --no-cache-dir /opt/airflow-hub \
 && ln -s "$(python -c 'from hubctl.paths import DAGS_FOLDER; print(DAGS_FOLDER)')" /opt/airflow/hub-dags

ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/airflow/hub-dags \
    HUB_HOME=/opt/airflow/hub
