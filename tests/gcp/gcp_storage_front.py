"""A loopback front for gcp-storage-emulator: a request log, injected faults, and the two GCS
rules the emulator lacks that the provider relies on.

    front = GcsFront(emulator).start()      # or the `gcp_storage_front` fixture
    client = front.client()                  # storage.Client aimed at the front
    front.count("GET", r"/o$")               # object listings so far
    front.inject("POST", r"/upload/", 503)   # the next upload answers 503

Every request is forwarded to the emulator as is (Host header included, so the upload
`Location` and `mediaLink` URLs the emulator writes point back at the front), except:
- generation preconditions, as real GCS applies them: `ifGenerationMatch` on an upload
  (simple, multipart, or the start of a resumable one), an object GET, PATCH or DELETE is
  compared with the live object's generation (`0`: "only if absent"); a mismatch answers
  412 `conditionNotMet` in GCS's envelope, and nothing is written. A check and its write
  happen under one lock, so two writers with the same precondition cannot both win;
- paging of object listings: `maxResults` (default and cap 1,000, as GCS) and an opaque
  `pageToken`; `nextPageToken` on every page but the last (`prefixes` on the first page).
Faults (`inject`) answer in GCS's envelope: 429 `rateLimitExceeded`, 503 `backendError`,
403 `forbidden`, or any status. Not covered: `ifMetagenerationMatch`,
`ifGenerationNotMatch`, preconditions on compose/copy/rewrite, and the emulator's other
gaps (gcp_storage.py lists them).
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import threading
from dataclasses import dataclass
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from gcp_storage import DEFAULT_PROJECT, GcsEmulator
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

MAX_PAGE = 1000
_OBJECT = re.compile(r"^/storage/v1/b/(?P<bucket>[^/]+)/o/(?P<name>.+)$")
_LIST = re.compile(r"^/storage/v1/b/(?P<bucket>[^/]+)/o$")
_UPLOAD = re.compile(r"^/upload/storage/v1/b/(?P<bucket>[^/]+)/o$")
_REASONS = {429: "rateLimitExceeded", 403: "forbidden", 412: "conditionNotMet"}


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    status: int | None = None


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    times: int


def gcs_error(status: int, message: str, reason: str | None = None) -> bytes:
    reason = reason or _REASONS.get(status, "backendError" if status >= 500 else "invalid")
    error = {"domain": "global", "reason": reason, "message": message}
    return json.dumps({"error": {"code": status, "message": message, "errors": [error]}}).encode()


class GcsFront:
    def __init__(self, emulator: GcsEmulator) -> None:
        self.emulator = emulator
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> GcsFront:
        front = self

        class Handler(_Handler):
            gcs = front

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def endpoint(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def reset(self) -> None:
        """No buckets, calls or faults."""
        with self.lock:
            self.emulator.wipe()
            self.calls.clear()
            self.faults.clear()

    def client(self, project: str = DEFAULT_PROJECT) -> storage.Client:
        return storage.Client(
            project=project,
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": self.endpoint},
        )

    def inject(self, method: str, path: str, status: int, *, times: int = 1) -> None:
        """The next `times` requests with this method ("*": any) whose path matches the
        regex `path` answer `status` in GCS's error envelope."""
        with self.lock:
            self.faults.append(Fault(method.upper(), re.compile(path), status, times))

    def count(self, method: str | None = None, path: str = "") -> int:
        pattern = re.compile(path)
        with self.lock:
            calls = list(self.calls)
        return sum(
            1 for c in calls if (method is None or c.method == method) and pattern.search(c.path)
        )

    def _fault(self, method: str, path: str) -> int | None:
        with self.lock:
            for fault in self.faults:
                if fault.times > 0 and fault.method in (method, "*") and fault.path.search(path):
                    fault.times -= 1
                    return fault.status
        return None

    # Talking to the emulator

    def forward(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.emulator.port, timeout=30)
        try:
            conn.request(method, target, body=body or None, headers=headers)
            answer = conn.getresponse()
            return answer.status, answer.getheaders(), answer.read()
        finally:
            conn.close()

    def generation(self, bucket: str, name: str) -> int:
        """The live generation of an object, 0 when there is none."""
        target = f"/storage/v1/b/{quote(bucket, safe='')}/o/{quote(name, safe='')}"
        status, _, body = self.forward("GET", target, {}, b"")
        return int(json.loads(body)["generation"]) if status == 200 else 0


def _object_name(method: str, path: str, query: dict[str, str], ctype: str, body: bytes):
    """(bucket, object name) a request with a precondition is about, or None."""
    found = _OBJECT.match(path)
    if found and method in ("GET", "PATCH", "DELETE"):
        return unquote(found["bucket"]), unquote(found["name"])
    found = _UPLOAD.match(path)
    if not found or method != "POST" or "upload_id" in query:
        return None
    name = query.get("name")
    if name is None and ctype.startswith("multipart/related"):
        message = BytesParser().parsebytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
        parts = message.get_payload()
        if isinstance(parts, list) and parts:
            name = json.loads(parts[0].get_payload(decode=True) or b"{}").get("name")
    elif name is None and ctype.startswith("application/json") and body:
        name = json.loads(body).get("name")
    return (unquote(found["bucket"]), name) if name else None


class _Handler(BaseHTTPRequestHandler):
    gcs: GcsFront
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _read_body(self) -> bytes:
        if self.headers.get("Content-Length"):
            return self.rfile.read(int(self.headers["Content-Length"]))
        if (self.headers.get("Transfer-Encoding") or "").lower() != "chunked":
            return b""
        body = b""
        while size := int(self.rfile.readline().strip() or b"0", 16):
            body += self.rfile.read(size)
            self.rfile.readline()
        self.rfile.readline()
        return body

    def _answer(self, call: Call, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        call.status = status
        self.send_response(status)
        skip = {"content-length", "transfer-encoding", "connection", "server", "date"}
        for key, value in headers:
            if key.lower() not in skip:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self, method: str) -> None:
        front = self.gcs
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        body = self._read_body()
        call = Call(method, url.path, query)
        with front.lock:
            front.calls.append(call)
        status = front._fault(method, url.path)
        json_type = [("Content-Type", "application/json; charset=UTF-8")]
        if status is not None:
            self._answer(call, status, json_type, gcs_error(status, f"Injected error {status}."))
            return
        headers = {
            k: v
            for k, v in self.headers.items()
            if k.lower() not in ("content-length", "transfer-encoding", "connection")
        }
        if method == "GET" and _LIST.match(url.path):
            self._answer(call, *_list_page(front, url.path, query, headers))
            return
        with front.lock:  # the check and the write it guards, as one step
            if "ifGenerationMatch" in query:
                target = _object_name(
                    method, url.path, query, self.headers.get("Content-Type", ""), body
                )
                if target is not None and front.generation(*target) != int(
                    query["ifGenerationMatch"]
                ):
                    message = "At least one of the pre-conditions you specified did not hold."
                    self._answer(call, 412, json_type, gcs_error(412, message))
                    return
            self._answer(call, *front.forward(method, self.path, headers, body))


def _list_page(
    front: GcsFront, path: str, query: dict[str, str], headers: dict[str, str]
) -> tuple[int, list[tuple[str, str]], bytes]:
    raw_max = query.pop("maxResults", None)
    token = query.pop("pageToken", None)
    status, answer_headers, body = front.forward("GET", path + "?" + urlencode(query), headers, b"")
    if status != 200:
        return status, answer_headers, body
    try:
        size = min(int(raw_max), MAX_PAGE) if raw_max else MAX_PAGE
        start = int(json.loads(base64.urlsafe_b64decode(token))["offset"]) if token else 0
        if size < 1:
            raise ValueError(raw_max)
    except (ValueError, KeyError, TypeError):
        json_type = [("Content-Type", "application/json; charset=UTF-8")]
        return 400, json_type, gcs_error(400, "Invalid maxResults or pageToken.")
    listing = json.loads(body)
    items = listing.get("items") or []
    listing["items"] = items[start : start + size]
    if start:
        listing["prefixes"] = []
    if start + size < len(items):
        marker = json.dumps({"offset": start + size}).encode()
        listing["nextPageToken"] = base64.urlsafe_b64encode(marker).decode()
    return 200, answer_headers, json.dumps(listing).encode()
