"""A real SMTP server on a loopback port (aiosmtpd) that keeps what it receives, for the alert
delivery tests; ``refuse`` makes it answer every message with a temporary failure (451)."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from hubctl.stack import free_port


@dataclass
class SmtpReceiver:
    port: int = 0
    refuse: bool = False
    messages: list[EmailMessage] = field(default_factory=list)

    # aiosmtpd calls the handler's method by this name
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return "451 4.3.0 try again later"
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"

    def connection_json(self) -> str:
        """An Airflow smtp Connection to this server (AIRFLOW_CONN_<ID> holds it as JSON)."""
        extra = {"from_email": "hub@localhost", "disable_ssl": True, "disable_tls": True,
                 "retry_limit": 0, "timeout": 5}  # fmt: skip
        return json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": self.port,
                           "extra": extra})  # fmt: skip

    def texts(self, subject_part: str = "") -> list[tuple[str, str]]:
        """(subject, body text) of each received message whose subject holds ``subject_part``."""
        found = []
        for message in self.messages:
            if subject_part in str(message["Subject"]):
                body = message.get_body(preferencelist=("html", "plain"))
                assert body is not None
                found.append((str(message["Subject"]), str(body.get_content())))
        return found


@contextmanager
def smtp_receiver() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver(port=free_port())
    controller = Controller(receiver, hostname="127.0.0.1", port=receiver.port)
    controller.start()
    try:
        yield receiver
    finally:
        controller.stop()
