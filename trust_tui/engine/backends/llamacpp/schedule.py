"""What the batched engine decides each step, as pure functions: which waiting request starts
next, how one ``llama_batch`` is laid out, and how llama.cpp will cut it into micro-batches.

Why the layout matters (llama.cpp as vendored in llama-cpp-python 0.3.36, ``llama_kv_cache::
init_batch``): with one KV stream per sequence (``kv_unified`` off) a batch is split by
``split_equal(sequential=true)``: a micro-batch holds a run of *consecutive* sequence ids met in
batch order, every one of them with the same number of tokens. Each micro-batch is one pass over
the weights, so a step that breaks into many small ones pays that pass many times. Laying the
batch out sequence by sequence, in id order, lets the first micro-batch carry one token of every
sequence (the decode tokens and the first token of each prompt chunk) and leaves each prompt's
remaining tokens one micro-batch of their own; handing out the lowest free id keeps the running
sequences a consecutive run. With a unified cache the split is ``split_simple``: n_ubatch tokens
at a time in batch order, so the layout does not matter there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence


def split_ubatches(seq_ids: Sequence[int], n_ubatch: int, unified: bool) -> list[int]:
    """Sizes of the micro-batches llama.cpp cuts a batch into, given each token's sequence id in
    batch order (one id per token). Mirrors ``split_simple`` / ``split_equal(n_ubatch, true)``;
    the engine uses it for its statistics, the tests to check a layout."""
    n = len(seq_ids)
    if unified:
        return [min(n_ubatch, n - i) for i in range(0, n, n_ubatch)]
    positions: dict[int, list[int]] = {}
    for i, sid in enumerate(seq_ids):
        positions.setdefault(sid, []).append(i)
    done = dict.fromkeys(positions, 0)  # tokens of each sequence already in a micro-batch
    used = [False] * n
    left, sizes = n, []
    while left:
        run: list[int] = []
        for i, sid in enumerate(seq_ids):
            if used[i] or sid in run or (run and sid != run[-1] + 1):
                continue
            run.append(sid)
            if len(run) > n_ubatch:
                break
        taken = 0
        while all(done[sid] < len(positions[sid]) for sid in run):
            for sid in run:
                used[positions[sid][done[sid]]] = True
                done[sid] += 1
            taken += 1
            if (taken + 1) * len(run) > n_ubatch:
                break
        sizes.append(taken * len(run))
        left -= taken * len(run)
    return sizes


@dataclass(frozen=True)
class Slot:
    """What one running sequence can put into the next batch."""

    sid: int
    decode: bool  # has a sampled token to decode
    feed: int  # prompt tokens still to evaluate (0 while it waits for a sibling's cells)
    order: int  # admission order: earlier admissions get prompt room first


def plan_batch(slots: Sequence[Slot], n_batch: int) -> list[tuple[int, bool, int]]:
    """The batch layout as (sid, decode token?, prompt tokens) per sequence, in sequence-id
    order. Every decode token goes in (there are at most n_parallel <= n_batch of them); the rest
    of n_batch is handed to prompt chunks in admission order, so the request started first (the
    longest expected answer) starts generating first."""
    room = n_batch - sum(1 for s in slots if s.decode)
    take: dict[int, int] = {}
    for slot in sorted((s for s in slots if s.feed and not s.decode), key=lambda s: s.order):
        if room <= 0:
            break
        take[slot.sid] = min(room, slot.feed)
        room -= take[slot.sid]
    return [(s.sid, s.decode, take.get(s.sid, 0)) for s in sorted(slots, key=lambda s: s.sid)
            if s.decode or take.get(s.sid)]


def layout_ids(plan: Sequence[tuple[int, bool, int]]) -> list[int]:
    """The sequence id of every token of a plan, in batch order."""
    return [sid for sid, decode, n in plan for _ in range(int(decode) + n)]


class Admission:
    """Requests pulled ahead of admission (at most ``window``), handed out longest expected
    answer first, ties in arrival order.

    The run loop sends a workload sub-task by sub-task, in the bundle's order; a run that admits
    the longest answers last ends on a tail where one or two sequences generate alone, at a
    fraction of the batched rate. Within the window the next request is the one expected to
    generate the most tokens: its ``max_tokens``, or, once answers under the same generation
    settings (a sub-task's) have finished, the mean length those answers had, whichever is
    smaller; a longer prompt breaks a tie. Equal keys keep arrival order, so a sub-task's items
    stay together and keep sharing their prompt head. The window bounds how far a request can
    be overtaken and how many the run loop reports as started before they are."""

    MIN_SEEN = 3  # finished answers of a group before their mean length is trusted

    def __init__(self, source: Iterator[Any], window: int,
                 cost: Callable[[Any], tuple[Any, int, int]]):
        """``cost(item)`` gives (group key, max_tokens, prompt tokens) of a pulled item."""
        self._source = iter(source)
        self._window = max(1, int(window))
        self._cost = cost
        self._pending: list[tuple[int, Any]] = []  # (arrival number, item)
        self._arrived = 0
        self._seen: dict[Any, tuple[int, int]] = {}  # group -> (answers, tokens)
        self.exhausted = False

    def _pull(self) -> None:
        while not self.exhausted and len(self._pending) < self._window:
            try:
                item = next(self._source)
            except StopIteration:
                self.exhausted = True
                return
            self._pending.append((self._arrived, item))
            self._arrived += 1

    def expected(self, item: Any) -> float:
        group, max_tokens, _ = self._cost(item)
        answers, tokens = self._seen.get(group, (0, 0))
        if answers >= self.MIN_SEEN:
            return min(float(max_tokens), tokens / answers)
        return float(max_tokens)

    def next(self) -> Any | None:
        """The next request to start, or None when none is left."""
        self._pull()
        if not self._pending:
            return None
        best = max(range(len(self._pending)), key=lambda i: (
            self.expected(self._pending[i][1]), self._cost(self._pending[i][1])[2],
            -self._pending[i][0]))
        return self._pending.pop(best)[1]

    def observe(self, item: Any, completion_tokens: int) -> None:
        """An answer under ``item``'s generation settings finished with this many tokens."""
        group = self._cost(item)[0]
        answers, tokens = self._seen.get(group, (0, 0))
        self._seen[group] = (answers + 1, tokens + int(completion_tokens))

    @property
    def done(self) -> bool:
        return self.exhausted and not self._pending
