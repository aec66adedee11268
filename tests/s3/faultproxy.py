#!/usr/bin/env python3
"""A fault-injecting HTTP proxy for the S3 tests (Python stdlib only).

    faultproxy.py --listen PORT --upstream http://127.0.0.1:MOTO [--rate 0.1]
                  [--seed N] [--slow 0.3] [--complete-error-rate R]
                  [--part-failures N] [--log FILE]

Forwards every request unchanged (the Host header too, so SigV4 signatures
stay valid) and, at `rate`, injects one fault, taking these kinds in turn:
    500      InternalError with S3's XML body, not forwarded
    503      SlowDown with S3's XML body, not forwarded
    reset    the connection is closed without an answer, not forwarded
    lost     forwarded (the write happens), then the answer is dropped
    slow     forwarded, answered after `slow` seconds
    truncate forwarded, the answer's body cut in half (Content-Length kept)
CompleteMultipartUpload requests also get, at complete-error-rate (the
first one, then a fair share), a 200 whose body is an <Error> (as S3 may
answer). The first `part-failures` UploadPart requests get a 503 SlowDown
(kind "part503"), whatever the rate. Each fault is logged as one
line "KIND METHOD PATH" to the log file.
"""
import argparse
import http.client
import math
import random
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ERROR_BODY = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
              '<Message>%s</Message><RequestId>FAULTPROXY</RequestId></Error>')
KINDS = ["500", "503", "reset", "lost", "slow", "truncate"]


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def note(self, kind):
        with self.server.lock:
            self.server.counts[kind] = self.server.counts.get(kind, 0) + 1
            if self.server.log:
                self.server.log.write("%s %s %s\n" % (kind, self.command, self.path))
                self.server.log.flush()

    def choose(self):
        with self.server.lock:
            r = self.server.random.random()
            kind = None
            if r < self.server.args.rate:
                # Round robin over the kinds: each is met at a fair share.
                kind = KINDS[self.server.injected % len(KINDS)]
                self.server.injected += 1
        query = urllib.parse.urlparse(self.path).query
        if self.command == "PUT" and "partNumber=" in query:
            with self.server.lock:
                if self.server.part_failures < self.server.args.part_failures:
                    self.server.part_failures += 1
                    return "part503"
        if self.command == "POST" and "uploadId=" in query:
            # Deterministic share: the first Complete, then every 1/rate-th.
            with self.server.lock:
                n = self.server.completes
                self.server.completes += 1
            rate = self.server.args.complete_error_rate
            if math.ceil((n + 1) * rate) > math.ceil(n * rate):
                return "complete200"
        return kind

    def reply(self, status, body, headers=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def forward(self, body):
        up = self.server.upstream
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "expect")}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        out = [(k, v) for k, v in resp.getheaders()
               if k.lower() not in ("content-length", "transfer-encoding", "connection")]
        conn.close()
        return resp.status, out, data

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        kind = self.choose()
        if kind:
            self.note(kind)
        if kind == "500":
            return self.reply(500, ERROR_BODY % ("InternalError", "We encountered an internal error. Please try again."),
                              [("Content-Type", "application/xml")])
        if kind in ("503", "part503"):
            return self.reply(503, ERROR_BODY % ("SlowDown", "Please reduce your request rate."),
                              [("Content-Type", "application/xml")])
        if kind == "reset":
            return self.drop()
        if kind == "complete200":
            return self.reply(200, '<?xml version="1.0" encoding="UTF-8"?>\n\n  ' +
                              ERROR_BODY.split("\n", 1)[1] % ("InternalError", "We encountered an internal error. Please try again."),
                              [("Content-Type", "application/xml")])
        status, headers, data = self.forward(body)
        if kind == "lost":
            return self.drop()
        if kind == "slow":
            time.sleep(self.server.args.slow)
        if kind == "truncate" and self.command != "HEAD" and len(data) > 1:
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            return self.drop()
        if self.command == "HEAD":
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", dict((k.lower(), v) for k, v in headers).get("content-length", "0"))
            self.end_headers()
            return
        self.reply(status, data, headers)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", type=int, required=True)
    p.add_argument("--upstream", required=True)
    p.add_argument("--rate", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--slow", type=float, default=0.3)
    p.add_argument("--complete-error-rate", type=float, default=0.0)
    p.add_argument("--part-failures", type=int, default=0)
    p.add_argument("--log")
    args = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.listen), Proxy)
    server.daemon_threads = True
    server.args = args
    server.upstream = urllib.parse.urlparse(args.upstream)
    server.random = random.Random(args.seed)
    server.lock = threading.Lock()
    server.counts = {}
    server.injected = 0
    server.completes = 0
    server.part_failures = 0
    server.log = open(args.log, "a") if args.log else None
    print("faultproxy on 127.0.0.1:%d -> %s" % (args.listen, args.upstream), file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
