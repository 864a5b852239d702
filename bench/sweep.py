"""The batched engine's settings on this machine, one factor at a time around the defaults:
parallel, n_batch/n_ubatch, threads_batch and the KV layout, on one bundle's generations.

    PYTHONPATH=. python bench/sweep.py                        # trust-core quick
    PYTHONPATH=. python bench/sweep.py --limit 120 --parallel 4,8,16,24 --batch 256,512,1024

Every setting gets a fresh backend (its context is sized by them) and runs the same requests;
the table gives wall time, generated tok/s, decode calls, micro-batches and time inside
llama_decode, with the load average when each run started (other processes distort timings).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import race_paths as race  # noqa: E402
from trust_tui.engine import bundles  # noqa: E402
from trust_tui.engine.backends.llamacpp import sizing  # noqa: E402
from trust_tui.engine.backends.llamacpp.backend import LlamaCppBackend  # noqa: E402
from trust_tui.engine.models import files as models  # noqa: E402
from trust_tui.engine.types import Request  # noqa: E402
from trust_tui.errors import TrustError  # noqa: E402


def numbers(text: str, what: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise SystemExit(f"error: {what}: {text!r} is not a list of numbers like 8,16") from None
    if not values or min(values) < 1:
        raise SystemExit(f"error: {what}: give positive numbers")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", default="trust-core")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--model", default=None)
    parser.add_argument("--limit", type=int, default=None, help="only the first N items")
    parser.add_argument("--stride", type=int, default=None, help="every K-th item")
    parser.add_argument("--parallel", default="4,8,16,24")
    parser.add_argument("--batch", default="256,512,1024", help="n_batch = n_ubatch values")
    parser.add_argument("--threads-batch", default=None, help="default: 1 and the CPU count")
    parser.add_argument("--base", default="16,512", help="parallel,n_batch the other factors vary around")
    parser.add_argument("--json", default=str(Path(tempfile.gettempdir()) / "trust-tui-sweep.json"))
    args = parser.parse_args(argv)
    cpus = os.cpu_count() or 1
    parallels = numbers(args.parallel, "--parallel")
    batches = numbers(args.batch, "--batch")
    threads_batch = numbers(args.threads_batch or f"1,{cpus}", "--threads-batch")
    base_parallel, base_batch = numbers(args.base, "--base")[:2]
    try:
        model = models.identify(args.model)
        workload = bundles.load(args.bundle).select(args.profile)
    except TrustError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.stride and args.stride > 0:
        workload = workload[:: args.stride]
    if args.limit:
        workload = workload[: args.limit]

    configs = ([(p, base_batch, cpus, False) for p in parallels]
               + [(base_parallel, b, cpus, False) for b in batches if b != base_batch]
               + [(base_parallel, base_batch, t, False) for t in threads_batch if t != cpus]
               + [(base_parallel, base_batch, cpus, True)])
    plain = LlamaCppBackend(model, parallel=1, n_threads=cpus)
    requests = [Request(f"{i:04d}", plain.render(item.messages), item.messages, sub.generation)
                for i, (sub, item) in enumerate(workload)]
    tokens = [plain.tokenize(r.prompt) for r in requests]
    plain.close()
    plan = sizing.plan_context([(len(t), r.settings.max_tokens) for t, r in zip(tokens, requests)],
                               train_ctx=model.info.context_length)
    rows = []
    print(f"{len(workload)} items, {cpus} CPUs; load average at start {os.getloadavg()}")
    print(f"{'parallel':>8} {'n_batch':>7} {'t_batch':>7} {'unified':>7} {'wall s':>7} "
          f"{'gen tok/s':>9} {'decodes':>7} {'ubatches':>8} {'in decode s':>11} {'tail s':>6} "
          f"{'load 1m':>7}")
    for parallel, n_batch, t_batch, unified in configs:
        backend = LlamaCppBackend(model, parallel=parallel, n_threads=cpus, n_batch=n_batch,
                                  n_ubatch=n_batch, kv_unified=unified, context_plan=plan)
        if t_batch != cpus:
            import llama_cpp

            llama_cpp.llama_set_n_threads(backend.batch_context.ctx, cpus, t_batch)
        run = race.run_batched(backend, requests, parallel)
        backend.close()
        rows.append({"parallel": parallel, "n_batch": n_batch, "n_ubatch": n_batch,
                     "threads_batch": t_batch, "kv_unified": unified, **run.record()})
        print(f"{parallel:>8} {n_batch:>7} {t_batch:>7} {str(unified):>7} {run.wall:7.1f} "
              f"{run.gen_tok_s:9.1f} {run.decode_calls:>7} {run.ubatches:>8} "
              f"{run.decode_seconds:11.1f} {run.tail_seconds:6.1f} {run.load[0]:7.2f}", flush=True)
    Path(args.json).write_text(json.dumps(rows, indent=1))
    print(f"every run: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
