#!/usr/bin/env python3
"""A scripted Chat Completions server for gcm's tests (standard library only).

    gcm_server.py serve --port-file F --log L    serve on 127.0.0.1, a free port
    gcm_server.py q L EXPR                        print EXPR over the log

The scenario is the first path element after /s/: a client pointed at
http://127.0.0.1:PORT/s/NAME/v1 posts to /s/NAME/v1/chat/completions
(NAME.TAG: scenario NAME, counted apart).  As an HTTP proxy it serves the
absolute-form request the same way and logs it as proxied.  Each
request is logged as one JSON line: time, scenario, n (the scenario's
request count, from 1), path, headers (lower-case names) and body (parsed
JSON, or the raw text under "raw").  In q, EXPR sees `reqs` (the list) and
`json`.
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONTEXT_LIMIT = 10000   # bytes of request body the "context" scenario accepts


def completion(content, finish="stop"):
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": "test",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": finish}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def error(message, type_="invalid_request_error", code=None, param=None):
    return {"error": {"message": message, "type": type_, "code": code, "param": param}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    counts = {}
    lock = threading.Lock()
    log_path = None

    def log_message(self, *args):
        pass

    def send_json(self, status, obj, extra=()):
        data = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def send_sse(self, pieces, delay=0.05):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        first = {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
        self.wfile.write(b": keep-alive comment\n\n")
        self.wfile.write(("data: " + json.dumps(first) + "\r\n\r\n").encode())
        for p in pieces:
            ev = {"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
            self.wfile.write(("data: " + json.dumps(ev) + "\n\n").encode())
            self.wfile.flush()
            time.sleep(delay)
        last = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        self.wfile.write(("data: " + json.dumps(last) + "\n\ndata: [DONE]\n\n").encode())
        self.wfile.flush()
        self.close_connection = True

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        path, proxied = self.path, False
        if path.startswith("http://"):     # absolute form: we are the proxy
            path, proxied = "/" + path.split("/", 3)[3], True
        parts = path.split("/")
        scenario = parts[2] if len(parts) > 2 and parts[1] == "s" else "ok"
        with Handler.lock:
            n = Handler.counts.get(scenario, 0) + 1
            Handler.counts[scenario] = n
            try:
                body = json.loads(raw)
                entry = {"body": body}
            except ValueError:
                body = None
                entry = {"raw": raw.decode("utf-8", "replace")}
            entry.update({"t": time.time(), "scenario": scenario, "n": n, "path": path,
                          "proxied": proxied, "target": self.path,
                          "headers": {k.lower(): v for k, v in self.headers.items()}})
            with open(Handler.log_path, "a") as f:
                f.write(json.dumps(entry) + "\n")
        if not path.endswith("/chat/completions"):
            return self.send_json(404, error("no such endpoint: " + path))
        # "NAME.TAG" runs scenario NAME with a request count of its own
        name = scenario.split(".")[0].replace("-", "_")
        getattr(self, "s_" + name, self.s_ok)(n, body if isinstance(body, dict) else {}, raw)

    # --- scenarios ---------------------------------------------------------
    def s_ok(self, n, body, raw):
        self.send_json(200, completion("Add widget support #%d" % n))

    def s_stream(self, n, body, raw):
        if body.get("stream"):
            self.send_sse(["Add ", "streaming ", "widget", " support"])
        else:
            self.send_json(200, completion("Add non-streamed widget support"))

    def s_unauthorized(self, n, body, raw):
        key = self.headers.get("Authorization", "").replace("Bearer ", "")
        self.send_json(401, error("Incorrect API key provided: %s. You can find your API key at "
                                  "https://example.invalid." % key, code="invalid_api_key"))

    def s_forbidden(self, n, body, raw):
        self.send_json(403, error("Project does not have access to this model",
                                  type_="permission_error"))

    def s_notfound(self, n, body, raw):
        self.send_json(404, error("The model `%s` does not exist or you do not have access to it."
                                  % body.get("model"), code="model_not_found"))

    def s_badrequest(self, n, body, raw):
        self.send_json(400, error("'messages' must contain the word 'json'"))

    def s_ratelimit(self, n, body, raw):
        if n == 1:
            return self.send_json(429, error("Rate limit reached", type_="requests"),
                                  [("Retry-After", "1")])
        self.send_json(200, completion("Add rate-limited widget"))

    def s_ratelimit_long(self, n, body, raw):
        self.send_json(429, error("Rate limit reached", type_="requests"), [("Retry-After", "3600")])

    def s_server_error(self, n, body, raw):
        if n == 1:
            return self.send_json(500, error("The server had an error", type_="server_error"))
        self.send_json(200, completion("Add widget after a server error"))

    def s_unavailable(self, n, body, raw):
        self.send_json(503, error("Service unavailable", type_="server_error"))

    def s_reset(self, n, body, raw):
        if n == 1:
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.send_json(200, completion("Add widget after a reset"))

    def s_slow(self, n, body, raw):
        time.sleep(3)
        self.send_json(200, completion("Add slow widget"))

    def s_badjson(self, n, body, raw):
        self.send_json(200, b'{"choices": [{"message": {"content": "Add wid')

    def s_wrongshape(self, n, body, raw):
        self.send_json(200, {"result": "Add widget"})

    def s_think(self, n, body, raw):
        self.send_json(200, completion(
            "<think>\nThe user changed the widget. Commit message: Wrong one.\n</think>\n\n"
            "```\n\"Fix the widget frobnicator\"\n```\n"))

    def s_context(self, n, body, raw):
        if len(raw) > CONTEXT_LIMIT:
            return self.send_json(400, error(
                "This model's maximum context length is 1024 tokens. However, your messages "
                "resulted in 5000 tokens. Please reduce the length of the messages.",
                code="context_length_exceeded", param="messages"))
        self.send_json(200, completion("Add widget within context"))

    def s_maxtokens(self, n, body, raw):
        if "max_tokens" in body:
            return self.send_json(400, error(
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.", code="unsupported_parameter",
                param="max_tokens"))
        self.send_json(200, completion("Add reasoning widget"))

    def s_empty(self, n, body, raw):
        self.send_json(200, completion("" if n == 1 else "Add widget on the second try"))

    def s_always_empty(self, n, body, raw):
        self.send_json(200, completion("<think>thinking only</think>", finish="length"))

    def s_long(self, n, body, raw):
        self.send_json(200, completion("Add a very long subject line that goes on and on past the "
                                       "seventy-two character limit of git"))

    def s_body(self, n, body, raw):
        self.send_json(200, completion("Add widget support\n\nThe widget needs support because "
                                       "users asked.\nIt is small."))

    def s_escape(self, n, body, raw):
        self.send_json(200, completion("Add \x1b]0;pwned\x07widget\x1b[2J support"))


def serve(port_file, log_path):
    Handler.log_path = log_path
    open(log_path, "w").close()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(port_file + ".tmp", port_file)
    srv.serve_forever()


def query(log_path, expr):
    with open(log_path) as f:
        reqs = [json.loads(line) for line in f if line.strip()]
    v = eval(expr, {"reqs": reqs, "json": json})
    print(v if isinstance(v, (str, bool, int, float)) else json.dumps(v))


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[:1] == ["serve"]:
        serve(a[a.index("--port-file") + 1], a[a.index("--log") + 1])
    elif a[:1] == ["q"] and len(a) == 3:
        query(a[1], a[2])
    else:
        sys.exit(__doc__)
