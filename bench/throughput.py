"""Throughput of one bundle's generations: plain loop vs batched engine vs a local server.

    PYTHONPATH=. python bench/throughput.py [--profile quick] [--parallel N] [--limit N]
                                            [--no-server] [--model FILE.gguf]

In one process, one after the other, on the same items: (1) the plain loop (LlamaCppBackend with
parallel=1: llama-cpp-python's Llama.generate, the sampler and prompt tokens of
create_chat_completion), (2) the batched engine, (3) when llama-cpp-python's `server` extra or
a `llama-server` binary is installed, a local server on 127.0.0.1 with N slots fed N concurrent
requests through OpenAICompatBackend. Before (2) it measures llama.cpp's own throughput with the
batched engine's context: prompt tokens/s in full batches, generated tokens/s for 1 and for N
sequences; from those and the workload's token mix comes the ideal speedup. Each run's answers
are scored and aggregated with the bundle's scorers and trust_tui.engine.score.scorecard. The last
line is `speedup: X.XX` (batched vs plain loop, wall time). See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trust_tui.engine import bundles  # noqa: E402

from trust_tui.engine.models import files as models

from trust_tui.engine.score import scorecard
from trust_tui.engine.backends.llamacpp import batched as batched_mod, sizing  # noqa: E402
from trust_tui.engine.backends.llamacpp.backend import LlamaCppBackend  # noqa: E402
from trust_tui.engine.run.loop import item_json, subtask_snapshot  # noqa: E402
from trust_tui.engine.scorers import base as scorers  # noqa: E402
from trust_tui.engine.types import DoneEvent, ErrorEvent, Request, TokenEvent  # noqa: E402


@dataclass
class RunResult:
    name: str
    wall: float = 0.0
    answers: dict[str, str] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def tok_s(self) -> float:
        return self.completion_tokens / self.wall if self.wall else 0.0


def rss_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def consume(name: str, events, prompt_counts: dict[str, int] | None = None) -> RunResult:
    result = RunResult(name)
    streamed: dict[str, str] = {}
    started = time.perf_counter()
    for event in events:
        if isinstance(event, TokenEvent):
            streamed[event.request_id] = streamed.get(event.request_id, "") + event.text
        elif isinstance(event, DoneEvent):
            response = event.response
            result.answers[event.request_id] = response.text
            result.prompt_tokens += (prompt_counts or {}).get(event.request_id, response.prompt_tokens)
            result.completion_tokens += response.completion_tokens
            if streamed.get(event.request_id, "") != response.text:
                result.notes.append(f"{event.request_id}: streamed text differs from the answer")
        elif isinstance(event, ErrorEvent):
            result.errors.append(f"{event.request_id}: {event.message}")
            if not event.skip:
                break
    result.wall = time.perf_counter() - started
    return result


def common_prefix(a: list[int], b: list[int]) -> int:
    n, limit = 0, min(len(a), len(b))
    while n < limit and a[n] == b[n]:
        n += 1
    return n


# --------------------------------------------------------------------------- llama.cpp rates


def measure_rates(backend: LlamaCppBackend, prompts: list[list[int]], n_parallel: int,
                  repeats: int = 3) -> dict:
    """Prompt tok/s in full batches and generated tok/s with 1 and with n_parallel sequences,
    measured with raw llama_decode calls on the batched backend's own context."""
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
        status = ll.llama_decode(ctx, batch)
        if status != 0:
            raise RuntimeError(f"llama_decode returned {status}")
        return time.perf_counter() - started

    def prefill(seqs: list[list[int]]) -> float:
        items = [(t, p, s, 0) for s, toks in enumerate(seqs) for p, t in enumerate(toks)]
        return sum(decode(items[i:i + n_batch]) for i in range(0, len(items), n_batch))

    def generate(n: int, steps: int) -> float:
        ll.llama_memory_clear(mem, False)
        seqs = [prompts[i % len(prompts)] for i in range(n)]
        prefill(seqs)
        spent = 0.0
        for step in range(steps):
            spent += decode([(seqs[s][-1], len(seqs[s]) + step, s, 1) for s in range(n)])
        return n * steps / spent

    def batch_prompt_rate() -> float:
        ll.llama_memory_clear(mem, False)
        sample = prompts[: max(n_parallel, 8)]
        return sum(len(p) for p in sample) / prefill(sample)

    def single_prompt_rate() -> float:
        single, spent = prompts[:4], 0.0
        for prompt in single:
            ll.llama_memory_clear(mem, False)
            spent += prefill([prompt])
        return sum(len(p) for p in single) / spent

    # Best of `repeats`: on a shared machine the best sample is the closest to what the
    # hardware does when nothing else runs.
    try:
        rates = {
            "prompt": max(batch_prompt_rate() for _ in range(repeats)),
            "prompt_1": max(single_prompt_rate() for _ in range(repeats)),
            "gen_1": max(generate(1, 24) for _ in range(repeats)),
            "gen_n": max(generate(n_parallel, 12) for _ in range(repeats)),
        }
    finally:
        ll.llama_memory_clear(mem, False)
        ll.llama_batch_free(batch)
    return rates


# --------------------------------------------------------------------------- local servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model: Path, n_parallel: int, threads: int, seq_ctx: int):
    """(process, url, description) of a local OpenAI-compatible server, or None."""
    port = free_port()
    binary = shutil.which("llama-server")
    if binary:
        cmd = [binary, "-m", str(model), "--host", "127.0.0.1", "--port", str(port),
               "-np", str(n_parallel), "-c", str(seq_ctx * n_parallel), "-t", str(threads)]
        what = f"llama-server -np {n_parallel}"
    else:
        import importlib.util

        if not all(importlib.util.find_spec(m) for m in ("fastapi", "uvicorn", "sse_starlette")):
            return None
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host",
               "127.0.0.1", "--port", str(port), "--n_ctx", str(seq_ctx), "--n_threads",
               str(threads), "--n_threads_batch", str(threads), "--verbose", "False"]
        what = "llama_cpp.server (one slot; defaults: interrupt_requests on)"
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/v1/models", timeout=2).read()
            return proc, url, what
        except OSError:
            if proc.poll() is not None:
                return None
            time.sleep(0.5)
    proc.kill()
    return None


# --------------------------------------------------------------------------- scoring


def scorecard_values(workload, ids: list[str], answers: dict[str, str]) -> dict[str, tuple]:
    """sub-task id -> (value, ci) through the bundle's scorers and scorecard.aggregate."""
    rows_by_sub: dict[str, list[dict]] = {}
    specs: dict[str, dict] = {}
    for (sub, item), rid in zip(workload, ids):
        specs.setdefault(sub.id, subtask_snapshot(sub, {}))
        text = answers.get(rid)
        row = {"subtask": sub.id, "item": json.dumps(item_json(item)), "answer": text,
               "status": "done" if text is not None else "skipped", "scored": text is not None,
               "score_value": None, "score_label": None}
        if text is not None:
            score = scorers.get(sub.scorer)(item, text, sub.scorer_options)
            row["score_value"], row["score_label"] = score.value, score.label
        rows_by_sub.setdefault(sub.id, []).append(row)
    out = {}
    for sub_id, spec in specs.items():
        result = scorecard.aggregate(spec, rows_by_sub[sub_id])
        out[sub_id] = (result.value, result.ci)
    return out


def compare_scorecards(reference: dict, other: dict) -> str:
    same = within = 0
    worst = 0.0
    for sub_id, (value, ci) in reference.items():
        other_value = other.get(sub_id, (None, None))[0]
        if value == other_value or (value is not None and other_value is not None
                                    and abs(value - other_value) < 1e-12):
            same += 1
            within += 1
            continue
        if value is None or other_value is None:
            continue
        worst = max(worst, abs(value - other_value))
        if ci is not None and ci[0] - 1e-9 <= other_value <= ci[1] + 1e-9:
            within += 1
    n = len(reference)
    verdict = "agree" if within == n else "DISAGREE"
    return (f"{verdict}: {same}/{n} sub-task metrics identical, {within}/{n} inside the plain "
            f"loop's 95% interval, max |difference| {worst:.3f}")


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", default="trust-core")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--model", default=None, help="GGUF file (default: the embedded SmolLM2)")
    parser.add_argument("--parallel", type=int, default=None, help="default: auto_parallel(...)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N items")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-server", action="store_true")
    args = parser.parse_args(argv)

    model = models.identify(args.model)
    workload = bundles.load(args.bundle).select(args.profile)
    if args.limit:
        workload = workload[: args.limit]
    print(f"model: {model.path.name} ({model.info.size / 2**20:.1f} MiB); bundle {args.bundle} "
          f"{args.profile}: {len(workload)} items; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} (other processes on the machine distort every timing)")

    # (1) the plain loop
    plain = LlamaCppBackend(model, parallel=1, n_threads=args.threads)
    ids = [f"{i:04d}" for i in range(len(workload))]
    requests = [Request(rid, plain.render(item.messages), item.messages, sub.generation)
                for rid, (sub, item) in zip(ids, workload)]
    tokens = [plain.tokenize(r.prompt) for r in requests]
    mean_prompt = sum(map(len, tokens)) / len(tokens)
    mean_max = sum(r.settings.max_tokens for r in requests) / len(requests)
    plan = sizing.plan_context([(len(t), r.settings.max_tokens) for t, r in zip(tokens, requests)],
                                    train_ctx=model.info.context_length)
    parallel = args.parallel or sizing.auto_parallel(len(requests), plan.seq_ctx)
    rss_base = rss_mib()
    runs: list[RunResult] = [consume("plain loop", plain.generate(iter(requests), threading.Event()))]
    plain.close()
    plain_eval = sum(len(t) - common_prefix(p, t) for p, t in zip([[]] + tokens[:-1], tokens))

    # (2) the batched engine, and llama.cpp's own batch throughput on its context
    backend = LlamaCppBackend(model, parallel=parallel, n_threads=args.threads, context_plan=plan)
    kv_per_token = sizing.kv_bytes_per_token(backend.llm.metadata) or 0
    rss_loaded = rss_mib()
    rates = measure_rates(backend, tokens, parallel)
    engine = batched_mod.BatchedEngine(backend, n_parallel=parallel)
    runs.append(consume(f"batched engine (parallel {parallel})",
                        engine.run((backend.prepare(r) for r in requests), threading.Event())))
    stats = engine.stats
    rss_after = rss_mib()
    settings = dict(backend.info.settings)
    backend.close()

    # (3) a local server with `parallel` slots and as many concurrent requests
    server_line = "server: skipped (--no-server)"
    if not args.no_server:
        started = time.perf_counter()
        server = start_server(model.path, parallel, plain.n_threads, plain.seq_ctx)
        if server is None:
            server_line = "server: none installed (pip install 'llama-cpp-python[server]==0.3.36')"
        else:
            proc, url, what = server
            from trust_tui.engine.backends.openai_compat import OpenAICompatBackend

            try:
                client = OpenAICompatBackend(url, concurrency=parallel)
                server_requests = [Request(r.id, client.render(r.messages), r.messages, r.settings)
                                   for r in requests]
                result = consume(f"local server: {what}",
                                 client.generate(iter(server_requests), threading.Event()),
                                 prompt_counts={r.id: len(t) for r, t in zip(requests, tokens)})
                if client._one_at_a_time:
                    result.notes.append("the server cut concurrent streams; the client fell back to "
                                        "one request at a time (cut answers were retried, none kept)")
                runs.append(result)
                server_line = f"server: {what}, started in {time.perf_counter() - started - result.wall:.1f}s"
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()

    # report
    plain_run, batched_run = runs[0], runs[1]
    P = sum(map(len, tokens))
    G = plain_run.completion_tokens
    batched_eval = int(stats["prompt_tokens"])
    t1 = P / rates["prompt_1"] + G / rates["gen_1"]
    tn = P / rates["prompt"] + G / rates["gen_n"]
    t1_eval = plain_eval / rates["prompt_1"] + G / rates["gen_1"]
    tn_eval = batched_eval / rates["prompt"] + batched_run.completion_tokens / rates["gen_n"]
    ideal, ideal_eval = t1 / tn, t1_eval / tn_eval
    speedup = plain_run.wall / batched_run.wall
    print(f"\nworkload mix: {P} prompt tokens (mean {mean_prompt:.0f}) + {G} generated "
          f"(mean {G / len(requests):.1f}, mean max_tokens {mean_max:.1f}); prompt:generated = "
          f"{P / max(G, 1):.1f}:1")
    print(f"prompt tokens evaluated: plain loop {plain_eval} (llama-cpp-python reuses the "
          f"previous prompt's prefix), batched {batched_eval} ({int(stats['prompt_tokens_shared'])} "
          f"shared from pinned heads)")
    print(f"llama.cpp rates on this machine: prompt {rates['prompt']:.0f} tok/s in batches of "
          f"{settings['n_batch']} ({rates['prompt_1']:.0f} one prompt at a time); generation "
          f"{rates['gen_1']:.0f} tok/s for 1 sequence, {rates['gen_n']:.0f} tok/s for {parallel}")
    print(f"batched settings: parallel {parallel}, n_batch {settings['n_batch']}, n_ubatch "
          f"{settings['n_ubatch']}, kv_unified {settings['kv_unified']}, prefix_reuse "
          f"{settings['prefix_reuse']}, KV cells {settings['kv_cells']} x {kv_per_token} B = "
          f"{settings['kv_cells'] * kv_per_token / 2**20:.1f} MiB; {int(stats['steps'])} decode "
          f"steps, mean batch {stats['batch_tokens'] / max(stats['steps'], 1):.1f} tokens, "
          f"{stats['decode_seconds']:.1f}s in llama_decode")
    print(f"RSS: {rss_base:.0f} MiB with the plain backend, {rss_loaded:.0f} MiB with the batched "
          f"backend loaded, {rss_after:.0f} MiB after its run")
    print(f"{server_line}; load average now {os.getloadavg()[0]:.1f}\n")

    reference = scorecard_values(workload, ids, plain_run.answers)
    print(f"{'run':<62} {'gen tok/s':>9} {'wall s':>8} {'identical':>10}")
    for run in runs:
        same = sum(run.answers.get(k) == v for k, v in plain_run.answers.items())
        print(f"{run.name:<62} {run.tok_s:9.1f} {run.wall:8.1f} "
              f"{same:>4}/{len(plain_run.answers):<5}")
    for run in runs[1:]:
        print(f"  {run.name}: scorecard vs plain loop: "
              f"{compare_scorecards(reference, scorecard_values(workload, ids, run.answers))}")
        for problem in run.errors[:5] + run.notes[:5]:
            print(f"    {problem}")
    for problem in plain_run.errors[:5]:
        print(f"  plain loop: {problem}")
    server_runs = [r for r in runs[2:]]
    print(f"\nideal speedup for this mix: {ideal:.2f}x (all prompt tokens); {ideal_eval:.2f}x "
          f"(the prompt tokens each path actually evaluated)")
    print(f"batched vs plain loop: {speedup:.2f}x = {speedup / ideal:.0%} of the mix's ideal, "
          f"{speedup / ideal_eval:.0%} of the evaluated-token ideal")
    for run in server_runs:
        print(f"batched vs {run.name}: {run.wall / batched_run.wall:.2f}x")
    print(f"speedup: {speedup:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
