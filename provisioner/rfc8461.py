"""RFC 8461 (MTA-STS): the policy file and the `_mta-sts` TXT record, both ways.

This module is the only place that knows the grammar: it renders what mtasts publishes,
parses what is live, validates both, and matches MX hosts against policy patterns. Every
other module asks it; nothing else builds or splits these strings by hand.

Decisions worth knowing:
- The policy is rendered with CRLF line ends, `version` first, one `mx:` line per pattern
  (section 3.2), from the template `mta-sts.txt.j2`; the rendered text is parsed back
  before it is returned, so a template edit cannot publish something the grammar rejects.
- The policy id names the body it announces AND the moment it was minted: 12 hex digits
  of the body's SHA-256, then the UTC publication time as 14 digits (`YYYYMMDDhhmmss`),
  26 characters, only ALPHA / DIGIT (section 3.1 allows at most 32; the `+`, `/`, `-`, `=`
  of base64 ids broke real deployments). Why not a bare content hash: after a crash
  between the policy and the TXT phase the OLD id announces the NEW body, and a sender
  that fetched then caches the new body under the old id; reverting the spec would plan
  the old content hash again, which is already live, so no id would move and that sender
  keeps the wrong policy for max_age. A minted id is never reused for another body, and
  `id_names_body` tells whether a live id was derived from a live body, so the planner
  moves the id whenever the two disagree and keeps it whenever they agree.
  Ids of earlier releases (20 hex digits, the bare content hash) still name their body.
- The `_mta-sts` value is emitted exactly as `v=STSv1; id=<id>`: literal-minded senders
  match the prefix `v=STSv1;`.
- MX patterns are host names in A-labels, or `*.` plus a host name where the wildcard is
  the whole left-most label and matches exactly one label (section 4.1).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache, lru_cache

import idna
import jinja2

from provisioner.templating import template_environment

MAX_AGE_LIMIT = 31_557_600
"""The largest max_age a policy may carry (about one year), section 3.2."""

POLICY_MAX_BYTES = 64 * 1024
"""Senders may refuse bodies over 64 KB (section 3.3)."""

ENFORCE_MIN_ADVISED_MAX_AGE = 1_209_600
"""Two weeks: under it, an enforce policy lapses between deliveries (NCSC Mail Check)."""

TESTING_MIN_ADVISED_MAX_AGE = 86_400
"""One day: the shortest testing max_age checkers accept without a warning."""

STS_VERSION = "v=STSv1"
POLICY_PATH = "/.well-known/mta-sts.txt"
ID_HASH_LENGTH = 12
"""Hex digits of the body's SHA-256 at the start of an id: 48 bits name the body."""
ID_TIME_FORMAT = "%Y%m%d%H%M%S"
LEGACY_ID_LENGTH = 20
"""Ids minted before the publication time was added: the first 20 hex digits of SHA-256."""
_MINTED_ID_RE = re.compile(r"([0-9a-f]{12})([0-9]{14})")

_ID_RE = re.compile(r"[A-Za-z0-9]{1,32}")
_EXT_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}")
_EXT_VALUE_RE = re.compile(r"[\x21-\x3a\x3c\x3e-\x7e]+")
_POLICY_VCHAR = r"[\x21-\x7e\x80-\U0010ffff]"
_POLICY_EXT_VALUE_RE = re.compile(rf"{_POLICY_VCHAR}+(?:[ \t]+{_POLICY_VCHAR}+)*")
_MX_VALUE_RE = re.compile(r"[\x21-\x7e]+")
_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_WSP = " \t"


class Mode(StrEnum):
    """The policy modes of section 5, case-sensitive on the wire."""

    ENFORCE = "enforce"
    TESTING = "testing"
    NONE = "none"


class GrammarError(ValueError):
    """Text that does not follow the RFC grammar; `line` is 1-based where it applies."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        super().__init__(f"line {line}: {message}" if line is not None else message)


@dataclass(frozen=True)
class Policy:
    """An MTA-STS policy as senders see it (section 3.2)."""

    mode: Mode
    max_age: int
    mx: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        validate_max_age(self.max_age)
        if self.mode is not Mode.NONE and not self.mx:
            raise GrammarError(f"mode {self.mode} needs at least one mx pattern")

    def render(self) -> str:
        return render_policy(self)


@dataclass(frozen=True)
class ParsedPolicy:
    """A policy read from the wire, with what a strict reader should say about it."""

    policy: Policy
    extensions: tuple[tuple[str, str], ...] = ()
    warnings: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class StsRecord:
    """The `_mta-sts` TXT record (section 3.1)."""

    id: str
    extensions: tuple[tuple[str, str], ...] = ()

    def render(self) -> str:
        return render_sts_record(self.id)

    def names_body(self, body: str) -> bool:
        return id_names_body(self.id, body)


# --- host names and mx patterns --------------------------------------------------------


def normalize_hostname(name: str) -> str:
    """Lower case, no trailing dot, IDN to A-labels; raises ValueError on a bad name."""
    try:
        return _ascii_hostname(name)
    except ValueError as exc:
        raise ValueError(f"{name!r} {exc}") from None


MEMO_SIZE = 16_384
"""Entries kept by each memo below: names, mx patterns and bodies repeat across a run (the
spec validates a policy, the planner renders it, providers and saved-plan checks parse it
back), and each of these functions is pure."""


@lru_cache(maxsize=MEMO_SIZE)
def _ascii_hostname(name: str) -> str:
    text = name.strip()
    if not text:
        raise ValueError("is empty")
    if text.endswith("."):
        text = text[:-1]
    if _looks_like_ip(text):
        raise ValueError("is an IP address; MTA-STS needs a host name")
    lowered = text.lower()
    if lowered.isascii() and "xn--" not in lowered:
        # What UTS 46 maps plain ASCII to, without its cost (it dominates a 1,000-domain plan).
        ascii_name = lowered
        bad = next((ch for ch in ascii_name if not (ch.isalnum() or ch in "-.")), None)
        if bad is not None:
            raise ValueError(f"is not a valid host name ({bad!r} is not allowed)")
    else:
        try:
            ascii_name = idna.encode(text, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise ValueError(f"is not a valid host name ({exc})") from None
    if len(ascii_name) > 253:
        raise ValueError("is not a valid host name (longer than 253 characters)")
    labels = ascii_name.split(".")
    for label in labels:
        if not _LABEL_RE.fullmatch(label):
            raise ValueError(f"is not a valid host name (label {label!r})")
    if labels[-1].isdigit():
        raise ValueError("is not a valid host name (numeric top-level label)")
    return ascii_name


@lru_cache(maxsize=MEMO_SIZE)
def normalize_mx_pattern(pattern: str) -> str:
    """Validate and normalise one mx pattern (`host` or `*.host`) as a spec may write it.

    Lenient where a spec author is (upper case, a trailing dot, U-labels); the result is
    what a policy carries. `parse_policy` is strict about what is published.
    """
    text = pattern.strip()
    wildcard = text.startswith("*.")
    base = text[2:] if wildcard else text
    if "*" in base:
        raise ValueError(
            f"mx pattern {pattern!r}: a wildcard must be the whole left-most label, as in "
            "'*.example.com'"
        )
    try:
        host = _ascii_hostname(base)
    except ValueError as exc:
        raise ValueError(f"mx pattern {pattern!r} {exc}") from None
    if "." not in host:
        raise ValueError(f"mx pattern {pattern!r} needs at least two labels")
    return f"*.{host}" if wildcard else host


def mx_matches(host: str, pattern: str) -> bool:
    """Whether an MX host matches a policy pattern; `*.` covers exactly one label."""
    name = host.strip().rstrip(".").lower()
    pat = pattern.strip().rstrip(".").lower()
    if pat.startswith("*."):
        head, sep, rest = name.partition(".")
        return bool(sep) and bool(head) and rest == pat[2:]
    return name == pat


def uncovered_mx_hosts(hosts: list[str] | tuple[str, ...], patterns: tuple[str, ...]) -> list[str]:
    """The MX hosts that no pattern covers: enforce would block mail to them."""
    return [h for h in hosts if not any(mx_matches(h, p) for p in patterns)]


# --- max_age ---------------------------------------------------------------------------


def validate_max_age(max_age: int) -> int:
    if isinstance(max_age, bool) or not isinstance(max_age, int):
        raise ValueError("max_age must be a whole number of seconds")
    if not 0 <= max_age <= MAX_AGE_LIMIT:
        raise ValueError(f"must be between 0 and {MAX_AGE_LIMIT}")
    return max_age


def max_age_advice(mode: Mode, max_age: int) -> str | None:
    """A warning when a legal max_age is short for its mode, as checkers flag it."""
    if mode is Mode.ENFORCE and max_age < ENFORCE_MIN_ADVISED_MAX_AGE:
        return (
            f"max_age {max_age} is short for mode enforce (advised: at least "
            f"{ENFORCE_MIN_ADVISED_MAX_AGE}, two weeks)"
        )
    if mode is Mode.TESTING and max_age < TESTING_MIN_ADVISED_MAX_AGE:
        return (
            f"max_age {max_age} is short for mode testing (advised: at least "
            f"{TESTING_MIN_ADVISED_MAX_AGE}, one day)"
        )
    return None


# --- the policy file -------------------------------------------------------------------


@lru_cache(maxsize=MEMO_SIZE)
def render_policy(policy: Policy) -> str:
    """The exact policy body to publish (CRLF, `version` first); checked by parsing it back."""
    for pattern in policy.mx:
        if normalize_mx_pattern(pattern) != pattern:
            raise GrammarError(f"mx pattern {pattern!r} is not normalised")
    body = _policy_template().render(
        version="STSv1", mode=policy.mode.value, mx=policy.mx, max_age=policy.max_age
    )
    if parse_policy(body).policy != policy:
        raise GrammarError("the policy template renders a body that does not parse back")
    if len(body.encode("utf-8")) > POLICY_MAX_BYTES:
        raise GrammarError(f"the policy is over {POLICY_MAX_BYTES} bytes")
    return body


def policy_id(body: str, published_at: datetime) -> str:
    """A fresh id for `body` published at `published_at` (aware; read as UTC, to the second).

    Section 3.1: 1-32 ALPHA / DIGIT, and it must change whenever the policy does. The id
    starts with the body's hash prefix (so `id_names_body` can tell which body it announces)
    and ends with the time it was minted (so an id is never reused for another body, even
    when a spec reverts to an earlier policy). Raises ValueError for a naive datetime.
    """
    if published_at.tzinfo is None:
        raise ValueError("published_at must be timezone-aware")
    stamp = published_at.astimezone(UTC).strftime(ID_TIME_FORMAT)
    return _body_digest(body)[:ID_HASH_LENGTH] + stamp


def id_names_body(record_id: str, body: str) -> bool:
    """Whether `record_id` was derived from `body`: the id announces exactly this policy.

    True for an id minted by `policy_id` for this body at any time, and for the bare content
    hash earlier releases published; False for every other id (a foreign one, a hand-written
    one, or an id left behind by a crash that announces another body).
    """
    minted = _MINTED_ID_RE.fullmatch(record_id)
    if minted is not None:
        return minted.group(1) == _body_digest(body)[:ID_HASH_LENGTH]
    if len(record_id) == LEGACY_ID_LENGTH:
        return record_id == _body_digest(body)[:LEGACY_ID_LENGTH]
    return False


def id_minted_at(record_id: str) -> datetime | None:
    """When an id from `policy_id` was minted; None for ids of another shape."""
    minted = _MINTED_ID_RE.fullmatch(record_id)
    if minted is None:
        return None
    try:
        return datetime.strptime(minted.group(2), ID_TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def _body_digest(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@lru_cache(maxsize=MEMO_SIZE)
def parse_policy(text: str) -> ParsedPolicy:
    """Parse a policy body strictly (section 3.2); raises GrammarError naming the line.

    Strict where senders are: no BOM, no blank lines, no leading whitespace, `key: value`
    fields, known values for version/mode/max_age. Unknown keys are legal extensions and
    kept, but a key one letter away from a known one (`nmx`) is reported as a warning.
    """
    if text.startswith("\ufeff"):
        raise GrammarError("starts with a byte order mark", 1)
    if len(text.encode("utf-8")) > POLICY_MAX_BYTES:
        raise GrammarError(f"is over {POLICY_MAX_BYTES} bytes")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise GrammarError("is empty")
    values: dict[str, str] = {}
    mx: list[str] = []
    extensions: list[tuple[str, str]] = []
    warnings: list[str] = []
    line_endings: set[str] = set()
    terminated = len(lines) if text.endswith("\n") else len(lines) - 1
    for number, raw in enumerate(lines, start=1):
        if number <= terminated:
            line_endings.add("crlf" if raw.endswith("\r") else "lf")
        line = raw[:-1] if number <= terminated and raw.endswith("\r") else raw
        if "\r" in line:
            raise GrammarError("stray carriage return", number)
        if not line.strip():
            raise GrammarError("blank line", number)
        if line[0] in _WSP:
            raise GrammarError("leading whitespace", number)
        key, sep, rest = line.partition(":")
        if not sep:
            raise GrammarError(f"expected 'key: value', got {line!r}", number)
        value = rest.lstrip(_WSP).rstrip(_WSP)
        if key == "mx":
            if value.endswith("."):
                raise GrammarError(f"mx pattern {value!r} has a trailing dot", number)
            if not value.isascii():
                raise GrammarError(
                    f"mx pattern {value!r} is not in A-labels (write an IDN as 'xn--...')", number
                )
            if value and not _MX_VALUE_RE.fullmatch(value):
                raise GrammarError(
                    f"mx pattern {value!r} holds spaces or control characters", number
                )
            try:
                mx.append(normalize_mx_pattern(value))
            except ValueError as exc:
                raise GrammarError(str(exc), number) from None
        elif key in ("version", "mode", "max_age"):
            if key in values:
                warnings.append(f"line {number}: {key} repeats; the first one wins")
            else:
                values[key] = value
                _check_policy_value(key, value, number)
        else:
            if not _EXT_NAME_RE.fullmatch(key) or not _POLICY_EXT_VALUE_RE.fullmatch(value):
                raise GrammarError(f"malformed field {line!r}", number)
            near = _near_known_key(key)
            if near:
                warnings.append(f"line {number}: unknown key {key!r} (did you mean {near!r}?)")
            extensions.append((key, value))
    if len(line_endings) > 1:
        warnings.append("mixes LF and CRLF line ends")
    for key in ("version", "mode", "max_age"):
        if key not in values:
            raise GrammarError(f"missing {key!r}")
    if lines[0].partition(":")[0] != "version":
        warnings.append("'version' is not the first field")
    mode = Mode(values["mode"])
    try:
        policy = Policy(mode=mode, max_age=int(values["max_age"]), mx=tuple(mx))
    except ValueError as exc:
        typos = [w for w in warnings if "did you mean" in w]
        raise GrammarError("; ".join([str(exc), *typos])) from None
    return ParsedPolicy(policy=policy, extensions=tuple(extensions), warnings=tuple(warnings))


def _check_policy_value(key: str, value: str, line: int) -> None:
    if key == "version" and value != "STSv1":
        raise GrammarError(f"version must be 'STSv1', got {value!r}", line)
    if key == "mode" and value not in {m.value for m in Mode}:
        raise GrammarError(f"mode must be enforce, testing or none, got {value!r}", line)
    if key == "max_age":
        if not value.isascii() or not value.isdigit() or len(value) > 10:
            raise GrammarError(f"max_age must be digits, got {value!r}", line)
        if int(value) > MAX_AGE_LIMIT:
            raise GrammarError(f"max_age must be between 0 and {MAX_AGE_LIMIT}", line)


def _near_known_key(key: str) -> str | None:
    for known in ("version", "mode", "mx", "max_age"):
        if _edit_distance(key.lower(), known) <= 1 or key.lower() == known:
            return known
    return None


def _edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


# --- the _mta-sts TXT record -----------------------------------------------------------


def render_sts_record(policy_id_value: str) -> str:
    """`v=STSv1; id=<id>`, exactly: no space before `;`."""
    if not _ID_RE.fullmatch(policy_id_value):
        raise GrammarError(f"id {policy_id_value!r} must be 1-32 letters and digits")
    return f"{STS_VERSION}; id={policy_id_value}"


def is_sts_record(value: str) -> bool:
    """Whether a TXT value claims to be an STS record (senders keep `v=STSv1;` ones).

    mtasts owns every such value at `_mta-sts.<domain>`: two of them switch MTA-STS off, so
    a plan replaces all of them with exactly one. Other TXT values there are left alone.
    """
    return value.startswith(STS_VERSION)


def parse_sts_record(value: str) -> StsRecord:
    """Parse a `_mta-sts` TXT value strictly (section 3.1); raises GrammarError."""
    record_id: str | None = None
    extensions: list[tuple[str, str]] = []
    for name, val in split_tagged_record(value, STS_VERSION, bare_version_ok=True):
        if name == "id":
            if not _ID_RE.fullmatch(val):
                raise GrammarError(f"id {val!r} must be 1-32 letters and digits")
            if record_id is None:
                record_id = val
        else:
            extensions.append(extension_field(name, val, value))
    if record_id is None:
        raise GrammarError(f"no id in {value!r}")
    return StsRecord(id=record_id, extensions=tuple(extensions))


def split_tagged_record(
    value: str, version: str, *, bare_version_ok: bool = False
) -> list[tuple[str, str]]:
    """The `name=value` fields after `<version>;` in a TXT record (RFC 8461 3.1, 8460 3).

    Both records share this shape: the version first and followed directly by `;` (readers
    match that prefix literally), fields separated by `;` with optional blanks around it, an
    optional trailing `;`. `bare_version_ok` lets `v=STSv1` alone through, to be reported
    as a record without an id rather than as a malformed one.
    """
    if not value.startswith(version + ";") and not (bare_version_ok and value == version):
        raise GrammarError(f"must start with '{version};', got {value!r}")
    fields = [f.strip(_WSP) for f in value[len(version) :].split(";")]
    if fields and fields[0] == "":
        fields = fields[1:]
    if fields and fields[-1] == "":
        fields = fields[:-1]
    pairs: list[tuple[str, str]] = []
    for item in fields:
        name, sep, val = item.partition("=")
        if not sep or not name:
            raise GrammarError(f"malformed field {item!r} in {value!r}")
        pairs.append((name, val))
    return pairs


def extension_field(name: str, val: str, record: str) -> tuple[str, str]:
    """An unknown `name=value` field, legal when it follows the extension grammar."""
    if _EXT_NAME_RE.fullmatch(name) and _EXT_VALUE_RE.fullmatch(val):
        return name, val
    raise GrammarError(f"malformed field {name + '=' + val!r} in {record!r}")


# --- helpers ---------------------------------------------------------------------------


def _looks_like_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


@cache
def _policy_template() -> jinja2.Template:
    return template_environment(newline_sequence="\r\n").get_template("mta-sts.txt.j2")
