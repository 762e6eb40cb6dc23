"""`hubctl up`: the local stack on one machine — embedded PostgreSQL and Airflow 3 on the generated DAGs.

Airflow runs as subprocesses (api-server, scheduler, dag-processor, triggerer; LocalExecutor) whose
metadata lives in the embedded server's `airflow` database; hubctl itself never imports Airflow.
Everything persists under HUB_HOME, so the next `hubctl up` finds the data where it was left.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hubctl import migrations
from hubctl.airflow_api import AirflowApiConfig, stack_api_file
from hubctl.db import Database, stop_embedded_server
from hubctl.errors import HubError
from hubctl.paths import DAGS_FOLDER
from hubctl.settings import Settings
from hubctl.shards import shard_folder, write_shard_files

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
# hubctl's own long-running process: any committed change -> re-parse of its unit (listener.py).
LISTENER = "hub-listener"
ADMIN = "admin"
READY_TIMEOUT_SECONDS = 180
STOP_TIMEOUT_SECONDS = 30

Echo = Callable[[str], None]


@dataclass
class Stack:
    home: Path
    port: int
    dags_folder: Path = DAGS_FOLDER
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    started_database: bool = False
    shards: int = 1

    @classmethod
    def from_settings(cls, settings: Settings) -> Stack:
        if settings.dag_shards == 1:
            return cls(home=settings.resolved_home, port=settings.airflow_port)
        return cls(
            home=settings.resolved_home,
            port=settings.airflow_port,
            dags_folder=shard_folder(settings),
            shards=settings.dag_shards,
        )

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def logs(self) -> Path:
        return self.home / "logs"


def _secrets(stack: Stack) -> dict[str, str]:
    """The admin password and the signing keys every Airflow process must share; kept across runs."""
    path = stack.airflow_home / "hub-secrets.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        values = {name: secrets.token_urlsafe(24) for name in ("password", "jwt", "api")}
        path.write_text(json.dumps(values))
        path.chmod(0o600)
    return dict(json.loads(path.read_text()))


def airflow_environment(stack: Stack, *, hub_url: str, airflow_url: str) -> dict[str, str]:
    keys = _secrets(stack)
    passwords_file = stack.airflow_home / "passwords.json"
    passwords_file.write_text(json.dumps({ADMIN: keys["password"]}))
    return {
        **os.environ,
        "AIRFLOW_HOME": str(stack.airflow_home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_url,
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(stack.dags_folder),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{stack.api_url}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(stack.port),
        "AIRFLOW__API__BASE_URL": stack.api_url,
        "AIRFLOW__API__SECRET_KEY": keys["api"],
        "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt"],
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        # A DAG the generator stops producing is marked stale only once its last parse is
        # stale_dag_threshold older than the file's, checked every parsing_cleanup_interval
        # (defaults 50 s and 60 s). A DAG's last_parsed_time is written after its file's parse
        # finished, so a live DAG is never older than the file: 1 s is safe, and a disabled
        # group's DAGs go stale within seconds of hubctl's re-parse request.
        "AIRFLOW__DAG_PROCESSOR__STALE_DAG_THRESHOLD": "1",
        "AIRFLOW__SCHEDULER__PARSING_CLEANUP_INTERVAL": "1",
        # A changed DAG (doc_md, knobs) is written, and served by the api-server, only if its last
        # write is older than this (default 30 s): a second change within 30 s would wait.
        "AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL": "1",
        "HUB_DATABASE_URL": hub_url,
        "HUB_HOME": str(stack.home),
    }


def _embedded_urls(stack: Stack) -> tuple[str, str]:
    from hubctl.db import embedded_server_url

    stack.started_database = not (stack.home / "pgdata" / "postmaster.pid").exists()
    return embedded_server_url(stack.home, "hub"), embedded_server_url(stack.home, "airflow")


def _first_start(database: Database) -> bool:
    """Nothing was ever configured (a deliberate wipe still leaves audit entries)."""
    from hubctl.repository import audit

    with database.connect() as conn:
        return audit.is_empty(conn)


def prepare(stack: Stack, echo: Echo) -> dict[str, str]:
    """Database up and migrated, defaults loaded on first start, Airflow's metadata migrated."""
    from hubctl import configfile
    from hubctl.db import create_engine
    from hubctl.services import documents

    if stack.shards > 1:
        write_shard_files(stack.dags_folder, stack.shards)
    hub_url, airflow_url = _embedded_urls(stack)
    engine = create_engine(hub_url)
    migrations.upgrade(engine)
    engine.dispose()
    database = Database(hub_url)
    if _first_start(database):
        documents.apply_document(
            database, configfile.load_defaults(), actor="hubctl-up", reason="default configuration"
        )
        echo("loaded the default configuration (4 exchange groups, 9 jobs, sample data source)")
    env = airflow_environment(stack, hub_url=hub_url, airflow_url=airflow_url)
    echo("migrating Airflow's metadata database ...")
    _run_airflow(["db", "migrate"], env, stack.logs / "airflow-db-migrate.log")
    return env


def _airflow_binary() -> str:
    return str(Path(sys.executable).with_name("airflow"))


def _run_airflow(arguments: list[str], env: dict[str, str], log: Path) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as output:
        done = subprocess.run(
            [_airflow_binary(), *arguments], env=env, stdout=output, stderr=output
        )
    if done.returncode != 0:
        raise HubError(f"airflow {' '.join(arguments)} failed (exit {done.returncode}); see {log}")


def start(stack: Stack, env: dict[str, str]) -> None:
    stack.logs.mkdir(parents=True, exist_ok=True)
    for component in COMPONENTS:
        arguments = [_airflow_binary(), component]
        if component == "api-server":
            arguments += ["--port", str(stack.port), "--host", "127.0.0.1"]
        with (stack.logs / f"{component}.log").open("ab") as log:
            # Own process group: Ctrl-C reaches hubctl, which then stops each group in order.
            stack.processes[component] = subprocess.Popen(
                arguments, env=env, stdout=log, stderr=log, start_new_session=True
            )


def start_listener(stack: Stack, env: dict[str, str]) -> None:
    """With Airflow, so no change is missed; it finds the API's address once it is published."""
    hubctl = str(Path(sys.executable).with_name("hubctl"))
    with (stack.logs / f"{LISTENER}.log").open("ab") as log:
        stack.processes[LISTENER] = subprocess.Popen(
            [hubctl, "listen"], env=env, stdout=log, stderr=log, start_new_session=True
        )


def wait_until_ready(stack: Stack, timeout: float = READY_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _raise_if_a_component_died(stack)
        try:
            with urllib.request.urlopen(
                f"{stack.api_url}/api/v2/monitor/health", timeout=2
            ) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise HubError(f"Airflow's api-server did not answer at {stack.api_url} within {timeout:.0f} s")


def _raise_if_a_component_died(stack: Stack) -> None:
    for component, process in stack.processes.items():
        if process.poll() is not None:
            raise HubError(
                f"airflow {component} exited with {process.returncode}; see {stack.logs / component}.log"
            )


def publish_api(stack: Stack) -> AirflowApiConfig:
    """Write the API address and login where hubctl finds them, so changes trigger a re-parse."""
    config = AirflowApiConfig(stack.api_url, ADMIN, _secrets(stack)["password"])
    path = stack_api_file(stack.home)
    path.write_text(json.dumps(config.__dict__))
    path.chmod(0o600)
    return config


def stop(stack: Stack) -> None:
    """Stop every process this stack started: Airflow's groups first, then the database.

    A second Ctrl-C must not cut this short and leave processes behind, so it is ignored here.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for process in stack.processes.values():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for process in stack.processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        _kill_group_leftovers(process.pid)
    stack_api_file(stack.home).unlink(missing_ok=True)
    if stack.started_database:
        stop_embedded_server(stack.home)


def _kill_group_leftovers(group: int) -> None:
    """Workers a component forked stay in its group; none may outlive the stack."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def supervise(stack: Stack) -> None:
    """Block until Ctrl-C (or SIGTERM), or until a component dies (then raise)."""
    signal.signal(signal.SIGTERM, _interrupt)
    while True:
        _raise_if_a_component_died(stack)
        time.sleep(1)


def up(settings: Settings, echo: Echo) -> None:
    stack = Stack.from_settings(settings)
    try:
        env = prepare(stack, echo)
        start(stack, env)
        start_listener(stack, env)
        echo(f"starting Airflow ({', '.join(COMPONENTS)}); logs in {stack.logs}")
        wait_until_ready(stack)
        config = publish_api(stack)
        echo(f"Airflow UI: {stack.api_url}  login: {config.username} / {config.password}")
        echo(
            "every committed change now reaches Airflow in seconds. Ctrl-C stops everything; data stays."
        )
        supervise(stack)
    except KeyboardInterrupt:
        echo("stopping ...")
    finally:
        stop(stack)
        echo("stopped")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def client_environment(home: Path, **extra: str) -> dict[str, str]:
    """The environment for a process working with the stack under ``home`` (hubctl, `hubctl up`)."""
    env = {**os.environ, "HUB_HOME": str(home), **extra}
    for name in ("HUB_DATABASE_URL", "HUB_AIRFLOW_API_URL", "AIRFLOW_HOME"):
        env.pop(name, None)
    return env


@contextlib.contextmanager
def launched(
    home: Path, port: int | None = None, timeout: float = 300, **extra: str
) -> Iterator[tuple[subprocess.Popen[bytes], AirflowApiConfig]]:
    """Run `hubctl up` as a child process (for tests and benchmarks); Ctrl-C it on exit.

    ``extra`` adds environment variables (e.g. HUB_DAG_SHARDS, AIRFLOW__...).
    """
    env = client_environment(home, HUB_AIRFLOW_PORT=str(port or free_port()), **extra)
    home.mkdir(parents=True, exist_ok=True)
    with (home / "up.log").open("wb") as log:
        hubctl = str(Path(sys.executable).with_name("hubctl"))
        process = subprocess.Popen([hubctl, "up"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while not stack_api_file(home).exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise HubError(f"hubctl up did not start: {(home / 'up.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield process, AirflowApiConfig(**json.loads(stack_api_file(home).read_text()))
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)
