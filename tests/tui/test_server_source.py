"""A server as the model source in the app: URL in, identity shown, the run answered by the server
(a real local HTTP server, tests/scripted_server.py; no fake backend)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from conftest import run_async, screen_text, wait_for
from textual.widgets import Input

from trust_tui.tui.screens.models import ModelsScreen
from trust_tui.tui.screens.run import RunScreen
from trust_tui.tui.screens.setup import RunSetupScreen

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/, for scripted_server
from scripted_server import ScriptedServer  # noqa: E402


def _app(env):
    from trust_tui.tui.app import create_app

    # No fake backend: the run must go through the server the user typed in.
    return create_app(store_path=env.store_path, discover=env.found, bundle="tui-mini")


def test_a_server_is_a_model_source_with_its_identity_shown(env):
    async def go(server):
        app = _app(env)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, ModelsScreen) and app.screen.loaded)
            await pilot.press("v")
            await wait_for(pilot, lambda: isinstance(app.screen, RunSetupScreen) and app.screen.bundle)
            setup = app.screen
            assert not setup.query_one("#setup-ctx-field").display  # the server's own knobs
            field = setup.query_one("#setup-server", Input)
            field.focus()
            field.value = "http://127.0.0.1:1/v1"
            await pilot.press("enter")
            await wait_for(pilot, lambda: "connection refused" in " ".join(screen_text(app).split()))
            field.value = server.url
            await pilot.press("enter")
            await wait_for(pilot, lambda: setup.server_info is not None)
            text = " ".join(screen_text(app).split())
            assert "openai-compatible · model scripted-model · 4 in flight" in text
            assert "identified by openai-compatible model name + answer probe" in text
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
            run = app.screen
            await wait_for(pilot, lambda: not run.running, 30)
            assert "scripted-model @ " in screen_text(app)
        return run

    with ScriptedServer() as server:
        run_async(go(server))
        answered = len(server.bodies)
    from trust_tui.engine.run.store import Store

    store = Store(env.store_path)
    row = store.runs(limit=1)[0]
    backend = json.loads(row["backend"])
    assert row["status"] == "finished" and row["generated"] == answered == 18
    assert backend["kind"] == "server" and backend["servers"] == [f"{server.url}/v1"]
    assert row["model_id"].startswith("server:openai-compatible:")
    store.close()
