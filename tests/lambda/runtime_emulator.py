#!/usr/bin/env python3
"""A Lambda Runtime API emulator for the tests of `etl lambda`.

It follows the behaviour of the reference emulator
(aws-lambda-runtime-interface-emulator, RIE) as summarized in
protocols.md section 3.1, and adds what the tests need to measure:

Runtime API (what the function's runtime calls):
  GET  /2018-06-01/runtime/invocation/next        long poll; the event, with
       Lambda-Runtime-Aws-Request-Id, -Deadline-Ms (now + the timeout),
       -Invoked-Function-Arn and -Trace-Id headers
  POST /2018-06-01/runtime/invocation/{id}/response   202 {"status":"OK"}
  POST /2018-06-01/runtime/invocation/{id}/error      202 {"status":"OK"}
  POST /2018-06-01/runtime/init/error                 202 {"status":"OK"}
  403 InvalidStateTransition: nothing in flight (a response before /next)
  400 InvalidRequestID: an unknown or already answered request id
  413 RequestEntityTooLarge: a body over 6 MiB + 100 bytes

Invoke API (what callers use):
  POST /2015-03-31/functions/{name}/invocations
       RequestResponse (default, like RIE's /functions/function/...): queues
       the event, waits for the answer and returns it (200; an error answer
       gets X-Amz-Function-Error: Unhandled; no answer by the deadline gives
       "Task timed out after N.00 seconds").
       X-Amz-Invocation-Type: Event: 202 at once, the event is queued. Its
       Authorization header is checked (SigV4 form, and the signature itself
       when --secret-key is given) and recorded.
       X-Emulator-Timeout-Ms: this invocation's timeout (tests only).

Control (tests only):
  GET  /_emulator/log          JSON list of invocations: request_id, event,
                               outcome, duration_ms, deadline_ms, overran,
                               margin_ms, invocation_type, authorization, ...
  GET  /_emulator/init_errors  JSON list of init errors
  POST /_emulator/config       {"throttle_invokes": N}: the next N Event
                               invocations get 429 TooManyRequestsException

Only the Python 3 standard library. Binds 127.0.0.1.
"""

import argparse
import hashlib
import hmac
import json
import os
import re
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_PAYLOAD = 6 * 1024 * 1024 + 100  # RIE MaxPayloadSize
FUNCTION_ARN = "arn:aws:lambda:us-east-1:012345678912:function:{}"
AUTH_FORM = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[A-Za-z0-9]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)"
    r"/lambda/aws4_request, ?SignedHeaders=(?P<signed>[a-z0-9;-]+), ?Signature=(?P<sig>[0-9a-f]{64})$")
NEXT_PATH = "/2018-06-01/runtime/invocation/next"
ANSWER_PATH = re.compile(r"^/2018-06-01/runtime/invocation/([^/]+)/(response|error)$")
INVOKE_PATH = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")


def now_ms():
    return int(time.time() * 1000)


class Emulator:
    """The shared state: a queue of events and the record of invocations."""

    def __init__(self, timeout_ms, function_name, secret_key):
        self.timeout_ms = timeout_ms
        self.function_name = function_name
        self.secret_key = secret_key
        self.lock = threading.Condition()
        self.queue = []            # invocations waiting for /next
        self.invocations = []      # every invocation, in arrival order
        self.by_id = {}
        self.in_flight = None      # handed out by /next, not answered yet
        self.init_errors = []
        self.throttle_invokes = 0

    def enqueue(self, event, invocation_type, timeout_ms, extra=None):
        inv = {
            "request_id": str(uuid.uuid4()),
            "event": event,
            "invocation_type": invocation_type,
            "timeout_ms": timeout_ms,
            "queued_ms": now_ms(),
            "started_ms": None,
            "deadline_ms": None,
            "answered_ms": None,
            "outcome": "queued",
            "body": None,
            "error_type": None,
            "duration_ms": None,
            "margin_ms": None,
            "overran": False,
        }
        inv.update(extra or {})
        with self.lock:
            self.queue.append(inv)
            self.invocations.append(inv)
            self.by_id[inv["request_id"]] = inv
            self.lock.notify_all()
        return inv

    def take_next(self):
        with self.lock:
            while not self.queue:
                self.lock.wait()
            inv = self.queue.pop(0)
            inv["started_ms"] = now_ms()
            inv["deadline_ms"] = inv["started_ms"] + inv["timeout_ms"]
            inv["outcome"] = "running"
            self.in_flight = inv
            return inv

    def answer(self, inv, kind, body, error_type):
        with self.lock:
            t = now_ms()
            inv["answered_ms"] = t
            inv["duration_ms"] = t - inv["started_ms"]
            inv["margin_ms"] = inv["deadline_ms"] - t
            inv["overran"] = t > inv["deadline_ms"]
            if inv["outcome"] == "running":
                inv["outcome"] = kind
            else:  # already timed out: a late answer
                inv["late_" + kind] = True
            inv["body"] = body.decode("utf-8", "replace")
            inv["error_type"] = error_type
            if self.in_flight is inv:
                self.in_flight = None
            self.lock.notify_all()

    def wait_for_answer(self, inv):
        """Waits for the runtime's answer, or the deadline (a timeout)."""
        with self.lock:
            while inv["outcome"] in ("queued", "running"):
                if inv["outcome"] == "running" and now_ms() >= inv["deadline_ms"]:
                    inv["outcome"] = "timeout"
                    inv["overran"] = True
                    break
                wait = None
                if inv["deadline_ms"] is not None:
                    wait = max(0.001, (inv["deadline_ms"] - now_ms()) / 1000)
                self.lock.wait(wait if wait is not None else 1.0)
            return inv

    def public_log(self):
        with self.lock:
            return json.loads(json.dumps(self.invocations))

    # ------------------------------------------------------------ SigV4 check

    def check_authorization(self, handler, path, body):
        auth = handler.headers.get("Authorization")
        if not auth:
            return "missing"
        form = AUTH_FORM.match(auth)
        if not form:
            return "malformed"
        if self.secret_key is None:
            return "well-formed"
        return "valid" if self._signature_ok(handler, path, body, form) else "bad-signature"

    def _signature_ok(self, handler, path, body, form):
        amz_date = handler.headers.get("X-Amz-Date", "")
        if not amz_date.startswith(form["date"]):
            return False
        parsed = urllib.parse.urlsplit(path)
        signed = form["signed"].split(";")
        headers = "".join(
            "{}:{}\n".format(name, " ".join((handler.headers.get(name) or "").split()))
            for name in signed)
        query = "&".join(sorted(
            "{}={}".format(urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~"))
            for k, v in urllib.parse.parse_qsl(parsed.query, keep_blank_values=True)))
        # Every service but S3 signs the path encoded twice.
        canonical_path = urllib.parse.quote(parsed.path, safe="/-_.~")
        canonical = "\n".join([handler.command, canonical_path, query, headers, form["signed"],
                               hashlib.sha256(body).hexdigest()])
        scope = "{}/{}/lambda/aws4_request".format(form["date"], form["region"])
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                             hashlib.sha256(canonical.encode()).hexdigest()])
        key = ("AWS4" + self.secret_key).encode()
        for part in (form["date"], form["region"], "lambda", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, form["sig"])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "runtime-emulator/1"
    emulator = None  # set in main()

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("emulator: " + (fmt % args) + "\n")

    # ------------------------------------------------------------ helpers

    def send(self, status, body, content_type="application/json", headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, error_type, message):
        self.send(status, {"errorMessage": message, "errorType": error_type})

    def read_body(self, limit):
        """The body, or None when it is over `limit` (then drained)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunk = self.rfile.read(size)
                self.rfile.readline()
                if len(data) <= limit:
                    data += chunk
            return bytes(data) if len(data) <= limit else None
        length = int(self.headers.get("Content-Length") or 0)
        if length <= limit:
            return self.rfile.read(length)
        while length > 0:
            chunk = self.rfile.read(min(length, 1 << 20))
            if not chunk:
                break
            length -= len(chunk)
        return None

    # ------------------------------------------------------------ routes

    def do_GET(self):
        em = self.emulator
        if self.path == NEXT_PATH:
            return self.next_invocation(em)
        if self.path == "/_emulator/log":
            return self.send(200, em.public_log())
        if self.path == "/_emulator/init_errors":
            with em.lock:
                return self.send(200, list(em.init_errors))
        self.error(404, "NotFound", "no route for GET " + self.path)

    def do_POST(self):
        em = self.emulator
        path = urllib.parse.urlsplit(self.path).path
        answer = ANSWER_PATH.match(path)
        if answer:
            return self.answer(em, answer.group(1), answer.group(2))
        if path == "/2018-06-01/runtime/init/error":
            body = self.read_body(MAX_PAYLOAD) or b""
            with em.lock:
                em.init_errors.append({
                    "body": body.decode("utf-8", "replace"),
                    "error_type": self.headers.get("Lambda-Runtime-Function-Error-Type"),
                })
            return self.send(202, {"status": "OK"})
        invoke = INVOKE_PATH.match(path)
        if invoke:
            return self.invoke(em, urllib.parse.unquote(invoke.group(1)))
        if path == "/_emulator/config":
            config = json.loads(self.read_body(1 << 20) or b"{}")
            with em.lock:
                em.throttle_invokes = int(config.get("throttle_invokes", em.throttle_invokes))
            return self.send(200, {"status": "OK"})
        self.read_body(MAX_PAYLOAD)
        self.error(404, "NotFound", "no route for POST " + path)

    def next_invocation(self, em):
        inv = em.take_next()
        body = inv["event"].encode()
        headers = {
            "Lambda-Runtime-Aws-Request-Id": inv["request_id"],
            "Lambda-Runtime-Deadline-Ms": str(inv["deadline_ms"]),
            "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN.format(em.function_name),
            "Lambda-Runtime-Trace-Id":
                "Root=1-{:08x}-{};Parent={};Sampled=0".format(
                    int(time.time()), uuid.uuid4().hex[:24], uuid.uuid4().hex[:16]),
        }
        self.send(200, body, headers=headers)

    def answer(self, em, request_id, kind):
        with em.lock:
            inv = em.by_id.get(request_id)
            answered = inv is not None and inv.get("answered_ms") is not None
            in_flight = em.in_flight
        if answered:
            self.read_body(MAX_PAYLOAD)
            return self.error(400, "InvalidRequestID", "Invalid request ID")
        if in_flight is None:
            self.read_body(MAX_PAYLOAD)
            return self.error(403, "InvalidStateTransition",
                              "State transition from Ready to InvocationResponse failed for "
                              "runtime. Error: State transition is not allowed")
        if in_flight is not inv:
            self.read_body(MAX_PAYLOAD)
            return self.error(400, "InvalidRequestID", "Invalid request ID")
        body = self.read_body(MAX_PAYLOAD)
        if body is None:
            with em.lock:
                inv["oversize_answers"] = inv.get("oversize_answers", 0) + 1
            return self.error(413, "RequestEntityTooLarge",
                              "Exceeded maximum allowed payload size (%d bytes)." % MAX_PAYLOAD)
        em.answer(inv, kind, body, self.headers.get("Lambda-Runtime-Function-Error-Type"))
        self.send(202, {"status": "OK"})

    def invoke(self, em, function_name):
        body = self.read_body(MAX_PAYLOAD)
        if body is None:
            return self.send(413, {"Type": "User", "message": "Request must be smaller than "
                                   "6291456 bytes for the InvokeFunction operation"})
        invocation_type = self.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        timeout_ms = int(self.headers.get("X-Emulator-Timeout-Ms") or em.timeout_ms)
        try:
            event = body.decode("utf-8")
        except UnicodeDecodeError:
            return self.send(400, {"Type": "User", "message": "Could not parse request body"})
        if invocation_type == "Event":
            return self.invoke_event(em, function_name, event, body, timeout_ms)
        inv = em.enqueue(event, "RequestResponse", timeout_ms, {"function": function_name})
        em.wait_for_answer(inv)
        if inv["outcome"] == "timeout":
            message = "Task timed out after %.2f seconds" % (inv["timeout_ms"] / 1000)
            return self.send(200, message, "text/plain")
        headers = {"X-Amz-Executed-Version": "$LATEST"}
        if inv["outcome"] == "error":
            headers["X-Amz-Function-Error"] = "Unhandled"
        self.send(200, inv["body"], headers=headers)

    def invoke_event(self, em, function_name, event, body, timeout_ms):
        auth = em.check_authorization(self, self.path, body)
        with em.lock:
            throttled = em.throttle_invokes > 0
            if throttled:
                em.throttle_invokes -= 1
                em.throttled_count = getattr(em, "throttled_count", 0) + 1
        if throttled:
            return self.send(429, {"Reason": "ConcurrentInvocationLimitExceeded",
                                   "Type": "User", "message": "Rate Exceeded."},
                             headers={"x-amzn-ErrorType": "TooManyRequestsException"})
        if em.secret_key is not None and auth != "valid":
            return self.send(403, {"message": "The request signature we calculated does not "
                                   "match the signature you provided (" + auth + ")"},
                             headers={"x-amzn-ErrorType": "InvalidSignatureException"})
        em.enqueue(event, "Event", timeout_ms, {
            "function": function_name,
            "authorization": auth,
            "security_token": self.headers.get("X-Amz-Security-Token") is not None,
        })
        self.send(202, b"", headers={"X-Amz-Executed-Version": "$LATEST"})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", help="write the chosen port here")
    parser.add_argument("--timeout-ms", type=int, default=300000,
                        help="the function timeout (RIE default 300 s)")
    parser.add_argument("--function-name", default="function")
    parser.add_argument("--secret-key", help="verify SigV4 signatures of Event invocations")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()

    Handler.emulator = Emulator(args.timeout_ms, args.function_name, args.secret_key)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.verbose = args.verbose
    port = server.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.rename(args.port_file + ".tmp", args.port_file)
    print("runtime emulator listening on 127.0.0.1:%d" % port, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
