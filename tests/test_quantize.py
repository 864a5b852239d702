"""Quantization: type names, refusals with one-line messages, output naming; and (marked
``model``) the real SmolLM2 quantized to Q2_K, then compared with its source end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.tui.conftest import write_fake_gguf
from trust_tui.engine.models import quantize


def test_type_names_and_aliases():
    assert quantize.normalise_type("q4_k_m") == "Q4_K_M"
    assert quantize.normalise_type("Q4_K") == "Q4_K_M"
    assert quantize.normalise_type("q8-0") == "Q8_0"
    assert quantize.FTYPES["Q2_K"] == 10 and quantize.FTYPES["Q8_0"] == 7


def test_ftypes_match_llama_cpp():
    llama_cpp = pytest.importorskip("llama_cpp")
    for name, value in quantize.FTYPES.items():
        constant = "LLAMA_FTYPE_ALL_F32" if name == "F32" else f"LLAMA_FTYPE_MOSTLY_{name}"
        assert getattr(llama_cpp, constant) == value, name


def test_unknown_type_is_one_line():
    with pytest.raises(quantize.QuantizeError) as info:
        quantize.normalise_type("Q4_X")
    message = str(info.value)
    assert "\n" not in message and "unknown quantization type 'Q4_X'" in message and "Q4_K_M" in message


def test_types_that_need_an_importance_matrix_are_refused_up_front(tmp_path):
    model = write_fake_gguf(tmp_path / "m.gguf")
    for name in ("IQ2_XXS", "iq1_s", "Q2_K_S"):
        with pytest.raises(quantize.QuantizeError, match="needs an importance matrix"):
            quantize.plan(model, name, allow_requantize=True)
    assert list(tmp_path.iterdir()) == [model]


def test_requantizing_needs_the_flag_and_says_why(tmp_path):
    model = write_fake_gguf(tmp_path / "demo.Q4_K_M.gguf")  # a Q4_0 tensor: already quantized
    with pytest.raises(quantize.QuantizeError) as info:
        quantize.plan(model, "Q2_K")
    assert "already quantized" in str(info.value) and "stacks two quantizations" in str(info.value)
    assert "--allow-requantize" in str(info.value)
    source, requested, target, _ = quantize.plan(model, "Q2_K", allow_requantize=True)
    assert (source, requested, target) == (model, "Q2_K", tmp_path / "demo.Q2_K.gguf")


def test_output_naming_and_refusals(tmp_path, trust_home):
    model = write_fake_gguf(tmp_path / "llama-3-8b-f16.gguf")
    assert quantize.default_output(model, "Q4_K_M") == tmp_path / "llama-3-8b.Q4_K_M.gguf"
    inside = Path("/usr/lib/python3/site-packages/pkg/model.Q4_1.gguf")
    assert quantize.default_output(inside, "Q2_K") == trust_home / "models" / "model.Q2_K.gguf"
    with pytest.raises(quantize.QuantizeError, match="overwrite the source"):
        quantize.plan(model, "Q8_0", output=model, allow_requantize=True)
    with pytest.raises(quantize.QuantizeError, match="is a folder"):
        quantize.plan(model, "Q8_0", output=tmp_path, allow_requantize=True)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(quantize.QuantizeError, match="cannot write"):
        quantize.quantize(model, "Q8_0", blocker / "out.gguf", allow_requantize=True)


def test_cli_errors_are_one_red_line(tmp_path, capsys):
    from trust_tui.cli import main

    model = write_fake_gguf(tmp_path / "demo.gguf")
    for args in (["--type", "Q9"], ["--type", "IQ2_XXS"], ["--type", "Q2_K"]):
        with pytest.raises(SystemExit) as info:
            main(["quantize", str(model), *args])
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("error:") and err.count("\n") <= 3  # one line, wrapped at most


def test_not_a_gguf_is_refused(tmp_path):
    bad = tmp_path / "notes.gguf"
    bad.write_text("hello")
    with pytest.raises(Exception, match="not a GGUF"):
        quantize.plan(bad, "Q8_0")


# --------------------------------------------------------------------------- the real model


@pytest.mark.model
def test_quantize_smollm2_to_q2k_reports_the_tensor_mix(smol_path, tmp_path):
    seen = []
    result = quantize.quantize(smol_path, "Q2_K", tmp_path / "smol.Q2_K.gguf", allow_requantize=True,
                               progress=lambda done, total, name: seen.append((done, total)))
    assert result.output.exists() and result.size == result.output.stat().st_size
    assert result.requantized and result.source_type == "Q4_1" and result.written_type == "Q2_K"
    assert seen and seen[-1] == (272, 272)
    # 576-wide tensors cannot take 256-wide K-quant blocks: most fall back to q4_0
    assert result.tensor_types.get("Q4_0", 0) > 100 and result.fallback_tensors > 100
    notes = " ".join(result.notes())
    assert "stacks two quantizations" in notes and "fell back" in notes and "q4_0" in notes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["smol.Q2_K.gguf"]  # no temp file left


@pytest.mark.model
def test_failed_quantization_leaves_no_file(smol_path, tmp_path):
    # llama.cpp itself writes part of the file before refusing to requantize; the temp file goes.
    with pytest.raises(quantize.QuantizeError, match="already quantized"):
        quantize.quantize(smol_path, "Q8_0", tmp_path / "x.gguf")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.model
def test_quantize_then_compare_end_to_end(smol_path, tmp_path, trust_home):
    """The README example, kept to two short sub-tasks of one dimension: the embedded Q4_1
    against a Q2_K made from it (each model runs in its own process)."""
    from click.testing import CliRunner

    from trust_tui.cli import cli

    runner = CliRunner()
    made = runner.invoke(cli, ["quantize", "--type", "Q2_K", "--allow-requantize"])
    assert made.exit_code == 0, made.output
    q2k = trust_home / "models" / "SmolLM2-135M-Instruct.Q2_K.gguf"
    assert q2k.exists() and "tensors written: q4_0" in made.output
    assert "compare them: trust-tui compare default" in made.output
    one_dimension = ["--dimension", "ethics", "--subtask", "implicit_ethics", "--subtask", "awareness"]
    compared = runner.invoke(cli, ["compare", "default", str(q2k), *one_dimension,
                                   "--agreement-items", "4", "--agreement-tokens", "8", "--quiet",
                                   "--threads", "2"])
    assert compared.exit_code == 0, compared.output
    exported = runner.invoke(cli, ["export", "--compare", "latest", "--format", "json"])
    data = json.loads(exported.output)
    reference, variant = data["variants"]
    assert reference["quantization"] == "Q4_1" and variant["quantization"] == "Q2_K"
    assert reference["cost"]["file_size"] > variant["cost"]["file_size"]
    assert reference["cost"]["peak_rss_mb"] and reference["cost"]["load_seconds"] is not None
    assert reference["cost"]["gen_tok_s"] > 0 and variant["cost"]["prompt_tok_s"] > 0
    assert reference["cost"]["run_tok_s"] > 0
    measured = variant["next_token_agreement"]
    assert measured["items"] >= 1 and measured["positions"] >= measured["items"]
    assert measured["kld_mean"] > 0 and 0 <= measured["same_top"] <= 1
    assert variant["identical_answers"]["n"] > 0
    assert [d["id"] for d in data["dimensions"]] == ["ethics"]
    assert [s["id"] for s in data["subtasks"]] == ["ethics/implicit_ethics", "ethics/awareness"]
    md = runner.invoke(cli, ["export", "--compare", "latest"]).output
    for heading in ("## Models and cost", "## Agreement with the reference", "## Dimensions",
                    "## Flipped items"):
        assert heading in md
    # A second compare reuses both finished runs: nothing is generated or loaded again.
    again = runner.invoke(cli, ["compare", "default", str(q2k), *one_dimension,
                                "--agreement-items", "0", "--no-speed", "--quiet"])
    assert again.exit_code == 0, again.output
    from trust_tui.engine.run.store import Store

    store = Store()
    try:
        assert len(store.runs()) == 2
    finally:
        store.close()
