"""Load YAML into plain Python data while remembering the line of every value.

Validation errors must name the file, the line and the field; PyYAML's node tree has the marks,
so we walk it once alongside the constructed data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[str | int, ...]

# libyaml's loader where PyYAML was built with it: 10x faster, and its nodes carry the same marks.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlError(Exception):
    def __init__(self, file: Path, line: int | None, message: str):
        self.file, self.line, self.message = file, line, message
        where = f"{file}:{line}" if line else str(file)
        super().__init__(f"{where}: {message}")


@dataclass
class LineMap:
    """Maps a path of keys/indices inside a document to the 1-based line it starts on."""

    file: Path
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int | None:
        """The line of the deepest prefix of `path` that exists in the document."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None


def load_yaml(file: Path) -> tuple[Any, LineMap]:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlError(file, None, f"cannot read the file: {exc}") from None
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise YamlError(file, 1, "the file is empty: expected a mapping of fields")
        line_map = LineMap(file)
        _record_lines(node, (), line_map, file)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise YamlError(file, line, f"invalid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise YamlError(file, None, f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    return data, line_map


def _record_lines(node: yaml.Node, path: Path_, line_map: LineMap, file: Path) -> None:
    line_map.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen and key != "<<":
                raise YamlError(
                    file,
                    key_node.start_mark.line + 1,
                    f"duplicate key {key!r} (first on line {seen[key]}): remove one of them",
                )
            seen[key] = key_node.start_mark.line + 1
            _record_lines(value_node, (*path, key), line_map, file)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_lines(item, (*path, index), line_map, file)
