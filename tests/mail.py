"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for tests that
follow the links in peergraph's mail."""

from __future__ import annotations

import re
import socket
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from urllib.parse import urlsplit

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Mailbox:
    """Every message the server accepted, parsed, in order of arrival."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self._arrived = threading.Condition()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()
        return "250 OK"

    def start(self) -> Mailbox:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def to(self, recipient: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == recipient]

    def wait(self, recipient: str, count: int = 1, timeout: float = 10.0) -> EmailMessage:
        """The ``count``-th message to ``recipient`` (waiting for it to arrive)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.to(recipient)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no message {count} to {recipient} within {timeout} s")
                self._arrived.wait(left)
            return self.to(recipient)[count - 1]


def body(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def link(message: EmailMessage, path: str) -> str:
    """The path and query of the message's link to ``path`` (e.g. /verify-email)."""
    for url in re.findall(r"https?://\S+", body(message)):
        parts = urlsplit(url)
        if parts.path == path:
            return f"{parts.path}?{parts.query}"
    raise AssertionError(f"no link to {path} in: {body(message)!r}")
