"""The contestants of bench/throughput.py and what is measured on each (see bench/README.md):
the plain loop, the batched engine and llama.cpp's llama-server, on the same prepared requests;
llama.cpp's raw rates on the batched context; the tail of a run from its answers' intervals."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trust_tui.engine.types import DoneEvent, ErrorEvent, TokenEvent  # noqa: E402


@dataclass
class PathRun:
    """One run of one path over the workload."""

    path: str
    parallel: int
    wall: float = 0.0
    answers: dict[str, str] = field(default_factory=dict)
    completion_tokens: int = 0
    prompt_evaluated: int | None = None  # prompt tokens the path really computed
    decode_calls: int | None = None
    batch_tokens: int | None = None  # tokens over all llama_decode calls
    decode_seconds: float | None = None
    ubatches: int | None = None
    tail_seconds: float = 0.0
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)  # load averages when it started
    errors: list[str] = field(default_factory=list)
    intervals: list[tuple[float, float]] = field(default_factory=list)

    @property
    def gen_tok_s(self) -> float:
        return self.completion_tokens / self.wall if self.wall else 0.0

    @property
    def mean_batch(self) -> float | None:
        if not self.decode_calls or self.batch_tokens is None:
            return None
        return self.batch_tokens / self.decode_calls

    def record(self) -> dict:
        return {"path": self.path, "parallel": self.parallel, "wall_s": round(self.wall, 3),
                "gen_tok_s": round(self.gen_tok_s, 2), "completion_tokens": self.completion_tokens,
                "prompt_evaluated": self.prompt_evaluated, "decode_calls": self.decode_calls,
                "mean_batch": None if self.mean_batch is None else round(self.mean_batch, 2),
                "decode_s": None if self.decode_seconds is None else round(self.decode_seconds, 3),
                "ubatches": self.ubatches, "tail_s": round(self.tail_seconds, 3),
                "load_avg": list(self.load), "errors": self.errors[:5]}


def tail_seconds(intervals: list[tuple[float, float]], start: float, end: float,
                 parallel: int) -> float:
    """Time in [start, end] with fewer than half of ``parallel`` answers in flight, from each
    answer's (admitted, done) times: the same measure for every path."""
    if parallel <= 1:
        return 0.0
    edges = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    in_flight, at, tail = 0, start, 0.0
    for when, delta in edges:
        when = min(max(when, start), end)
        if in_flight < parallel / 2:
            tail += when - at
        in_flight += delta
        at = when
    return tail + (end - at if in_flight < parallel / 2 else 0.0)


def consume(run: PathRun, events) -> PathRun:
    """Drain a path's events; wall time, answers, and each answer's interval."""
    streamed: dict[str, str] = {}
    run.load = os.getloadavg()
    started = time.perf_counter()
    for event in events:
        if isinstance(event, TokenEvent):
            streamed[event.request_id] = streamed.get(event.request_id, "") + event.text
        elif isinstance(event, DoneEvent):
            now = time.perf_counter()
            response = event.response
            run.answers[event.request_id] = response.text
            run.completion_tokens += response.completion_tokens
            run.intervals.append((now - (response.gen_s or 0.0), now))
            if streamed.get(event.request_id, "") != response.text:
                run.errors.append(f"{event.request_id}: streamed text differs from the answer")
        elif isinstance(event, ErrorEvent):
            run.errors.append(f"{event.request_id}: {event.message}")
            if not event.skip:
                break
    ended = time.perf_counter()
    run.wall = ended - started
    run.tail_seconds = tail_seconds(run.intervals, started, ended, run.parallel)
    return run


class DecodeMeter:
    """Counts every llama_decode call made through llama-cpp-python (its Llama object and the
    engine both look the function up at call time), with tokens and seconds."""

    def __init__(self):
        import llama_cpp
        import llama_cpp.llama_cpp as low

        self._targets = [m for m in (llama_cpp, low) if hasattr(m, "llama_decode")]
        self._original = low.llama_decode
        self.calls = self.tokens = 0
        self.seconds = 0.0

    def __enter__(self) -> "DecodeMeter":
        original = self._original

        def metered(ctx, batch):
            started = time.perf_counter()
            try:
                return original(ctx, batch)
            finally:
                self.seconds += time.perf_counter() - started
                self.calls += 1
                self.tokens += int(batch.n_tokens)

        for module in self._targets:
            module.llama_decode = metered
        return self

    def __exit__(self, *exc) -> None:
        for module in self._targets:
            module.llama_decode = self._original


def common_prefix(a: list[int], b: list[int]) -> int:
    n, limit = 0, min(len(a), len(b))
    while n < limit and a[n] == b[n]:
        n += 1
    return n


def run_plain(backend, requests, tokens) -> PathRun:
    run = PathRun("plain loop", 1)
    # llama-cpp-python keeps the previous prompt (and answer) in the cache and evaluates only
    # what differs; the answer's tokens rarely match the next prompt, so the prompt is the bound.
    run.prompt_evaluated = sum(len(t) - common_prefix(p, t)
                               for p, t in zip([[]] + tokens[:-1], tokens))
    with DecodeMeter() as meter:
        consume(run, backend.generate(iter(requests), threading.Event()))
    run.decode_calls, run.batch_tokens, run.decode_seconds = meter.calls, meter.tokens, meter.seconds
    return run


def run_batched(backend, requests, parallel: int, **engine_options) -> PathRun:
    from trust_tui.engine.backends.llamacpp.batched import BatchedEngine

    run = PathRun(f"batched engine -p {parallel}", parallel)
    engine = BatchedEngine(backend, n_parallel=parallel, **engine_options)
    consume(run, engine.run((backend.prepare(r) for r in requests), threading.Event()))
    stats = engine.stats
    run.prompt_evaluated = int(stats["prompt_tokens"])
    run.decode_calls, run.batch_tokens = int(stats["steps"]), int(stats["batch_tokens"])
    run.decode_seconds, run.ubatches = stats["decode_seconds"], int(stats["ubatches"])
    return run


# --------------------------------------------------------------------------- llama-server


def find_llama_server() -> str | None:
    """llama-server on the PATH, else where ../shared/tools/build-llama-server.sh puts it."""
    found = shutil.which("llama-server")
    if found:
        return found
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    for candidate in sorted(cache.glob("llama-server-*/src/vendor/llama.cpp/build/bin/llama-server")):
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _metrics(url: str) -> dict[str, float]:
    text = urllib.request.urlopen(f"{url}/metrics", timeout=5).read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("llamacpp:"):
            name, _, value = line.partition(" ")
            out[name.split(":", 1)[1]] = float(value)
    return out


def run_server(binary: str, model: Path, requests, tokens, parallel: int, threads: int,
               seq_ctx: int) -> PathRun:
    """A fresh llama-server -np N (its prompt cache must not carry over between repetitions),
    fed N concurrent requests through OpenAICompatBackend; its /metrics give what it evaluated."""
    from trust_tui.engine.backends.openai_compat import OpenAICompatBackend
    from trust_tui.engine.types import Request

    port = _free_port()
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = f"{Path(binary).parent}:{env.get('LD_LIBRARY_PATH', '')}"
    cmd = [binary, "-m", str(model), "--host", "127.0.0.1", "--port", str(port), "-np",
           str(parallel), "-c", str(seq_ctx * parallel), "-t", str(threads), "-tb", str(threads),
           "--metrics", "--no-webui"]
    run = PathRun(f"llama-server -np {parallel}", parallel)
    # The server logs every request to stderr: a pipe nobody reads fills after ~100 requests and
    # the server stops in write() with requests in flight (the race then waits for ever).
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    log.seek(0)
                    said = log.read().decode(errors="replace")[-400:] if proc.poll() is not None else ""
                    run.errors.append(f"llama-server did not start: {said.strip()}")
                    return run
                time.sleep(0.3)
        client = OpenAICompatBackend(url, concurrency=parallel)
        served = [Request(r.id, client.render(r.messages), r.messages, r.settings) for r in requests]
        before = _metrics(url)
        consume(run, client.generate(iter(served), threading.Event()))
        after = _metrics(url)
        delta = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
        run.prompt_evaluated = int(delta.get("prompt_tokens_total", 0))
        run.decode_calls = int(delta.get("n_decode_total", 0))
        run.batch_tokens = int(delta.get("prompt_tokens_total", 0) + delta.get("tokens_predicted_total", 0))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    return run


# --------------------------------------------------------------------------- llama.cpp rates


def measure_rates(backend, prompts: list[list[int]], n_parallel: int, repeats: int = 2) -> dict:
    """Prompt tok/s in full batches and generated tok/s with 1 and with n_parallel sequences,
    measured with raw llama_decode calls on the batched backend's own context (best of
    ``repeats``: on a shared machine the best sample is the closest to the hardware's rate)."""
    import llama_cpp as ll

    ctx = backend.batch_context.ctx
    mem = ll.llama_get_memory(ctx)
    n_batch = backend.n_batch
    batch = ll.llama_batch_init(max(n_batch, n_parallel), 0, 1)

    def decode(items) -> float:
        for n, (tok, pos, sid, want) in enumerate(items):
            batch.token[n], batch.pos[n], batch.n_seq_id[n], batch.logits[n] = tok, pos, 1, want
            batch.seq_id[n][0] = sid
        batch.n_tokens = len(items)
        started = time.perf_counter()
        if ll.llama_decode(ctx, batch) != 0:
            raise RuntimeError("llama_decode failed while measuring rates")
        return time.perf_counter() - started

    def prefill(seqs: list[list[int]]) -> float:
        items = [(t, p, s, 0) for s, toks in enumerate(seqs) for p, t in enumerate(toks)]
        return sum(decode(items[i:i + n_batch]) for i in range(0, len(items), n_batch))

    def generate(n: int, steps: int) -> float:
        ll.llama_memory_clear(mem, False)
        seqs = [prompts[i % len(prompts)] for i in range(n)]
        prefill(seqs)
        spent = sum(decode([(seqs[s][-1], len(seqs[s]) + step, s, 1) for s in range(n)])
                    for step in range(steps))
        return n * steps / spent

    def prompt_rate() -> float:
        ll.llama_memory_clear(mem, False)
        sample = prompts[: max(n_parallel, 8)]
        return sum(len(p) for p in sample) / prefill(sample)

    try:
        return {"prompt": max(prompt_rate() for _ in range(repeats)),
                "gen_1": max(generate(1, 24) for _ in range(repeats)),
                "gen_n": max(generate(n_parallel, 12) for _ in range(repeats))}
    finally:
        ll.llama_memory_clear(mem, False)
        ll.llama_batch_free(batch)
