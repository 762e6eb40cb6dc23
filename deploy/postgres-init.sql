-- One server, two databases: Airflow's metadata and the hub (configuration, audit, market data).
CREATE USER airflow WITH PASSWORD 'airflow';
CREATE DATABASE airflow OWNER airflow;
-- The hub's schema is owned by the superuser that migrates it (airflow-init only), so the event
-- trigger that keeps the audit on exists; everything else connects as logins that own nothing.
CREATE DATABASE hub;
-- hubctl, the Airflow tasks and the pipelines: hub_operator (granted by deploy/init.sh).
CREATE USER hub_app WITH PASSWORD 'hub_app';
-- The generator's login: it reads the configuration through hub_reader (granted by the migrations).
CREATE USER hub_generator WITH PASSWORD 'hub_generator';
