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
"""

from __future__ import annotations

import contextlib
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
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from provisioner.errors import Problem, SpecError
from provisioner.rfc8460 import normalize_rua
from provisioner.rfc8461 import (
    ENFORCE_MIN_ADVISED_MAX_AGE,
    TESTING_MIN_ADVISED_MAX_AGE,
    Mode,
    max_age_advice,
    normalize_hostname,
    normalize_mx_pattern,
    validate_max_age,
)

SPEC_VERSION = 1
DEFAULT_PROVIDER_NAME = "local"
DEFAULT_LOCAL_PATH = "./build/mta-sts"
DEFAULT_MAX_AGE = {
    Mode.TESTING: TESTING_MIN_ADVISED_MAX_AGE,
    Mode.ENFORCE: ENFORCE_MIN_ADVISED_MAX_AGE,
    Mode.NONE: TESTING_MIN_ADVISED_MAX_AGE,
}
_TOP_LEVEL_KEYS = ("version", "defaults", "providers", "domains")


MxPattern = Annotated[str, Strict(), AfterValidator(normalize_mx_pattern)]
ReportUri = Annotated[str, Strict(), AfterValidator(normalize_rua)]


class TlsRptSettings(BaseModel):
    """Where TLS reports go: at least one `mailto:` or `https:` URI."""

    model_config = ConfigDict(extra="forbid")

    rua: list[ReportUri] = Field(min_length=1)


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
    """Read and validate a spec file; raises SpecError listing every problem found."""
    display = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([Problem(display, None, "", "no such spec file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([Problem(display, None, "", f"cannot read the spec ({exc})")]) from None
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

    def add(self, line: int | None, where: str, message: str) -> None:
        self.problems.append(Problem(str(self.path), line, where, message))

    def load(self, text: str) -> Spec | None:
        yaml = YAML(typ="rt")
        yaml.allow_duplicate_keys = True
        try:
            node = yaml.compose(text)
            self._report_duplicate_keys(node, "")
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

    def _report_duplicate_keys(self, node: Any, where: str) -> None:
        """ruamel stops at the first repeated key; find them all first, with their lines."""
        if isinstance(node, MappingNode):
            seen: dict[Any, int] = {}
            for key_node, value_node in node.value:
                key = getattr(key_node, "value", None)
                line = key_node.start_mark.line + 1
                path = f"{where}.{key}" if where else str(key)
                if key in seen:
                    self.add(line, path, f"duplicate key (first at line {seen[key]})")
                else:
                    seen[key] = line
                self._report_duplicate_keys(value_node, path)
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                self._report_duplicate_keys(item, f"{where}[{index}]")

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
            where = f"providers.{name}"
            line = _key_line(node, name)
            if not isinstance(settings, CommentedMap):
                self.add(line, where, "must be a mapping with at least 'type'")
                continue
            kind = settings.get("type")
            if not isinstance(kind, str) or not kind:
                self.add(line, f"{where}.type", "missing (e.g. 'type: local')")
                continue
            plain = {k: v for k, v in _plain(settings).items() if k != "type"}
            providers[str(name)] = ProviderSpec(str(name), kind, plain, line)
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
            where = f"domains.{raw_name}"
            try:
                name = normalize_hostname(str(raw_name))
            except ValueError as exc:
                self.add(line, where, f"not a domain name: {exc}")
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
        rua = tuple(merged.tlsrpt.rua) if merged.tlsrpt is not None else None
        return DomainSpec(at.name, provider, merged.mode, max_age, mx, rua, at.line)


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
