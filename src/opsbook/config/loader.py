"""Read opsbook.yaml into an :class:`OpsbookConfig`, or report every mistake with its location.

PyYAML's node graph keeps a mark (line, column) for every key and value. The loader builds
plain data from the nodes, remembers where each path came from, and turns every pydantic
error into a :class:`ConfigIssue` at the key or value it concerns.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from opsbook.config.schema import (
    Loc,
    OpsbookConfig,
    Problem,
    cross_check,
    model_at,
    render_loc,
)
from opsbook.config.values import describe

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_COLLECTION_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
_VARIABLE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_VARIABLE_NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL)


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One mistake in a configuration file; ``line`` and ``column`` count from 1.

    They are 0 when the problem concerns the whole file (it cannot be read).
    """

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(Exception):
    """A configuration that does not validate; ``issues`` lists every mistake, in file order."""

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues = tuple(issues)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(issue) for issue in self.issues)


def load_config(
    path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None
) -> OpsbookConfig:
    """Load and validate an opsbook.yaml file.

    ``${VAR}`` is read from ``env`` (default: the process environment); relative ``*_file``
    paths are resolved against the file's directory::

        try:
            config = load_config("opsbook.yaml")
        except ConfigError as error:
            print(error)  # opsbook.yaml:12:5: channels[1].url: unknown key "ulr", ...
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigIssue(str(file), 0, 0, "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(
            [ConfigIssue(str(file), 0, 0, "", f"cannot read file: {reason}")]
        ) from None
    return _load(text, filename=str(file), env=env, config_dir=file.parent)


def load_config_text(
    text: str, *, filename: str = "<string>", env: Mapping[str, str] | None = None
) -> OpsbookConfig:
    """Validate opsbook.yaml content; ``filename`` only labels the issues.

    >>> load_config_text("service: {name: PawfectMatch}").service.name
    'PawfectMatch'
    """
    return _load(text, filename=filename, env=env, config_dir=None)


def _load(
    text: str, *, filename: str, env: Mapping[str, str] | None, config_dir: Path | None
) -> OpsbookConfig:
    document = _Document(filename, os.environ if env is None else env)
    data = document.parse(text)
    if document.syntax_failed:
        raise ConfigError(document.issues)
    if data is None:
        data = {}  # an empty file is a file that lacks `service`
    problems = cross_check(data) if isinstance(data, dict) else []
    try:
        config = OpsbookConfig.model_validate(data, context={"config_dir": config_dir})
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            if error["type"] == "references":
                problems += error.get("ctx", {}).get("problems", [])
            else:
                document.add_validation_error(error, data)
    else:
        if not document.issues and not problems:
            return config
    for problem in _unique(problems):
        document.add(problem.loc, problem.message)
    raise ConfigError(document.sorted_issues())


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


@dataclass
class _Document:
    filename: str
    env: Mapping[str, str]
    issues: list[ConfigIssue] = field(default_factory=list)
    syntax_failed: bool = False
    # Where each path's value starts, and where each mapping key is written.
    values: dict[Loc, yaml.Mark] = field(default_factory=dict)
    keys: dict[Loc, yaml.Mark] = field(default_factory=dict)
    # Values that could not be read as written: validation errors about them are noise.
    hidden: set[Loc] = field(default_factory=set)

    def parse(self, text: str) -> Any:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            if root is None:
                return None
            return self._build(loader, root, (), set())
        except yaml.MarkedYAMLError as exc:
            self.syntax_failed = True
            mark = exc.problem_mark or exc.context_mark
            message = f"invalid YAML: {exc.problem or exc.context}"
            self.issues.append(self._issue(mark, (), message))
            return None
        except yaml.YAMLError as exc:  # e.g. a control character: no mark, a position in text
            self.syntax_failed = True
            self.issues.append(self._issue(None, (), "invalid YAML: " + " ".join(str(exc).split())))
            return None
        finally:
            loader.dispose()

    def _build(self, loader: yaml.SafeLoader, node: yaml.Node, loc: Loc, active: set[int]) -> Any:
        self.values[loc] = node.start_mark
        if id(node) in active:
            self._report(loc, node.start_mark, "an alias refers to itself", hides_below=True)
            return None
        active = active | {id(node)}
        if isinstance(node, yaml.CollectionNode) and node.tag not in _COLLECTION_TAGS:
            # Safe loading would refuse these tags; say so rather than ignore them.
            self._report(loc, node.start_mark, f"unsupported YAML tag {node.tag}", hides_below=True)
            return None
        if isinstance(node, yaml.MappingNode):
            return self._build_mapping(loader, node, loc, active)
        if isinstance(node, yaml.SequenceNode):
            return [
                self._build(loader, child, (*loc, i), active) for i, child in enumerate(node.value)
            ]
        value = loader.construct_object(node)
        if isinstance(value, str) and node.tag == _STR_TAG:
            return self._substitute(value, loc, node.start_mark)
        return value

    def _build_mapping(
        self, loader: yaml.SafeLoader, node: yaml.MappingNode, loc: Loc, active: set[int]
    ) -> dict[str, Any]:
        result: dict[str, Any] = {}
        # `<<: *anchor` merges first, so keys written here override the merged ones.
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                sources = (
                    value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                )
                for source in sources:
                    merged = self._build(loader, source, loc, active)
                    if isinstance(merged, dict):
                        result.update({k: v for k, v in merged.items() if k not in result})
                    else:
                        self._report(loc, source.start_mark, "<< can only merge a mapping")
        self.values[loc] = node.start_mark
        written: dict[str, yaml.Mark] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self._report(loc, key_node.start_mark, "a key must be a plain string")
                continue
            # The key's text, not its YAML 1.1 reading: `on:` stays "on", not True.
            key = key_node.value
            if key in written:
                first = written[key].line + 1
                self._report(
                    (*loc, key),
                    key_node.start_mark,
                    f'duplicate key "{key}" (first written on line {first})',
                )
                continue
            written[key] = key_node.start_mark
            self.keys[(*loc, key)] = key_node.start_mark
            result[key] = self._build(loader, value_node, (*loc, key), active)
        return result

    def _substitute(self, text: str, loc: Loc, mark: yaml.Mark) -> str:
        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$${":
                return "${"
            reference = match.group(1)
            parsed = _VARIABLE_NAME.fullmatch(reference) if reference is not None else None
            if parsed is None:
                problem = "an unterminated ${" if reference is None else f'"${{{reference}}}"'
                raise _SubstitutionError(f"{problem} is not a variable reference like ${{NAME}}")
            name, default = parsed.group(1), parsed.group(2)
            value = self.env.get(name)
            if value:
                return value
            if default is not None:
                return default
            if value is None:
                hint = f"write ${{{name}:-default}} for a default"
                raise _SubstitutionError(f"environment variable {name} is not set ({hint})")
            return value

        try:
            return _VARIABLE.sub(replace, text)
        except _SubstitutionError as exc:
            self._report(loc, mark, str(exc), hides_below=True)
            return text

    def _report(
        self, loc: Loc, mark: yaml.Mark, message: str, *, hides_below: bool = False
    ) -> None:
        if hides_below:
            self.hidden.add(loc)
        self.issues.append(self._issue(mark, loc, message))

    def _issue(self, mark: yaml.Mark | None, loc: Loc, message: str) -> ConfigIssue:
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return ConfigIssue(self.filename, line, column, render_loc(loc), message)

    def add(self, loc: Loc, message: str, *, at_key: bool = False, missing: bool = False) -> None:
        if any(loc[: len(done)] == done for done in self.hidden):
            return
        self.issues.append(
            self._issue(self._mark(loc, at_key=at_key, missing=missing), loc, message)
        )

    def _mark(self, loc: Loc, *, at_key: bool, missing: bool) -> yaml.Mark | None:
        if at_key and loc in self.keys:
            return self.keys[loc]
        if missing:
            # Point at the mapping that lacks the key: its own key if it has one.
            loc = loc[:-1]
            if loc in self.keys:
                return self.keys[loc]
        while loc not in self.values and loc:
            loc = loc[:-1]
        return self.values.get(loc)

    def add_validation_error(self, error: ErrorDetails, data: Any) -> None:
        loc = yaml_path(error["loc"], data)
        ctx: dict[str, Any] = dict(error.get("ctx") or {})
        kind = error["type"]
        if "at_key" in ctx:
            loc = (*loc, ctx["at_key"])
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            loc = (*loc, str(ctx.get("discriminator", "kind")).strip("'"))
        message = _message(error, loc, ctx, data)
        self.add(
            loc,
            message,
            at_key=kind == "extra_forbidden",
            missing=kind in ("missing", "union_tag_not_found"),
        )

    def sorted_issues(self) -> list[ConfigIssue]:
        unique = dict.fromkeys(self.issues)
        return sorted(unique, key=lambda i: (i.line, i.column, i.path))


class _SubstitutionError(Exception):
    pass


_EXPECTED = {
    "string_type": "a string",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _message(error: ErrorDetails, loc: Loc, ctx: dict[str, Any], data: Any) -> str:
    kind, given = error["type"], describe(error["input"])
    if kind in ("missing", "union_tag_not_found"):
        return f'missing required key "{loc[-1]}"'
    if kind == "extra_forbidden":
        return _unknown_key(str(loc[-1]), loc[:-1], data)
    if kind == "union_tag_invalid":
        expected = str(ctx.get("expected_tags", "")).replace("'", '"')
        return f'unknown kind "{ctx.get("tag")}", expected one of {expected}'
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", '"')
        return f"expected {expected}, got {given}"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {given}"
    if kind == "too_short":
        count = ctx.get("min_length", 1)
        return f"expected at least {count} item{'s' if count != 1 else ''}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        bound = {
            "greater_than_equal": ">=",
            "less_than_equal": "<=",
            "greater_than": ">",
            "less_than": "<",
        }[kind]
        limit = next(iter(ctx.values()), "")
        return f"expected a number {bound} {limit}, got {given}"
    message = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


def _unknown_key(key: str, parent: Loc, data: Any) -> str:
    model = model_at(parent, data)
    allowed = list(model.yaml_keys()) if model else []
    stem = key.removesuffix("_file")
    if stem != key and stem in allowed:
        # "host_file" for a key that is not a secret: the key itself is what was meant.
        return f'unknown key "{key}" (only secrets take a _file form), did you mean "{stem}"?'
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f'unknown key "{key}", did you mean "{close[0]}"?'
    if allowed:
        return f'unknown key "{key}" (expected one of: {", ".join(allowed)})'
    return f'unknown key "{key}"'


def yaml_path(loc: tuple[str | int, ...], data: Any) -> Loc:
    """Turn a pydantic error location into the path in the file.

    Pydantic inserts the chosen member of a tagged union (``channels[1].webhook.url``) and
    validator names (``function-after[...]``); neither is written in the file.
    """
    path: list[str | int] = []
    node = data
    for part in loc:
        if _has(node, part):
            node = node[part]
        elif isinstance(part, str) and (
            "[" in part or (isinstance(node, dict) and node.get("kind") == part)
        ):
            continue
        else:
            node = None
        path.append(part)
    return tuple(path)


def _has(node: Any, part: str | int) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
