"""The models screen: what it finds, what it shows, and the one-key quick run."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_async, screen_text, wait_for, write_fake_gguf

from trust_tui.tui.app import create_app
from trust_tui.tui.screens.models import ModelsScreen


async def _loaded(pilot) -> ModelsScreen:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ModelsScreen) and pilot.app.screen.loaded)
    return pilot.app.screen


def test_opens_on_models_with_the_embedded_default_selected(env):
    async def go():
        app = env.app()
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await _loaded(pilot)
            assert screen.selected().path == env.model_path
            assert screen.selected().source == "embedded"
            text = screen_text(app)
            for expected in ("demo-model.Q4_K_M.gguf", "llama3.2:1b", "Ollama", "Q4_K_M", "2.4 MB",
                             "4.2M", "never run", "~/models/demo-model.Q4_K_M.gguf"):
                assert expected in text
    run_async(go())


def test_quick_run_is_one_key_and_the_score_shows_afterwards(env):
    async def go():
        app = env.app()
        async with app.run_test(size=(120, 40)) as pilot:
            await _loaded(pilot)
            await pilot.press("r")
            await wait_for(pilot, lambda: app.screen.id == "run-screen" and not app.screen.running)
            assert "finished · 18/18 items" in screen_text(app)
            await pilot.press("escape")
            screen = await _loaded(pilot)
            await wait_for(pilot, lambda: screen.selected().last_score is not None)
            row = screen.selected()
            assert round(row.last_score, 3) == 0.778 and row.last_run_id == 1
            assert "77.8%" in screen_text(app)
    run_async(go())


def test_model_given_on_the_command_line_is_selected(env):
    path = write_fake_gguf(env.user / "elsewhere" / "cli-model.gguf", name="cli")

    async def go():
        app = create_app(model=str(path), bundle="tui-mini", store_path=env.store_path,
                         backend=env.backend(), discover=env.found)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await _loaded(pilot)
            assert screen.selected().path == path and screen.selected().source == "path"
    run_async(go())


def test_open_a_file_by_path(env):
    path = write_fake_gguf(env.user / "downloads" / "opened.Q8_0.gguf", name="opened", file_type=7)

    async def go():
        app = env.app()
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await _loaded(pilot)
            await pilot.press("o")
            await pilot.press(*str(path))
            await pilot.press("enter")
            await wait_for(pilot, lambda: screen.selected() is not None and screen.selected().path == path)
            assert screen.selected().quant == "Q8_0"
            assert "opened" in screen_text(app)
    run_async(go())


def test_a_bad_file_is_shown_as_unreadable_and_cannot_run(env):
    bad = env.user / "models" / "broken.gguf"
    bad.write_text("this is not a model", encoding="utf-8")

    async def go():
        app = create_app(model=str(bad), bundle="tui-mini", store_path=env.store_path,
                         backend=env.backend(), discover=env.found)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await _loaded(pilot)
            assert screen.selected().path == bad and "not a GGUF" in screen.selected().error
            assert "unreadable" in screen_text(app)
            await pilot.press("r")
            await pilot.pause(0.1)
            assert isinstance(app.screen, ModelsScreen)  # no run started
            assert any("not a GGUF" in n.message for n in app._notifications)
            await pilot.press("down")  # still usable: pick the other model and run it
            await pilot.press("r")
            await wait_for(pilot, lambda: app.screen.id == "run-screen" and not app.screen.running)
    run_async(go())


def test_added_folders_are_remembered_in_the_config_file(env, tui_home):
    folder = env.user / "my-models"
    write_fake_gguf(folder / "sub" / "mine.gguf", name="mine")

    async def go():
        app = create_app(bundle="tui-mini", store_path=env.store_path, backend=env.backend())
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await _loaded(pilot)
            await pilot.press("a")
            await pilot.press(*str(folder))
            await pilot.press("enter")
            await wait_for(pilot, lambda: any(r.name == "mine.gguf" for r in screen.rows.values()))
            row = next(r for r in screen.rows.values() if r.name == "mine.gguf")
            assert row.source == "folder"
    run_async(go())
    config = json.loads((tui_home / "config" / "config.json").read_text())
    assert config["model_folders"] == [str(folder.resolve())]

    async def again():  # a new session finds the folder again
        app = create_app(bundle="tui-mini", store_path=env.store_path, backend=env.backend())
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await _loaded(pilot)
            assert any(r.name == "mine.gguf" for r in screen.rows.values())
    run_async(again())


def test_models_are_found_in_the_caches_users_keep_them_in(env):
    home = Path.home()
    write_fake_gguf(home / ".cache" / "huggingface" / "hub" / "models--org--repo" / "snapshots"
                    / "abc" / "hf-model.Q4_K_M.gguf", name="hf")
    write_fake_gguf(home / ".lmstudio" / "models" / "org" / "repo" / "lms-model.gguf", name="lms")
    write_fake_gguf(home / ".cache" / "llama.cpp" / "cpp-model.gguf", name="cpp")
    ollama = home / ".ollama" / "models"
    blob = write_fake_gguf(ollama / "blobs" / "sha256-1234", name="ollama")
    manifest = ollama / "manifests" / "registry.ollama.ai" / "library" / "qwen2.5" / "0.5b"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"layers": [
        {"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:1234"}]}))

    async def go():
        app = create_app(bundle="tui-mini", store_path=env.store_path, backend=env.backend())
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await _loaded(pilot)
            by_name = {r.name: r for r in screen.rows.values()}
            assert by_name["hf-model.Q4_K_M.gguf"].source == "huggingface"
            assert by_name["lms-model.gguf"].source == "lmstudio"
            assert by_name["cpp-model.gguf"].source == "llama.cpp"
            assert by_name["qwen2.5:0.5b"].source == "ollama"
            assert by_name["qwen2.5:0.5b"].path == blob
            text = screen_text(app)
            for label in ("HF cache", "LM Studio", "llama.cpp", "Ollama"):
                assert label in text
    run_async(go())


def test_r_pressed_before_the_models_are_listed_runs_once_they_are(env):
    import threading

    # Discovery waits for the key press itself: a fixed sleep raced with a slow first paint.
    pressed = threading.Event()

    def slow_discover():
        pressed.wait(10)
        return env.found()

    async def go():
        from trust_tui.tui.screens.run import RunScreen

        app = create_app(bundle="tui-mini", store_path=env.store_path, backend=env.backend(),
                         discover=slow_discover)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("r")
            assert not app.screen.loaded
            pressed.set()
            await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and not app.screen.running)
            assert app.screen.model.path == env.model_path
    run_async(go())
