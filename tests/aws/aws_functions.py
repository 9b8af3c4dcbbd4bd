"""A small faithful fake of CloudFront Functions, served by the fault proxy (moto 5.2 has none).

Operations (rest-xml, `/2020-05-31/function...`): CreateFunction, ListFunctions (by stage),
DescribeFunction, GetFunction, UpdateFunction and PublishFunction, with ETags checked as
CloudFront checks them (412 PreconditionFailed on a stale IfMatch, 409 on a second create of
the same name). `live_code(name)` is what viewers run: the code last published.

moto also drops a distribution's FunctionAssociations (it stores `Quantity: 0`), so the
proxy records the ones sent in Create/UpdateDistribution bodies (`associations`), keyed by
the distribution id the answer carried.
"""

from __future__ import annotations

import base64
import itertools
import re
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

NS = "http://cloudfront.amazonaws.com/doc/2020-05-31/"
_PATH = re.compile(r"^/2020-05-31/function(?:/([^/?]+))?(/describe|/publish)?(?:\?(.*))?$")
ACCOUNT = "123456789012"


@dataclass
class _Function:
    name: str
    comment: str
    runtime: str
    development: bytes
    live: bytes | None = None
    etag: str = ""


@dataclass
class FunctionStore:
    functions: dict[str, _Function] = field(default_factory=dict)
    associations: dict[str, list[str]] = field(default_factory=dict)
    """distribution id -> the viewer-request function ARNs last sent for it."""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _etags: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def clear(self) -> None:
        with self._lock:
            self.functions.clear()
            self.associations.clear()

    def live_code(self, name: str) -> str | None:
        fn = self.functions.get(name)
        return fn.live.decode() if fn and fn.live is not None else None

    @staticmethod
    def arn(name: str) -> str:
        return f"arn:aws:cloudfront::{ACCOUNT}:function/{name}"

    def handles(self, path: str) -> bool:
        return _PATH.match(path) is not None

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        match = _PATH.match(path)
        assert match is not None
        name, action, query = match.group(1), match.group(2), match.group(3) or ""
        stage = "LIVE" if "Stage=LIVE" in query else "DEVELOPMENT"
        with self._lock:
            if name is None and method == "POST":
                return self._create(body)
            if name is None and method == "GET":
                return self._list(stage)
            fn = self.functions.get(name or "")
            if fn is None or (stage == "LIVE" and fn.live is None and method == "GET"):
                return _error(404, "NoSuchFunctionExists", f"no function {name}")
            if action == "/describe":
                return 200, {"ETag": fn.etag}, self._summary(fn, stage)
            if action is None and method == "GET":
                code = fn.live if stage == "LIVE" else fn.development
                kind = {"ETag": fn.etag, "Content-Type": "application/octet-stream"}
                return 200, kind, code or b""
            if headers.get("if-match") != fn.etag:
                return _error(412, "PreconditionFailed", "stale ETag")
            if action == "/publish":
                fn.live = fn.development
                return 200, {}, self._summary(fn, "LIVE")
            if action is None and method == "PUT":
                root = ET.fromstring(body)
                fn.comment = root.findtext(f"{{{NS}}}FunctionConfig/{{{NS}}}Comment") or ""
                fn.development = base64.b64decode(root.findtext(f"{{{NS}}}FunctionCode") or "")
                fn.etag = f"E{next(self._etags)}"
                # UpdateFunction's answer carries it as `ETtag` (sic: botocore's model, as
                # AWS sends it); with `ETag` the SDK found none and mtasts's update path
                # went untested.
                return 200, {"ETtag": fn.etag}, self._summary(fn, "DEVELOPMENT")
        return _error(400, "InvalidArgument", f"{method} {path}")

    def _create(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        root = ET.fromstring(body)
        name = root.findtext(f"{{{NS}}}Name") or ""
        if name in self.functions:
            return _error(409, "FunctionAlreadyExists", name)
        fn = _Function(
            name,
            root.findtext(f"{{{NS}}}FunctionConfig/{{{NS}}}Comment") or "",
            root.findtext(f"{{{NS}}}FunctionConfig/{{{NS}}}Runtime") or "",
            base64.b64decode(root.findtext(f"{{{NS}}}FunctionCode") or ""),
            etag=f"E{next(self._etags)}",
        )
        self.functions[name] = fn
        return 201, {"ETag": fn.etag}, self._summary(fn, "DEVELOPMENT")

    def _list(self, stage: str) -> tuple[int, dict[str, str], bytes]:
        items = [
            fn for fn in self.functions.values() if stage == "DEVELOPMENT" or fn.live is not None
        ]
        inner = "".join(self._summary_xml(fn, stage) for fn in items)
        xml = (
            f'<?xml version="1.0"?><FunctionList xmlns="{NS}"><MaxItems>100</MaxItems>'
            f"<Quantity>{len(items)}</Quantity><Items>{inner}</Items></FunctionList>"
        )
        return 200, {}, xml.encode()

    def _summary_xml(self, fn: _Function, stage: str) -> str:
        return (
            f"<FunctionSummary><Name>{escape(fn.name)}</Name><Status>DEPLOYED</Status>"
            f"<FunctionConfig><Comment>{escape(fn.comment)}</Comment>"
            f"<Runtime>{escape(fn.runtime)}</Runtime></FunctionConfig>"
            f"<FunctionMetadata><FunctionARN>{self.arn(fn.name)}</FunctionARN>"
            f"<Stage>{stage}</Stage><LastModifiedTime>2026-01-01T00:00:00Z</LastModifiedTime>"
            "</FunctionMetadata></FunctionSummary>"
        )

    def _summary(self, fn: _Function, stage: str) -> bytes:
        xml = self._summary_xml(fn, stage).replace(
            "<FunctionSummary>", f'<?xml version="1.0"?><FunctionSummary xmlns="{NS}">', 1
        )
        return xml.encode()

    def note_distribution(self, request: bytes, answer: bytes) -> None:
        """Record the viewer-request function ARNs a Create/UpdateDistribution sent."""
        try:
            sent = ET.fromstring(request)
            got = ET.fromstring(answer)
        except ET.ParseError:
            return
        dist_id = got.findtext(f"{{{NS}}}Id")
        if not dist_id:
            return
        arns = [
            el.findtext(f"{{{NS}}}FunctionARN") or ""
            for el in sent.iter(f"{{{NS}}}FunctionAssociation")
            if el.findtext(f"{{{NS}}}EventType") == "viewer-request"
        ]
        with self._lock:
            self.associations[dist_id] = arns


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    body = (
        f'<?xml version="1.0"?><ErrorResponse xmlns="{NS}"><Error><Type>Sender</Type>'
        f"<Code>{code}</Code><Message>{escape(message)}</Message></Error>"
        "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
    )
    return status, {"Content-Type": "text/xml"}, body.encode()
