"""botocore failures as mtasts's one-line ProviderError, naming provider and domain.

The CLI prints `str(error)` and exits 1, so the message must say what was being done, for
which domain, and AWS's own error code and message, on one line, with no traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    PartialCredentialsError,
)

from provisioner.errors import MtastsError, ProviderError

NO_CREDENTIALS = (
    "no AWS credentials found (boto3's chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
    "AWS_PROFILE and ~/.aws, SSO, instance or container role)"
)


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def describe(exc: BaseException) -> str:
    """AWS's code and message, squeezed onto one line."""
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return NO_CREDENTIALS
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code") or exc.response.get("ResponseMetadata", {}).get(
            "HTTPStatusCode", "error"
        )
        message = str(error.get("Message") or "").strip()
        text = f"{code}: {message}" if message else str(code)
    else:
        text = str(exc)
    return " ".join(text.split())


@contextmanager
def reported(provider: str, domain: str | None, doing: str) -> Iterator[None]:
    """Turn any botocore failure inside the block into one ProviderError line."""
    try:
        yield
    except MtastsError:
        raise
    except (ClientError, BotoCoreError) as exc:
        where = f"{provider}: {domain}: " if domain else f"{provider}: "
        raise ProviderError(f"{where}{doing} failed: {describe(exc)}") from None
