"""The Textual app and its factory (shared by the CLI and the tests).

The app is a thin layer over the engine: screens ask the app's ``EngineService`` (tui/service.py)
to run, check or read, and listen to the messages it posts; everything they show is read from
the store. Screens are registered by name in ``SCREEN_TYPES``, so a new one is one entry.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from trust_tui.tui.screens.compare import CompareScreen
from trust_tui.tui.screens.export import ExportScreen
from trust_tui.tui.screens.history import HistoryScreen
from trust_tui.tui.screens.items import ItemsScreen
from trust_tui.tui.screens.models import ModelsScreen
from trust_tui.tui.screens.prompt import PromptScreen
from trust_tui.tui.screens.run import RunScreen
from trust_tui.tui.screens.scorecard import ScorecardScreen
from trust_tui.tui.screens.setup import RunSetupScreen
from trust_tui.tui.service import EngineService, JudgeChoice

# Every screen by name; ``TrustApp.open_screen(name, **arguments)`` builds and pushes one.
SCREEN_TYPES: dict[str, Callable[..., Screen]] = {
    "models": ModelsScreen,
    "setup": RunSetupScreen,
    "run": RunScreen,
    "scorecard": ScorecardScreen,
    "items": ItemsScreen,
    "history": HistoryScreen,
    "export": ExportScreen,
    "prompt": PromptScreen,
    "compare": CompareScreen,
}


@dataclass
class AppConfig:
    model: str | None = None  # a .gguf path given on the command line (selected at start)
    bundle: str = "trust-core"
    profile: str = "quick"
    # A Backend used for every run, or a callable path -> Backend (tests: the scripted fake).
    backend: Any = None
    store_path: Path | None = None  # default: the store under platformdirs / TRUST_TUI_HOME
    discover: Callable[[], list] | None = None  # default: engine.discovery.discover


def default_spec(config: AppConfig):
    """What `r` runs: the configured bundle and profile, every dimension."""
    from trust_tui.engine.run.loop import RunSpec

    return RunSpec(bundle=config.bundle, profile=config.profile)


QUIT_WAIT_S = 20.0  # a batch in prompt processing finishes within seconds on a CPU
UNMOUNT_WAIT_S = 5.0


class TrustApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "trust-tui"
    SUB_TITLE = "how trustworthy is this model?"
    BINDINGS = [
        Binding("t", "toggle_dark", "Theme"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+k", "open_compare", "Compare", show=False),
    ]

    def __init__(self, config: AppConfig) -> None:
        super().__init__()
        self.config = config
        self.extra_models: list[Path] = []
        if config.model:
            self.extra_models.append(Path(config.model).expanduser())
        self.service = EngineService(self, config)
        self._store = None

    # ------------------------------------------------------------------ plumbing

    def get_default_screen(self) -> Screen:
        return SCREEN_TYPES["models"]()

    @property
    def store(self):
        """The UI thread's own read connection to the store (workers open their own)."""
        if self._store is None:
            from trust_tui.engine.run.store import Store

            self._store = Store(self.config.store_path)
        return self._store

    def make_backend(self, model_path: Path):
        """The compare screen's backend factory (the service's)."""
        return self.service.make_backend(model_path)

    def action_open_compare(self) -> None:
        if not isinstance(self.screen, CompareScreen):
            self.open_screen("compare")

    def open_screen(self, name: str, callback: Callable | None = None, **arguments: Any) -> Screen:
        screen = SCREEN_TYPES[name](**arguments)
        self.push_screen(screen, callback)
        return screen

    def quick_run(self, model) -> RunScreen | None:
        """What `r` on the models screen does: the configured bundle and profile, every dimension."""
        return self.start_run(model, default_spec(self.config), None)

    def start_run(self, model, spec, options=None, replace: bool = False,
                  judge: JudgeChoice | None = None, recheck: int = 0) -> RunScreen | None:
        """Open the run screen for ``model`` and start ``spec`` on it (judged by ``judge``, then
        ``recheck`` items asked again, when given)."""
        if not self.service.idle:
            self.notify_busy()
            return None
        if options is None:  # the quick run: llama.cpp in a child process, like the run setup's
            from trust_tui.engine.run.api import BackendOptions

            options = BackendOptions(worker=True)
        screen = SCREEN_TYPES["run"](model=model, spec=spec, options=options, judge=judge,
                                     recheck=recheck)
        if replace:
            self.switch_screen(screen)
        else:
            self.push_screen(screen)
        return screen

    def notify_busy(self) -> None:
        job = self.service.job or "the previous run"
        self.notify(f"The engine is busy ({job}); try again when it has stopped.", severity="warning")

    async def action_quit(self) -> None:
        """Quit; engine work in flight is cancelled first and given time to close its record."""
        if not self.service.idle:
            self._cancel_engines()
            self.notify("Stopping the run; finished items are kept …", timeout=QUIT_WAIT_S)
            await asyncio.to_thread(self.service.wait_idle, QUIT_WAIT_S)
        self.exit()

    def _cancel_engines(self) -> None:
        self.service.cancel()  # a run, a determinism check or a comparison that runs models

    def on_unmount(self) -> None:
        # Any other way out (ctrl+c, a crash in a screen): stop the engine and let it write
        # the run's final counters and status, bounded so a wedged backend cannot hang the exit.
        if not self.service.idle:
            self._cancel_engines()
            self.service.wait_idle(UNMOUNT_WAIT_S)
        if self._store is not None:
            self._store.close()
            self._store = None

    # ------------------------------------------------------------------ command palette

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every key binding shown in the footer is also a command in the palette."""
        yield from super().get_system_commands(screen)
        yield SystemCommand("Compare runs or models",
                            "Quantized variants side by side, item by item (ctrl+k)",
                            self.action_open_compare)
        seen = {"Theme", "Quit", "Compare"}
        for key, active in screen.active_bindings.items():
            binding = active.binding
            if not binding.show or not binding.description or not active.enabled:
                continue
            title = binding.description
            if title in seen:
                continue
            seen.add(title)
            node, action = active.node, binding.action
            yield SystemCommand(title, f"{title} ({binding.key_display or key})",
                                _runner(self, action, node))


def _runner(app: App, action: str, node) -> Callable[[], Any]:
    def run() -> Any:
        return app.run_action(action, node)

    return run


def create_app(model: str | None = None, bundle: str = "trust-core", profile: str = "quick",
               *, backend: Any = None, store_path: str | Path | None = None,
               discover: Callable[[], list] | None = None) -> TrustApp:
    """The app, configured. ``backend`` and ``store_path`` exist for tests and embedding."""
    return TrustApp(AppConfig(
        model=model, bundle=bundle, profile=profile, backend=backend,
        store_path=Path(store_path) if store_path else None, discover=discover,
    ))
