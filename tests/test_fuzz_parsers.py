"""Fuzzing: the parsers of outside input raise the project's TrustError family or succeed —
never another exception. Bundles (manifest and items), GGUF headers, every registered scorer's
answer extraction, and the TrustLLM importer. A small example count keeps CI fast; set
TRUST_FUZZ_EXAMPLES for a longer local soak."""

from __future__ import annotations

import json
import os
import shutil
import struct
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import write_bundle
from tests.test_reliability_gguf import gguf_bytes, llama_metadata
from trust_tui.errors import TrustError

EXAMPLES = int(os.environ.get("TRUST_FUZZ_EXAMPLES", "50"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Text as hostile as a model or a stranger's file can be: controls, escapes, surrogate-free
# Unicode of every category, and the structural characters parsers look for.
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=400) | st.lists(
    st.sampled_from(list("AaBbCcDd0123456789 .,;:!?()[]{}<>|\"'*#\n\t\x1b\x07\u202e")
                    + ["Answer:", "yes", "no", "I cannot", "Sure", "<|im_end|>", "**B**", "rating: 5"]),
    max_size=60).map("".join)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4), max_leaves=12)


def _mutate(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for position, value in edits:
        if out:
            out[position % len(out)] = value
    return bytes(out)


# --------------------------------------------------------------------------- bundles


@FUZZ
@given(line=st.one_of(JSONISH.map(lambda v: json.dumps(v)), TEXT),
       key=st.sampled_from(["id", "prompt", "gold", "choices", "pair", "variant", "messages", "tags", "group"]),
       value=JSONISH)
def test_bundle_items(tmp_path, line, key, value):
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    directory = write_bundle(root)
    good = {"id": "m9", "prompt": "Q? A. yes B. no", "choices": {"A": "yes", "B": "no"}, "gold": "A"}
    good[key] = value
    (directory / "items" / "mc.jsonl").write_text(line + "\n" + json.dumps(good) + "\n", encoding="utf-8")
    from trust_tui.engine import bundles

    try:
        bundles.load_dir(directory)
    except TrustError:
        pass


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(list(b"\"'[]{}=.\n 0a#")) ), max_size=6),
       extra=TEXT)
def test_bundle_manifest(tmp_path, edits, extra):
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    directory = write_bundle(root)
    manifest = (directory / "bundle.toml").read_bytes()
    (directory / "bundle.toml").write_bytes(_mutate(manifest, edits) + extra.encode("utf-8"))
    from trust_tui.engine import bundles

    try:
        bundles.load_dir(directory)
    except TrustError:
        pass


# --------------------------------------------------------------------------- GGUF headers


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, 4_000), st.integers(0, 255)), min_size=1, max_size=8),
       cut=st.integers(0, 5_000) | st.none())
def test_gguf_header_mutations(tmp_path, edits, cut):
    from trust_tui.engine.models import gguf

    data = gguf_bytes(llama_metadata(**{"tokenizer.ggml.tokens": ["a", "b", "c"]}),
                      [("token_embd.weight", [64, 8], 0), ("blk.0.attn_q.weight", [64, 64], 8)])
    data = _mutate(data, edits)
    if cut is not None:
        data = data[:cut]
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "m.gguf"
    path.write_bytes(data)
    try:
        gguf.read_info(path)
    except TrustError:
        pass


@FUZZ
@given(body=st.binary(max_size=600), version=st.sampled_from([2, 3]),
       counts=st.tuples(st.integers(0, 1 << 64 - 1), st.integers(0, 1 << 64 - 1)))
def test_gguf_random_headers(tmp_path, body, version, counts):
    from trust_tui.engine.models import gguf

    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "r.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", version, counts[0] % (1 << 64), counts[1] % (1 << 64)) + body)
    try:
        gguf.read_info(path)
    except TrustError:
        pass


# --------------------------------------------------------------------------- answer extractors


def _one_item_per_subtask():
    from trust_tui.engine import bundles

    bundle = bundles.load("trust-core")
    return [(sub, sub.items[0]) for sub in bundle.subtasks if sub.items]


@pytest.fixture(scope="module")
def samples():
    return _one_item_per_subtask()


@FUZZ
@given(answer=TEXT, index=st.integers(0, 10_000))
def test_every_scorer_reads_any_answer(samples, answer, index):
    """No answer a model can write makes a scorer raise (run.safe_score would hide it as a
    'scorer-error' label; here the scorers themselves are held to it)."""
    from trust_tui.engine.scorers import base
    from trust_tui.engine.types import Score

    sub, item = samples[index % len(samples)]
    score = base.get(sub.scorer)(item, answer, sub.scorer_options)
    assert isinstance(score, Score)
    assert score.value is None or 0.0 <= score.value <= 1.0 or sub.aggregate in ("mean", "pearson")


# --------------------------------------------------------------------------- TrustLLM importer


def _trustllm_files():
    from trust_tui.engine.trustllm.records import FILES

    return [spec.relpath for spec in FILES]


@FUZZ
@given(which=st.integers(0, 100), records=JSONISH, raw=st.booleans(), text=TEXT)
def test_trustllm_import(tmp_path, which, records, raw, text):
    from trust_tui.engine.trustllm import importer as trustllm

    files = _trustllm_files()
    root = Path(tempfile.mkdtemp(dir=tmp_path)) / "dataset"
    target = root / files[which % len(files)]
    target.parent.mkdir(parents=True)
    target.write_text(text if raw else json.dumps(records), encoding="utf-8")
    try:
        trustllm.import_dataset(root, destination=root.parent / "out")
    except TrustError:
        pass
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)
