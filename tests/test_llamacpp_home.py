"""One home for llama.cpp: the load plan (sizing.plan), the one constructor of llama_cpp.Llama
(loader.py), weights read only when something is left to generate, and KV cells allocated as
planned."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import pytest

from trust_tui.engine.backends.llamacpp import loader, sizing
from trust_tui.engine.backends.llamacpp.sizing import Machine, plan
from trust_tui.errors import ModelError

GIB = 1024 ** 3
PACKAGE = Path(__file__).resolve().parent.parent / "trust_tui"


def header(arch="llama", layers=30, heads=9, heads_kv=3, embd=576, train_ctx=8192) -> dict:
    """The GGUF keys sizing reads, as in SmolLM2-135M's header (23 040 KV bytes per token)."""
    meta = {"general.architecture": arch, f"{arch}.block_count": layers,
            f"{arch}.attention.head_count": heads, f"{arch}.attention.head_count_kv": heads_kv,
            f"{arch}.embedding_length": embd}
    if train_ctx:
        meta[f"{arch}.context_length"] = train_ctx
    return meta


LAPTOP = Machine(cpus=2, memory_bytes=24 * GIB)
# A quick-profile-like workload: 247 requests, the longest needing 500 + 144 + 1 cells.
QUICK = [(400, 16)] + [(120 + i % 200, 16 + i % 129) for i in range(245)] + [(500, 144)]


# --------------------------------------------------------------------------- the plan (no model)


def test_a_workload_sets_cells_sequences_and_the_kv_cache():
    p = plan(LAPTOP, header(), QUICK)
    need = max(a + b + 1 for a, b in QUICK)
    assert p.context.source == "workload" and p.context.need == need
    assert p.seq_ctx == 768 and p.seq_ctx >= need  # rounded up to a multiple of 256
    assert p.parallel == 16 and "flattens beyond 16" in p.reason("parallel")
    assert (p.n_seq_max, p.kv_cells) == (17, 17 * 768)  # one stream each + the pinned head
    assert p.kv_bytes == 17 * 768 * 23040
    assert (p.n_batch, p.n_ubatch, p.threads) == (512, 512, 2)
    assert set(dict(p.reasons)) == {"threads", "parallel", "seq_ctx", "kv_cells", "n_batch", "n_ubatch"}
    assert all(dict(p.reasons).values())
    assert p.describe() == "16 × 768 tokens"


def test_a_small_model_keeps_its_kv_cache_within_its_own_size():
    weights = 98_400_000  # SmolLM2-135M Q4_1
    p = plan(LAPTOP, header(), [(300, 144)] * 200, weights_bytes=weights)
    # streams of 512 cells are 11.3 MiB: 8 fit in the weights' size, one is the pinned head
    assert (p.seq_ctx, p.parallel) == (512, 7) and "model's size" in p.reason("parallel")
    assert p.kv_bytes <= weights
    # longer streams: never fewer than MIN_PARALLEL_BY_WEIGHTS sequences for this reason
    long = plan(LAPTOP, header(), [(1100, 64)] * 200, weights_bytes=weights)
    assert long.parallel == sizing.MIN_PARALLEL_BY_WEIGHTS
    # a model whose weights dwarf its cache keeps the CPU's 16
    assert plan(LAPTOP, header(), [(300, 144)] * 200, weights_bytes=4 * GIB).parallel == 16
    # on a GPU the cache is in VRAM next to the weights: no such bound
    assert plan(Machine(cpus=2, gpu=True), header(), [(300, 144)] * 200,
                weights_bytes=weights).parallel == 64


def test_short_prompts_make_small_streams():
    p = plan(LAPTOP, header(), [(60, 16)] * 40)
    assert (p.seq_ctx, p.parallel, p.kv_cells) == (256, 16, 256 * 17)


def test_few_requests_few_sequences():
    p = plan(LAPTOP, header(), [(100, 64)] * 3)
    assert (p.parallel, p.n_seq_max, p.kv_cells) == (3, 4, 256 * 4)
    assert p.reason("parallel") == "one per request (3)"
    one = plan(LAPTOP, header(), [(100, 64)])
    assert (one.parallel, one.n_seq_max, one.kv_cells, one.seq_ctx) == (1, 1, 256, 256)


def test_a_large_model_on_a_small_machine_is_bounded_by_memory():
    llama_8b = header(layers=32, heads=32, heads_kv=8, embd=4096)  # 128 KiB per cell
    p = plan(Machine(cpus=8, memory_bytes=8 * GIB), llama_8b, [(900, 100)] * 200)
    # 1/8 of 8 GiB holds 8 streams of 1024 cells: 7 sequences + the pinned prompt head
    assert (p.seq_ctx, p.parallel) == (1024, 7)
    assert "1/8 of the memory" in p.reason("parallel")
    assert p.kv_bytes <= 8 * GIB // 8


def test_a_gpu_takes_more_sequences_and_bigger_batches():
    p = plan(Machine(cpus=16, memory_bytes=128 * GIB, gpu=True), header(), [(400, 100)] * 500)
    assert p.parallel == 64 and (p.n_batch, p.n_ubatch) == (2048, 512)
    long = plan(Machine(cpus=16, gpu=True), header(), [(3000, 100)] * 500)
    assert long.seq_ctx == 3328 and long.parallel == sizing.KV_CELLS_BUDGET_GPU // 3328
    assert "KV cells hold" in long.reason("parallel")


def test_what_the_user_asks_for_wins():
    p = plan(LAPTOP, header(), QUICK, n_ctx=3000, parallel=2, threads=1, n_batch=128)
    assert (p.seq_ctx, p.parallel, p.threads, p.n_batch, p.n_ubatch) == (3000, 2, 1, 128, 128)
    assert p.context.source == "user" and p.kv_cells == 3072 * 3  # llama.cpp pads a stream to 256
    assert p.reason("parallel").startswith("asked") and p.reason("threads").startswith("asked")
    assert plan(LAPTOP, header(train_ctx=2048), QUICK, n_ctx=3000).seq_ctx == 2048


def test_without_a_workload_the_old_defaults():
    plain = plan(LAPTOP, header(), None)
    assert (plain.parallel, plain.seq_ctx, plain.kv_cells, plain.n_seq_max) == (1, 2048, 2048, 1)
    assert plain.context.record() == {"source": "default", "train_ctx": 8192}
    batched = plan(LAPTOP, header(), None, parallel=4)
    assert (batched.seq_ctx, batched.kv_cells) == (sizing.DEFAULT_BATCHED_SEQ_CTX, 1024 * 5)
    # no context length in the header: never more than the plain default
    assert plan(LAPTOP, header(train_ctx=None), None, n_ctx=4096).seq_ctx == 2048


def test_a_unified_cache_is_one_pool():
    p = plan(LAPTOP, header(), [(100, 64)] * 40, kv_unified=True)
    assert p.kv_unified and p.kv_cells == 16 * sizing.DEFAULT_CELLS_PER_SEQ


def test_the_plan_is_a_pure_function_and_records_what_runs_stored_before():
    assert plan(LAPTOP, header(), QUICK) == plan(LAPTOP, header(), list(QUICK))
    record = plan(LAPTOP, header(), QUICK).record()
    assert record["n_ctx_plan"]["source"] == "workload" and record["n_ctx"] == 768
    assert {"parallel", "n_batch", "n_ubatch", "kv_cells", "kv_unified", "n_threads"} <= set(record)
    json.dumps(record)  # stored as JSON with the run


def test_a_header_without_kv_shape_still_plans():
    p = plan(LAPTOP, {"general.architecture": "mamba"}, [(100, 64)] * 40)
    assert p.kv_bytes is None and p.parallel == 16


# --------------------------------------------------------------------------- the loader


def test_the_loader_is_the_only_constructor_of_llama():
    """Every llama_cpp.Llama in the package is built by loader.py (the judge's included)."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if re.search(r"\bLlama\(", text) and path.name != "loader.py":
            found.append(str(path.relative_to(PACKAGE)))
    assert found == []
    assert re.search(r"\bLlama\(", (PACKAGE / "engine/backends/llamacpp/loader.py").read_text())


def test_a_file_that_is_not_a_model_is_one_model_error(tmp_path):
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF" + struct.pack("<I", 3) + b"\x00" * 64)
    before = dict(loader.LOADS)
    with pytest.raises(ModelError, match=r"junk\.gguf: llama\.cpp could not read the vocabulary") as info:
        loader.load_vocab(junk)
    assert "\n" not in str(info.value)
    with pytest.raises(ModelError, match="could not load the model"):
        loader.load_model(junk, n_ctx=64)
    assert dict(loader.LOADS) == before  # nothing was built


# --------------------------------------------------------------------------- the real model


def _small_spec():
    from trust_tui.engine.run.loop import RunSpec

    return RunSpec(bundle="trust-core", profile="quick",
                   subtasks=("safety/jailbreak", "ethics/implicit_ethics"), per_subtask=3)


@pytest.mark.model
def test_a_cached_rerun_never_reads_the_weights(smol_path, store):
    from trust_tui.engine.run import api

    first_loads = loader.LOADS["model"]
    first = api.run(smol_path, _small_spec(), store=store)
    assert first.generated > 0 and loader.LOADS["model"] == first_loads + 1
    stages: list[str] = []
    vocab_loads, model_loads = loader.LOADS["vocab"], loader.LOADS["model"]
    again = api.run(smol_path, _small_spec(), store=store, on_stage=stages.append)
    assert (again.generated, again.cached) == (0, first.generated + first.cached)
    assert loader.LOADS["model"] == model_loads  # no full Llama was built
    assert loader.LOADS["vocab"] > vocab_loads  # prompts came from the vocabulary alone
    assert not any(stage.startswith("loading model") for stage in stages)
    backend = json.loads(store.run(again.run_id)["backend"])
    assert "load_seconds" not in backend and backend["kv_cells"] > 0  # planned, never allocated
    assert "load_seconds" in json.loads(store.run(first.run_id)["backend"])


@pytest.mark.model
def test_a_model_that_cannot_load_leaves_no_run(smol_path, tmp_path, store):
    from trust_tui.engine.run import api

    data = bytearray(smol_path.read_bytes())
    key = b"llama.attention.head_count\x04\x00\x00\x00"
    end = data.index(key) + len(key)
    data[end - 5:end - 4] = b"X"  # the key renamed: the vocabulary reads, the weights do not
    broken = tmp_path / "nohead.gguf"
    broken.write_bytes(data)
    with pytest.raises(ModelError, match="could not load the model"):
        api.run(broken, _small_spec(), store=store)
    assert store.runs() == []


@pytest.mark.model
@pytest.mark.parametrize("parallel", [None, 1])
def test_the_kv_cells_allocated_are_the_plan(smol_path, parallel):
    import llama_cpp

    from trust_tui.engine import bundles
    from trust_tui.engine.models import files as models
    from trust_tui.engine.run import api

    spec = _small_spec()
    workload = bundles.load(spec.bundle).select(spec.profile, (), spec.subtasks, per_subtask=3)
    model = models.identify(smol_path)
    backend = api.open_backend(model, api.BackendOptions(parallel=parallel), workload)
    try:
        assert not backend.loaded
        p = backend.plan
        need = max(backend.count_tokens(backend.render(item.messages)) + sub.generation.max_tokens + 1
                   for sub, item in workload)
        assert p.context.need == need and p.seq_ctx == -(-need // 256) * 256
        backend.load_model()
        if parallel is None:
            assert p.parallel == len(workload)
            ctx = backend.batch_context.ctx
            assert llama_cpp.llama_n_ctx(ctx) == p.kv_cells == p.seq_ctx * (p.parallel + 1)
            assert llama_cpp.llama_n_seq_max(ctx) == p.n_seq_max
            assert llama_cpp.llama_n_batch(ctx) == p.n_batch
            assert backend.llm.n_ctx() == sizing.HELPER_CTX  # the Llama's own, never decoded
            assert backend.info.settings["plan_reasons"]["parallel"]
        else:
            assert backend.batch_context is None and backend.llm.n_ctx() == p.kv_cells == p.seq_ctx
        assert backend.info.settings["kv_cells"] == p.kv_cells
        assert backend.info.settings["load_seconds"] >= 0
    finally:
        backend.close()
