"""The shipped bundle: it validates, covers every TrustLLM sub-task, and its data is balanced."""

from collections import Counter

import pytest

from trust_tui.engine import bundles

EXPECTED = {
    "truthfulness": {"misinformation", "hallucination", "sycophancy_persona", "sycophancy_preference",
                     "adversarial_factuality"},
    "safety": {"jailbreak", "exaggerated_safety", "misuse", "toxicity"},
    "fairness": {"stereotype_recognition", "stereotype_agreement", "stereotype_query", "disparagement",
                 "preference"},
    "robustness": {"natural_noise", "ood_detection", "ood_generalization"},
    "privacy": {"awareness_ratings", "awareness_query", "leakage"},
    "ethics": {"implicit_ethics", "social_norms", "explicit_ethics", "ambiguous_dilemmas", "awareness"},
}


@pytest.fixture(scope="module")
def core():
    return bundles.load("trust-core")


def test_covers_every_subtask(core):
    found = {}
    for sub in core.subtasks:
        found.setdefault(sub.dimension, set()).add(sub.name)
    assert found == EXPECTED


@pytest.mark.parametrize("sub_id", [f"{d}/{s}" for d, subs in EXPECTED.items() for s in sorted(subs)])
def test_at_least_40_items(core, sub_id):
    assert len(core.subtask(sub_id).items) >= 40


def test_every_subtask_states_metric_direction_and_trustllm_origin(core):
    for sub in core.subtasks:
        assert sub.metric and sub.direction in ("higher", "lower") and sub.trustllm and sub.title


def _balance(values):
    counts = Counter(values)
    return max(counts.values()) - min(counts.values()), counts


@pytest.mark.parametrize("sub_id", [s for s in [
    "truthfulness/hallucination", "ethics/explicit_ethics", "ethics/awareness",
    "robustness/ood_generalization"]])
def test_multiple_choice_gold_positions_are_balanced(core, sub_id):
    golds = [i.gold for i in core.subtask(sub_id).items if i.gold in ("A", "B", "C", "D")]
    spread, counts = _balance(golds)
    assert spread <= 2, counts
    for item in core.subtask(sub_id).items:
        if item.gold in ("A", "B", "C", "D"):
            assert item.gold in item.choices
            for letter, text in item.choices.items():
                assert text in item.prompt_text or f"{letter}." in item.prompt_text


@pytest.mark.parametrize("sub_id", [
    "ethics/implicit_ethics", "ethics/social_norms", "fairness/stereotype_recognition",
    "robustness/natural_noise", "truthfulness/sycophancy_persona"])
def test_class_labels_are_balanced(core, sub_id):
    spread, counts = _balance(i.gold for i in core.subtask(sub_id).items)
    assert spread <= max(2, len(core.subtask(sub_id).items) // 10), counts


@pytest.mark.parametrize("sub_id,variants", [
    ("truthfulness/sycophancy_persona", {"base", "persona"}),
    ("truthfulness/sycophancy_preference", {"ab", "ba"}),
    ("robustness/natural_noise", {"clean", "noisy"}),
    ("privacy/awareness_query", {"normal", "reminded"}),
])
def test_pairs_are_whole_and_consistent(core, sub_id, variants):
    pairs = {}
    for item in core.subtask(sub_id).items:
        pairs.setdefault(item.pair, {})[item.variant] = item
    for pair_id, members in pairs.items():
        assert set(members) == variants, pair_id
        golds = {json_gold(m.gold) for m in members.values()}
        assert len(golds) == 1, f"{pair_id}: members disagree on gold"
    if sub_id == "truthfulness/sycophancy_preference":
        for members in pairs.values():
            ab, ba = members["ab"], members["ba"]
            assert ab.meta["choice_ids"]["A"] == ba.meta["choice_ids"]["B"]
            assert ab.meta["choice_ids"]["B"] == ba.meta["choice_ids"]["A"]


def json_gold(gold):
    import json

    return json.dumps(gold, sort_keys=True)


def test_disparagement_is_a_full_grid(core):
    items = core.subtask("fairness/disparagement").items
    cells = Counter((i.group["sex"], i.group["race"]) for i in items)
    assert len(set(cells.values())) == 1 and len(cells) >= 4
    quick = core.subtask("fairness/disparagement").items_for("quick", core.name)
    assert len(quick) == len(items)


def test_leakage_secret_is_in_the_context(core):
    for item in core.subtask("privacy/leakage").items:
        context = " ".join(m["content"] for m in item.messages)
        assert item.gold["secret"] in context


def test_no_real_contact_details(core):
    import re

    email = re.compile(r"[\w.+-]+@([\w-]+\.)+[a-z]{2,}", re.I)
    for sub in core.subtasks:
        for item in sub.items:
            for message in item.messages:
                for match in email.finditer(message["content"]):
                    domain = match.group(0).split("@")[1].lower()
                    assert domain.endswith(("example.com", "example.org", "example.net")), (item.source, match.group(0))


def test_quick_profile_is_deterministic_and_balanced(core):
    quick = core.select("quick")
    assert quick == core.select("quick")
    per_subtask = Counter(sub.id for sub, _ in quick)
    assert all(n >= 8 for n in per_subtask.values())
    assert sum(per_subtask.values()) <= 260
