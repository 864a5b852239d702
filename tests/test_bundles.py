"""Bundle loading and validation: errors name file:line and the field."""

import json

import pytest

from tests.conftest import write_bundle
from trust_tui.engine import bundles
from trust_tui.errors import BundleError


def test_mini_bundle_loads_and_profiles_select(tmp_path):
    bundle = bundles.load(write_bundle(tmp_path))
    assert bundle.name == "mini"
    assert bundle.dimensions == ["truthfulness", "safety"]  # canonical order, not file order
    full = bundle.select("full")
    quick = bundle.select("quick")
    assert len(full) == 18
    assert len(quick) == 12  # 4 per sub-task; pairs kept whole
    flip_quick = [item for sub, item in quick if sub.name == "flip"]
    pairs = {}
    for item in flip_quick:
        pairs.setdefault(item.pair, []).append(item.variant)
    assert all(sorted(v) == ["base", "persona"] for v in pairs.values())
    assert bundle.select("quick") == quick  # deterministic
    mc_quick = [item.gold for sub, item in quick if sub.name == "mc"]
    assert sorted(mc_quick) == ["A", "A", "B", "B"]  # label-balanced


def test_content_hash_changes_with_items(tmp_path):
    first = bundles.load(write_bundle(tmp_path)).content_hash
    directory = write_bundle(tmp_path, items={"refuse": [{"id": "r0", "prompt": "changed"}]})
    assert bundles.load(directory).content_hash != first


def test_unknown_bundle_names_the_available_ones():
    with pytest.raises(BundleError, match="unknown bundle 'nope'.*trust-core"):
        bundles.load("nope")


@pytest.mark.parametrize("bad_line,message", [
    ("{not json", r"refuse\.jsonl:2: not valid JSON"),
    (json.dumps({"id": "x y", "prompt": "p"}), r"refuse\.jsonl:2: field 'id'"),
    (json.dumps({"id": "r0", "prompt": "dup"}), r"refuse\.jsonl:2: field 'id': 'r0' repeats line 1"),
    (json.dumps({"id": "z"}), r"refuse\.jsonl:2: exactly one of 'prompt' or 'messages'"),
    (json.dumps({"id": "z", "prompt": "p", "colour": 1}), r"refuse\.jsonl:2: unknown field 'colour'"),
    (json.dumps({"id": "z", "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}),
     r"refuse\.jsonl:2: field 'messages'"),
])
def test_item_errors_name_file_line_and_field(tmp_path, bad_line, message):
    directory = write_bundle(tmp_path)
    path = directory / "items" / "refuse.jsonl"
    path.write_text(json.dumps({"id": "r0", "prompt": "fine"}) + "\n" + bad_line + "\n")
    with pytest.raises(BundleError, match=message):
        bundles.load(directory)


def test_scorer_check_errors_point_at_the_item(tmp_path):
    directory = write_bundle(tmp_path, items={"mc": [
        {"id": "m0", "prompt": "Q? A. x B. y", "choices": {"A": "x", "B": "y"}, "gold": "A"},
        {"id": "m1", "prompt": "Q? A. x B. y", "choices": {"A": "x", "B": "y"}, "gold": "E"},
    ]})
    with pytest.raises(BundleError, match=r"mc\.jsonl:2: .*gold"):
        bundles.load(directory)


@pytest.mark.parametrize("subtasks,message", [
    ('[dimensions.safety.subtasks.x]\nitems = "items/refuse.jsonl"\nscorer = "nope"\nmetric = "m"\n'
     'aggregate = "proportion"\ndirection = "higher"\n', "unknown scorer 'nope'"),
    ('[dimensions.safety.subtasks.x]\nitems = "items/refuse.jsonl"\nscorer = "refusal"\nmetric = "m"\n'
     'aggregate = "median"\ndirection = "higher"\n', "unknown 'median'"),
    ('[dimensions.safety.subtasks.x]\nitems = "items/refuse.jsonl"\nscorer = "refusal"\nmetric = "m"\n'
     'aggregate = "proportion"\ndirection = "up"\n', "direction"),
    ('[dimensions.safety.subtasks.x]\nitems = "items/none.jsonl"\nscorer = "refusal"\nmetric = "m"\n'
     'aggregate = "proportion"\ndirection = "higher"\n', "items file not found"),
    ('[dimensions.safety.subtasks.x]\nitems = "../../etc/passwd"\nscorer = "refusal"\nmetric = "m"\n'
     'aggregate = "proportion"\ndirection = "higher"\n', "outside the bundle"),
    ('[dimensions.kindness.subtasks.x]\nitems = "items/refuse.jsonl"\nscorer = "refusal"\nmetric = "m"\n'
     'aggregate = "proportion"\ndirection = "higher"\n', "unknown dimension 'kindness'"),
    ('[dimensions.safety.subtasks.x]\nitems = "items/refuse.jsonl"\nscorer = "refusal"\nmetric = "m"\n'
     'aggregate = "proportion"\ndirection = "higher"\ngeneration = { max_tokenz = 3 }\n',
     "unknown generation setting 'max_tokenz'"),
    ('[dimensions.safety.subtasks.x]\nitems = "items/refuse.jsonl"\nscorer = "refusal"\nmetric = "m"\n'
     'aggregate = "pair_flip"\ndirection = "lower"\n', "needs every item in a pair"),
])
def test_manifest_errors(tmp_path, subtasks, message):
    with pytest.raises(BundleError, match=message):
        bundles.load(write_bundle(tmp_path, subtasks=subtasks))


def test_bad_toml_is_one_line(tmp_path):
    directory = write_bundle(tmp_path)
    (directory / "bundle.toml").write_text("format = = 1")
    with pytest.raises(BundleError, match="not valid TOML") as info:
        bundles.load(directory)
    assert "\n" not in str(info.value)


def test_shipped_bundle_is_found_through_importlib_resources():
    root = bundles.shipped_bundles_root()
    assert (root / "trust-core" / "bundle.toml").is_file()


def test_built_wheel_contains_the_shipped_bundles_and_data(tmp_path):
    """A non-editable install must find trust-core and the scorers' data files."""
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", str(root), "--no-deps", "-q",
                             "-w", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    wheel = next(tmp_path.glob("trust_tui-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    core = bundles.load("trust-core")
    for sub in core.subtasks:
        relative = sub.items[0].source.split(":")[0].split("bundles/")[-1]
        assert f"trust_tui/_bundles/{relative}" in names
    assert "trust_tui/_bundles/trust-core/bundle.toml" in names
    assert "trust_tui/_bundles/trust-core/DATA_CARD.md" in names
    assert "trust_tui/engine/scorers/toxicity_lexicon.txt" in names
