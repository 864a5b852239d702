"""What running llama.cpp in a child process costs: the in-process backend against the same
backend inside `WorkerBackend`, on the same items, alternating, in one process.

    flock /tmp/trust-model.lock python bench/worker_overhead.py
    python bench/worker_overhead.py --limit 40 --rounds 3 --model other.gguf

Both are built with the options `trust-tui run` would choose for the workload (context per
sequence, sequences in parallel); the load is timed separately from generation. Reported: load
seconds, generation wall seconds, tokens generated and tok/s for each, per round, and the
median difference.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def load_options(model_file, workload, generation) -> dict:
    """The keyword arguments `api.open_backend` passes to `llamacpp.load` for this workload."""
    from trust_tui.engine.run import api
    from trust_tui.engine.backends.llamacpp import backend as llamacpp

    captured: dict = {}
    real = llamacpp.load
    llamacpp.load = lambda model, **kwargs: captured.update(kwargs)
    try:
        api.open_backend(model_file, api.BackendOptions(), workload, generation)
    finally:
        llamacpp.load = real
    return captured


def run_once(backend, requests) -> tuple[float, int]:
    from trust_tui.engine.types import DoneEvent

    started = time.perf_counter()
    tokens = 0
    for event in backend.generate(iter(requests), threading.Event()):
        if isinstance(event, DoneEvent):
            tokens += event.response.completion_tokens
    return time.perf_counter() - started, tokens


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--bundle", default="trust-core")
    parser.add_argument("--limit", type=int, default=60, help="items (default 60 of the quick profile)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)

    from trust_tui.engine import bundles

    from trust_tui.engine.models import files as models
    from trust_tui.engine.backends.llamacpp import backend as llamacpp
    from trust_tui.engine.backends.worker import WorkerBackend
    from trust_tui.engine.run.store import Store, response_key
    from trust_tui.engine.types import Request

    store = Store()
    model_file = models.identify(args.model, store)
    store.close()
    bundle = bundles.load(args.bundle)
    workload = bundle.select("quick")[: args.limit]
    options = load_options(model_file, workload, {})
    print(f"{model_file.path.name} · {len(workload)} items · parallel {options.get('parallel')} · "
          f"{options['context_plan'].seq_ctx} tokens per sequence")

    rows = {"in-process": [], "worker": []}
    for round_index in range(args.rounds):
        for kind in ("in-process", "worker") if round_index % 2 == 0 else ("worker", "in-process"):
            started = time.perf_counter()
            if kind == "worker":
                backend = WorkerBackend("trust_tui.engine.backends.worker:llamacpp_factory", model_file, **options)
            else:
                backend = llamacpp.load(model_file, **options)
            load_s = time.perf_counter() - started
            try:
                requests = []
                for sub, item in workload:
                    prompt = backend.render(item.messages)
                    settings = sub.generation
                    requests.append(Request(response_key(model_file.sha256, prompt, settings) + f"-{len(requests)}",
                                            prompt, item.messages, settings))
                gen_s, tokens = run_once(backend, requests)
            finally:
                backend.close()
            rows[kind].append((load_s, gen_s, tokens))
            print(f"round {round_index + 1} {kind:10s} load {load_s:5.2f} s · generate {gen_s:6.2f} s · "
                  f"{tokens} tokens · {tokens / gen_s:6.1f} tok/s")
    load_delta = statistics.median(w[0] for w in rows["worker"]) - statistics.median(i[0] for i in rows["in-process"])
    gen_in = statistics.median(i[1] for i in rows["in-process"])
    gen_worker = statistics.median(w[1] for w in rows["worker"])
    print(f"median: load +{load_delta:.2f} s in the worker · generation {gen_worker:.2f} s vs {gen_in:.2f} s "
          f"({100 * (gen_worker / gen_in - 1):+.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
