"""The Markets page in Airflow's UI and the `@after_close` timetable: an Airflow plugin, registered
by the `airflow.plugins` entry point.

The page is a `react_apps` entry: Airflow's UI imports our bundle (`static/markets.js`, built from
`ui/` by `make install`) and renders it inside its own layout, with its own React and Chakra. The
bundle talks to the page's FastAPI app under /hub, which also serves the bundle itself.

Every Airflow process loads plugins (the dag-processor too), so this module stays light: it
imports Airflow's plugin base class alone and builds the page's FastAPI app on its first
request (`hubctl.plugin.app`), inside the api-server that serves it.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from hubctl.plugin.bundle import bundle_hash

URL_PREFIX = "/hub"
PAGE_ROUTE = "markets"  # the UI shows the page at /plugin/markets


class LazyApp:
    """An ASGI app that imports and builds the real one on the first request it receives."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            # deferred: FastAPI and the services (seconds); only the api-server serves the app
            from hubctl.plugin.app import create_app

            self._app = create_app()
        await self._app(scope, receive, send)


class MarketsPlugin(AirflowPlugin):
    name = "airflow_hub"

    @property
    def timetables(self) -> list[type]:  # type: ignore[override]
        """The `@after_close` timetable: Airflow rebuilds a serialised DAG's custom timetable only
        when a plugin lists it. Airflow asks its plugin instances on the first (de)serialisation,
        so the import waits until then: airflow.timetables.base pulls in Airflow's serialisation
        (~25 ms), which every process that loads plugins would otherwise pay at start."""
        # deferred: Airflow's timetable base (~50 ms); only when Airflow loads plugins for timetables
        from hubctl.timetables import TradingSessionsTimetable

        return [TradingSessionsTimetable]

    fastapi_apps = [{"app": LazyApp(), "url_prefix": URL_PREFIX, "name": "Markets"}]

    @property
    def react_apps(self) -> list[dict[str, Any]]:  # type: ignore[override]
        """A property, like `timetables`: only the api-server reads it, so no other process hashes
        the bundle. The URL is relative: the UI resolves it against document.baseURI, so a
        `base_url` subpath works."""
        return [
            {
                "name": "Markets",
                "bundle_url": f"{URL_PREFIX.strip('/')}/static/markets.js?v={bundle_hash()}",
                "destination": "nav",
                "url_route": PAGE_ROUTE,
                "nav_top_level": True,
            }
        ]
