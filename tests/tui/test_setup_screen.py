"""Run setup: defaults, choosing dimensions, knobs, and the estimate from past throughput."""

from __future__ import annotations

import pytest
from conftest import run_async, run_engine, screen_text, wait_for

from trust_tui.tui.screens.models import ModelsScreen
from trust_tui.tui.screens.run import RunScreen
from trust_tui.tui.screens.setup import RunSetupScreen
from trust_tui.tui.widgets.dimension_card import DimensionCard
from trust_tui.tui.widgets.dimension_picker import DimensionPicker


async def _setup(pilot) -> RunSetupScreen:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ModelsScreen) and pilot.app.screen.loaded)
    await pilot.press("s")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, RunSetupScreen) and pilot.app.screen.bundle)
    return pilot.app.screen


def test_defaults_and_an_estimate_without_history(env):
    async def go():
        app = env.app()
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await _setup(pilot)
            picker = screen.query_one(DimensionPicker)
            assert len(picker.selected) == 6
            ctx = screen.query_one("#setup-ctx")
            # empty: sized from the run's prompts (this fake model file has no vocabulary to count
            # them with, so the placeholder cannot give the figure)
            assert ctx.value == "" and ctx.placeholder.startswith("auto")
            text = screen_text(app)
            assert "tui-mini" in text and "quick" in text and "18 items" in text
            assert "no past runs" in text
    run_async(go())


def test_the_estimate_uses_past_throughput(env):
    run_engine(env)

    async def go():
        app = env.app()
        async with app.run_test(size=(120, 40)) as pilot:
            await _setup(pilot)
            text = screen_text(app)
            assert "≈" in text and "tok/s over 1 past run of this model" in text
            await pilot.press("o")  # only the highlighted dimension
            assert "3 items" in screen_text(app)
    run_async(go())


def test_run_only_the_chosen_dimension_with_the_chosen_knobs(env):
    async def go():
        app = env.app()
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await _setup(pilot)
            await pilot.press("down", "o")  # Safety only
            assert screen.query_one(DimensionPicker).selected == ["safety"]
            screen.query_one("#setup-threads").value = "2"
            screen.query_one("#setup-ctx").value = "1024"
            screen.query_one("#setup-gpu").value = "0"
            await pilot.press("r")
            await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and not app.screen.running)
            run = app.screen
            assert run.spec.dimensions == ("safety",)
            assert (run.options.threads, run.options.n_ctx, run.options.n_gpu_layers) == (2, 1024, 0)
            cards = {c.dimension: c for c in run.query(DimensionCard)}
            assert cards["safety"].included and cards["safety"].finished == 3
            assert not cards["truthfulness"].included
            await pilot.press("escape")  # back to the models screen (setup was replaced)
            assert isinstance(app.screen, ModelsScreen)
    run_async(go())


def test_bad_values_are_refused_with_a_message(env):
    async def go():
        app = env.app()
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await _setup(pilot)
            screen.query_one("#setup-ctx").value = "16"
            await pilot.press("r")
            assert isinstance(app.screen, RunSetupScreen)
            assert any("Context" in n.message for n in app._notifications)
            screen.query_one("#setup-ctx").value = ""
            await pilot.press("a")  # all dimensions
            picker = screen.query_one(DimensionPicker)
            picker.deselect_all()
            await pilot.press("r")
            assert isinstance(app.screen, RunSetupScreen)
            assert any("at least one dimension" in n.message for n in app._notifications)
    run_async(go())


def test_an_unknown_bundle_is_a_notification(env):
    async def go():
        app = env.app(bundle="no-such-bundle")
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, ModelsScreen) and app.screen.loaded)
            await pilot.press("s")
            await wait_for(pilot, lambda: any(n.severity == "error" for n in app._notifications))
            assert "unknown bundle" in screen_text(app)
            await pilot.press("escape")
            assert isinstance(app.screen, ModelsScreen)
    run_async(go())


@pytest.mark.model
def test_the_context_field_says_what_auto_gives_on_a_real_model(env, smol_path):
    from trust_tui.engine import bundles
    from trust_tui.engine.models import gguf
    from trust_tui.tui import data

    info = gguf.read_info(smol_path)
    row = data.ModelRow(path=smol_path, name=smol_path.name, source="embedded",
                        context_length=info.context_length, has_chat_template=True)

    async def go():
        app = env.app()
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, ModelsScreen) and app.screen.loaded)
            app.push_screen(RunSetupScreen(row))
            await wait_for(pilot, lambda: isinstance(app.screen, RunSetupScreen)
                           and app.screen.context_plan is not None)
            screen = app.screen
            plan = screen.context_plan
            assert plan.source == "workload" and plan.seq_ctx == 256  # tui-mini's prompts are short
            assert 0 < plan.longest_prompt < 200
            assert plan.max_tokens == max(s.generation.max_tokens
                                          for s in bundles.load("tui-mini").subtasks)
            placeholder = screen.query_one("#setup-ctx").placeholder
            assert placeholder == f"auto: 256 tokens (longest prompt {plan.longest_prompt} + answers up to {plan.max_tokens})"
            await pilot.press("o")  # one dimension: the figure follows the choice
            assert screen.context_plan.longest_prompt <= plan.longest_prompt
    run_async(go())
