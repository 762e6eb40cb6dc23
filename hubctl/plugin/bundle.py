"""The page's built bundle (`static/markets.js`, made from `ui/` by `make install`) and its hash:
what the plugin declares and the page's app serves."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

BUNDLE = Path(__file__).with_name("static") / "markets.js"


@functools.cache
def bundle_hash() -> str:
    """First 16 hex digits of the built bundle's sha256 ("unbuilt" before `make install`): the
    bundle's URL changes with its content, so browsers may cache it for good."""
    try:
        return hashlib.sha256(BUNDLE.read_bytes()).hexdigest()[:16]
    except FileNotFoundError:
        return "unbuilt"
