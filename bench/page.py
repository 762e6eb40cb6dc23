"""The Markets page in a browser (issue 23): first render of each tab, and the bundle's size.

"First render" is from navigation to the tab's data rows being on screen, measured in the browser:
the page marks `hub:<tab>:rows` (performance.mark) when a tab's rows render, and its startTime is
milliseconds since navigation start. One `hubctl up` stack with the defaults, warmed by one round
that is not counted; then `--runs` rounds per tab in a headless Chromium signed in as `analyst`.
Also in-app navigation, Airflow's UI already loaded: from a click on "Markets" in Airflow's menu,
and from a click on each tab of the open page, to its rows. Then it adds `--jobs` jobs to one
group (one audited INSERT, as bench/history_page.py does; Airflow starts parsing their DAGs
meanwhile) and measures the Markets and Jobs tabs again.
Goals: each tab <= 1 s with the defaults; Markets and Jobs <= 2 s at 10,000 jobs; the bundle
<= 250 KB gzipped (150 KB before the monitoring issue's charts).

Usage: .venv/bin/python bench/page.py [--runs 5] [--jobs 10000]   (run it as
`flock /work/wt/notes/stack.lock ...`: it starts a stack)
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg2
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

sys.path.insert(0, str(Path(__file__).parent))
from history_page import add_jobs

from hubctl.airflow_api import AirflowApi, AirflowApiConfig, AirflowApiError
from hubctl.db.embedded import embedded_server_url
from hubctl.db.urls import libpq_url
from hubctl.plugin.bundle import BUNDLE
from hubctl.stack import launched

TABS = ("markets", "jobs", "requests", "schedule", "history")
AT_SCALE = ("markets", "jobs")
GOAL_MS = 1000.0
SCALE_GOAL_MS = 2000.0
BUNDLE_GOAL_BYTES = 250_000


def browser(url: str, password: str) -> Any:
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1440,900"):  # fmt: skip
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    driver.get(f"{url}/auth/login")
    wait(lambda: driver.find_elements(By.CSS_SELECTOR, "input[name=password]"))
    driver.find_element(By.CSS_SELECTOR, "input[name=username]").send_keys("analyst")
    driver.find_element(By.CSS_SELECTOR, "input[name=password]").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(lambda: "/auth/login" not in driver.current_url)
    return driver


def wait(condition: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.02)
    raise TimeoutError("the page did not render in time")


# Where a first render's time went, from the browser's resource timing (ms since navigation):
# Airflow's shell until our bundle has loaded, then the tab's data answered, then rows on screen.
PHASES = r"""
const [tab] = arguments;
const rows = performance.getEntriesByName(`hub:${tab}:rows`)[0];
if (!rows) return null;
const loaded = (pattern) => Math.max(0, ...performance.getEntriesByType("resource")
  .filter((entry) => pattern.test(entry.name)).map((entry) => entry.responseEnd));
return [loaded(/hub\/static\/markets\.js/), loaded(/hub\/api\/(?!head|session|verify)/),
        rows.startTime];
"""


def first_render_ms(driver: Any, url: str, tab: str) -> list[float]:
    """[bundle loaded, data answered, rows on screen], ms since navigation."""
    driver.get(f"{url}/plugin/markets?tab={tab}")
    return [float(ms) for ms in wait(lambda: driver.execute_script(PHASES, tab))]


def render_times(
    driver: Any, url: str, tabs: Sequence[str], runs: int
) -> dict[str, list[list[float]]]:
    for tab in tabs:
        first_render_ms(driver, url, tab)  # warm-up, not counted
    return {tab: [first_render_ms(driver, url, tab) for _ in range(runs)] for tab in tabs}


# Clicks a link or tab and returns when (ms since navigation) it did: in-app navigation, where
# Airflow's UI is already loaded, as when a user opens the page from Airflow's menu.
CLICK = "const at = performance.now(); arguments[0].click(); return at;"
LAST_ROWS = """const rows = performance.getEntriesByName(`hub:${arguments[0]}:rows`);
return rows.length > arguments[1] ? rows.at(-1).startTime : null;"""


def from_airflows_menu_ms(driver: Any, url: str) -> float:
    """From a click on "Markets" in Airflow's navigation (on Airflow's home page) to the rows."""
    driver.get(f"{url}/")
    [link] = wait(
        lambda: [a for a in driver.find_elements(By.TAG_NAME, "a") if a.text == "Markets"]
    )
    clicked = driver.execute_script(CLICK, link)
    return float(wait(lambda: driver.execute_script(LAST_ROWS, "markets", 0))) - clicked


def tab_switch_ms(driver: Any, tab: str) -> float:
    """From a click on the tab (another one open) to its rows."""
    seen = driver.execute_script(
        "return performance.getEntriesByName(arguments[0]).length", f"hub:{tab}:rows"
    )
    clicked = driver.execute_script(CLICK, driver.find_element(By.ID, f"tab-{tab}"))
    return float(wait(lambda: driver.execute_script(LAST_ROWS, tab, seen))) - clicked


def in_app_times(driver: Any, url: str, runs: int) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {"menu": [], **{tab: [] for tab in TABS}}
    for run in range(runs + 1):  # the first round warms up, not counted
        menu = from_airflows_menu_ms(driver, url)
        switches = {tab: tab_switch_ms(driver, tab) for tab in (*TABS[1:], TABS[0])}
        if run:
            figures["menu"].append(menu)
            for tab, ms in switches.items():
                figures[tab].append(ms)
    return figures


def report(title: str, figures: dict[str, list[list[float]]], goal_ms: float) -> None:
    for tab, runs in figures.items():
        bundle, data, rows = (statistics.median(phase) for phase in zip(*runs, strict=True))
        verdict = "ok" if rows <= goal_ms else "OVER GOAL"
        print(
            f"first render, {title}, {tab:<9} median {rows:5.0f} ms, max"
            f" {max(run[2] for run in runs):5.0f} ms (goal <= {goal_ms:.0f} ms) {verdict};"
            f" medians: bundle loaded {bundle:5.0f}, data answered {data:5.0f}"
        )


def report_in_app(figures: dict[str, list[float]]) -> None:
    menu = figures.pop("menu")
    print(
        f"in Airflow: Markets from Airflow's menu, median {statistics.median(menu):5.0f} ms, max {max(menu):5.0f} ms"
    )
    for tab, runs in figures.items():
        print(
            f"in Airflow: {tab:<9} from another tab, median {statistics.median(runs):5.0f} ms, max {max(runs):5.0f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=10_000, help="0: the defaults only")
    options = parser.parse_args()
    size = len(gzip.compress(BUNDLE.read_bytes(), 9))
    home = Path(tempfile.mkdtemp(prefix="hubpage"))
    with launched(home) as (_process, config):
        passwords = json.loads((home / "airflow" / "passwords.json").read_text())
        wait(lambda: _serves_dags(config.url, passwords["admin"]), 300)
        driver = browser(config.url, passwords["analyst"])
        try:
            defaults = render_times(driver, config.url, TABS, options.runs)
            in_app = in_app_times(driver, config.url, options.runs)
            at_scale = {}
            if options.jobs:
                with psycopg2.connect(libpq_url(embedded_server_url(home))) as conn:
                    add_jobs(conn.cursor(), options.jobs)
                at_scale = render_times(driver, config.url, AT_SCALE, options.runs)
        finally:
            driver.quit()
    report("defaults", defaults, GOAL_MS)
    report_in_app(in_app)
    report(f"{options.jobs:,} jobs", at_scale, SCALE_GOAL_MS)
    verdict = "ok" if size <= BUNDLE_GOAL_BYTES else "OVER GOAL"
    print(f"bundle: {BUNDLE.stat().st_size} bytes, {size} bytes gzipped (-9)  {verdict}")


def _serves_dags(url: str, password: str) -> bool:
    """Whether the api-server is up and serves the hub's DAGs: a warm stack."""
    try:
        return len(AirflowApi(AirflowApiConfig(url, "admin", password)).dags()) > 0
    except (AirflowApiError, OSError):
        return False


if __name__ == "__main__":
    main()
