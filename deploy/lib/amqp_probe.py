#!/usr/bin/env python3
"""Publishes one persistent message to a new quorum queue with a publisher confirm, then
deletes the queue: what ingest does for every alert, checked before anything relies on it.

RabbitMQ can answer the AMQP handshake and still refuse or never confirm a publish (seen
here after heavy queue churn, and with a resource alarm). Only the standard library is
used, so it runs before anything is built or installed.

    amqp_probe.py [HOST] [PORT] [USER] [PASSWORD]      (127.0.0.1 5672 guest guest)

Exit status: 0 the publish was confirmed; 1 the broker took the connection but did not
confirm the publish (a nack, a return, a channel or connection closed by the broker, or no
answer within the time); 2 nothing can be said (no connection, or the credentials were
refused), so the caller must not treat the broker as broken on this probe's word.
"""

import os
import socket
import struct
import sys

TIMEOUT_SECONDS = 10
FRAME_END = b"\xce"


class NotConfirmed(Exception):
    """The broker is reachable and logged in, but did not confirm."""


class Unknown(Exception):
    """Nothing can be said about publishing."""


def shortstr(text):
    data = text.encode()
    return struct.pack("B", len(data)) + data


def longstr(data):
    return struct.pack(">I", len(data)) + data


def table(entries):
    def value(v):
        if isinstance(v, int):
            return b"I" + struct.pack(">i", v)
        return b"S" + longstr(v.encode())

    return longstr(b"".join(shortstr(key) + value(v) for key, v in entries))


class Connection:
    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""

    def read(self, size):
        while len(self.buffer) < size:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("the broker closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def frame(self):
        kind, channel, size = struct.unpack(">BHI", self.read(7))
        payload = self.read(size)
        if self.read(1) != FRAME_END:
            raise Unknown("a malformed frame")
        return kind, channel, payload

    def method(self, channel, expected):
        """The next method frame (heartbeats skipped): returns (class, method, arguments)."""
        while True:
            kind, _, payload = self.frame()
            if kind == 8:
                continue
            if kind != 1:
                raise NotConfirmed(f"an unexpected frame of type {kind}")
            klass, method = struct.unpack(">HH", payload[:4])
            if (klass, method) in ((10, 50), (20, 40)):
                code, text = struct.unpack(">H", payload[4:6])[0], payload[7 : 7 + payload[6]]
                raise NotConfirmed(f"the broker closed the {'connection' if klass == 10 else 'channel'}: {code} {text.decode(errors='replace')}")
            if expected is not None and (klass, method) not in expected:
                raise NotConfirmed(f"an unexpected method {klass}.{method}")
            return klass, method, payload[4:]

    def send(self, kind, channel, payload):
        self.sock.sendall(struct.pack(">BHI", kind, channel, len(payload)) + payload + FRAME_END)

    def call(self, channel, klass, method, arguments, reply):
        self.send(1, channel, struct.pack(">HH", klass, method) + arguments)
        if reply is not None:
            return self.method(channel, {reply})
        return None


def probe(host, port, user, password):
    try:
        sock = socket.create_connection((host, port), timeout=TIMEOUT_SECONDS)
    except OSError as e:
        raise Unknown(f"no connection: {e}")
    sock.settimeout(TIMEOUT_SECONDS)
    amqp = Connection(sock)
    try:
        sock.sendall(b"AMQP\x00\x00\x09\x01")
        amqp.method(0, {(10, 10)})  # start
        response = b"\x00" + user.encode() + b"\x00" + password.encode()
        amqp.send(1, 0, struct.pack(">HH", 10, 11) + longstr(b"") + shortstr("PLAIN") + longstr(response) + shortstr("en_US"))
        try:
            _, _, tune = amqp.method(0, {(10, 30)})
        except (NotConfirmed, EOFError, ConnectionError) as e:
            raise Unknown(f"the login was not accepted: {e}")
        channel_max, frame_max, _ = struct.unpack(">HIH", tune[:8])
        amqp.call(0, 10, 31, struct.pack(">HIH", channel_max, frame_max, 0), None)
        try:
            amqp.call(0, 10, 40, shortstr("/") + shortstr("") + b"\x00", (10, 41))
        except (NotConfirmed, EOFError) as e:
            raise Unknown(f"the virtual host / was not opened: {e}")
        amqp.call(1, 20, 10, shortstr(""), (20, 11))
        amqp.call(1, 85, 10, b"\x00", (85, 11))
        queue = f"relay-probe-{os.getpid()}-{os.urandom(4).hex()}"
        # The queue expires a minute after its last use, should the delete below not reach a
        # broker that stopped answering.
        arguments = table([("x-queue-type", "quorum"), ("x-expires", 60_000)])
        declare = struct.pack(">H", 0) + shortstr(queue) + b"\x02" + arguments
        amqp.call(1, 50, 10, declare, (50, 11))
        silent = False
        try:
            body = b"alert-relay publish probe"
            publish = struct.pack(">H", 0) + shortstr("") + shortstr(queue) + b"\x01"
            amqp.send(1, 1, struct.pack(">HH", 60, 40) + publish)
            # Content header: class 60, weight 0, body size, flags (delivery mode), mode 2.
            amqp.send(2, 1, struct.pack(">HHQHB", 60, 0, len(body), 0x1000, 2))
            amqp.send(3, 1, body)
            try:
                _, method, _ = amqp.method(1, {(60, 80), (60, 120), (60, 50)})
            except socket.timeout:
                silent = True
                raise
            if method == 120:
                raise NotConfirmed("the publish was nacked")
            if method == 50:
                raise NotConfirmed("the publish was returned unroutable")
        finally:
            try:
                # A broker that did not answer the publish will not answer this either: the
                # queue's x-expires removes it.
                if not silent:
                    amqp.call(1, 50, 40, struct.pack(">H", 0) + shortstr(queue) + b"\x00", (50, 41))
            except (NotConfirmed, EOFError, OSError):
                pass
        amqp.call(0, 10, 50, struct.pack(">H", 200) + shortstr("probe done") + struct.pack(">HH", 0, 0), (10, 51))
    except socket.timeout:
        raise NotConfirmed(f"no answer within {TIMEOUT_SECONDS} s")
    except (EOFError, ConnectionError) as e:
        raise NotConfirmed(str(e))
    finally:
        sock.close()


def main():
    args = sys.argv[1:] + [None] * 4
    host, port = args[0] or "127.0.0.1", int(args[1] or 5672)
    user, password = args[2] or "guest", args[3] or "guest"
    try:
        probe(host, port, user, password)
    except NotConfirmed as e:
        print(f"RabbitMQ on {host}:{port} did not confirm a publish: {e}", file=sys.stderr)
        return 1
    except Unknown as e:
        print(f"cannot probe RabbitMQ on {host}:{port}: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
