"""The built-in pipeline families: their params models (``params``, Airflow-free), their DAG
builders (one module each, importing Airflow) and what their tasks use at run time (``runtime``,
``tasks``). They are registered in hubctl.registry; families of other packages use
hubctl.families instead.
"""
