"""Keyboard, command palette, themes, mouse, small terminals, and a light import."""

from __future__ import annotations

import subprocess
import sys

from conftest import run_async, screen_text, wait_for

from trust_tui.tui.app import SCREEN_TYPES, create_app
from trust_tui.tui.screens.models import ModelsScreen
from trust_tui.tui.screens.run import RunScreen
from trust_tui.tui.screens.setup import RunSetupScreen


async def _models(pilot) -> ModelsScreen:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ModelsScreen) and pilot.app.screen.loaded)
    return pilot.app.screen


def test_light_and_dark_theme(env):
    async def go():
        app = env.app()
        async with app.run_test(size=(80, 24)) as pilot:
            await _models(pilot)
            assert app.theme == "textual-dark"
            await pilot.press("t")
            assert app.theme == "textual-light"
            await pilot.press("t")
            assert app.theme == "textual-dark"
    run_async(go())


def test_every_footer_action_is_in_the_command_palette(env):
    async def go():
        app = env.app()
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await _models(pilot)
            titles = {command.title for command in app.get_system_commands(screen)}
            shown = {a.binding.description for a in screen.active_bindings.values() if a.binding.show}
            assert shown <= titles
            assert {"Quick run", "Setup", "History", "Open", "Add folder", "Theme", "Quit"} <= titles
    run_async(go())


def test_the_command_palette_starts_a_quick_run(env):
    async def go():
        app = env.app()
        async with app.run_test(size=(120, 40)) as pilot:
            await _models(pilot)
            await pilot.press("ctrl+p")
            await pilot.pause(0.2)
            await pilot.press(*"Quick run")
            await pilot.pause(0.5)
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and not app.screen.running)
            assert "finished · 18/18" in screen_text(app)
    run_async(go())


def test_the_mouse_works_too(env):
    async def go():
        app = env.app()
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await _models(pilot)
            await pilot.click("#models-table", offset=(3, 2))  # the second model row
            assert screen.selected().name == "llama3.2:1b"
            await pilot.click("#models-table", offset=(3, 1))
            await pilot.press("s")
            await wait_for(pilot, lambda: isinstance(app.screen, RunSetupScreen) and app.screen.bundle)
            await pilot.click("#setup-start")
            await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and not app.screen.running)
    run_async(go())


def test_a_full_flow_at_80_by_24(env):
    async def go():
        app = env.app()
        async with app.run_test(size=(80, 24)) as pilot:
            await _models(pilot)
            await pilot.press("r")
            await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and not app.screen.running)
            text = screen_text(app)
            for title in ("Truthfulness", "Safety", "Fairness", "Robustness", "Privacy", "Machine ethics"):
                assert title in text
            assert "finished · 18/18 items" in text
            await pilot.press("d", "down", "enter")
            assert "Facts · 3 items" in screen_text(app)
    run_async(go())


def test_the_cli_factory_signature(env):
    app = create_app(model=str(env.model_path), bundle="tui-mini", profile="full")
    assert (app.config.model, app.config.bundle, app.config.profile) == (
        str(env.model_path), "tui-mini", "full")
    assert set(SCREEN_TYPES) >= {"models", "setup", "run", "scorecard", "items", "history", "export"}


def test_importing_the_app_loads_neither_llama_cpp_nor_the_engine():
    code = ("import sys, trust_tui.tui.app; "
            "bad = [m for m in sys.modules if m.startswith(('llama_cpp', 'trust_tui.engine', "
            "'sqlite_utils'))]; print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
