"""The Markets page in a browser (issue 23): first render of each tab, and the bundle's size.

"First render" is from navigation to the tab's data rows being on screen, measured in the browser:
the page marks `hub:<tab>:rows` (performance.mark) when a tab's rows render, and its startTime is
milliseconds since navigation start. One `hubctl up` stack with the defaults, warmed by one round
that is not counted; then `--runs` rounds per tab in a headless Chromium signed in as `analyst`.
Goals: each tab <= 1 s; the bundle <= 150 KB gzipped.

Usage: .venv/bin/python bench/page.py [--runs 5]   (run it as `flock /work/wt/notes/stack.lock ...`
when other stacks may start)
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from hubctl.plugin.bundle import BUNDLE
from hubctl.stack import launched

TABS = ("markets", "jobs", "requests", "schedule", "history")
GOAL_MS = 1000.0
BUNDLE_GOAL_BYTES = 150_000


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


def first_render_ms(driver: Any, url: str, tab: str) -> float:
    driver.get(f"{url}/plugin/markets?tab={tab}")
    script = f"return performance.getEntriesByName('hub:{tab}:rows')[0]?.startTime"
    return float(wait(lambda: driver.execute_script(script)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    size = len(gzip.compress(BUNDLE.read_bytes(), 9))
    home = Path(tempfile.mkdtemp(prefix="hubpage"))
    with launched(home) as (_process, config):
        passwords = json.loads((home / "airflow" / "passwords.json").read_text())
        wait(lambda: _answers(config.url), 300)
        driver = browser(config.url, passwords["analyst"])
        try:
            for tab in TABS:
                first_render_ms(driver, config.url, tab)  # warm-up, not counted
            figures = {
                tab: [first_render_ms(driver, config.url, tab) for _ in range(runs)] for tab in TABS
            }
        finally:
            driver.quit()
    for tab, times in figures.items():
        median = statistics.median(times)
        verdict = "ok" if median <= GOAL_MS else "OVER GOAL"
        print(
            f"first render, {tab:<9} median {median:7.0f} ms  max {max(times):7.0f} ms  {verdict}"
        )
    verdict = "ok" if size <= BUNDLE_GOAL_BYTES else "OVER GOAL"
    print(f"bundle: {BUNDLE.stat().st_size} bytes, {size} bytes gzipped (-9)  {verdict}")


def _answers(url: str) -> bool:
    """Whether the api-server is up (it refuses connections while it starts)."""
    try:
        with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=5):
            return True
    except OSError:
        return False


if __name__ == "__main__":
    main()
