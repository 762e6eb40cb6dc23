"""`hubctl up`: the local stack on one machine — embedded PostgreSQL and Airflow 3 on the generated DAGs.

Airflow runs as subprocesses (api-server, scheduler, dag-processor, triggerer) whose metadata
lives in the embedded server's `airflow` database; hubctl itself never imports Airflow.
Tasks run with the LocalExecutor, or with the CeleryExecutor: then a redis-server (the broker,
on a free loopback port) and one `airflow celery worker` per queue list run too, and Celery's
results go to the same `airflow` database. Everything persists under HUB_HOME, so the next
`hubctl up` finds the data where it was left.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hubctl import anchors, migrations
from hubctl.airflow_api import AirflowApiConfig, stack_api_file
from hubctl.author import Author
from hubctl.db import (
    EMBEDDED_RUNTIME_ROLE,
    Database,
    create_engine,
    embedded_server_url,
    grant_runtime_role,
    stop_embedded_server,
)
from hubctl.errors import HubError
from hubctl.paths import DAGS_FOLDER
from hubctl.settings import Settings
from hubctl.shards import shard_folder, write_shard_files
from hubctl.tables import GROUPS, JOBS

if TYPE_CHECKING:
    from hubctl.services.row_change import RowChange

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
DEFAULT_QUEUE = "default"  # Airflow's [operators] default_queue
REDIS_MISSING = (
    "redis-server not found on PATH; the Celery stack needs it"
    " (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis)"
)
# Pool processes per worker unless AIRFLOW__CELERY__WORKER_CONCURRENCY says otherwise: Celery's
# default (16) costs memory a laptop-sized stack does not have.
WORKER_CONCURRENCY = "4"
# hubctl's own long-running processes: any committed change -> re-parse of its unit
# (listener.py); the hub's state for Prometheus (metrics.py).
LISTENER = "hub-listener"
METRICS = "hub-metrics"
ADMIN = "admin"
# The simple auth manager's users and roles (docs/web.md): an analyst may edit DAGs, so the
# Markets page lets them switch markets and edit jobs; a viewer may only read.
USERS = {ADMIN: "admin", "analyst": "user", "viewer": "viewer"}
READY_TIMEOUT_SECONDS = 180
# The periodic parse of each unit when HUB_DAG_SHARDS > 1 (Airflow's default: 30 s).
PARSE_UNITS_REPARSE_SECONDS = "300"
# A component that exits is started again after this delay, at most this often per window.
RESTART_DELAY_SECONDS = 3.0
RESTART_BUDGET = 5
RESTART_WINDOW_SECONDS = 300.0
STOP_TIMEOUT_SECONDS = 30
# How long the first SIGTERM is given before the second: the scheduler and the workers may be
# finishing a task; the others have none (the triggerer waits for its triggers until told twice).
STOP_GRACE_SECONDS = 5
SERVER_STOP_GRACE_SECONDS = 1

Echo = Callable[[str], None]


@dataclass(frozen=True)
class Executor:
    """How tasks run: ``local`` (LocalExecutor) or ``celery`` (one worker per entry of ``workers``,
    each entry the queues that worker serves)."""

    kind: str = "local"
    workers: tuple[tuple[str, ...], ...] = ()

    @classmethod
    def celery(cls, workers: int, queues: list[tuple[str, ...]]) -> Executor:
        """``workers`` workers; the i-th serves ``queues[i]``, those without an entry the default."""
        if workers < 1 or len(queues) > workers:
            raise HubError(
                f"{len(queues)} queue list(s) for {workers} worker(s): give at most one each"
            )
        return cls("celery", tuple(queues) + ((DEFAULT_QUEUE,),) * (workers - len(queues)))


@dataclass
class Stack:
    home: Path
    port: int
    metrics_port: int = 9464
    dags_folder: Path = DAGS_FOLDER
    executor: Executor = Executor()
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    started_database: bool = False
    redis_port: int = 0
    shards: int = 1
    # How each process was started, so supervise() can start it again the same way.
    launches: dict[str, tuple[list[str], dict[str, str]]] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings, executor: Executor = Executor()) -> Stack:
        stack = cls(
            home=settings.resolved_home,
            port=settings.airflow_port,
            metrics_port=settings.metrics_port,
            executor=executor,
        )
        if settings.dag_shards == 1:
            return stack
        return dataclasses.replace(
            stack,
            dags_folder=shard_folder(settings),
            shards=settings.dag_shards,
        )

    @property
    def workers(self) -> dict[str, tuple[str, ...]]:
        """Celery workers by name (also their task instances' hostname): the queues each serves."""
        return {f"worker-{n}": queues for n, queues in enumerate(self.executor.workers, 1)}

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
    """The users' passwords and the signing keys every Airflow process must share; kept across runs."""
    path = stack.airflow_home / "hub-secrets.json"
    values = json.loads(path.read_text()) if path.exists() else {}
    wanted = ("password", "jwt", "api", *(f"password_{user}" for user in USERS if user != ADMIN))
    missing = [name for name in wanted if name not in values]
    if missing:
        path.parent.mkdir(parents=True, exist_ok=True)
        values |= {name: secrets.token_urlsafe(24) for name in missing}
        path.write_text(json.dumps(values))
        path.chmod(0o600)
    return dict(values)


def passwords(keys: dict[str, str]) -> dict[str, str]:
    """Each user's password (the admin's key predates the other users)."""
    return {user: keys["password" if user == ADMIN else f"password_{user}"] for user in USERS}


def airflow_environment(stack: Stack, *, hub_url: str, airflow_url: str) -> dict[str, str]:
    return {
        **_core_environment(stack, hub_url=hub_url, airflow_url=airflow_url),
        **(_celery_environment(stack, airflow_url) if stack.executor.kind == "celery" else {}),
        **(_parse_units_environment() if stack.shards > 1 else {}),
    }


def _parse_units_environment() -> dict[str, str]:
    """With parse units the listener re-parses what changed, so the periodic parse of every unit
    is only a fallback: at 5,000 jobs, every 30 s kept both parsing processes busy all the time
    and a requested unit queued behind them (docs/performance.md)."""
    return {
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": os.environ.get(
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL", PARSE_UNITS_REPARSE_SECONDS
        )
    }


def _celery_environment(stack: Stack, airflow_url: str) -> dict[str, str]:
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{stack.redis_port}/0",
        # Results in the hub's own PostgreSQL (Airflow's database): nothing else to run or back up.
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{airflow_url}",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": os.environ.get(
            "AIRFLOW__CELERY__WORKER_CONCURRENCY", WORKER_CONCURRENCY
        ),
    }


def _core_environment(stack: Stack, *, hub_url: str, airflow_url: str) -> dict[str, str]:
    keys = _secrets(stack)
    passwords_file = stack.airflow_home / "passwords.json"
    passwords_file.write_text(json.dumps(passwords(keys)))
    passwords_file.chmod(0o600)
    return {
        **os.environ,
        "AIRFLOW_HOME": str(stack.airflow_home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_url,
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(stack.dags_folder),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
            f"{user}:{role}" for user, role in USERS.items()
        ),
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
        # group's DAGs go stale within seconds of the listener's re-parse request.
        "AIRFLOW__DAG_PROCESSOR__STALE_DAG_THRESHOLD": "1",
        "AIRFLOW__SCHEDULER__PARSING_CLEANUP_INTERVAL": "1",
        # A changed DAG (doc_md, knobs) is written, and served by the api-server, only if its last
        # write is older than this (default 30 s): a second change within 30 s would wait.
        "AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL": "1",
        "HUB_DATABASE_URL": hub_url,
        "HUB_HOME": str(stack.home),
    }


def _embedded_urls(stack: Stack) -> tuple[str, str]:

    stack.started_database = not (stack.home / "pgdata" / "postmaster.pid").exists()
    hub_url = embedded_server_url(stack.home, "hub", EMBEDDED_RUNTIME_ROLE)
    return hub_url, embedded_server_url(stack.home, "airflow")


def _first_start(database: Database) -> bool:
    """Nothing was ever configured (a deliberate wipe still leaves audit entries)."""
    # deferred: > 100 ms (pydantic, yaml); only loading the defaults needs them
    from hubctl.repository import audit

    with database.connect() as conn:
        return audit.is_empty(conn)


def loaded_message(changes: Sequence[RowChange]) -> str:
    """What the first start loaded, counted from the rows it created."""
    created = Counter(change.table for change in changes if change.action == "create")
    return (
        f"loaded the default configuration ({created[GROUPS.name]} exchange groups,"
        f" {created[JOBS.name]} jobs, sample data source)"
    )


def prepare(stack: Stack, echo: Echo) -> dict[str, str]:
    """Database up and migrated, defaults loaded on first start, Airflow's metadata migrated."""
    # deferred: > 100 ms (pydantic, yaml); only loading the defaults needs them
    from hubctl import configfile
    from hubctl.db.logins import embedded_web_url
    from hubctl.services import documents

    if stack.shards > 1:
        write_shard_files(stack.dags_folder, stack.shards)
    hub_url, airflow_url = _embedded_urls(stack)
    owner_url = embedded_server_url(stack.home)
    engine = create_engine(owner_url)
    migrations.upgrade(engine)
    engine.dispose()
    grant_runtime_role(owner_url)
    web_url = embedded_web_url(stack.home, owner_url, hub_url)
    database = Database(hub_url)
    if _first_start(database):
        defaults_loader = Author(actor="hubctl-up", reason="default configuration")
        applied = documents.apply_document(
            database, configfile.load_defaults(), author=defaults_loader
        )
        echo(loaded_message(applied.plan.changes))
    # The audit_anchor job signs with it (hubctl.anchors); local only: it lives beside the data.
    anchors.ensure_local_key(stack.home)
    env = airflow_environment(stack, hub_url=hub_url, airflow_url=airflow_url)
    env["HUB_WEB_DATABASE_URL"] = web_url  # the Markets page vouches for its signed-in user
    migrate_airflow_metadata(stack, env, airflow_url, echo)
    return env


def migrate_airflow_metadata(stack: Stack, env: dict[str, str], url: str, echo: Echo) -> None:
    """`airflow db migrate`, unless this Airflow version already migrated this database.

    Airflow pays its whole start-up to find nothing to do; the stamp (Airflow's version and the
    revision its migrate left) lets every later `hubctl up` of a home skip that.
    """
    stamp = stack.airflow_home / "metadata-migrated.json"
    version = importlib.metadata.version("apache-airflow")
    migrated = {"airflow": version, "revision": _airflow_revision(url)}
    if stamp.exists() and json.loads(stamp.read_text()) == migrated:
        return
    echo("migrating Airflow's metadata database ...")
    _run_airflow(["db", "migrate"], env, stack.logs / "airflow-db-migrate.log")
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps({"airflow": version, "revision": _airflow_revision(url)}))


def _airflow_revision(url: str) -> str | None:
    """The Alembic revision Airflow's metadata is at (None before its first migrate)."""
    engine = create_engine(url)
    try:
        return migrations.current(engine)
    finally:
        engine.dispose()


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
    for component in COMPONENTS:
        arguments = [_airflow_binary(), component]
        if component == "api-server":
            arguments += ["--port", str(stack.port), "--host", "127.0.0.1"]
        _launch(stack, component, arguments, env)
    for name, queues in stack.workers.items():
        _launch(stack, name, _worker_arguments(name, queues), _worker_environment(env, name))


def _worker_arguments(name: str, queues: tuple[str, ...]) -> list[str]:
    return [
        *(_airflow_binary(), "celery", "worker", "--queues", ",".join(queues)),
        *("--celery-hostname", f"{name}@{socket.gethostname()}"),
        # Every worker shares this machine's log folder, and two log servers cannot share a port.
        "--skip-serve-logs",
    ]


def _worker_environment(env: dict[str, str], name: str) -> dict[str, str]:
    """Task instances record the worker's name as their hostname (all share this machine's)."""
    return {
        **env,
        "HUB_WORKER_HOSTNAME": name,
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "hubctl.hostname.task_hostname",
    }


def _launch(stack: Stack, name: str, arguments: list[str], env: dict[str, str]) -> None:
    stack.logs.mkdir(parents=True, exist_ok=True)
    stack.launches[name] = (arguments, env)
    with (stack.logs / f"{name}.log").open("ab") as log:
        # Own process group: Ctrl-C reaches hubctl, which then stops each group in order.
        stack.processes[name] = subprocess.Popen(
            arguments, env=env, stdout=log, stderr=log, start_new_session=True
        )


def start_redis(stack: Stack, timeout: float = 30) -> None:
    """The Celery broker: redis-server on a free loopback port, its append-only file under home."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise HubError(REDIS_MISSING)
    data = stack.home / "redis"
    data.mkdir(parents=True, exist_ok=True)
    stack.redis_port = free_port()
    _launch(stack, "redis", [binary, *redis_options(stack.redis_port, data)], dict(os.environ))
    deadline = time.monotonic() + timeout
    while not redis_answers(stack.redis_port):
        _raise_if_a_component_died(stack)
        if time.monotonic() > deadline:
            raise HubError(
                f"redis-server did not answer within {timeout:.0f} s; see {stack.logs}/redis.log"
            )
        time.sleep(0.2)


def redis_options(port: int, data: Path) -> list[str]:
    # appendonly: queued task messages survive a Redis restart.
    return [
        *("--port", str(port), "--bind", "127.0.0.1", "--dir", str(data)),
        *("--appendonly", "yes", "--save", ""),
    ]


def redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def hubctl_binary() -> str:
    """The `hubctl` of this Python environment (what stacks, tests and benches run)."""
    return str(Path(sys.executable).with_name("hubctl"))


def start_listener(stack: Stack, env: dict[str, str]) -> None:
    """With Airflow, so no change is missed; it finds the API's address once it is published."""
    _launch(stack, LISTENER, [hubctl_binary(), "listen"], env)


def start_metrics(stack: Stack, env: dict[str, str]) -> None:
    """The hub's metrics for a Prometheus on this machine (loopback only, like the api-server)."""
    arguments = [
        hubctl_binary(),
        "metrics",
        "--host",
        "127.0.0.1",
        "--port",
        str(stack.metrics_port),
    ]
    _launch(stack, METRICS, arguments, env)


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
        time.sleep(0.25)  # a ready api-server is seen within 0.25 s, not 1 s
    raise HubError(f"Airflow's api-server did not answer at {stack.api_url} within {timeout:.0f} s")


def _raise_if_a_component_died(stack: Stack, waiting: Collection[str] = ()) -> None:
    """Any component but a worker is vital; workers are, together: one left carries the queue.

    ``waiting``: components that exited and are about to be started again.
    """
    workers = stack.workers
    for component, process in stack.processes.items():
        if process.poll() is not None and component not in workers and component not in waiting:
            raise HubError(
                f"{component} exited with {process.returncode}; see {stack.logs / component}.log"
            )
    started = [stack.processes[name] for name in workers if name in stack.processes]
    if started and len(started) == len(workers) and all(p.poll() is not None for p in started):
        raise HubError(f"every Celery worker exited; see {stack.logs}/worker-*.log")


def _report_dead_workers(stack: Stack, reported: set[str], echo: Echo) -> None:
    for name in stack.workers:
        process = stack.processes[name]
        if process.poll() is not None and name not in reported:
            reported.add(name)
            echo(f"{name} exited with {process.returncode}; the other workers carry on")


def publish_api(stack: Stack) -> AirflowApiConfig:
    """Write the API address and login where hubctl finds them (the listener, status, doctor)."""
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
    for stage, grace in _stop_stages(stack.processes):
        _stop_groups(stage, grace)
    stack_api_file(stack.home).unlink(missing_ok=True)
    if stack.started_database:
        stop_embedded_server(stack.home)


def _stop_stages(
    processes: dict[str, subprocess.Popen[bytes]],
) -> list[tuple[list[subprocess.Popen[bytes]], float]]:
    """The scheduler and the workers first, while the api-server still answers their tasks (a task
    reports its end through it; stopped together, a running task retried that report for 30 s);
    then the other components; Redis last: workers hand back unfinished messages to it."""
    runs_tasks = [
        p for name, p in processes.items() if name == "scheduler" or name.startswith("worker-")
    ]
    broker = [p for name, p in processes.items() if name == "redis"]
    rest = [p for p in processes.values() if p not in runs_tasks and p not in broker]
    return [
        (runs_tasks, STOP_GRACE_SECONDS),
        (rest, SERVER_STOP_GRACE_SECONDS),
        (broker, SERVER_STOP_GRACE_SECONDS),
    ]


def _stop_groups(processes: list[subprocess.Popen[bytes]], grace: float) -> None:
    _signal_running(processes, signal.SIGTERM)
    # On the first SIGTERM Airflow's executors wait for running tasks; a second ends them (the
    # scheduler retries them at the next start): Ctrl-C stops now, not after the longest task.
    _wait_all(processes, time.monotonic() + grace)
    _signal_running(processes, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        _kill_group_leftovers(process.pid)


def _signal_running(processes: list[subprocess.Popen[bytes]], signum: int) -> None:
    for process in processes:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signum)


def _wait_all(processes: list[subprocess.Popen[bytes]], deadline: float) -> None:
    while any(process.poll() is None for process in processes) and time.monotonic() < deadline:
        time.sleep(0.1)


def _kill_group_leftovers(group: int) -> None:
    """Workers a component forked stay in its group; none may outlive the stack."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def stop_on_interrupts() -> None:
    """Ctrl-C and SIGTERM end `hubctl up` (KeyboardInterrupt, then ``stop``).

    Set explicitly: a process started in the background (a non-interactive shell's `&`, a
    pytest-xdist worker) inherits SIGINT ignored, and Python then installs no handler of its own.
    """
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)


def supervise(stack: Stack, echo: Echo) -> None:
    """Block until Ctrl-C (or SIGTERM), or until a vital component dies for good (then raise)."""
    restarts = Restarts()
    while True:
        supervise_once(stack, restarts, echo)
        time.sleep(1)


def supervise_once(stack: Stack, restarts: Restarts, echo: Echo) -> None:
    restart_exited_components(stack, restarts, echo)
    _raise_if_a_component_died(stack, waiting=set(restarts.exited_at))
    _report_dead_workers(stack, restarts.reported, echo)


@dataclass
class Restarts:
    """Compose's `restart: unless-stopped`, with a budget: Airflow's components exit when their
    database goes away (a PostgreSQL restart), and come back once it answers again; one that keeps
    dying stops the stack instead of looping."""

    delay: float = RESTART_DELAY_SECONDS
    budget: int = RESTART_BUDGET
    window: float = RESTART_WINDOW_SECONDS
    exited_at: dict[str, float] = field(default_factory=dict)
    history: dict[str, list[float]] = field(default_factory=dict)
    reported: set[str] = field(default_factory=set)  # dead workers already reported

    def due(self, name: str, now: float) -> bool | None:
        """True: start it again now; False: not yet; None: out of budget (it stays dead)."""
        recent = [at for at in self.history.get(name, []) if now - at < self.window]
        self.history[name] = recent
        if len(recent) >= self.budget:
            self.exited_at.pop(name, None)
            return None
        return now - self.exited_at.setdefault(name, now) >= self.delay


def restart_exited_components(stack: Stack, restarts: Restarts, echo: Echo) -> None:
    """Start again each of Airflow's components and the listener that exited (not workers, Redis)."""
    now = time.monotonic()
    for name in (*COMPONENTS, LISTENER, METRICS):
        process = stack.processes.get(name)
        if process is None or process.poll() is None or not restarts.due(name, now):
            continue
        restarts.exited_at.pop(name)
        restarts.history[name].append(now)
        echo(
            f"{name} exited with {process.returncode}; starting it again"
            f" ({len(restarts.history[name])} of {restarts.budget} in {restarts.window:.0f} s)"
        )
        _kill_group_leftovers(process.pid)
        _launch(stack, name, *stack.launches[name])


def up(settings: Settings, echo: Echo, executor: Executor = Executor()) -> None:
    stack = Stack.from_settings(settings, executor)
    stop_on_interrupts()
    try:
        if executor.kind == "celery":
            start_redis(stack)
            echo(f"Redis (Celery broker) on 127.0.0.1:{stack.redis_port}")
        env = prepare(stack, echo)
        start(stack, env)
        start_listener(stack, env)
        start_metrics(stack, env)
        echo(f"starting Airflow ({', '.join(stack.processes)}); logs in {stack.logs}")
        for name, queues in stack.workers.items():
            echo(f"{name} serves queue(s) {', '.join(queues)}")
        wait_until_ready(stack)
        config = publish_api(stack)
        echo(f"Airflow UI: {stack.api_url}  login: {config.username} / {config.password}")
        echo(
            f"Markets page: {stack.api_url}/plugin/markets  (users and passwords: {stack.airflow_home / 'passwords.json'})"
        )
        echo(f"hub metrics for Prometheus: http://127.0.0.1:{stack.metrics_port}/metrics")
        echo(
            "every committed change now reaches Airflow in seconds. Ctrl-C stops everything; data stays."
        )
        supervise(stack, echo)
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
    home: Path,
    port: int | None = None,
    timeout: float = 300,
    arguments: tuple[str, ...] = (),
    environment: dict[str, str] | None = None,
) -> Iterator[tuple[subprocess.Popen[bytes], AirflowApiConfig]]:
    """Run `hubctl up [arguments]` as a child process (for tests and benchmarks); Ctrl-C it on exit."""
    ports = {"HUB_AIRFLOW_PORT": str(port or free_port()), "HUB_METRICS_PORT": str(free_port())}
    env = client_environment(home, **{**ports, **(environment or {})})
    home.mkdir(parents=True, exist_ok=True)
    with (home / "up.log").open("wb") as log:
        process = subprocess.Popen(
            [hubctl_binary(), "up", *arguments], env=env, stdout=log, stderr=subprocess.STDOUT
        )
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
