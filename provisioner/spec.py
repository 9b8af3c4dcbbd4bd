"""The declarative spec (`mtasts.yaml`): load, validate, normalise, resolve defaults.

A spec author fixing forty domains wants forty errors at once, each with file and line, so
loading never stops at the first problem: YAML is read with ruamel (which keeps line
numbers), each section is validated on its own with pydantic, and every problem becomes a
`Problem(path, line, where, message)` mapped back to the line that caused it. Nothing here
talks to a provider; provider settings are checked by `provisioner.registry`, which knows
each provider's own settings model.

Defaults: any domain field may be set under `defaults:`; a domain's own value replaces the
default (`tlsrpt` as a whole). When `max_age` is set nowhere it follows the mode: one day
for testing and none, two weeks for enforce (the shortest values checkers accept quietly).
With no `providers:` section the embedded `local` provider writes to `./build/mta-sts`.

Whatever the file holds, loading ends in a Spec or in located problems, never a traceback
or a hang, and a spec that loads can be rendered and published:
- Reading is bounded by the file's size: at most `SPEC_MAX_BYTES`, at most
  `YAML_MAX_NESTING` levels (deeper YAML would exhaust Python's recursion), and aliases may
  expand the document to at most `YAML_NODES_PER_CHARACTER` values per character of text
  (a few hundred bytes of nested aliases, "billion laughs", would otherwise expand to 2^40
  values). The limits are checked while ruamel composes, at the line that crosses them.
- Keys are plain scalars; a mapping or list used as a key is refused at its line.
- Each domain's policy is rendered with the RFC 8461 module and its `_smtp._tls` record
  with the RFC 8460 one, so every limit those grammars enforce when publishing (the 64 KB
  policy, the record length, the URI rules) is a problem here, at the line that causes it.
"""

from __future__ import annotations

import contextlib
import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    field_validator,
)
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import Composer, ComposerError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from provisioner.errors import Problem, SpecError
from provisioner.rfc8460 import normalize_rua, render_tlsrpt_record
from provisioner.rfc8461 import (
    ENFORCE_MIN_ADVISED_MAX_AGE,
    POLICY_MAX_BYTES,
    TESTING_MIN_ADVISED_MAX_AGE,
    Mode,
    Policy,
    max_age_advice,
    normalize_hostname,
    normalize_mx_pattern,
    validate_max_age,
)
from provisioner.state import POLICY_HOST_PREFIX, STS_PREFIX, TLSRPT_PREFIX

SPEC_VERSION = 1
DEFAULT_PROVIDER_NAME = "local"
DEFAULT_LOCAL_PATH = "./build/mta-sts"
DEFAULT_MAX_AGE = {
    Mode.TESTING: TESTING_MIN_ADVISED_MAX_AGE,
    Mode.ENFORCE: ENFORCE_MIN_ADVISED_MAX_AGE,
    Mode.NONE: TESTING_MIN_ADVISED_MAX_AGE,
}
YAML_MAX_NUMBER_DIGITS = 100
"""The longest number a spec may write: far past any setting, far below Python's limit."""
_TOP_LEVEL_KEYS = ("version", "defaults", "providers", "domains")

SPEC_MAX_BYTES = 4 * 1024 * 1024
"""The largest spec file read (4 MiB, tens of thousands of domains): `-c /dev/zero` must
not hang or exhaust memory."""

YAML_MAX_NESTING = 50
"""Levels of YAML nesting allowed: a spec needs five or six; 500 exhaust Python's recursion."""

YAML_NODES_PER_CHARACTER = 10
"""Values aliases may expand the document to, per character of text (at least 10,000).

Bounds every later walk (duplicate keys, validation, rendering) by the file's size.
"""
_YAML_MIN_NODE_BUDGET = 10_000
_OWNED_PREFIXES = (STS_PREFIX, TLSRPT_PREFIX, POLICY_HOST_PREFIX)
_DNS_NAME_MAX = 253
_POLICY_OTHER_LINES_MAX = len("version: STSv1\r\nmode: enforce\r\nmax_age: 31557600\r\n")
"""Characters in a DNS name written without its trailing dot (RFC 1035 section 2.3.4)."""


MxPattern = Annotated[str, Strict(), AfterValidator(normalize_mx_pattern)]
ReportUri = Annotated[str, Strict(), AfterValidator(normalize_rua)]


class TlsRptSettings(BaseModel):
    """Where TLS reports go: at least one `mailto:` or `https:` URI."""

    model_config = ConfigDict(extra="forbid")

    rua: list[ReportUri] = Field(min_length=1)

    @field_validator("rua")
    @classmethod
    def _record_fits(cls, value: list[str]) -> list[str]:
        """The record these URIs make must be publishable (RFC 8460 section 3, its length)."""
        render_tlsrpt_record(value)
        return value


class DomainSettings(BaseModel):
    """What a domain (or `defaults:`) may set; unset fields come from the defaults."""

    model_config = ConfigDict(extra="forbid")

    provider: str | None = None
    mode: Mode | None = None
    max_age: Annotated[int, Strict()] | None = None
    mx: list[MxPattern] | None = None
    tlsrpt: TlsRptSettings | None = None

    @field_validator("max_age")
    @classmethod
    def _max_age_in_range(cls, value: int | None) -> int | None:
        return None if value is None else validate_max_age(value)

    @field_validator("mx")
    @classmethod
    def _drop_repeats(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else list(dict.fromkeys(value))


@dataclass(frozen=True)
class ProviderSpec:
    """A provider instance as the spec names it; settings are checked by the registry."""

    name: str
    type: str
    settings: dict[str, Any]
    line: int | None


@dataclass(frozen=True)
class DomainSpec:
    """One domain with every default resolved: what render turns into desired state."""

    name: str
    provider: str
    mode: Mode
    max_age: int
    mx: tuple[str, ...]
    tlsrpt_rua: tuple[str, ...] | None
    line: int | None


@dataclass(frozen=True)
class Spec:
    path: Path
    providers: dict[str, ProviderSpec]
    domains: dict[str, DomainSpec]
    warnings: tuple[str, ...]

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def warnings_for(self, only: set[str] | None) -> tuple[str, ...]:
        """The warnings of a run limited (or not, with None) to some domains."""
        if only is None:
            return self.warnings
        return tuple(
            w
            for name, domain in self.domains.items()
            if name in only
            for w in _domain_warnings(domain)
        )

    def problem(self, line: int | None, where: str, message: str) -> Problem:
        return Problem(str(self.path), line, where, message)


def load_spec(path: Path) -> Spec:
    """Read and validate a spec file; raises SpecError listing every problem found.

    At most `SPEC_MAX_BYTES` are read, so a device or an endless file is refused, not hung
    on; a path the OS cannot open (a NUL in it) is a problem like a missing file.
    """
    display = str(path)

    def unreadable(message: str) -> SpecError:
        return SpecError([Problem(display, None, "", message)])

    try:
        with path.open("rb") as handle:
            data = handle.read(SPEC_MAX_BYTES + 1)
    except FileNotFoundError:
        raise unreadable("no such spec file") from None
    except OSError as exc:
        raise unreadable(f"cannot read the spec ({exc.strerror or exc})") from None
    except ValueError:
        raise unreadable("cannot read the spec (a path cannot hold a NUL character)") from None
    if len(data) > SPEC_MAX_BYTES:
        raise unreadable(f"cannot read the spec (larger than {SPEC_MAX_BYTES:,} bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise unreadable(f"cannot read the spec ({exc})") from None
    return parse_spec(text, path)


def parse_spec(text: str, path: Path) -> Spec:
    loader = _SpecLoader(path)
    spec = loader.load(text)
    if loader.problems:
        raise SpecError(sorted(loader.problems, key=lambda p: (p.line or 0, p.where)))
    assert spec is not None
    return spec


class _SpecLoader:
    """Collects problems while walking the YAML tree, so all are reported together."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[Problem] = []
        self._policies: dict[tuple[Mode, int, tuple[str, ...]], str | None] = {}

    def add(self, line: int | None, where: str, message: str) -> None:
        self.problems.append(Problem(str(self.path), line, where, message))

    def load(self, text: str) -> Spec | None:
        yaml = YAML(typ="rt")
        yaml.allow_duplicate_keys = True
        yaml.Composer = _BoundedComposer
        yaml.composer.max_nodes = max(_YAML_MIN_NODE_BUDGET, YAML_NODES_PER_CHARACTER * len(text))
        try:
            node = yaml.compose(text)
            if not self._check_keys(node, "", set()):
                return None
            if not self._check_numbers(node):
                return None
            root = yaml.constructor.construct_document(node) if node is not None else None
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else None
            problem = exc.problem or exc.context or "malformed YAML"
            self.add(line, "", f"invalid YAML: {problem}")
            return None
        except ReaderError as exc:  # a control character the YAML reader refuses
            line = text.count("\n", 0, exc.position) + 1
            code = exc.character if isinstance(exc.character, int) else ord(exc.character)
            self.add(line, "", f"invalid YAML: control character U+{code:04X} is not allowed")
            return None
        except YAMLError as exc:
            self.add(None, "", f"invalid YAML: {str(exc).splitlines()[0]}")
            return None
        if not isinstance(root, CommentedMap):
            self.add(1, "", "the spec must be a mapping with 'version' and 'domains'")
            return None
        for key in root:
            if key not in _TOP_LEVEL_KEYS:
                self.add(_key_line(root, key), str(key), _unknown_key(_TOP_LEVEL_KEYS))
        version = root.get("version")
        if "version" not in root:
            self.add(1, "version", f"missing (write 'version: {SPEC_VERSION}')")
        elif type(version) is not int or version != SPEC_VERSION:
            self.add(_key_line(root, "version"), "version", f"must be {SPEC_VERSION}")
        providers = self._providers(root)
        defaults, broken = self._settings(root.get("defaults"), root, "defaults", "defaults")
        if defaults.provider is not None and defaults.provider not in providers and providers:
            line = _loc_line(root["defaults"], ("provider",))
            self.add(line, "defaults.provider", _unknown_provider(defaults.provider, providers))
            broken.add("provider")
        domains = self._domains(root, defaults, broken, providers)
        if self.problems:
            return None
        warnings = tuple(w for d in domains.values() for w in _domain_warnings(d))
        if not domains:
            warnings += ("domains is empty: every domain the providers manage will be removed",)
        return Spec(self.path, providers, domains, warnings)

    def _check_numbers(self, root: Any) -> bool:
        """Refuse numbers no setting can hold before ruamel turns them into ints.

        Python refuses to convert integers of more than 4,300 digits (a guard against
        quadratic conversion), and the YAML constructor would raise that from deep inside;
        no mtasts setting needs more than a dozen digits.
        """
        stack = [root] if root is not None else []
        seen: set[int] = set()
        ok = True
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, MappingNode):
                stack.extend(part for pair in node.value for part in pair)
            elif isinstance(node, SequenceNode):
                stack.extend(node.value)
            elif (
                isinstance(node.value, str)
                and len(node.value) > YAML_MAX_NUMBER_DIGITS
                and (node.tag.endswith((":int", ":float")))
            ):
                self.add(
                    node.start_mark.line + 1,
                    "",
                    f"a number of {len(node.value)} characters; no setting takes more than "
                    f"{YAML_MAX_NUMBER_DIGITS}",
                )
                ok = False
        return ok

    def _check_keys(self, node: Any, where: str, visited: set[int]) -> bool:
        """Report repeated keys (ruamel stops at the first) and keys that are not scalars.

        Each collection is visited once, however many aliases name it, so the walk costs
        no more than the composed document. Returns False when a key is a mapping or a list:
        such a document cannot be built into a spec (the key is unhashable).
        """
        if not isinstance(node, MappingNode | SequenceNode) or id(node) in visited:
            return True
        visited.add(id(node))
        ok = True
        if isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                ok = self._check_keys(item, f"{where}[{index}]", visited) and ok
            return ok
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, ScalarNode):
                kind = "a mapping" if isinstance(key_node, MappingNode) else "a list"
                self.add(line, where, f"a key must be a plain name, not {kind}")
                ok = False
                continue
            key = key_node.value
            path = f"{where}.{key}" if where else str(key)
            if key in seen:
                self.add(line, path, f"duplicate key (first at line {seen[key]})")
            else:
                seen[key] = line
            ok = self._check_keys(value_node, path, visited) and ok
        return ok

    def _settings(
        self, node: Any, parent: CommentedMap, key: str, where: str
    ) -> tuple[DomainSettings, set[str]]:
        """The valid fields of a settings mapping, and the names of the broken ones.

        Keeping the valid fields lets one bad default be reported once, instead of again as
        a missing value on every domain that relies on the defaults.
        """
        if node is None:
            return DomainSettings(), set()
        if not isinstance(node, CommentedMap):
            self.add(_key_line(parent, key), where, "must be a mapping of domain settings")
            return DomainSettings(), set(DomainSettings.model_fields)
        data = _plain(node)
        try:
            return DomainSettings.model_validate(data), set()
        except ValidationError as exc:
            broken: set[str] = set()
            for error in exc.errors():
                loc = tuple(error["loc"])
                self.add(_loc_line(node, loc), _where(where, loc), _message(error))
                broken.add(str(loc[0]) if loc else "")
        valid = {k: v for k, v in data.items() if k not in broken}
        try:
            return DomainSettings.model_validate(valid), broken
        except ValidationError:
            return DomainSettings(), broken | set(data)

    def _providers(self, root: CommentedMap) -> dict[str, ProviderSpec]:
        node = root.get("providers")
        if node is None:
            path = DEFAULT_LOCAL_PATH
            return {
                DEFAULT_PROVIDER_NAME: ProviderSpec(
                    DEFAULT_PROVIDER_NAME, "local", {"path": path}, None
                )
            }
        if not isinstance(node, CommentedMap) or not node:
            self.add(_key_line(root, "providers"), "providers", "must map names to settings")
            return {}
        providers: dict[str, ProviderSpec] = {}
        for name, settings in node.items():
            where = f"providers.{_key_text(name)}"
            line = _key_line(node, name)
            if not isinstance(name, str):
                self.add(line, where, f"a provider name must be text, not {_yaml_kind(name)}")
                continue
            if not isinstance(settings, CommentedMap):
                self.add(line, where, "must be a mapping with at least 'type'")
                continue
            kind = settings.get("type")
            if not isinstance(kind, str) or not kind:
                self.add(line, f"{where}.type", "missing (e.g. 'type: local')")
                continue
            plain = {k: v for k, v in _plain(settings).items() if k != "type"}
            for loc in _nul_paths(plain, ()):
                self.add(
                    _loc_line(settings, loc),
                    _where(where, loc),
                    "holds a NUL character (\\x00), which no path, name or setting can hold",
                )
            providers[name] = ProviderSpec(name, kind, plain, line)
        return providers

    def _domains(
        self,
        root: CommentedMap,
        defaults: DomainSettings,
        broken_defaults: set[str],
        providers: dict[str, ProviderSpec],
    ) -> dict[str, DomainSpec]:
        node = root.get("domains")
        if not isinstance(node, CommentedMap):
            line = _key_line(root, "domains") if "domains" in root else 1
            self.add(
                line,
                "domains",
                "must map domain names to their settings "
                "(an explicit 'domains: {}' removes every managed domain)",
            )
            return {}
        domains: dict[str, DomainSpec] = {}
        first_seen: dict[str, int | None] = {}
        for raw_name, value in node.items():
            line = _key_line(node, raw_name)
            where = f"domains.{_key_text(raw_name)}"
            if not isinstance(raw_name, str):
                self.add(
                    line,
                    where,
                    f"not a domain name: YAML reads this key as {_yaml_kind(raw_name)} "
                    "(write the domain's name, as 'example.com:')",
                )
                continue
            try:
                name = normalize_hostname(raw_name)
            except ValueError as exc:
                self.add(line, where, f"not a domain name: {exc}")
                continue
            if "." not in name:
                self.add(
                    line,
                    where,
                    f"not a domain name: {name!r} is a single label; MTA-STS is published "
                    "for a domain of at least two labels, as 'example.com'",
                )
                continue
            owned = max((f"{p}{name}" for p in _OWNED_PREFIXES), key=len)
            if len(owned) > _DNS_NAME_MAX:
                self.add(
                    line,
                    where,
                    f"too long: mtasts publishes at {owned!r}, {len(owned)} characters, over "
                    f"the {_DNS_NAME_MAX} a DNS name may have",
                )
                continue
            if name in first_seen:
                self.add(line, where, f"the same domain as line {first_seen[name]} ({name})")
                continue
            first_seen[name] = line
            settings, broken = self._settings(value, node, raw_name, where)
            if broken:
                continue
            own_lines = value if isinstance(value, CommentedMap) else None
            context = _DomainContext(name, line, where, own_lines, broken_defaults)
            resolved = self._resolve(context, defaults, settings, providers)
            if resolved is not None:
                domains[name] = resolved
        return domains

    def _resolve(
        self,
        at: _DomainContext,
        defaults: DomainSettings,
        own: DomainSettings,
        providers: dict[str, ProviderSpec],
    ) -> DomainSpec | None:
        """Merge a domain over the defaults; report what is still missing or wrong.

        A value missing because its default was itself broken is not reported again.
        """
        overrides = {
            k: getattr(own, k) for k in own.model_fields_set if getattr(own, k) is not None
        }
        merged = defaults.model_copy(update=overrides)
        inherited_broken = at.broken_defaults - set(overrides)
        ok = True
        provider = merged.provider
        if "provider" in inherited_broken:
            ok = False
        elif provider is None and len(providers) == 1:
            provider = next(iter(providers))
        elif provider is None:
            self.add(at.line, f"{at.where}.provider", "missing: set it here or under 'defaults'")
            ok = False
        elif providers and provider not in providers:
            self.add(
                at.field_line("provider"),
                f"{at.where}.provider",
                _unknown_provider(provider, providers),
            )
            ok = False
        if merged.mode is None:
            if "mode" not in inherited_broken:
                self.add(at.line, f"{at.where}.mode", "missing: enforce, testing or none")
            return None
        mx = tuple(merged.mx or ())
        if merged.mode is not Mode.NONE and not mx and "mx" not in inherited_broken:
            self.add(
                at.field_line("mx"),
                f"{at.where}.mx",
                f"mode {merged.mode} needs at least one mx pattern",
            )
            ok = False
        if not ok or provider is None or (merged.mode is not Mode.NONE and not mx):
            return None
        max_age = merged.max_age if merged.max_age is not None else DEFAULT_MAX_AGE[merged.mode]
        problem = self._policy_problem(merged.mode, max_age, mx)
        if problem is not None:
            self.add(at.field_line("mx"), f"{at.where}.mx", problem)
            return None
        rua = tuple(merged.tlsrpt.rua) if merged.tlsrpt is not None else None
        return DomainSpec(at.name, provider, merged.mode, max_age, mx, rua, at.line)

    def _policy_problem(self, mode: Mode, max_age: int, mx: tuple[str, ...]) -> str | None:
        """Why the policy these settings make cannot be published (RFC 8461 section 3.2, 3.3).

        The policy is rendered exactly as `plan` will render it, so every limit the grammar
        enforces then (64 KB for the body, above all) is reported now. Domains sharing
        their settings through `defaults:` share one render.
        """
        key = (mode, max_age, mx)
        if key not in self._policies:
            self._policies[key] = _render_problem(mode, max_age, mx)
        return self._policies[key]


@dataclass(frozen=True)
class _DomainContext:
    """Where a domain sits in the file, for problems that point at its lines."""

    name: str
    line: int | None
    where: str
    node: CommentedMap | None
    broken_defaults: set[str]

    def field_line(self, key: str) -> int | None:
        if self.node is not None and key in self.node:
            return _key_line(self.node, key)
        return self.line


class _BoundedComposer(Composer):
    """ruamel's composer, refusing a document that would cost more than its size to read.

    While composing it tracks, for every node, how many values and levels it stands for
    once aliases are expanded; anchored nodes remember theirs, so an alias costs one
    lookup. Crossing `YAML_MAX_NESTING` or the `max_nodes` budget, or an alias inside the
    node it names (a cycle), raises a ComposerError at the line of the node or alias that
    crossed it. Without this, a few hundred bytes of nested aliases take hours to walk and
    deep nesting ends in a RecursionError.
    """

    max_nodes = _YAML_MIN_NODE_BUDGET

    def compose_document(self) -> Any:
        self._open: list[list[int]] = [[0, 0]]  # per open node: [values, levels below]
        self._anchored: dict[int, tuple[int, int]] = {}  # id(node) -> (values, levels)
        self._total = 0
        return super().compose_document()

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        depth = len(self._open)
        if isinstance(event, AliasEvent):
            node = super().compose_node(parent, index)
            size = self._anchored.get(id(node))
            if size is None:
                raise ComposerError(
                    None,
                    None,
                    f"the alias *{event.anchor} is inside the value it names (a cycle)",
                    event.start_mark,
                )
            if depth - 1 + size[1] > YAML_MAX_NESTING:
                raise ComposerError(
                    None,
                    None,
                    f"the alias *{event.anchor} nests the document deeper than "
                    f"{YAML_MAX_NESTING} levels",
                    event.start_mark,
                )
            self._count(size, uncounted=size[0], event=event)
            return node
        if depth > YAML_MAX_NESTING:
            raise ComposerError(
                None, None, f"nested deeper than {YAML_MAX_NESTING} levels", event.start_mark
            )
        self._open.append([0, 0])
        node = super().compose_node(parent, index)
        values, levels = self._open.pop()
        size = (values + 1, levels + 1)
        if event.anchor is not None:
            self._anchored[id(node)] = size
        self._count(size, uncounted=1, event=event)  # the values below counted themselves
        return node

    def _count(self, size: tuple[int, int], uncounted: int, event: Any) -> None:
        """Add a finished child of `size` (values, levels) to its parent and to the total."""
        parent = self._open[-1]
        parent[0] += size[0]
        parent[1] = max(parent[1], size[1])
        self._total += uncounted
        if self._total > self.max_nodes:
            raise ComposerError(
                None,
                None,
                f"aliases expand the document past {self.max_nodes:,} values, "
                f"{YAML_NODES_PER_CHARACTER} per character of the file (an alias bomb?): "
                "write the values out, or alias fewer nested values",
                event.start_mark,
            )


def _render_problem(mode: Mode, max_age: int, mx: tuple[str, ...]) -> str | None:
    """None when the RFC 8461 renderer accepts this policy, else the problem in spec words.

    The renderer's own error says what broke; when the mx lines alone are near the size
    limit (section 3.2: one `mx: <pattern>` line each), the fix is named instead.
    """
    try:
        Policy(mode=mode, max_age=max_age, mx=mx).render()
    except ValueError as exc:
        mx_lines = sum(len("mx: \r\n") + len(p) for p in mx)
        if mx_lines + _POLICY_OTHER_LINES_MAX > POLICY_MAX_BYTES:
            return (
                f"{len(mx):,} mx patterns make the policy over the {POLICY_MAX_BYTES:,} bytes "
                "senders accept (RFC 8461 section 3.3): list fewer, or cover a group of "
                "hosts with one wildcard, as '*.mx.example.net'"
            )
        return f"the policy these settings make cannot be published: {exc}"
    return None


def _nul_paths(value: Any, loc: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Where a NUL character hides in plain settings; the OS refuses it in any path."""
    if isinstance(value, str):
        return [loc] if "\x00" in value else []
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _nul_paths(v, (*loc, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _nul_paths(v, (*loc, i))]
    return []


def _key_text(key: Any) -> str:
    """A key as the spec author wrote it, for `where`: `~` reads back as null."""
    if key is None:
        return "null"
    if isinstance(key, bool):
        return str(key).lower()
    return str(key)


def _yaml_kind(value: Any) -> str:
    """What YAML made of a scalar, in the author's words: `~` is null, `2024` a number."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, datetime.date):
        return "a date"
    return f"a {type(value).__name__}"


def _unknown_provider(name: str, providers: dict[str, ProviderSpec]) -> str:
    return f"unknown provider {name!r} (known: {', '.join(sorted(providers))})"


def _domain_warnings(domain: DomainSpec) -> list[str]:
    warnings: list[str] = []
    advice = max_age_advice(domain.mode, domain.max_age)
    if advice:
        warnings.append(f"{domain.name}: {advice}")
    if domain.tlsrpt_rua is None:
        warnings.append(
            f"{domain.name}: no tlsrpt: failures will go unreported "
            "(an existing _smtp._tls record is left as it is)"
        )
    return warnings


def _plain(node: Any) -> Any:
    """ruamel's commented containers as plain dicts and lists, for pydantic."""
    if isinstance(node, CommentedMap):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, CommentedSeq):
        return [_plain(v) for v in node]
    return node


def _key_line(node: Any, key: Any) -> int | None:
    try:
        return int(node.lc.key(key)[0]) + 1
    except (AttributeError, KeyError, TypeError):
        return None


def _loc_line(node: Any, loc: tuple[Any, ...]) -> int | None:
    """The line of the deepest part of `loc` that exists in the YAML tree."""
    line = getattr(getattr(node, "lc", None), "line", None)
    best = line + 1 if isinstance(line, int) else None
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            best = _key_line(node, part) or best
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            with contextlib.suppress(AttributeError, KeyError, TypeError):
                best = int(node.lc.item(part)[0]) + 1
            node = node[part]
        else:
            break
    return best


def _where(prefix: str, loc: tuple[Any, ...]) -> str:
    parts = [prefix]
    for part in loc:
        if isinstance(part, int):
            parts[-1] += f"[{part}]"
        else:
            parts.append(str(part))
    return ".".join(parts)


def _message(error: Any) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        model = TlsRptSettings if "tlsrpt" in error.get("loc", ())[:-1] else DomainSettings
        return _unknown_key(tuple(model.model_fields))
    if kind == "int_type":
        return "must be a whole number of seconds"
    message = str(error.get("msg", "invalid"))
    return message.removeprefix("Value error, ")


def _unknown_key(allowed: tuple[str, ...]) -> str:
    return "unknown key (allowed: " + ", ".join(allowed) + ")"
