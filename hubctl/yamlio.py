"""YAML in and out, without YAML 1.1's surprises.

PyYAML's safe loader reads `16:00` as the base-60 integer 960 and `0700` as octal, which
would silently turn a market close into 00:16 and a number into another; here both stay what
they look like (a string, a decimal integer).

Aliases are bounded: `&a [x, x, x]` nested a few levels deep is a few hundred bytes that stand
for billions of values (the "billion laughs"). PyYAML shares the aliased objects, so loading is
quick, but everything after it (validation, JSON, the database) walks the whole expansion. The
loader counts, while it composes, how many values (and characters of text) each alias stands
for, and refuses a document whose aliases together stand for more than ALIAS_EXPANSION_LIMIT,
before any of it is built.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import yaml

_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$")
_NUMBER_TAGS = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
ALIAS_EXPANSION_LIMIT = 10_000  # values plus characters that aliases may repeat, per document


class ExpansionError(yaml.composer.ComposerError):
    """Aliases that stand for too much, or for a value that contains itself."""


class _Loader(yaml.SafeLoader):
    """Counts each node's size (values plus characters) as it composes, aliases included."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._sizes: dict[int, int] = {}
        self._repeated = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            self._count(self.peek_event())
            return super().compose_node(parent, index)  # PyYAML resolves the alias
        node = super().compose_node(parent, index)
        if node is not None:
            self._sizes[id(node)] = _size(node, self._sizes)
        return node

    def _count(self, event: yaml.AliasEvent) -> None:
        target = self.anchors.get(event.anchor)
        if target is not None and id(target) not in self._sizes:
            raise ExpansionError(problem=f"alias *{event.anchor} refers to a value that holds it")
        self._repeated += self._sizes.get(id(target), 0)
        if self._repeated > ALIAS_EXPANSION_LIMIT:
            raise ExpansionError(
                problem=f"aliases expand past {ALIAS_EXPANSION_LIMIT} values; write them out"
            )


def _size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """1 per value, plus the length of a scalar's text; children are already measured."""
    if isinstance(node, yaml.ScalarNode):
        return 1 + len(node.value)
    children = (
        [part for pair in node.value for part in pair]
        if isinstance(node, yaml.MappingNode)
        else node.value
    )
    return 1 + sum(sizes.get(id(child), 0) for child in children)


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
    def ignore_aliases(self, data: Any) -> bool:
        return True  # a shared list is written out each time: what hubctl writes, it reads back


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
    """One command-line value: `5` -> 5, `true` -> True, `null` or empty -> None, `[a, b]` -> list.

    Text that is not YAML is the text itself; aliases that expand too far raise ExpansionError.
    """
    if text.strip() == "":
        return None
    try:
        return load(text)
    except ExpansionError:
        raise
    except yaml.YAMLError:
        return text
