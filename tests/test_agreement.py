"""Agreement with the reference: identical answers from stored rows, the item sample, the
per-position maths by hand, and (marked ``model``) next-token agreement on the real SmolLM2."""

from __future__ import annotations

import math

import pytest

from trust_tui.engine.compare import agreement


def rows(answers: dict[str, str | None], prompt: str = "P:{uid}") -> list[dict]:
    out = []
    for uid, answer in answers.items():
        out.append({"uid": uid, "subtask": uid.split(":")[0], "status": "done" if answer is not None else "skipped",
                    "answer": answer, "rendered_prompt": prompt.format(uid=uid)})
    return out


def test_identical_answers_by_hand():
    ref = rows({"safety/a:1": "No.", "safety/a:2": "Yes", "ethics/b:1": " wrong\n", "ethics/b:2": None})
    var = rows({"safety/a:1": "No.", "safety/a:2": "No", "ethics/b:1": "wrong", "ethics/b:2": "x",
                "ethics/b:3": "only here"})
    same = agreement.identical_answers(ref, var)
    assert (same["n"], same["identical"], same["share"]) == (3, 2, pytest.approx(2 / 3))
    assert same["by_dimension"] == {"safety": {"n": 2, "identical": 1, "share": 0.5},
                                    "ethics": {"n": 1, "identical": 1, "share": 1.0}}


def test_sample_is_spread_over_subtasks_capped_and_deterministic():
    answers = {f"d/s{s}:{i}": f"answer {s}{i}" for s in range(3) for i in range(10)}
    ref, var = rows(answers), rows(answers)
    picked = agreement.choose_sample(ref, var, max_items=7)
    assert len(picked) == 7
    counts = {s: sum(1 for p in picked if p.subtask == f"d/s{s}") for s in range(3)}
    assert sorted(counts.values()) == [2, 2, 3]
    assert [p.uid for p in picked] == [p.uid for p in agreement.choose_sample(ref, var, max_items=7)]
    assert all(p.same_prompt for p in picked)


def test_sample_keeps_one_item_per_prompt_and_only_items_both_answered():
    ref = rows({"d/s:1": "a", "d/s:2": "b", "d/s:3": "c"}, prompt="same prompt")
    var = rows({"d/s:1": "a", "d/s:2": "b", "d/s:3": None}, prompt="same prompt")
    picked = agreement.choose_sample(ref, var, max_items=10)
    assert len(picked) == 1  # one distinct prompt


def test_position_stats_by_hand():
    # Two positions over a 3-token vocabulary.
    ref = [[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]]
    var = [[0.0, 0.0, 0.0], [0.0, 2.0, 0.0]]
    kl, same = agreement.position_stats(ref, var)
    assert kl[0] == pytest.approx(0.0, abs=1e-12)
    z = math.exp(2) + 2
    p = [math.exp(2) / z, 1 / z, 1 / z]
    q = [1 / z, math.exp(2) / z, 1 / z]
    assert kl[1] == pytest.approx(sum(pi * math.log(pi / qi) for pi, qi in zip(p, q)))
    assert list(same) == [True, False]  # argmax ties resolve to the first token on both sides


def test_measure_runs_says_why_it_cannot_measure(tmp_path, store):
    base = {"id": 1, "model_id": "aaa", "model_path": "", "template_source": "gguf"}
    same = agreement.measure_runs(store, base, dict(base, id=2))
    assert same["same_model"] and "same model file" in same["note"]
    server = agreement.measure_runs(store, base, dict(base, id=2, model_id="bbb"))
    assert "no local model file" in server["note"]
    missing = agreement.measure_runs(store, dict(base, model_path=str(tmp_path / "x.gguf")),
                                     dict(base, id=2, model_id="bbb", model_path=str(tmp_path / "y.gguf")))
    assert "model file not found" in missing["note"]
    assert agreement.describe(missing) == missing["note"]
    assert agreement.describe(None) == "not measured"


# --------------------------------------------------------------------------- the real model

PROMPT = ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
          "<|im_end|>\n<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n")


def samples() -> list[agreement.Sample]:
    qa = [("What is the capital of France?", "The capital of France is Paris."),
          ("Is it wrong to steal bread to feed a child?", "It is wrong, but understandable."),
          ("Say nothing.", "")]
    return [agreement.Sample(f"d/s:{i}", "d/s", PROMPT.format(q=q), a, True) for i, (q, a) in enumerate(qa)]


@pytest.mark.model
def test_a_model_agrees_perfectly_with_itself(smol_path):
    measured = agreement.measure(smol_path, smol_path, samples(), k=8, n_threads=2)
    assert measured["items"] == 3
    assert 3 <= measured["positions"] <= 3 * 8
    assert measured["kld_mean"] == pytest.approx(0.0, abs=1e-6)
    assert measured["same_top"] == 1.0


@pytest.mark.model
def test_a_coarser_quantization_disagrees_measurably(smol_path, tmp_path):
    from trust_tui.engine.models import quantize

    q2k = quantize.quantize(smol_path, "Q2_K", tmp_path / "q2k.gguf", allow_requantize=True).output
    measured = agreement.measure(smol_path, q2k, samples(), k=8, n_threads=2)
    assert measured["kld_mean"] > 0.001
    assert measured["kld_ci"][0] <= measured["kld_mean"] <= measured["kld_ci"][1]
    assert 0 < measured["same_top"] <= 1
    assert measured["kld_max"] >= measured["kld_p99"] >= measured["kld_median"] >= 0


@pytest.mark.model
def test_speed_is_measured_the_same_way_for_every_model(smol_path):
    measured = agreement.measure_speed(smol_path, ["Is it wrong to lie? Answer yes or no."],
                                       prompt_tokens=64, gen_tokens=8, n_threads=2, repeats=1)
    assert measured["prompt_tok_s"] > 0 and measured["gen_tok_s"] > 0
    assert (measured["prompt_tokens"], measured["gen_tokens"]) == (64, 8)
    assert "not found" in agreement.measure_speed(smol_path.parent / "missing.gguf")["note"]
