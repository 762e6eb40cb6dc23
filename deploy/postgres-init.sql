-- One server, two databases: Airflow's metadata and the hub (configuration, audit, market data).
CREATE USER airflow WITH PASSWORD 'airflow';
CREATE DATABASE airflow OWNER airflow;
CREATE USER hub WITH PASSWORD 'hub' CREATEROLE;
CREATE DATABASE hub OWNER hub;
-- The generator's login: it reads the configuration through hub_reader (granted by the migrations).
CREATE USER hub_generator WITH PASSWORD 'hub_generator';
