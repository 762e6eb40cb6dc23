"""The hostname a task instance records: `[core] hostname_callable` of the Celery workers `hubctl up` starts.

Every worker of the local Celery stack shares this machine's hostname; each is told its own name
in HUB_WORKER_HOSTNAME, so Airflow's task instances say which worker ran them.
"""

from __future__ import annotations

import os
import socket


def task_hostname() -> str:
    return os.environ.get("HUB_WORKER_HOSTNAME") or socket.getfqdn()
