"""A small OpenAI-compatible HTTP server (http.server in a thread) whose faults are scripted.

It streams ``answer for <prompt>`` word by word as chat-completion chunks and completes the
identity probe (POST /v1/completions) with a text derived from ``weights``, so a test can swap
"the model" behind the same name. ``script`` lists what the next chat requests get, one action
each, before the default ``ok``: ``401``, ``404``, ``429``, ``500``, ``503``, ``nonjson``, ``hang``
(accept, never answer), ``drop`` (close mid-stream), ``empty`` (an event stream with
nothing in it). ``models_action`` does the same for
GET /v1/models. ``interrupt=True`` imitates llama_cpp.server: a request arriving while another
streams ends that stream with ``[DONE]`` and no finish_reason. A prompt containing ``BAD`` gets
HTTP 400; one containing ``LONG`` gets llama-cpp-python's context-exceeded error.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def expected(prompt: str, max_tokens: int = 100) -> str:
    words = f"answer for {prompt} , with a few more words to stream".split(" ")
    return " ".join(words[:max_tokens])


class ScriptedServer:
    def __init__(self, interrupt: bool = False, delay: float = 0.002, usage: bool = True,
                 script: list[str] | None = None, models_action: str = "ok",
                 model: str = "scripted-model", weights: str = "A", api_key: str | None = None,
                 port: int = 0):
        self.interrupt = interrupt
        self.delay = delay
        self.usage = usage
        self.script = list(script or [])
        self.models_action = models_action
        self.model = model
        self.weights = weights
        self.api_key = api_key
        self.probe_varies = False  # a server that is not deterministic at temperature 0
        self.strict_fields = False  # rejects fields outside the OpenAI API, as some servers do
        self.probes = 0
        self.bodies: list[dict] = []
        self.chat_requests = 0
        self.cuts = 0
        self.max_active = 0
        self._active = 0
        self._generation = 0
        self._lock = threading.Lock()
        self._release = threading.Event()  # ends "hang" handlers at shutdown
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _authorised(self) -> bool:
                if server.api_key and self.headers.get("Authorization") != f"Bearer {server.api_key}":
                    self._json(401, {"error": {"message": "Invalid API key"}})
                    return False
                return True

            def do_GET(self):
                if not self._authorised():
                    return
                if self.path != "/v1/models":
                    self._json(404, {"error": {"message": "not found"}})
                    return
                if server._act(server.models_action, self):
                    return
                self._json(200, {"object": "list", "data": [{"id": server.model, "owned_by": "scripted"}]})

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if not self._authorised():
                    return
                if self.path == "/v1/completions":
                    text = f" weights {server.weights} say {body.get('prompt', '')[:12]}"
                    if server.probe_varies:
                        server.probes += 1
                        text += f" #{server.probes}"
                    self._json(200, {"choices": [{"index": 0, "text": text, "finish_reason": "length"}]})
                    return
                if self.path != "/v1/chat/completions":
                    self._json(404, {"error": {"message": "not found"}})
                    return
                with server._lock:
                    server.chat_requests += 1
                    action = server.script.pop(0) if server.script else "ok"
                server.bodies.append(body)
                if server._act(action, self):
                    return
                prompt = body["messages"][-1]["content"]
                if server.strict_fields and "top_k" in body:
                    self._json(422, {"detail": [{"loc": ["body", "top_k"], "msg": "extra fields not permitted: top_k"}]})
                    return
                if "BAD" in prompt:
                    self._json(400, {"error": {"message": "the prompt is\nnot acceptable"}})
                    return
                if "LONG" in prompt:
                    self._json(400, {"error": {
                        "message": "This model's maximum context length is 512 tokens. However, you "
                                   "requested 900 tokens (800 in the messages, 100 in the completion).",
                        "type": "invalid_request_error", "code": "context_length_exceeded"}})
                    return
                with server._lock:
                    server._generation += 1
                    mine = server._generation
                    server._active += 1
                    server.max_active = max(server.max_active, server._active)
                try:
                    self._stream(body, prompt, mine, drop=action == "drop")
                finally:
                    with server._lock:
                        server._active -= 1

            def _json(self, status, data, content_type="application/json"):
                raw = data if isinstance(data, bytes) else json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _stream(self, body, prompt, mine, drop=False):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                words = expected(prompt).split(" ")
                limit = body.get("max_tokens", 100)
                sent = 0
                finish = "stop"
                for i, word in enumerate(words):
                    if i >= limit:
                        finish = "length"
                        break
                    time.sleep(server.delay)
                    if server.interrupt and server._generation != mine:
                        server.cuts += 1
                        self._event("[DONE]")
                        return
                    if drop and i == 2:
                        self.wfile.flush()
                        self.connection.shutdown(2)  # the server dies mid-answer
                        return
                    piece = word if i == 0 else " " + word
                    self._event(json.dumps({"choices": [{"index": 0, "delta": {"content": piece},
                                                         "finish_reason": None}]}))
                    sent += 1
                self._event(json.dumps({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}))
                if server.usage:
                    self._event(json.dumps({"choices": [], "usage": {
                        "prompt_tokens": 7, "completion_tokens": sent, "total_tokens": 7 + sent}}))
                self._event("[DONE]")

            def _event(self, data):
                try:
                    self.wfile.write(f"data: {data}\n\n".encode())
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _act(self, action: str, handler) -> bool:
        """Perform a scripted fault; False for ``ok``/``drop`` (the normal answer follows)."""
        if action in ("ok", "drop"):
            return False
        if action.isdigit():
            status = int(action)
            message = {401: "Invalid API key", 404: "model not found"}.get(status, "busy, try later")
            handler._json(status, {"error": {"message": message}})
        elif action == "empty":  # what llama-cpp-python sends when a prompt does not fit its context
            handler.send_response(200)
            handler.send_header("Content-Type", "text/event-stream; charset=utf-8")
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.close_connection = True
        elif action == "nonjson":
            handler._json(200, b"<html><body>Welcome to nginx!</body></html>", "text/html")
        elif action == "hang":
            self._release.wait(30)
            handler.close_connection = True
        else:
            raise ValueError(action)
        return True

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
