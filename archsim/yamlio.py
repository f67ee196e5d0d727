"""YAML loading and pydantic validation with errors that name the file and field.

Every YAML file the tools take (hardware configs, workloads, sweeps, energy tables) is read
here, and treated as hostile: its size, encoding and nesting are bounded, aliases and anchors
are refused (a few hundred bytes of aliases can expand to gigabytes), duplicate keys are
refused (silently keeping the last one hides typos), and no error quotes more than a short
piece of a value.
"""

from __future__ import annotations

import math
import os
import re
import stat
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ValidationError
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError

from archsim.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

MAX_YAML_BYTES = 1 << 20  # the largest shipped YAML is a few kB
MAX_DEPTH = 32  # nesting of mappings and lists
MAX_PATH_CHARS = 4096  # PATH_MAX on Linux
MAX_NAME_CHARS = 255  # one path component (NAME_MAX)
MAX_QUOTE = 60  # characters of a value an error message may quote


def short(value: Any, limit: int = MAX_QUOTE) -> str:
    """repr() of a value, cut to `limit` characters: errors never echo an unbounded value."""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def one_line(text: str, limit: int = 2000) -> str:
    """A message as one bounded line (control characters shown escaped)."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def path_problem(text: str) -> str | None:
    """Why `text` cannot name a file (NUL byte, too long), or None."""
    if "\0" in text:
        return "contains a NUL byte"
    if len(text) > MAX_PATH_CHARS:
        return f"path of {len(text)} characters (at most {MAX_PATH_CHARS})"
    if any(len(part.encode(errors="surrogateescape")) > MAX_NAME_CHARS for part in text.split("/")):
        return f"a path component is longer than {MAX_NAME_CHARS} bytes"
    return None


def _checked_path(v: str) -> str:
    why = path_problem(v)
    if why:
        raise ValueError(f"not a usable file name: {why}")
    return v


# A file name in a YAML field: non-empty, no NUL, bounded length.
PathText = Annotated[str, AfterValidator(_checked_path)]


def finite(v: float) -> float:
    """Validator: refuse inf and nan (YAML's .inf, .nan and 1e999)."""
    if not math.isfinite(v):
        raise ValueError(f"must be a finite number, got {v}")
    return v


_NUMBER = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")


def _number_text(v: Any) -> Any:
    """'1.0e9' as 1e9: plain YAML 1.1 readers (PyYAML) leave such numbers as strings."""
    if isinstance(v, str) and len(v) <= 40 and _NUMBER.fullmatch(v.strip()):
        return float(v)
    return v


# A real number in a strict model: int or float (never bool), or a plain-decimal string as above.
Real = Annotated[float, BeforeValidator(_number_text)]


class FieldError(ValueError):
    """Raised by a model validator to name the field at fault (relative to the model)."""

    def __init__(self, field: str, msg: str):
        super().__init__(msg)
        self.field = field


class _Loader(yaml.SafeLoader):
    """safe_load without aliases, anchors or duplicate keys, and with bounded nesting."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise ComposerError(None, None, "aliases (*name) are not allowed", event.start_mark)
        if getattr(event, "anchor", None) is not None:
            raise ComposerError(None, None, "anchors (&name) are not allowed", event.start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, _ in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    key = (key_node.tag, key_node.value)
                    if key in seen:
                        raise ConstructorError(
                            None, None, f"duplicate key {short(key_node.value)}", key_node.start_mark
                        )
                    seen.add(key)
        return super().construct_mapping(node, deep)


# YAML 1.1 (PyYAML) reads 1e9 and 1.0e9 as strings; read them as the numbers everyone means (YAML 1.2).
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)$"),
    list("-+0123456789."),
)


def read_bounded(path: Path, limit: int, what: str, error: type[Exception] = ConfigError) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; anything else is `error` naming the file."""
    why = path_problem(str(path))
    if why:
        raise error(f"{short(str(path))}: {what}: not a usable file name ({why})")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # O_NONBLOCK: a FIFO must not hang the open
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{path}: not a regular file")
        if st.st_size > limit:
            raise error(f"{path}: {what} of {st.st_size} bytes is larger than the limit of {limit} bytes")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror})") from None
    finally:
        os.close(fd)
    if size > limit:
        raise error(f"{path}: {what} is larger than the limit of {limit} bytes")
    return b"".join(chunks)


def parse_yaml(text: str) -> Any:
    """Parse YAML text with the hardened loader; raises yaml.YAMLError or ValueError."""
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def read_yaml(path: Path) -> dict:
    """Parse a YAML mapping; any problem becomes a ConfigError naming the file."""
    raw = read_bounded(Path(path), MAX_YAML_BYTES, "YAML file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (invalid byte at offset {exc.start})") from None
    try:
        data = parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: malformed YAML{where}: {one_line(problem, 200)}") from None
    except (ValueError, OverflowError, RecursionError) as exc:  # e.g. an integer of 5,000 digits
        raise ConfigError(f"{path}: malformed YAML: {one_line(str(exc), 200)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def validate(model: type[M], data: dict, path: Path, context: dict | None = None) -> M:
    """Validate `data` against `model`; report the first error as `file: field 'a.b': message`."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        cause = (err.get("ctx") or {}).get("error")
        msg = err["msg"]
        if isinstance(cause, FieldError):
            loc.append(cause.field)
            msg = str(cause)
        elif err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required field is missing"
        elif err["type"] != "value_error" and "input" in err:
            msg = f"{msg}, got {short(err['input'])}"
        msg = msg.removeprefix("Value error, ")
        field = ".".join(loc) or "(top level)"
        raise ConfigError(f"{path}: field '{one_line(field, 200)}': {one_line(msg, 400)}") from None
