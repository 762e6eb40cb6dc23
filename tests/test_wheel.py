"""The built wheel works on its own: migrations and the DAG entry file come from the installed package.

The wheel is built from a copy of the source tree and installed, without its dependencies, into a
fresh venv. The dependencies come from this interpreter's site-packages, seen through a directory
of links that leaves out airflow-hub's own editable install (its finder and metadata), so nothing
can be imported from the source tree. Then the installed `hubctl` migrates an embedded PostgreSQL,
loads the default configuration, and a DagBag parses the packaged DAG folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hubctl import migrations
from hubctl.plugin.bundle import BUNDLE
from tests.support.configuration import DEFAULT_DAG_IDS

pytestmark = pytest.mark.wheel

ROOT = Path(__file__).resolve().parent.parent
# What a checkout holds besides the sources: local state, caches, the page's npm packages, and a
# previous build whose stale files setuptools would otherwise package.
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", ".hub", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis",
    "node_modules",
)  # fmt: skip
STEP_TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class Venv:
    root: Path
    site_packages: Path
    env: dict[str, str]
    cwd: Path

    def run(self, program: str, *arguments: str) -> str:
        done = subprocess.run(
            [str(self.root / "bin" / program), *arguments],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT_SECONDS,
        )
        assert done.returncode == 0, f"{program} {arguments}: {done.stdout}\n{done.stderr}"
        return done.stdout

    def python(self, code: str) -> dict[str, Any]:
        """Run ``code`` with the venv's python; it prints one JSON object."""
        return dict(json.loads(self.run("python", "-c", code).splitlines()[-1]))


def build_wheel(into: Path) -> Path:
    source = into / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES, symlinks=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(into), str(source)],
        check=True,
        capture_output=True,
        timeout=STEP_TIMEOUT_SECONDS,
    )
    (wheel,) = into.glob("airflow_hub-*.whl")
    return wheel


def dependencies_without_airflow_hub(into: Path) -> Path:
    """This interpreter's site-packages as links, minus airflow-hub's editable install and .pth files."""
    into.mkdir()
    site_packages = Path(sysconfig.get_paths()["purelib"])
    for entry in site_packages.iterdir():
        if not entry.name.startswith(("__editable__", "airflow_hub")) and entry.suffix != ".pth":
            (into / entry.name).symlink_to(entry)
    return into


def isolated_environment(hub_home: Path, airflow_home: Path) -> dict[str, str]:
    # PYTHONPATH may name the source tree; HUB_* and AIRFLOW* would point at the session's servers.
    inherited = {
        name: value
        for name, value in os.environ.items()
        if name != "PYTHONPATH" and not name.startswith(("HUB_", "AIRFLOW"))
    }
    return {
        **inherited,
        "HUB_HOME": str(hub_home),
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def venv(wheel: Path) -> Iterator[Venv]:
    """A fresh venv with only the wheel installed in it; its embedded PostgreSQL stopped at the end."""
    work = wheel.parent
    root = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    # Installed before the dependencies are visible, so pip sees no other airflow-hub.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=STEP_TIMEOUT_SECONDS,
    )
    site_packages = next((root / "lib").glob("python3*/site-packages"))
    dependencies = dependencies_without_airflow_hub(work / "dependencies")
    (site_packages / "dependencies.pth").write_text(f"{dependencies}\n")
    # Unix socket paths are limited to ~100 bytes: the embedded server's home stays short.
    hub_home = Path(tempfile.mkdtemp(prefix="hubwheel"))
    env = isolated_environment(hub_home, work / "airflow")
    created = Venv(root, site_packages, env, cwd=work)
    try:
        yield created
    finally:
        created.run("hubctl", "db", "stop")
        shutil.rmtree(hub_home, ignore_errors=True)


def test_hubctl_and_its_files_come_from_the_installed_wheel(venv: Venv) -> None:
    found = venv.python(
        "import json, sys, importlib.metadata as m, hubctl, hubctl.paths as p;"
        "print(json.dumps({'module': hubctl.__file__, 'dags': str(p.DAGS_FOLDER),"
        " 'migrations': str(p.MIGRATIONS_DIR),"
        " 'installs': [str(d.locate_file('')) for d in m.distributions()"
        "              if d.metadata['Name'] == 'airflow-hub'],"
        " 'editable': [x for x in sys.path + list(sys.modules) if 'editable' in x]}))"
    )
    for key in ("module", "dags", "migrations"):
        assert Path(found[key]).is_relative_to(venv.site_packages), (key, found[key])
    assert found["installs"] == [str(venv.site_packages)]
    assert found["editable"] == []
    dags = Path(found["dags"])
    assert sorted(p.name for p in dags.glob("*.py")) == ["hub_dags.py"]
    assert not (dags / "__init__.py").exists()


def test_db_upgrade_defaults_and_a_dagbag_parse_from_the_wheel(venv: Venv) -> None:
    assert venv.run("hubctl", "db", "upgrade").strip() == f"database at {migrations.head()}"
    venv.run("hubctl", "apply", "--defaults", "--yes", "--actor", "pytest", "-m", "defaults")
    bag = venv.python(
        "import json; from hubctl.paths import DAGS_FOLDER;"
        "from airflow.dag_processing.dagbag import DagBag;"
        "bag = DagBag(dag_folder=str(DAGS_FOLDER));"
        "print(json.dumps({'dags': {d.dag_id: d.fileloc for d in bag.dags.values()},"
        " 'errors': bag.import_errors}))"
    )
    assert bag["errors"] == {}
    assert set(bag["dags"]) == DEFAULT_DAG_IDS
    assert {Path(file) for file in bag["dags"].values()} == {
        venv.site_packages / "hubctl" / "dags" / "hub_dags.py"
    }


def test_the_wheel_ships_the_built_markets_bundle_and_no_page_sources(wheel: Path) -> None:
    """pip does not run npm: the wheel ships the bundle `make install` built, nothing of ui/."""
    assert BUNDLE.is_file(), "the Markets page is not built: run `make install`"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        shipped = archive.read("hubctl/plugin/static/markets.js")
    assert hashlib.sha256(shipped).hexdigest() == hashlib.sha256(BUNDLE.read_bytes()).hexdigest()
    assert [name for name in names if "node_modules" in name or "plugin/ui" in name] == []
