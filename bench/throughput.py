"""A fair race on one bundle's generations: the plain loop, the batched engine and llama.cpp's
llama-server -np N, interleaved, several repetitions in one process run.

    PYTHONPATH=. python bench/throughput.py                  # trust-core quick, 3 repetitions
    PYTHONPATH=. python bench/throughput.py --quick          # every 3rd item, 1 repetition
    PYTHONPATH=. python bench/throughput.py --reps 5 --server-np 8,16 --json out.json

Each repetition measures llama.cpp's raw rates on the batched context, then runs every path once
on the same requests, in an order rotated from one repetition to the next so that no path always
runs first or last (a fresh llama-server per run: its prompt cache must not carry over). The
table gives medians with [min-max]; the JSON file holds every run. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import race_paths as race  # noqa: E402
from trust_tui.engine import bundles  # noqa: E402
from trust_tui.engine.backends.llamacpp import sizing  # noqa: E402
from trust_tui.engine.backends.llamacpp.backend import LlamaCppBackend  # noqa: E402
from trust_tui.engine.models import files as models  # noqa: E402
from trust_tui.engine.run.loop import item_json, subtask_snapshot  # noqa: E402
from trust_tui.engine.score import scorecard  # noqa: E402
from trust_tui.engine.scorers import base as scorers  # noqa: E402
from trust_tui.engine.types import Request  # noqa: E402
from trust_tui.errors import TrustError  # noqa: E402

QUICK_STRIDE = 3  # --quick: every third item, so that every sub-task is in it
SCHEDULES = {  # --schedule: what each engine change gains, measured one at a time
    "new": {},
    "fifo": {"longest_first": False},
    "decode-first": {"layout": "decode-first"},
    "old": {"longest_first": False, "layout": "decode-first"},
}


# --------------------------------------------------------------------------- scoring


def scorecard_values(workload, ids: list[str], answers: dict[str, str]) -> dict[str, tuple]:
    """sub-task id -> (value, ci) through the bundle's scorers and scorecard.aggregate."""
    rows_by_sub: dict[str, list[dict]] = {}
    specs: dict[str, dict] = {}
    for (sub, item), rid in zip(workload, ids):
        specs.setdefault(sub.id, subtask_snapshot(sub, {}))
        text = answers.get(rid)
        row = {"uid": rid, "subtask": sub.id, "item": json.dumps(item_json(item)), "answer": text,
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


def compare_scorecards(reference: dict, other: dict) -> tuple[bool, str]:
    """(every sub-task metric inside the plain loop's 95% interval, a one-line account)."""
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
    return within == n, (f"{'agree' if within == n else 'DISAGREE'}: {same}/{n} sub-task metrics "
                         f"identical, {within}/{n} inside the plain loop's 95% interval, max "
                         f"|difference| {worst:.3f}")


# --------------------------------------------------------------------------- report


def spread(values: list[float], fmt: str = "{:.1f}") -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    med = fmt.format(statistics.median(values))
    if len(values) == 1:
        return med
    return f"{med} [{fmt.format(min(values))}-{fmt.format(max(values))}]"


def table(runs_by_path: dict[str, list[race.PathRun]], reference: dict[str, str]) -> list[str]:
    head = (f"{'path':<24} {'wall s':>20} {'gen tok/s':>20} {'prompt eval':>11} "
            f"{'decodes':>7} {'mean batch':>10} {'ubatches':>8} {'in decode s':>11} "
            f"{'tail s':>6} {'identical':>9} {'load 1-min':>10}")
    lines = [head, "-" * len(head)]
    for path, runs in runs_by_path.items():
        med = lambda f: statistics.median(v for v in map(f, runs)) if all(  # noqa: E731
            f(r) is not None for r in runs) else None
        same = [sum(r.answers.get(k) == v for k, v in reference.items()) for r in runs]
        ubatches = med(lambda r: r.ubatches)
        in_decode = med(lambda r: r.decode_seconds)
        mean_batch = med(lambda r: r.mean_batch)
        lines.append(
            f"{path:<24} {spread([r.wall for r in runs]):>20} "
            f"{spread([r.gen_tok_s for r in runs]):>20} {med(lambda r: r.prompt_evaluated) or 0:>11.0f} "
            f"{med(lambda r: r.decode_calls) or 0:>7.0f} "
            f"{'n/a' if mean_batch is None else f'{mean_batch:.1f}':>10} "
            f"{'n/a' if ubatches is None else f'{ubatches:.0f}':>8} "
            f"{'n/a' if in_decode is None else f'{in_decode:.1f}':>11} "
            f"{statistics.median(r.tail_seconds for r in runs):>6.1f} "
            f"{min(same):>4}/{len(reference):<4} "
            f"{spread([r.load[0] for r in runs], '{:.1f}'):>10}")
    return lines


# --------------------------------------------------------------------------- main


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", default="trust-core")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--model", default=None, help="GGUF file (default: the embedded SmolLM2)")
    parser.add_argument("--parallel", type=int, default=None,
                        help="sequences of the batched engine (default: sizing.auto_parallel)")
    parser.add_argument("--server-np", default="8,16", help="llama-server slot counts, e.g. 8,16")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 3)")
    parser.add_argument("--quick", action="store_true",
                        help=f"every {QUICK_STRIDE}rd item, one repetition")
    parser.add_argument("--stride", type=int, default=None,
                        help="every K-th item (all sub-tasks, fewer items)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N items")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--threads-batch", type=int, default=None)
    parser.add_argument("--n-batch", type=int, default=None)
    parser.add_argument("--n-ubatch", type=int, default=None)
    parser.add_argument("--kv-unified", choices=("on", "off"), default=None)
    parser.add_argument("--schedule", choices=sorted(SCHEDULES), default="new",
                        help="engine scheduling to measure (old = before issue 23)")
    parser.add_argument("--no-plain", action="store_true")
    parser.add_argument("--no-server", action="store_true")
    parser.add_argument("--json", default=str(Path(tempfile.gettempdir()) / "trust-tui-throughput.json"))
    args = parser.parse_args(argv)
    try:
        args.server_np = sorted({int(n) for n in args.server_np.split(",") if n.strip()})
    except ValueError:
        parser.error(f"--server-np: {args.server_np!r} is not a list of numbers like 8,16")
    for name in ("parallel", "reps", "limit", "stride", "threads", "threads_batch", "n_batch", "n_ubatch"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.quick:
        args.stride = args.stride or QUICK_STRIDE
    args.reps = args.reps or (1 if args.quick else 3)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return race_all(args)
    except TrustError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def race_all(args) -> int:
    model = models.identify(args.model)
    workload = bundles.load(args.bundle).select(args.profile)
    if args.stride:
        workload = workload[:: args.stride]
    if args.limit:
        workload = workload[: args.limit]
    threads = args.threads or os.cpu_count() or 1
    plain = LlamaCppBackend(model, parallel=1, n_threads=threads)
    ids = [f"{i:04d}" for i in range(len(workload))]
    requests = [Request(rid, plain.render(item.messages), item.messages, sub.generation)
                for rid, (sub, item) in zip(ids, workload)]
    tokens = [plain.tokenize(r.prompt) for r in requests]
    plan = sizing.plan_context([(len(t), r.settings.max_tokens) for t, r in zip(tokens, requests)],
                               train_ctx=model.info.context_length)
    parallel = args.parallel or sizing.auto_parallel(len(requests), plan.seq_ctx)
    kv_unified = None if args.kv_unified is None else args.kv_unified == "on"
    batched = LlamaCppBackend(model, parallel=parallel, n_threads=threads, context_plan=plan,
                              n_batch=args.n_batch, n_ubatch=args.n_ubatch, kv_unified=kv_unified)
    if args.threads_batch:
        import llama_cpp

        llama_cpp.llama_set_n_threads(batched.batch_context.ctx, threads, args.threads_batch)
    settings = batched.info.settings
    server = None if args.no_server else race.find_llama_server()
    paths = ([] if args.no_plain else ["plain"]) + ["batched"] + (
        [f"server {n}" for n in args.server_np] if server else [])
    header = (f"model {model.path.name}; {args.bundle} {args.profile}: {len(requests)} items, "
              f"{sum(map(len, tokens))} prompt tokens, mean max_tokens "
              f"{statistics.mean(r.settings.max_tokens for r in requests):.1f}; {os.cpu_count()} CPUs; "
              f"batched: parallel {parallel}, n_batch {settings['n_batch']}, n_ubatch "
              f"{settings['n_ubatch']}, kv_unified {settings['kv_unified']}, threads {threads}/"
              f"{args.threads_batch or threads}, seq_ctx {plan.seq_ctx}, schedule {args.schedule}; "
              f"llama-server: {server or 'not found (--no-server or build it with ../shared/tools/build-llama-server.sh)'}")
    print(header)
    print(f"load average at start {os.getloadavg()} (other processes distort every timing)\n", flush=True)

    runs_by_path: dict[str, list[race.PathRun]] = {}
    rates_by_rep: list[dict] = []
    for rep in range(args.reps):
        rates = race.measure_rates(batched, tokens, parallel)
        rates_by_rep.append(rates)
        order = paths[rep % len(paths):] + paths[:rep % len(paths)]
        for path in order:
            if path == "plain":
                run = race.run_plain(plain, requests, tokens)
            elif path == "batched":
                run = race.run_batched(batched, requests, parallel, **SCHEDULES[args.schedule])
            else:
                run = race.run_server(server, model.path, requests, tokens, int(path.split()[1]),
                                      threads, plan.seq_ctx)
            runs_by_path.setdefault(run.path, []).append(run)
            print(f"rep {rep + 1}/{args.reps} {run.path:<24} {run.wall:6.1f} s  "
                  f"{run.gen_tok_s:6.1f} gen tok/s  load {run.load[0]:.2f} {run.load[1]:.2f} "
                  f"{run.load[2]:.2f}" + (f"  {run.errors[0]}" if run.errors else ""), flush=True)
    plain.close()

    reference_run = runs_by_path.get("plain loop", [None])[0]
    first_batched = runs_by_path[f"batched engine -p {parallel}"]
    reference = (reference_run or first_batched[0]).answers
    print("\n" + "\n".join(table(runs_by_path, reference)))
    print(f"(identical: fewest answers byte-identical to the {'plain loop' if reference_run else 'first batched run'} "
          f"over the repetitions; tail: time with fewer than half the sequences in flight)")

    # the evaluated-token ideal of each batched run, from that repetition's rates
    shares, ideals = [], []
    for run, rates in zip(first_batched, rates_by_rep):
        ideal = run.prompt_evaluated / rates["prompt"] + run.completion_tokens / rates["gen_n"]
        ideals.append(ideal)
        shares.append(ideal / run.wall)
    print(f"\nllama.cpp rates (per repetition): prompt {spread([r['prompt'] for r in rates_by_rep], '{:.0f}')} "
          f"tok/s in full batches; generation {spread([r['gen_1'] for r in rates_by_rep], '{:.0f}')} "
          f"tok/s for 1 sequence, {spread([r['gen_n'] for r in rates_by_rep], '{:.0f}')} for {parallel}")
    print(f"evaluated-token ideal of the batched engine: {spread(ideals)} s; the engine reaches "
          f"{spread([100 * s for s in shares], '{:.0f}')} % of it")

    verdicts: dict[str, object] = {"ideal_share": statistics.median(shares)}
    scorecards = {}
    if reference_run:
        ref_card = scorecard_values(workload, ids, reference)
        for path, runs in runs_by_path.items():
            if path == "plain loop":
                steady = all(r.answers == reference for r in runs)
                print(f"plain loop: {'the same answers' if steady else 'DIFFERENT answers'} in every repetition")
                continue
            ok, line = compare_scorecards(ref_card, scorecard_values(workload, ids, runs[0].answers))
            scorecards[path] = ok
            print(f"{path}: scorecard vs plain loop: {line}")
    batched_wall = statistics.median(r.wall for r in first_batched)
    servers = {p: statistics.median(r.wall for r in runs) for p, runs in runs_by_path.items()
               if p.startswith("llama-server")}
    if reference_run:
        print(f"batched vs plain loop: {statistics.median(r.wall for r in runs_by_path['plain loop']) / batched_wall:.2f}x")
    if servers:
        best = min(servers, key=servers.get)
        for path, wall in servers.items():
            print(f"batched vs {path}: {wall / batched_wall:.2f}x (median wall)")
        verdicts.update(best_server=best, faster_than_best_server=batched_wall < servers[best])
    verdicts["scorecards_agree"] = all(scorecards.values()) if scorecards else None
    print(f"done-when: faster than the best llama-server: {verdicts.get('faster_than_best_server')}; "
          f">= 95% of the ideal: {verdicts['ideal_share'] >= 0.95}; scorecards agree: "
          f"{verdicts['scorecards_agree']}")

    record = {"command": sys.argv, "header": header, "when": time.strftime("%Y-%m-%d %H:%M:%S"),
              "settings": {"parallel": parallel, "threads": threads,
                           "threads_batch": args.threads_batch or threads,
                           "schedule": args.schedule, **{k: settings[k] for k in (
                               "n_batch", "n_ubatch", "kv_unified", "kv_cells")}},
              "rates": rates_by_rep, "ideal_s": ideals, "verdicts": verdicts,
              "runs": {p: [r.record() for r in runs] for p, runs in runs_by_path.items()}}
    Path(args.json).write_text(json.dumps(record, indent=1))
    print(f"every run: {args.json}")
    batched.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
