"""YAML in and out, without YAML 1.1's surprises.

PyYAML's safe loader reads `16:00` as the base-60 integer 960 and `0700` as octal, which
would silently turn a market close into 00:16 and a number into another; here both stay what
they look like (a string, a decimal integer).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import yaml

_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$")
_NUMBER_TAGS = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}


class _Loader(yaml.SafeLoader):
    pass


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _NUMBER_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


def _construct_decimal_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    return int(str(loader.construct_scalar(node)), 10)


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_decimal_int)


class _Dumper(yaml.SafeDumper):
    pass


def _represent_time(dumper: yaml.SafeDumper, value: dt.time) -> yaml.ScalarNode:
    text = value.strftime("%H:%M" if value.second == 0 else "%H:%M:%S")
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style='"')


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # NEL (U+0085) is a line break to a YAML reader: written raw in a plain or single-quoted
    # scalar it reads back as a space. Double quotes escape it (\N), so the text survives.
    return dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style='"' if "\x85" in value else None
    )


_Dumper.add_representer(dt.time, _represent_time)
_Dumper.add_representer(str, _represent_str)


def load(text: str) -> Any:
    """Parse a YAML document (raises yaml.YAMLError)."""
    return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: safe


def dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def parse_value(text: str) -> Any:
    """One command-line value: `5` -> 5, `true` -> True, `null` or empty -> None, `[a, b]` -> list."""
    if text.strip() == "":
        return None
    try:
        return load(text)
    except yaml.YAMLError:
        return text
