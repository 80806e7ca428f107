"""Is a new JSON Schema backward compatible with the published one?

Compatible means every document valid under the old schema is valid under the new one:
producers coded against a published version keep working, and events already in the
log still validate. Reported: a field removed, a type or a set of values narrowed, a
bound tightened, a new required field (one without a default), extra fields refused, a
rule between fields added (``anyOf`` beside an object's own keywords, ``if``/``then``,
``not``, ``allOf``, ``dependentRequired``). Conservative on purpose: a changed ``pattern``
or ``format`` counts as narrowing. Each report names the keyword and both values, so that
``events.corrections`` can recognise a change that only makes a contract say what the
models always enforced.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Schema = Mapping[str, Any]

_JSON_TYPES = frozenset({"null", "boolean", "object", "array", "number", "integer", "string"})
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
_EXACT = ("pattern", "format", "multipleOf")
_RULES = ("anyOf", "if", "not", "allOf", "dependentRequired", "dependentSchemas")
"""Keywords that add a rule to a node; ``anyOf`` only beside the node's own keywords."""
_OWN = ("type", "properties")
_MAX_DEPTH = 64


@dataclass(frozen=True, slots=True)
class Incompatibility:
    path: str
    change: str
    keyword: str | None = None
    old: Any = None
    new: Any = None

    def __str__(self) -> str:
        return f"{self.path or '(document)'}: {self.change}"


def breaking_changes(old: Schema, new: Schema) -> list[Incompatibility]:
    """Why documents valid under ``old`` may be invalid under ``new``; empty if none."""
    found: list[Incompatibility] = []
    _Comparison(old, new, found).node(old, new, "", 0)
    return found


class _Comparison:
    def __init__(self, old_root: Schema, new_root: Schema, found: list[Incompatibility]) -> None:
        self.old_root, self.new_root, self.found = old_root, new_root, found

    def report(
        self, path: str, change: str, keyword: str | None = None, old: Any = None, new: Any = None
    ) -> None:
        self.found.append(Incompatibility(path, change, keyword, old, new))

    def node(self, old: Schema, new: Schema, path: str, depth: int) -> None:
        old, new = _resolve(old, self.old_root), _resolve(new, self.new_root)
        if depth > _MAX_DEPTH:
            return
        old_branches, new_branches = _branches(old), _branches(new)
        if old_branches is None and new_branches is None:
            self.single(old, new, path, depth)
            return
        candidates = new_branches or [new]
        for branch in old_branches or [old]:
            results = [self.probe(branch, candidate, path, depth) for candidate in candidates]
            if any(not problems for problems in results):
                continue
            # Explain against the closest alternative: one of the same type, fewest problems.
            old_types = _types(_resolve(branch, self.old_root)) or set()
            closest = min(
                zip(candidates, results, strict=True),
                key=lambda pair: (
                    not old_types & (_types(_resolve(pair[0], self.new_root)) or set()),
                    len(pair[1]),
                ),
            )
            self.found.extend(closest[1])

    def probe(self, old: Schema, new: Schema, path: str, depth: int) -> list[Incompatibility]:
        found: list[Incompatibility] = []
        _Comparison(self.old_root, self.new_root, found).node(old, new, path, depth + 1)
        return found

    def single(self, old: Schema, new: Schema, path: str, depth: int) -> None:
        old_types, new_types = _types(old), _types(new)
        if new_types is not None:
            lost = (old_types or _JSON_TYPES) - new_types
            if "number" in new_types:
                lost -= {"integer"}
            if lost:
                self.report(path, f"type narrowed: {', '.join(sorted(lost))} no longer accepted")
        old_values, new_values = _values(old), _values(new)
        if new_values is not None:
            if old_values is None:
                self.report(path, f"values restricted to {new_values}")
            elif lost_values := [value for value in old_values if value not in new_values]:
                self.report(path, f"values no longer accepted: {lost_values}")
        for key in _LOWER_BOUNDS:
            if key in new and (key not in old or new[key] > old[key]):
                self.report(path, f"{key} tightened from {old.get(key)} to {new[key]}")
        for key in _UPPER_BOUNDS:
            if key in new and (key not in old or new[key] < old[key]):
                self.report(path, f"{key} tightened from {old.get(key)} to {new[key]}")
        for key in _EXACT:
            if key in new and old.get(key) != new[key]:
                self.report(
                    path,
                    f"{key} changed from {old.get(key)!r} to {new[key]!r}",
                    key,
                    old.get(key),
                    new[key],
                )
        for key in _RULES:
            old_rule, new_rule = _rule(old, key), _rule(new, key)
            if new_rule is not None and old_rule != new_rule:
                self.report(path, f"rule added: {key}", key, old_rule, new_rule)
        self.object(old, new, path, depth)
        self.array(old, new, path, depth)

    def object(self, old: Schema, new: Schema, path: str, depth: int) -> None:
        old_props: Schema = old.get("properties", {})
        new_props: Schema = new.get("properties", {})
        for name, old_prop in old_props.items():
            if name not in new_props:
                self.report(_join(path, name), "field removed")
            else:
                self.node(old_prop, new_props[name], _join(path, name), depth + 1)
        newly_required = set(new.get("required", ())) - set(old.get("required", ()))
        for name in sorted(newly_required):
            if name in old_props:
                self.report(_join(path, name), "field became required")
            else:
                self.report(_join(path, name), "new required field without a default")
        old_extra = old.get("additionalProperties", True)
        new_extra = new.get("additionalProperties", True)
        if new_extra is False and old_extra is not False:
            self.report(path, "extra fields no longer accepted")
        elif isinstance(new_extra, Mapping):
            old_extra_schema = old_extra if isinstance(old_extra, Mapping) else {}
            self.node(old_extra_schema, new_extra, _join(path, "*"), depth + 1)
        if "propertyNames" in new:
            self.node(
                old.get("propertyNames", {}), new["propertyNames"], _join(path, "(keys)"), depth + 1
            )

    def array(self, old: Schema, new: Schema, path: str, depth: int) -> None:
        if "items" in new:
            self.node(old.get("items", {}), new["items"], f"{path}[]", depth + 1)
        old_prefix, new_prefix = old.get("prefixItems", []), new.get("prefixItems", [])
        for index, new_item in enumerate(new_prefix):
            old_item = old_prefix[index] if index < len(old_prefix) else {}
            self.node(old_item, new_item, f"{path}[{index}]", depth + 1)


def _resolve(node: Schema, root: Schema) -> Schema:
    """Follow local ``$ref``s; keywords beside a ``$ref`` apply too, so they are merged."""
    seen: set[str] = set()
    while isinstance(ref := node.get("$ref"), str) and ref.startswith("#/") and ref not in seen:
        seen.add(ref)
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        node = {**target, **{key: value for key, value in node.items() if key != "$ref"}}
    return node


def _rule(node: Schema, key: str) -> Any:
    if key == "anyOf" and not any(own in node for own in _OWN):
        return None  # alternatives, compared branch by branch
    if key == "if":
        return {k: node[k] for k in ("if", "then", "else") if k in node} or None
    return node.get(key)


def _branches(node: Schema) -> list[Schema] | None:
    if any(own in node for own in _OWN):
        return None  # an anyOf beside the node's own keywords is a rule, not alternatives
    for key in ("anyOf", "oneOf"):
        if isinstance(node.get(key), list):
            return list(node[key])
    return None


def _types(node: Schema) -> set[str] | None:
    declared = node.get("type")
    if declared is None:
        return None
    return {declared} if isinstance(declared, str) else set(declared)


def _values(node: Schema) -> list[Any] | None:
    if "const" in node:
        return [node["const"]]
    if "enum" in node:
        return list(node["enum"])
    return None


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
