"""The secret scrubber: no credential reaches a terminal, a CI log or a saved plan.

mtasts never stores a credential, but the SDKs it drives quote them in their exceptions:
botocore refuses a header holding a `\\r` (a `.env` file with CRLF line ends) with a message
that contains the whole `AWS_SESSION_TOKEN`, a signing error shows the `Authorization`
header, an HTTP library may print a request's headers or a presigned URL. Such a message
ends up on the normal one-line error, with no debug flag.

So everything the CLI prints as a message (errors, warnings, notes) goes through `redact`,
and so does anything else that writes text which may hold one (the plan file writer should
call it on warnings and notes). It replaces with `***`:

- the value of every variable in `CREDENTIAL_VARIABLES` that is set, as given and with
  surrounding whitespace (a CRLF file's `\\r`) stripped, and in the escaped forms an
  exception may show it in (`repr`, JSON, percent-encoded);
- the secrets inside the files that `CREDENTIAL_FILE_VARIABLES` point to (a Google
  service-account key, a web-identity token, the AWS shared credentials file);
- whatever follows a credential-bearing header or parameter name: `Authorization: ...`,
  `X-Amz-Security-Token`, `X-Auth-Key`, `X-Auth-Email`, `Bearer ...`,
  `AWS4-HMAC-SHA256 Credential=...`/`Signature=...`, presigned-URL query parameters, and
  `NAME=value` for each credential variable name.

Values are read from the environment at each call, not at import: tests and wrappers set
them late. Values shorter than `MIN_SECRET_LENGTH` are not replaced as text (a one-letter
"secret" would turn every message to asterisks while protecting nothing); the name-based
patterns still catch them.
"""

from __future__ import annotations

import configparser
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from urllib.parse import quote

MASK = "***"
MIN_SECRET_LENGTH = 6

CREDENTIAL_VARIABLES: tuple[str, ...] = (
    # AWS: botocore's environment provider and container provider.
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    # Cloudflare: the documented token, and what the SDK would also read.
    "CLOUDFLARE_API_TOKEN",
    "CLOUDFLARE_API_KEY",
    "CLOUDFLARE_EMAIL",
    "CLOUDFLARE_API_USER_SERVICE_KEY",
    # Google Cloud: access tokens the client libraries and gcloud accept.
    "GOOGLE_OAUTH_ACCESS_TOKEN",
    "CLOUDSDK_AUTH_ACCESS_TOKEN",
)
"""Variables whose values are credentials; tests import this list to set a sentinel in each."""

CREDENTIAL_FILE_VARIABLES: tuple[str, ...] = (
    "GOOGLE_APPLICATION_CREDENTIALS",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)
"""Variables naming files that hold credentials; the secrets inside are scrubbed."""

_DEFAULT_SHARED_CREDENTIALS = "~/.aws/credentials"
_MAX_FILE_BYTES = 1 << 20
_JSON_SECRET_KEYS = ("private_key", "private_key_id", "client_secret", "refresh_token")
_INI_SECRET_KEYS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")

_HEADER_NAMES = (
    r"proxy-authorization|authorization|x-amz-security-token|x-auth-key|x-auth-email"
    r"|x-auth-user-service-key|cookie|set-cookie|"
    + "|".join(re.escape(name) for name in CREDENTIAL_VARIABLES + _INI_SECRET_KEYS)
)
_NAMED_VALUE = re.compile(
    rf"(?i)(?<![\w-])((?:{_HEADER_NAMES})['\"]?\s*[:=]\s*)"
    r"(?:b?'[^'\r\n]*'?|b?\"[^\"\r\n]*\"?|[^&\r\n]*)"
)
"""A header or variable name, its `:` or `=`, then a quoted value (a `bytes` repr too) or
the rest of the line (up to a `&`, in a query string)."""
_QUERY_VALUE = re.compile(
    r"(?i)((?:X-Amz-(?:Security-Token|Credential|Signature)|access_token|api_key)=)"
    r"[^&\s'\"]+"
)
_SCHEME_VALUE = re.compile(
    r"(?i)(\b(?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]{8,}"
    r"|(\b(?:Credential|Signature)=)[^,&\s'\"]+"
)

_file_cache: dict[tuple[str, int, int], tuple[str, ...]] = {}


def redact(text: str, environ: Mapping[str, str] | None = None) -> str:
    """`text` with every credential value and credential-bearing field replaced by `***`."""
    env = os.environ if environ is None else environ
    for secret in _known_secrets(env):
        if secret in text:
            text = text.replace(secret, MASK)
    text = _NAMED_VALUE.sub(lambda m: m.group(1) + MASK, text)
    text = _QUERY_VALUE.sub(lambda m: m.group(1) + MASK, text)
    return _SCHEME_VALUE.sub(lambda m: (m.group(1) or m.group(2)) + MASK, text)


def _known_secrets(env: Mapping[str, str]) -> list[str]:
    """Every form of every secret, longest first so a longer form is not cut by a shorter."""
    raw = [env.get(name, "") for name in CREDENTIAL_VARIABLES]
    for name in CREDENTIAL_FILE_VARIABLES:
        path = env.get(name, "")
        if name == "AWS_SHARED_CREDENTIALS_FILE" and not path.strip():
            path = _DEFAULT_SHARED_CREDENTIALS
        if path.strip():
            raw.extend(_file_secrets(path.strip()))
    forms = {form for value in raw for form in _forms(value)}
    return sorted((f for f in forms if len(f) >= MIN_SECRET_LENGTH), key=len, reverse=True)


def _forms(value: str) -> Iterator[str]:
    for candidate in {value, value.strip()}:
        yield candidate
        yield repr(candidate)[1:-1]
        yield json.dumps(candidate)[1:-1]
        yield quote(candidate, safe="")


def _file_secrets(path: str) -> tuple[str, ...]:
    """The secrets in a credential file, cached by its identity and modification time."""
    try:
        file = Path(path).expanduser()
        stat = file.stat()
        key = (str(file), stat.st_mtime_ns, stat.st_size)
        if key not in _file_cache:
            if stat.st_size > _MAX_FILE_BYTES:
                return ()
            _file_cache[key] = tuple(_parse_secrets(file.read_text("utf-8", "replace")))
        return _file_cache[key]
    except (OSError, ValueError):
        return ()


def _parse_secrets(content: str) -> Iterable[str]:
    """A JSON key file's secret fields (and each line of a PEM key), an INI file's keys, or
    the whole file (a bare token)."""
    try:
        data = json.loads(content)
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in _JSON_SECRET_KEYS:
            value = data.get(key)
            if isinstance(value, str):
                yield value
                yield from (line for line in value.splitlines() if "-----" not in line)
        return
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(content)
    except configparser.Error:
        yield content
        return
    for section in parser.sections():
        for key in _INI_SECRET_KEYS:
            value = parser.get(section, key, fallback="")
            if value:
                yield value
