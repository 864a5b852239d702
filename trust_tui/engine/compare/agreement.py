"""Agreement with the reference, measured on the bundle's own prompts.

Two kinds of measure:

- **Identical answers** (pure, from the store): the share of items whose stored answer from the
  variant is exactly the reference's answer.
- **Next-token agreement** (runs both models): the reference's answer tokens are teacher-forced
  through both models after the reference's rendered prompt; at each of the first K answer
  positions the two next-token distributions are compared: same top token, and
  KL(reference ‖ variant). This is what llama.cpp's perplexity tool reports with
  ``--kl-divergence`` on Wikipedia text, here on trust prompts. A capped, stratified sample of
  items keeps it fast; the result says how many items and positions it used.

Speed is measured here too (``measure_speed``), the same way for every variant, because the
runs' own timings depend on how many sequences were decoded together and on the cache.

numpy comes with llama-cpp-python; it is imported only by ``measure``.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from trust_tui.errors import Cancelled, ModelError, TrustError

DEFAULT_ITEMS = 32  # items sampled for next-token agreement (0: not measured)
DEFAULT_TOKENS = 32  # answer positions per item (K)
_RESAMPLES = 1000


@dataclass(frozen=True)
class Sample:
    uid: str
    subtask: str
    prompt: str  # the prompt exactly as the reference run rendered it
    answer: str  # the reference's answer
    same_prompt: bool  # the variant's run rendered the same prompt


def _done(row: Mapping[str, Any]) -> bool:
    return row.get("status") == "done" and row.get("answer") is not None


def identical_answers(ref_rows: Iterable[Mapping[str, Any]],
                      var_rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Share of items answered by both whose answers are identical (surrounding space ignored),
    overall and by dimension."""
    ref = {r["uid"]: r for r in ref_rows if _done(r)}
    total = same = 0
    by_dim: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in var_rows:
        other = ref.get(row["uid"])
        if other is None or not _done(row):
            continue
        equal = int(row["answer"].strip() == other["answer"].strip())
        total += 1
        same += equal
        counts = by_dim[row["uid"].split("/", 1)[0]]
        counts[0] += 1
        counts[1] += equal
    return {
        "n": total, "identical": same, "share": same / total if total else None,
        "by_dimension": {dim: {"n": n, "identical": k, "share": k / n}
                         for dim, (n, k) in by_dim.items()},
    }


def choose_sample(ref_rows: Iterable[Mapping[str, Any]], var_rows: Iterable[Mapping[str, Any]],
                  max_items: int, seed: int = 0) -> list[Sample]:
    """Up to ``max_items`` items answered by both runs, spread over the sub-tasks (round robin
    over sub-tasks in bundle order, a seeded shuffle within each), one per distinct prompt."""
    var = {r["uid"]: r for r in var_rows if _done(r)}
    by_subtask: dict[str, list[Sample]] = {}
    seen: set[str] = set()
    for row in ref_rows:
        other = var.get(row["uid"])
        prompt = row.get("rendered_prompt")
        if other is None or not _done(row) or not prompt or prompt in seen:
            continue
        seen.add(prompt)
        by_subtask.setdefault(row["subtask"], []).append(Sample(
            row["uid"], row["subtask"], prompt, row["answer"],
            same_prompt=other.get("rendered_prompt") == prompt))
    rng = random.Random(seed)
    queues = []
    for samples in by_subtask.values():
        samples = list(samples)
        rng.shuffle(samples)
        queues.append(samples)
    chosen: list[Sample] = []
    while len(chosen) < max_items and any(queues):
        for queue in queues:
            if queue and len(chosen) < max_items:
                chosen.append(queue.pop())
    return chosen


class _Model:
    """One model loaded with logits for every position, evaluating with prefix reuse."""

    def __init__(self, path: Path, n_ctx: int, n_threads: int | None, n_gpu_layers: int | None,
                 vocab_only: bool = False):
        from trust_tui.engine.backends.llamacpp import loader

        self.path = path
        if vocab_only:
            self.llm = loader.load_vocab(path)
        else:
            self.llm = loader.load_model(path, n_ctx=n_ctx, n_threads=n_threads,
                                         n_gpu_layers=n_gpu_layers, logits_all=True)
        self.eval_tokens = 0
        self.eval_seconds = 0.0

    @property
    def n_vocab(self) -> int:
        return self.llm.n_vocab()

    def tokenize_prompt(self, prompt: str, fallback_template: bool) -> list[int]:
        from trust_tui.engine.backends.llamacpp.prompts import tokenize_prompt

        return tokenize_prompt(self.llm, prompt, templated=not fallback_template)

    def tokenize_answer(self, answer: str) -> list[int]:
        return self.llm.tokenize(answer.encode("utf-8"), add_bos=False, special=False)

    def logits(self, tokens: Sequence[int], first: int, count: int):
        """Logits rows ``first .. first+count-1`` after evaluating ``tokens``."""
        llm = self.llm
        common = 0
        limit = min(llm.n_tokens, len(tokens) - 1)
        ids = llm.input_ids
        while common < limit and ids[common] == tokens[common]:
            common += 1
        llm.n_tokens = common  # keep the shared prefix (its KV cells and logits rows are valid)
        started = time.perf_counter()
        llm.eval(list(tokens[common:]))
        self.eval_seconds += time.perf_counter() - started
        self.eval_tokens += len(tokens) - common
        return llm.scores[first:first + count, :].astype("float64")

    def close(self) -> None:
        from trust_tui.engine.backends.llamacpp import loader

        loader.close(self.llm)


def position_stats(ref_logits, var_logits):
    """Per position (row): KL(reference ‖ variant) of the softmax distributions, in nats, and
    whether the two top tokens agree. Inputs are (positions × vocabulary) logits."""
    import numpy as np

    def log_softmax(rows):
        rows = np.asarray(rows, dtype="float64")
        shifted = rows - rows.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    ref_lp, var_lp = log_softmax(ref_logits), log_softmax(var_logits)
    kl = (np.exp(ref_lp) * (ref_lp - var_lp)).sum(axis=1)
    kl = np.maximum(kl, 0.0)  # rounding can make a near-zero KL slightly negative
    return kl, ref_lp.argmax(axis=1) == var_lp.argmax(axis=1)


def measure(reference: str | Path, variant: str | Path, samples: Sequence[Sample],
            fallback_template: bool = False, k: int = DEFAULT_TOKENS, n_threads: int | None = None,
            n_gpu_layers: int | None = None, max_ctx: int = 4096,
            progress: Callable[[int, int], None] | None = None,
            cancel: threading.Event | None = None) -> dict[str, Any]:
    """Same-top-token rate and KL(reference ‖ variant) over the first ``k`` answer tokens of
    ``samples`` (see the module docstring). Returns a JSON-ready dict."""
    import numpy as np

    reference, variant = Path(reference), Path(variant)
    for path in (reference, variant):
        if not path.exists():
            raise ModelError(f"{path}: no such file (token-level agreement needs both model files)")
    started = time.perf_counter()
    result: dict[str, Any] = {"k": k, "items": 0, "positions": 0, "sampled": len(samples)}
    if not samples:
        result["note"] = "no items answered by both runs"
        return result
    vocab = _Model(reference, 64, n_threads, 0, vocab_only=True)
    try:
        plans = []
        for sample in samples:
            prompt = vocab.tokenize_prompt(sample.prompt, fallback_template)
            answer = vocab.tokenize_answer(sample.answer)[:k]
            positions = max(1, len(answer))  # an empty answer: the first token (the stop) only
            plans.append((sample, prompt + answer[:positions - 1], len(prompt) - 1, positions))
        ref_vocab = vocab.n_vocab
    finally:
        vocab.close()
    longest = max(len(tokens) for _, tokens, _, _ in plans)
    n_ctx = min(max_ctx, max(64, -(-longest // 64) * 64))
    skipped = [p for p in plans if len(p[1]) > n_ctx]
    plans = sorted((p for p in plans if len(p[1]) <= n_ctx), key=lambda p: p[1])  # shared prefixes
    ref_model = _Model(reference, n_ctx, n_threads, n_gpu_layers)
    var_model = None
    try:
        var_model = _Model(variant, n_ctx, n_threads, n_gpu_layers)
        if var_model.n_vocab != ref_vocab or (
                plans and var_model.tokenize_prompt(plans[0][0].prompt, fallback_template)
                != ref_model.tokenize_prompt(plans[0][0].prompt, fallback_template)):
            result["note"] = ("the models tokenize differently; next-token agreement is defined "
                              "only between variants of one model")
            return result
        per_item = []  # (positions, same top, KL sum)
        klds: list[float] = []
        for index, (sample, tokens, first, positions) in enumerate(plans):
            if cancel is not None and cancel.is_set():
                raise Cancelled("cancelled while measuring next-token agreement")
            kl, top = position_stats(ref_model.logits(tokens, first, positions),
                                     var_model.logits(tokens, first, positions))
            same = int(top.sum())
            per_item.append((positions, same, float(kl.sum())))
            klds.extend(float(v) for v in kl)
            if progress:
                progress(index + 1, len(plans))
        counts = np.array(per_item, dtype="float64")
        n_pos = counts[:, 0].sum()
        kld = np.array(klds)
        rng = np.random.default_rng(0)
        picks = rng.integers(0, len(counts), size=(_RESAMPLES, len(counts)))
        boot_pos = counts[picks, 0].sum(axis=1)
        same_boot = counts[picks, 1].sum(axis=1) / boot_pos
        kld_boot = counts[picks, 2].sum(axis=1) / boot_pos
        result.update({
            "items": len(per_item), "positions": int(n_pos),
            "same_top": float(counts[:, 1].sum() / n_pos),
            "same_top_ci": [float(np.percentile(same_boot, 2.5)), float(np.percentile(same_boot, 97.5))],
            "kld_mean": float(kld.mean()),
            "kld_ci": [float(np.percentile(kld_boot, 2.5)), float(np.percentile(kld_boot, 97.5))],
            "kld_median": float(np.median(kld)), "kld_p99": float(np.percentile(kld, 99)),
            "kld_max": float(kld.max()),
            "skipped_long": len(skipped), "n_ctx": n_ctx,
            "prompts_differ": sum(1 for p in plans if not p[0].same_prompt),
            "eval_tok_s": {
                "reference": ref_model.eval_tokens / ref_model.eval_seconds if ref_model.eval_seconds else None,
                "variant": var_model.eval_tokens / var_model.eval_seconds if var_model.eval_seconds else None,
            },
            "subtasks": len({p[0].subtask for p in plans}),
        })
    finally:
        ref_model.close()
        if var_model is not None:
            var_model.close()
    result["seconds"] = time.perf_counter() - started
    return result


def measure_speed(path: str | Path, prompts: Sequence[str] = (), prompt_tokens: int = 256,
                  gen_tokens: int = 32, n_threads: int | None = None, n_gpu_layers: int | None = None,
                  repeats: int = 2) -> dict[str, Any]:
    """Prompt-processing and generation speed of one model, measured the same way for every
    variant (as llama-bench does): a ``prompt_tokens`` prompt evaluated in one batch, then
    ``gen_tokens`` single-token decode steps, one sequence; the faster of ``repeats`` tries.
    The prompt is the bundle's own text (``prompts`` joined), cut to length."""
    from trust_tui.engine.backends.llamacpp import loader

    path = Path(path)
    if not path.exists():
        return {"note": f"{path}: model file not found"}
    threads = n_threads or loader.default_threads()
    gpu_layers = loader.default_gpu_layers() if n_gpu_layers is None else n_gpu_layers
    try:
        llm = loader.load_model(path, n_ctx=prompt_tokens + gen_tokens + 8, n_threads=threads,
                                n_gpu_layers=gpu_layers, n_batch=prompt_tokens, n_ubatch=prompt_tokens)
    except TrustError as exc:
        return {"note": str(exc)}
    try:
        text = "\n".join(prompts) or "The quick brown fox jumps over the lazy dog. " * 64
        tokens = llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        while len(tokens) < prompt_tokens + gen_tokens:
            tokens = tokens + tokens if tokens else [0] * (prompt_tokens + gen_tokens)
        prompt, steps = tokens[:prompt_tokens], tokens[prompt_tokens:prompt_tokens + gen_tokens]
        best_pp = best_tg = math.inf
        for _ in range(max(1, repeats)):
            llm.reset()
            started = time.perf_counter()
            llm.eval(prompt)
            best_pp = min(best_pp, time.perf_counter() - started)
            started = time.perf_counter()
            for token in steps:
                llm.eval([token])
            best_tg = min(best_tg, time.perf_counter() - started)
    finally:
        loader.close(llm)
    return {"prompt_tok_s": prompt_tokens / best_pp, "gen_tok_s": gen_tokens / best_tg,
            "prompt_tokens": prompt_tokens, "gen_tokens": gen_tokens, "threads": threads,
            "n_gpu_layers": gpu_layers, "repeats": repeats}


def measure_runs(store, ref_run: Mapping[str, Any], var_run: Mapping[str, Any],
                 max_items: int = DEFAULT_ITEMS, k: int = DEFAULT_TOKENS,
                 n_threads: int | None = None, n_gpu_layers: int | None = None,
                 progress: Callable[[int, int], None] | None = None,
                 cancel: threading.Event | None = None) -> dict[str, Any]:
    """``measure`` on a sample of two stored runs' items; a one-line ``note`` instead of numbers
    when it cannot be measured (no model file, a server run, different tokenizers)."""
    if ref_run["model_id"] == var_run["model_id"]:
        return {"k": k, "items": 0, "positions": 0, "same_model": True,
                "note": "the same model file: its next-token distributions are identical"}
    paths = []
    for run in (ref_run, var_run):
        path = run.get("model_path") or ""
        if not path:
            return {"k": k, "items": 0, "positions": 0,
                    "note": f"run {run['id']} has no local model file (a server run?)"}
        if not Path(path).exists():
            return {"k": k, "items": 0, "positions": 0, "note": f"{path}: model file not found"}
        paths.append(Path(path))
    ref_rows = list(store.item_rows(ref_run["id"]))
    var_rows = list(store.item_rows(var_run["id"]))
    samples = choose_sample(ref_rows, var_rows, max_items)
    try:
        return measure(paths[0], paths[1], samples,
                       fallback_template=ref_run.get("template_source") == "fallback", k=k,
                       n_threads=n_threads, n_gpu_layers=n_gpu_layers, progress=progress,
                       cancel=cancel)
    except Cancelled:
        raise
    except TrustError as exc:
        return {"k": k, "items": 0, "positions": 0, "note": str(exc)}


def describe(measured: Mapping[str, Any] | None) -> str:
    """One line for tables: 'same top 93.1% · KLD 0.052 (24 items, 311 positions)'."""
    if not measured:
        return "not measured"
    if not measured.get("positions"):
        return measured.get("note") or "not measured"
    return (f"same top {100 * measured['same_top']:.1f}% · mean KLD {measured['kld_mean']:.4f} "
            f"({measured['items']} items, {measured['positions']} positions)")


def to_json(measured: Mapping[str, Any] | None) -> str:
    return json.dumps(measured or {}, sort_keys=True)
