"""A local SMTP server with STARTTLS (aiosmtpd), for checks of an MX's transport security.

Under MTA-STS `enforce` a sender delivers only over STARTTLS with a certificate valid for the
MX host name (RFC 8461 section 4.2). This server listens on 127.0.0.1:<random port> and, per
test, behaves as one of:

- ``good``: offers STARTTLS and presents, for the SNI name the client asks for, a certificate
  for that name from the given trustme CA (the world's, so ``--ca-bundle`` trusts it);
- ``no-starttls``: a plain server that does not offer STARTTLS;
- ``wrong-name``: offers STARTTLS with a certificate (same CA) for another name.

``mode`` is read for every new connection, so a session-wide server serves any test; ``reset``
goes back to ``good``. Accepted mail is dropped. The asyncio loop runs in a daemon thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from typing import Any, Literal

import trustme
from aiosmtpd.smtp import SMTP

SmtpMode = Literal["good", "no-starttls", "wrong-name"]


class _DropMail:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK (dropped)"


class LocalSmtpServer:
    """aiosmtpd on 127.0.0.1:<random port>; see the module docstring for the modes."""

    host = "127.0.0.1"

    def __init__(self, ca: trustme.CA) -> None:
        self.ca = ca
        self.mode: SmtpMode = "good"
        self.sni_names: list[str | None] = []
        """The SNI name of every STARTTLS handshake since the last reset."""
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # Certificates: one context per name, chosen by SNI during the STARTTLS handshake.

    def _leaf_context(self, name: str) -> ssl.SSLContext:
        with self._lock:
            ctx = self._contexts.get(name)
            if ctx is None:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.minimum_version = ssl.TLSVersion.TLSv1_2
                self.ca.issue_cert(name).configure_cert(ctx)
                self._contexts[name] = ctx
            return ctx

    def _sni_callback(
        self, sslobj: ssl.SSLObject, server_name: str | None, _ctx: ssl.SSLContext
    ) -> None:
        with self._lock:
            self.sni_names.append(server_name)
            mode = self.mode
        name = (server_name or "localhost").lower()
        if mode == "wrong-name":
            name = f"wrong-name.{name}.invalid"
        sslobj.context = self._leaf_context(name)

    def _tls_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        self.ca.issue_cert("localhost").configure_cert(ctx)
        ctx.sni_callback = self._sni_callback
        return ctx

    # Lifecycle

    def _factory(self) -> SMTP:
        tls = None if self.mode == "no-starttls" else self._tls_context()
        return SMTP(_DropMail(), hostname="mx.test.invalid", tls_context=tls, timeout=30)

    def start(self) -> LocalSmtpServer:
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            self._server = loop.run_until_complete(
                loop.create_server(self._factory, host=self.host, port=0)
            )
            self.port = int(self._server.sockets[0].getsockname()[1])
            loop.call_soon(ready.set)
            loop.run_forever()
            self._server.close()
            # wait_closed() also waits for clients still connected: do not hang on them.
            with contextlib.suppress(TimeoutError):
                loop.run_until_complete(asyncio.wait_for(self._server.wait_closed(), 2))
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="smtp", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the SMTP server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop = None
        self._thread = None

    def reset(self) -> None:
        with self._lock:
            self.mode = "good"
            self.sni_names.clear()

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>``, the form ``--smtp-connect-to`` takes."""
        return f"{self.host}:{self.port}"
