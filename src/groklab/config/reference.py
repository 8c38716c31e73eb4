"""docs/configuration-reference.md, generated from schema.yaml (a test fails when the file is stale).

`render()` turns the JSON schema of config.yaml into Markdown: one section per top-level key, one
table per object (key, type, default, allowed values, description), nested objects and the items
of lists of objects as subsections of their own. Regenerate with
`python -m groklab.config.reference` (writes docs/configuration-reference.md).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from groklab.config.cells import load_schema

OUT = "docs/configuration-reference.md"
LONG_DEFAULT = 60          # longer defaults are printed as YAML below the table, not in a cell
COMMAND = "python -m groklab.config.reference"


def _resolve(node: dict, root: dict) -> dict:
    """The schema a $ref points at (only local `#/$defs/...` references), merged with the
    referring node's own keywords (a default or description next to the $ref wins)."""
    if "$ref" not in node:
        return node
    target: dict = root
    for part in node["$ref"].removeprefix("#/").split("/"):
        target = target[part]
    return {**_resolve(target, root), **{k: v for k, v in node.items() if k != "$ref"}}


def _text(value: str) -> str:
    """Plain schema prose made safe for a Markdown table cell (code spans left as written)."""
    pieces = " ".join(str(value).split()).split("`")
    for i in range(0, len(pieces), 2):                      # outside backticks
        for raw, safe in (("\\", "\\\\"), ("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("*", "\\*"),
                          ("_", "\\_"), ("[", "\\["), ("]", "\\]"), ("|", "&#124;")):
            pieces[i] = pieces[i].replace(raw, safe)
    return "`".join(pieces)                                 # a | in a code span does not split the row


def _code(value) -> str:
    text = value if isinstance(value, str) and value else json.dumps(value, separators=(", ", ": "))
    return f"`{text}`"                                      # mkdocs' tables do not split at a | in code


def _type(node: dict) -> str:
    if "enum" in node:
        kinds = sorted({_json_type(v) for v in node["enum"]})
        return " or ".join(kinds)
    if "const" in node:
        return _json_type(node["const"])
    for key in ("anyOf", "oneOf"):
        if key in node:
            return " or ".join(dict.fromkeys(_type(alt) for alt in node[key]))
    kind = node.get("type")
    if kind is None:
        return "any"
    kinds = kind if isinstance(kind, list) else [kind]
    if "array" in kinds and isinstance(node.get("items"), dict):
        item = _type(node["items"]) if not _is_object(node["items"]) else "object"
        kinds = [f"array of {item}" if k == "array" and item != "any" else k for k in kinds]
    return " or ".join(kinds)


def _json_type(value) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "object"}[type(value)]


def _range(node: dict) -> list[str]:
    parts = []
    for key, sign in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<")):
        if key in node:
            parts.append(f"{sign} {node[key]}")
    return parts


def _allowed(node: dict) -> str:
    parts = []
    if "enum" in node:
        parts.append(", ".join(_code(v) for v in node["enum"]))
    if "const" in node:
        parts.append(_code(node["const"]))
    for key in ("anyOf", "oneOf"):
        if key in node:
            parts.append(" or ".join(_allowed(alt) or _type(alt) for alt in node[key]))
    if _range(node):
        parts.append(", ".join(_range(node)))
    if "pattern" in node:
        parts.append(f"matches {_code(node['pattern'])}")
    if "minItems" in node or "maxItems" in node:
        lo, hi = node.get("minItems"), node.get("maxItems")
        parts.append(f"{lo} items" if lo == hi else
                     f"{lo}–{hi} items" if lo is not None and hi is not None else
                     f"≥ {lo} items" if lo is not None else f"≤ {hi} items")
    if node.get("uniqueItems"):
        parts.append("no repeats")
    if "minProperties" in node:
        parts.append(f"≥ {node['minProperties']} keys")
    items = node.get("items")
    if isinstance(items, dict) and not _is_object(items):
        text = _allowed(items)
        if text:
            parts.append(f"each: {text}")
    names = node.get("propertyNames", {}).get("pattern")
    if names:
        parts.append(f"names match {_code(names)}")
    return "; ".join(parts)


def _is_object(node: dict) -> bool:
    return "properties" in node or "allOf" in node


def _sub_schemas(node: dict, path: str, root: dict) -> list[tuple[str, dict]]:
    """The nested object schemas documented in a section of their own: (path, schema)."""
    out = []
    if _is_object(node):
        out.append((path, node))
    items = node.get("items")
    if isinstance(items, dict):
        items = _resolve(items, root)
        if _is_object(items):
            out.append((f"{path}[]", items))
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        extra = _resolve(extra, root)
        if _is_object(extra):
            out.append((f"{path}.<name>", extra))
    return out


class _Renderer:
    def __init__(self, root: dict):
        self.root = root
        self.lines: list[str] = []

    def object(self, path: str, node: dict, heading: bool = True) -> None:
        """A heading and the object's description, a table of its keys (one per filter kind for a
        schema that switches on `kind`), then each nested object, depth first."""
        if heading:
            self.lines += [f"### `{path}`", ""]
            if node.get("description"):
                self.lines += [_text(node["description"]), ""]
        variants = [(c["if"]["properties"]["kind"]["const"], c["then"]) for c in node.get("allOf", [])
                    if "if" in c and "then" in c]
        if not variants:
            for sub_path, sub in self.table(path, node.get("properties", {}), node.get("required", [])):
                self.object(sub_path, sub)
            return
        base = node.get("properties", {})
        for kind, then in variants:
            props = {name: {**base.get(name, {}), **prop} for name, prop in then.get("properties", {}).items()}
            props["kind"] = {k: v for k, v in {**base.get("kind", {}), "const": kind}.items() if k != "enum"}
            self.lines += [f"With `kind: {kind}`:", ""]
            self.table(path, props, ["kind"])

    def table(self, path: str, props: dict, required: list[str]) -> list[tuple[str, dict]]:
        rows, long_defaults, nested = [], [], []
        for name, raw in props.items():
            node = _resolve(raw, self.root)
            key = f"{path}.{name}" if path else name
            if "default" in node:
                text = _code(node["default"])
                if len(text) > LONG_DEFAULT:
                    long_defaults.append((key, node["default"]))
                    text = "see below"
            else:
                text = "required" if name in required else "–"
            rows.append(f"| `{key}` | {_type(node)} | {text} | {_allowed(node) or '–'} | "
                        f"{_text(node.get('description', '')) or '–'} |")
            nested += _sub_schemas(node, key, self.root)
        self.lines += ["| key | type | default | allowed | description |", "|---|---|---|---|---|", *rows, ""]
        for key, value in long_defaults:
            dumped = yaml.safe_dump({key.rsplit(".", 1)[-1]: value}, sort_keys=False, width=100,
                                    default_flow_style=None, allow_unicode=True)
            self.lines += [f"Default of `{key}`:", "", "```yaml", *dumped.rstrip("\n").split("\n"), "```", ""]
        return nested


def render(schema: dict | None = None) -> str:
    """The configuration reference as Markdown, from `schema` (default: the package's schema.yaml)."""
    root = load_schema() if schema is None else schema
    out = _Renderer(root)
    out.lines += [
        "# Configuration reference",
        "",
        f"Generated from `src/groklab/config/schema.yaml` by `{COMMAND}`; do not edit by hand.",
        "",
        "Every key of `config.yaml` with its type, default, allowed values and description. A",
        "dotted key such as `cell.optimizer.lr` is the path from the top of the file; the keys under",
        "`cell` are the ones a matrix axis or an include's `set` names without the `cell.` prefix",
        "(`optimizer.lr`). `[]` marks the items of a list, `<name>` a key you choose. A value out",
        "of range or a misspelt key stops the workflow before any job runs, with one line naming it",
        "(see [Troubleshooting](troubleshooting.md)). How the keys fit together, with examples:",
        "[Configuration](configuration.md).",
        "",
    ]
    for name, raw in root["properties"].items():
        node = _resolve(raw, root)
        out.lines += [f"## `{name}`", ""]
        if node.get("description"):
            out.lines += [_text(node["description"]), ""]
        if "properties" in node:
            out.object(name, node, heading=False)
            continue
        for sub_path, sub in out.table("", {name: raw}, root.get("required", [])):
            out.object(sub_path, sub)
    return "\n".join(out.lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    from groklab import io

    parser = argparse.ArgumentParser(prog=COMMAND, description=f"regenerate {OUT} from the config schema")
    parser.add_argument("--out", default=OUT)
    args = parser.parse_args(argv)
    io.write_text(Path(args.out), render())
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
