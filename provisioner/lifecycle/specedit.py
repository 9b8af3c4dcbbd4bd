"""Editing a spec in place: a few keys of some domains changed, every other byte kept.

Why not `ruamel.yaml`'s round-trip dump: it keeps comments and key order, but re-indents,
re-wraps long lines and re-spaces flow mappings, so a one-line promotion would show up in
review as a diff of the whole file. Instead ruamel's round-trip composer locates the nodes
(each with its exact start and end in the text) and only those spans are replaced, or new
lines inserted beside them: comments, key order, quoting, blank lines, anchors and line
endings (LF or CRLF) stay byte for byte everywhere else.

Every edit is verified before the file is replaced (`verified_text`): the new text must
load with the spec loader, the edited domains must resolve to exactly the values asked
for, and every other domain must resolve exactly as before. That catches what text
surgery cannot see, such as a domain whose settings are shared with others through an
anchor or a `<<` merge: the edit is refused with one line and the file is left untouched.
The file is replaced atomically (a temporary file beside it, then a rename), keeping its
permission bits, and only if it still holds the bytes that were read.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import stat
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from provisioner.errors import MtastsError, SpecError
from provisioner.rfc8461 import normalize_hostname
from provisioner.spec import DomainSpec, Spec, parse_spec

Value = str | int | Sequence[str] | Mapping[str, Sequence[str]]
"""A field's new value: a mode or provider name, a max_age, mx patterns, `{rua: [...]}`."""

_PLAIN_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
_YAML_WORDS = {"null", "true", "false", "yes", "no", "on", "off", "y", "n"}
_ALIAS_AFTER_KEY_RE = re.compile(r"[ \t]*:[ \t]*(\*[^\s,\[\]{}]+)")
_COLON_AFTER_KEY_RE = re.compile(r"[ \t]*:")
_ANCHOR_RE = re.compile(r"&[^\s,\[\]{}]+[ \t]*")


@dataclass(frozen=True)
class SpecText:
    """A spec file as read: its bytes (to detect a change before replacing) and text."""

    path: Path
    data: bytes
    text: str

    @property
    def newline(self) -> str:
        return "\r\n" if "\r\n" in self.text else "\n"


def read_spec_text(path: Path) -> SpecText:
    """The spec's bytes and UTF-8 text; the caller has loaded it with `load_spec` first."""
    data = path.read_bytes()
    return SpecText(path, data, data.decode("utf-8"))


def set_domain_fields(text: str, domain: str, fields: Mapping[str, Value]) -> str:
    """`text` with `fields` set under `domains.<domain>`: `set_fields` for one domain."""
    return set_fields(text, {domain: fields})


def set_fields(text: str, changes: Mapping[str, Mapping[str, Value]]) -> str:
    """`text` with each domain's fields set under `domains.<domain>` (matched after
    normalisation), from one parse of the text, so a wave of any size costs one pass.

    An existing key's value is replaced where it stands (a string keeps its quote style;
    an alias `*x` is replaced by the value, for this domain only; a block list or mapping
    becomes a flow one on its key's line); a missing key is added under the domain (after
    its last entry, or inside the braces of a flow mapping); domains missing from
    `domains` are appended to it. Raises MtastsError when the spec has no `domains:`
    mapping to edit.
    """
    if not changes:
        return text
    newline = "\r\n" if "\r\n" in text else "\n"
    root = YAML(typ="rt").compose(text)
    domains = _value_of(root, "domains") if isinstance(root, MappingNode) else None
    if not isinstance(domains, MappingNode):
        raise MtastsError("the spec has no 'domains:' mapping to edit")
    found: dict[str, tuple[Node, Node]] = {}
    for key_node, value_node in domains.value:
        if isinstance(key_node, ScalarNode) and isinstance(key_node.value, str):
            name = _normalized(key_node.value)
            if name is not None and name in changes and name not in found:
                found[name] = (key_node, value_node)
    edits: list[_Edit] = []
    for name, fields in changes.items():
        if name in found:
            edits += _field_edits(text, newline, *found[name], fields)
    new = {name: fields for name, fields in changes.items() if name not in found}
    if new:
        edits.append(_new_domains_edit(text, newline, domains, new))
    return _apply(text, edits)


def verified_text(
    path: Path,
    before: Mapping[str, DomainSpec],
    new_text: str,
    expected: Mapping[str, Callable[[DomainSpec | None], bool]],
) -> Spec:
    """Load `new_text` as the spec at `path` would load, and check the edit's reach.

    `before` is what each domain resolved to before the edit (empty for a new spec);
    `expected` maps each edited domain to a test of what it resolves to now. Every other
    domain must resolve as before. Raises MtastsError with one line otherwise.
    """
    try:
        edited = parse_spec(new_text, path)
    except SpecError as exc:
        first = exc.problems[0] if exc.problems else None
        raise MtastsError(
            f"refusing to edit {path}: the edited spec would not load ({first})"
        ) from None
    for name in sorted(expected):
        if not expected[name](edited.domains.get(name)):
            raise MtastsError(
                f"refusing to edit {path}: {name} would not resolve to the new settings "
                "(its mapping is shared through a YAML anchor or merge?); give it its own "
                "settings first"
            )
    for name in sorted(set(before) | set(edited.domains)):
        if name in expected:
            continue
        old, new = before.get(name), edited.domains.get(name)
        if (old and unlined(old)) != (new and unlined(new)):
            raise MtastsError(
                f"refusing to edit {path}: editing {', '.join(sorted(expected))} would also "
                f"change {name} (their settings are shared through a YAML anchor or merge); "
                "give each its own settings first"
            )
    return edited


def unified_diff(path: Path, before: str, after: str) -> str:
    """The edit as `diff -u` shows it, for `--dry-run` and pull-request descriptions."""
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"a/{path}",
            tofile=f"b/{path}",
        )
    )


def replace_file(path: Path, text: str, expected_bytes: bytes | None) -> None:
    """Write `text` to `path` atomically: a temporary file in the same directory, renamed.

    A symbolic link is followed (the file it names is replaced, the link stays). The
    permission bits of the old file are kept (a new file gets 0666 less the umask).
    `expected_bytes` is what was read (None: the file did not exist); if the file changed
    since, nothing is written and MtastsError says so.
    """
    target = path.resolve() if path.is_symlink() else path
    try:
        _replace(target, text, expected_bytes)
    except OSError as exc:
        raise MtastsError(f"cannot write {path}: {exc.strerror or exc}") from None


def _replace(target: Path, text: str, expected_bytes: bytes | None) -> None:
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    temporary = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        temporary.chmod(mode)
        current = target.read_bytes() if target.exists() else None
        if current != expected_bytes:
            raise MtastsError(f"{target} changed while mtasts was editing it; nothing was written")
        temporary.replace(target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


# --- locating and splicing ----------------------------------------------------------------


@dataclass(frozen=True)
class _Edit:
    start: int
    end: int
    text: str


def _apply(text: str, edits: list[_Edit]) -> str:
    """The edits (non-overlapping; inserts at one index kept in list order) in one pass."""
    pieces: list[str] = []
    at = 0
    for edit in sorted(edits, key=lambda e: e.start):
        pieces += [text[at : edit.start], edit.text]
        at = max(at, edit.end)
    pieces.append(text[at:])
    return "".join(pieces)


def _value_of(mapping: MappingNode, key: str) -> Node | None:
    for key_node, value_node in mapping.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            found: Node = value_node
            return found
    return None


def _normalized(raw: str) -> str | None:
    try:
        return normalize_hostname(raw)
    except ValueError:
        return None


def _field_edits(
    text: str, newline: str, key: Node, value: Node, fields: Mapping[str, Value]
) -> list[_Edit]:
    """The edits setting `fields` in one domain's value node."""
    alias = value.start_mark.index < key.end_mark.index
    if isinstance(value, ScalarNode) or alias:
        # `domain:` with nothing (or null, or an alias of another domain's mapping): the
        # domain gets a flow mapping of its own, merging the aliased one when there is one.
        span = _value_span(text, key, value)
        merged = f"<<: {text[span[0] : span[1]]}, " if alias else ""
        inner = ", ".join(f"{k}: {_flow(v)}" for k, v in fields.items())
        return [_Edit(span[0], span[1], ("" if alias else " ") + "{" + merged + inner + "}")]
    if not isinstance(value, MappingNode):
        raise MtastsError(f"domains.{key.value}: is not a mapping of settings")
    edits: list[_Edit] = []
    missing: dict[str, Value] = {}
    last_end: int | None = None
    for name, new in fields.items():
        pair = next(
            ((k, v) for k, v in value.value if isinstance(k, ScalarNode) and k.value == name),
            None,
        )
        if pair is None:
            missing[name] = new
            continue
        start, end = _value_span(text, pair[0], pair[1])
        replacement = _replacement(text, pair[0], pair[1], start, new)
        if isinstance(pair[1], MappingNode | SequenceNode) and not pair[1].flow_style:
            # a block collection becomes a flow one on the key's line
            colon = _COLON_AFTER_KEY_RE.match(text, pair[0].end_mark.index)
            start, replacement = (colon.end() if colon else start), " " + replacement
        edits.append(_Edit(start, end, replacement))
        last_end = max(last_end or 0, end)
    if missing:
        edits.append(_insertion(text, newline, value, missing, last_end))
    return edits


def _value_span(text: str, key: Node, value: Node) -> tuple[int, int]:
    """Where a key's value is written: an alias token, a scalar, or a collection's content.

    A block collection's end mark runs over the comments and blank lines after it, so its
    end is taken from its last item instead.
    """
    if value.start_mark.index < key.end_mark.index:  # an alias: the node lives elsewhere
        found = _ALIAS_AFTER_KEY_RE.match(text, key.end_mark.index)
        if found is None:
            raise MtastsError(f"cannot find the value of {key.value!r} in the spec")
        return found.start(1), found.end(1)
    if isinstance(value, ScalarNode) and value.value == "" and value.style is None:
        colon = _COLON_AFTER_KEY_RE.match(text, key.end_mark.index)
        at = colon.end() if colon else key.end_mark.index
        return at, at
    start = int(value.start_mark.index)
    anchor = _ANCHOR_RE.match(text, start)
    if anchor is not None:  # keep `&name `: an alias of it elsewhere must still resolve
        start = anchor.end()
    return start, _content_end(value, text)


def _content_end(node: Node, text: str) -> int:
    if isinstance(node, ScalarNode) and node.style in ("|", ">"):
        # a block scalar's end mark is past its line breaks (and any blank lines after)
        end = int(node.end_mark.index)
        while end > node.start_mark.index and text[end - 1] in " \t\r\n":
            end -= 1
        return end
    if isinstance(node, ScalarNode) or getattr(node, "flow_style", False):
        return int(node.end_mark.index)
    if isinstance(node, SequenceNode) and node.value:
        last = node.value[-1]
        return _content_end(last, text) if last.start_mark.index > node.start_mark.index else 0
    if isinstance(node, MappingNode) and node.value:
        key, last = node.value[-1]
        if last.start_mark.index < key.end_mark.index:
            return int(key.end_mark.index)  # an alias: resolved by the caller's regex
        return _content_end(last, text)
    return int(node.end_mark.index)


def _replacement(text: str, key: Node, value: Node, start: int, new: Value) -> str:
    """The new value's text at [start, ...): a string keeps the old scalar's quote style;
    a collection replacing a block one is written in flow style where the old one began."""
    if isinstance(value, ScalarNode) and isinstance(new, str) and value.style in ('"', "'"):
        return json.dumps(new) if value.style == '"' else "'" + new.replace("'", "''") + "'"
    return _flow(new)


def _insertion(
    text: str, newline: str, mapping: MappingNode, fields: Mapping[str, Value], after: int | None
) -> _Edit:
    if getattr(mapping, "flow_style", False):
        close = int(mapping.end_mark.index) - 1
        at = close
        while at > 0 and text[at - 1] in " \t\r\n":
            at -= 1
        first_key = mapping.value[0][0] if mapping.value else None
        quote = isinstance(first_key, ScalarNode) and first_key.style == '"'
        parts = [
            f"{json.dumps(k)}: {_json_flow(v)}" if quote else f"{k}: {_flow(v)}"
            for k, v in fields.items()
        ]
        lead = ", " if mapping.value else ""
        return _Edit(at, at, lead + ", ".join(parts))
    first_key = mapping.value[0][0]
    indent = " " * first_key.start_mark.column
    before_key = text[
        text.rfind("\n", 0, first_key.start_mark.index) + 1 : first_key.start_mark.index
    ]
    if before_key.strip() == "?":  # an explicit key (`? mode`): its entries start at the `?`
        indent = before_key[: len(before_key) - len(before_key.lstrip(" "))]
    lines = "".join(f"{indent}{k}: {_flow(v)}{newline}" for k, v in fields.items())
    if after is None:  # after the mapping's last entry
        last_key, last_value = mapping.value[-1]
        after = max(_value_span(text, last_key, last_value)[1], int(last_key.end_mark.index))
    at = _after_line(text, after)
    if at == len(text) and not text.endswith("\n"):
        return _Edit(at, at, newline + lines.removesuffix(newline))
    return _Edit(at, at, lines)


def _new_domains_edit(
    text: str, newline: str, domains: MappingNode, new: Mapping[str, Mapping[str, Value]]
) -> _Edit:
    """One insertion appending every new domain to `domains`, in the order given."""
    if getattr(domains, "flow_style", False) or not domains.value:
        entries = {
            name: _Raw("{" + ", ".join(f"{k}: {_flow(v)}" for k, v in fields.items()) + "}")
            for name, fields in new.items()
        }
        return _insertion(text, newline, domains, entries, None)
    first_key = domains.value[0][0]
    indent = " " * first_key.start_mark.column
    step = 2
    for key, value in domains.value:
        if isinstance(value, MappingNode) and not value.flow_style and value.value:
            step = max(1, value.value[0][0].start_mark.column - key.start_mark.column)
            break
    child = indent + " " * step
    lines = "".join(
        f"{indent}{name}:{newline}"
        + "".join(f"{child}{k}: {_flow(v)}{newline}" for k, v in fields.items())
        for name, fields in new.items()
    )
    last_key, last_value = domains.value[-1]
    end = _value_span(text, last_key, last_value)[1]
    at = _after_line(text, max(end, int(last_key.end_mark.index)))
    if at == len(text) and not text.endswith("\n"):
        return _Edit(at, at, newline + lines.removesuffix(newline))
    return _Edit(at, at, lines)


def _after_line(text: str, index: int) -> int:
    """The index just after the line break that ends the line holding `index`."""
    newline = text.find("\n", index)
    return len(text) if newline < 0 else newline + 1


class _Raw(str):
    """Text already in YAML flow form."""


def _flow(value: Any) -> str:
    """A value in YAML flow style: plain where that is unambiguous, JSON quotes otherwise."""
    if isinstance(value, _Raw):
        return str(value)
    if isinstance(value, bool):
        raise TypeError("no spec field is a boolean")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        plain = _PLAIN_RE.fullmatch(value) and value.lower() not in _YAML_WORDS
        return value if plain else json.dumps(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    return "[" + ", ".join(json.dumps(item) for item in value) + "]"


def _json_flow(value: Any) -> str:
    """A value for a mapping written in JSON style (keys and strings double-quoted)."""
    if isinstance(value, str) and not isinstance(value, _Raw):
        return json.dumps(value)
    return _flow(value)


def unlined(domain: DomainSpec) -> DomainSpec:
    """A domain without its line number: an insertion above it moves it, nothing else."""
    return replace(domain, line=None)


def new_spec_text(
    header: str,
    providers: Mapping[str, Mapping[str, str]],
    domains: Mapping[str, Mapping[str, Value]],
) -> str:
    """A new spec: `header` as comment lines, the providers in flow style, one block
    mapping per domain (keys in the order given, values in flow style)."""
    lines = [f"# {line}" for line in header.splitlines()]
    lines += ["version: 1", "providers:"]
    lines += [f"  {name}: {_flow(dict(settings))}" for name, settings in providers.items()]
    lines.append("domains:" if domains else "domains: {}")
    for name, fields in domains.items():
        lines.append(f"  {name}:")
        lines += [f"    {key}: {_flow(value)}" for key, value in fields.items()]
    return "\n".join(lines) + "\n"
