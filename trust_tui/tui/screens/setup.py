"""Run setup: bundle, profile, dimensions and backend knobs, with an estimated time; a judge for
the verdicts the rules leave open (a GGUF among the discovered models, or a server) and a
determinism check after the run."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Label, Select, Static

from trust_tui.tui import data
from trust_tui.tui.messages import DataLoaded
from trust_tui.tui.text import safe
from trust_tui.tui.widgets.dimension_picker import DimensionPicker


NO_JUDGE, NO_JUDGE_LABEL = "none", "none: rules only"
SERVER_JUDGE, SERVER_JUDGE_LABEL = "server", "a server (URL below)"
AUTO_FORMAT = "auto"


class RunSetupScreen(Screen):
    BINDINGS = [
        Binding("r", "start", "Start run"),
        Binding("ctrl+s", "start", "Start run", show=False),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, model: data.ModelRow) -> None:
        super().__init__(id="setup-screen")
        self.model = model
        self.bundle = None  # the loaded engine Bundle
        self.prompt_tokens: dict[str, int] = {}  # item uid -> prompt tokens on this model
        self.context_plan = None  # what an empty Context field gives (a ContextPlan)
        # A server as the model source: the knobs are the server's, identity is asked of it.
        self.server_mode = model.source == "server"
        self.server_info = None  # the BackendInfo of the last successful identity check
        self.judge_files: dict[str, object] = {}  # Select value -> the judge's GGUF path

    def compose(self) -> ComposeResult:
        config = self.app.config
        yield Header()
        with VerticalScroll(id="setup-form"):
            with Horizontal(classes="field"):
                yield Label("Model", classes="field-label")
                yield Static(self._model_text(), id="setup-model")
            with Horizontal(classes="field"):
                yield Label("Bundle", classes="field-label")
                yield Select([(config.bundle, config.bundle)], value=config.bundle,
                             allow_blank=False, compact=True, id="setup-bundle")
            with Horizontal(classes="field"):
                yield Label("Profile", classes="field-label")
                yield Select([("quick", "quick"), ("full", "full")], value=config.profile,
                             allow_blank=False, compact=True, id="setup-profile")
            with Horizontal(classes="field field-tall"):
                yield Label("Dimensions", classes="field-label")
                yield DimensionPicker(id="setup-dimensions")
            if self.server_mode:
                yield from self._server_fields()
            with Horizontal(classes="field", id="setup-gpu-field"):
                yield Label("GPU layers", classes="field-label")
                yield Input(placeholder="auto (all when llama.cpp has a GPU; -1 all, 0 none)",
                            compact=True, id="setup-gpu", restrict=r"-?[0-9]*")
            with Horizontal(classes="field", id="setup-threads-field"):
                yield Label("Threads", classes="field-label")
                yield Input(placeholder="auto (all cores)", compact=True, id="setup-threads",
                            restrict=r"[0-9]*")
            with Horizontal(classes="field", id="setup-ctx-field"):
                yield Label("Context", classes="field-label")
                yield Input(placeholder="auto (the longest prompt + its max_tokens)", compact=True,
                            id="setup-ctx", restrict=r"[0-9]*")
            yield from self._judge_fields()
            with Horizontal(classes="field", id="setup-recheck-field"):
                yield Label("Recheck", classes="field-label")
                yield Input(placeholder="0 (N: ask N items again after the run, batched and alone)",
                            compact=True, id="setup-recheck", restrict=r"[0-9]*")
            with Horizontal(classes="field", id="setup-estimate-field"):
                yield Label("Estimate", classes="field-label")
                yield Static(Text("loading the bundle…", style="dim"), id="setup-estimate")
            with Horizontal(id="setup-buttons"):
                yield Button("Start run", variant="primary", id="setup-start", compact=True)
                yield Button("Back", id="setup-back", compact=True)
        yield Footer(compact=True)

    def _judge_fields(self) -> ComposeResult:
        from trust_tui.engine.judge import formats

        with Horizontal(classes="field", id="setup-judge-field"):
            yield Label("Judge", classes="field-label")
            yield Select([(NO_JUDGE_LABEL, NO_JUDGE), (SERVER_JUDGE_LABEL, SERVER_JUDGE)],
                         value=NO_JUDGE, allow_blank=False, compact=True, id="setup-judge")
        with Horizontal(classes="field", id="setup-judge-server-field"):
            yield Label("Judge URL", classes="field-label")
            yield Input(placeholder="http://127.0.0.1:8081/v1 (an OpenAI-compatible server)",
                        compact=True, id="setup-judge-server")
        with Horizontal(classes="field", id="setup-judge-format-field"):
            yield Label("Judge format", classes="field-label")
            yield Select([("from the judge's metadata", AUTO_FORMAT)] + [(n, n) for n in formats.names()],
                         value=AUTO_FORMAT, allow_blank=False, compact=True, id="setup-judge-format")

    def _server_fields(self) -> ComposeResult:
        for label, widget_id, placeholder in (
                ("Server", "setup-server", "http://127.0.0.1:8080/v1 (enter: ask the server)"),
                ("Model name", "setup-server-model", "the first model the server lists"),
                ("Fingerprint", "setup-fingerprint", "from the server (or your own name for the model)")):
            with Horizontal(classes="field"):
                yield Label(label, classes="field-label")
                yield Input(placeholder=placeholder, compact=True, id=widget_id)
        with Horizontal(classes="field", id="setup-identity-field"):
            yield Label("Identity", classes="field-label")
            yield Static(Text("enter the server's URL", style="dim"), id="setup-server-identity")

    def _server_options(self):
        from trust_tui.engine.run.api import BackendOptions

        def value(widget_id: str) -> str | None:
            return self.query_one(widget_id, Input).value.strip() or None

        return BackendOptions(server=value("#setup-server"), server_model=value("#setup-server-model"),
                              fingerprint=value("#setup-fingerprint"))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self.server_mode and event.input.id in ("setup-server", "setup-server-model", "setup-fingerprint"):
            options = self._server_options()
            if options.server:
                self.server_info = None
                self.query_one("#setup-server-identity", Static).update(Text("asking the server…", style="dim"))
                self.check_server(options)

    @work(thread=True, exclusive=True, group="setup-server", exit_on_error=False)
    def check_server(self, options) -> None:
        """What the server says it serves and how its model is identified (nothing is run)."""
        from trust_tui.engine.run import api
        from trust_tui.errors import TrustError

        try:
            backend = api.open_server_backend(options)
        except TrustError as exc:
            self.post_message(DataLoaded("server", None, str(exc)))
            return
        backend.close()
        self.post_message(DataLoaded("server", (options, backend.info)))

    def _show_server(self, message: DataLoaded) -> None:
        target = self.query_one("#setup-server-identity", Static)
        if message.payload is None:
            target.update(safe(message.error, "red"))
            return
        options, info = message.payload
        if options != self._server_options():
            return  # the fields changed since: a newer check is on its way
        self.server_info = info
        settings = info.settings
        text = safe(f"{settings['server_kind']} {settings.get('server_version') or ''}".strip(), "bold")
        text.append_text(safe(f" · model {settings.get('model') or '(default)'} · "
                              f"{settings['parallel']} in flight"))
        text.append_text(safe(f"\nidentified by {settings['fingerprint_source']} · fingerprint "
                              f"{str(settings['fingerprint'])[:16]}", "dim"))
        if info.template_warning:
            text.append_text(safe(f"\n{info.template_warning}", "yellow"))
        target.update(text)

    def _model_text(self) -> Text:
        text = safe(self.model.name, "bold", single_line=True)
        if self.model.quant:
            text.append(f"  {self.model.quant} · {data.human_size(self.model.size)}", style="dim")
        return text

    def on_mount(self) -> None:
        self.sub_title = "run setup"
        if self.server_mode:  # the server decides its own layers, threads and context
            for field_id in ("#setup-gpu-field", "#setup-threads-field", "#setup-ctx-field"):
                self.query_one(field_id).display = False
            self.query_one("#setup-identity-field").styles.height = "auto"  # errors and warnings wrap
        self.query_one("#setup-judge-server-field").display = False
        self.query_one("#setup-judge-format-field").display = False
        self.query_one(DimensionPicker).focus()
        self.load_bundle(self.app.config.bundle)
        self.list_bundles()
        self.list_judges()

    # ------------------------------------------------------------------ bundle

    @work(thread=True, exclusive=True, group="setup-bundle", exit_on_error=False)
    def load_bundle(self, name: str) -> None:
        from trust_tui.engine import bundles
        from trust_tui.errors import TrustError

        try:
            self.post_message(DataLoaded("bundle", bundles.load(name)))
        except TrustError as exc:
            self.post_message(DataLoaded("bundle", None, str(exc)))

    @work(thread=True, exclusive=True, group="setup-prompts", exit_on_error=False)
    def measure_prompts(self, bundle) -> None:
        """Prompt tokens of every item of the bundle on this model (a tokenizer-only load), so
        the Context field can say what "auto" gives for any choice of profile and dimensions."""
        from trust_tui.engine.run import api
        from trust_tui.engine.models import gguf
        from trust_tui.errors import TrustError

        try:
            template = gguf.read_info(self.model.path).chat_template
        except (TrustError, OSError):
            template = None
        counts = api.prompt_tokens(self.model.path, bundle.select("full"), template)
        self.post_message(DataLoaded("prompt-tokens", (bundle, counts)))

    def list_bundles(self) -> None:
        self._list_bundles(self.app.config.bundle)

    @work(thread=True, group="setup-bundles", exit_on_error=False)
    def _list_bundles(self, current: str) -> None:
        self.post_message(DataLoaded("bundle-names", data.bundle_names(current)))

    def list_judges(self) -> None:
        """Every discovered GGUF can judge (a small model judges badly: judge-check measures it)."""
        extra, discover = list(self.app.extra_models), self.app.config.discover

        def read(store) -> list:
            return [(entry.name, entry.path) for entry in data.discover_models(extra, discover)]

        self.app.service.read(self, "judges", read)

    def _fill_judges(self, found: list) -> None:
        select = self.query_one("#setup-judge", Select)
        self.judge_files = {str(path): path for _, path in found}
        options = [(NO_JUDGE_LABEL, NO_JUDGE)]
        options += [(safe(f"{name}  {data.home_short(path)}", single_line=True), str(path))
                    for name, path in found]
        options.append((SERVER_JUDGE_LABEL, SERVER_JUDGE))
        current = select.value
        with self.prevent(Select.Changed):
            select.set_options(options)
            select.value = current if current in {value for _, value in options} else NO_JUDGE

    def _judge_choice(self) -> tuple[bool, object]:
        """(ok, JudgeChoice or None) from the judge fields; a bad choice is a notification."""
        from trust_tui.tui.service import JudgeChoice

        value = self.query_one("#setup-judge", Select).value
        fmt = self.query_one("#setup-judge-format", Select).value
        fmt = None if fmt == AUTO_FORMAT else str(fmt)
        if value == NO_JUDGE:
            return True, None
        if value == SERVER_JUDGE:
            url = self.query_one("#setup-judge-server", Input).value.strip()
            if not url:
                self.notify("Judge URL: enter the judge server's URL.", severity="warning")
                return False, None
            return True, JudgeChoice(server=url, format=fmt)
        return True, JudgeChoice(model=self.judge_files[str(value)], format=fmt)

    def on_data_loaded(self, message: DataLoaded) -> None:
        if message.key == "judges":
            if message.payload is not None:
                self._fill_judges(message.payload)
            return
        if message.key == "bundle-names":
            select = self.query_one("#setup-bundle", Select)
            current = select.value
            with self.prevent(Select.Changed):
                select.set_options([(name, name) for name in message.payload])
                select.value = current
            return
        if message.key == "server":
            self._show_server(message)
            return
        if message.key == "prompt-tokens":
            bundle, counts = message.payload
            if bundle is self.bundle:
                self.prompt_tokens = counts
                self._update_context()
            return
        if message.key != "bundle":
            return
        picker = self.query_one(DimensionPicker)
        picker.clear_options()
        self.bundle = message.payload
        if self.bundle is None:
            self.query_one("#setup-estimate", Static).update(safe(message.error, "red"))
            self.notify(message.error, title="Cannot load the bundle", severity="error",
                        markup=False)
            return
        if not self.server_mode:  # a server's prompts are rendered and counted by the server
            self.measure_prompts(self.bundle)
        titles = self.bundle.dimension_titles
        picker.add_options([(titles.get(d, data.DIMENSION_TITLES.get(d, d)), d, True)
                            for d in self.bundle.dimensions])
        if picker.option_count:
            picker.highlighted = 0
        self._update_estimate()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "setup-judge":
            self.query_one("#setup-judge-server-field").display = event.value == SERVER_JUDGE
            self.query_one("#setup-judge-format-field").display = event.value != NO_JUDGE
            return
        if event.select.id == "setup-judge-format":
            return
        if event.select.id == "setup-bundle" and isinstance(event.value, str):
            if self.bundle is None or self.bundle.name != event.value:
                self.load_bundle(event.value)
        else:
            self._update_estimate()

    def on_selection_list_selected_changed(self) -> None:
        self._update_estimate()

    # ------------------------------------------------------------------ estimate

    def _choices(self) -> tuple[str, list[str]]:
        profile = self.query_one("#setup-profile", Select).value
        dims = list(self.query_one(DimensionPicker).selected)
        return str(profile), dims

    def _update_estimate(self) -> None:
        target = self.query_one("#setup-estimate", Static)
        if self.bundle is None:
            return
        profile, dims = self._choices()
        if not dims:
            target.update(Text("choose at least one dimension", style="yellow"))
            return
        workload = self.bundle.select(profile, dims)
        self._update_context(workload)
        guess = data.estimate(self.app.store, self.model.model_id, workload)
        text = Text()
        if guess.seconds is None:
            text.append(f"{guess.items} items", style="bold")
            text.append(f" · {guess.basis}", style="dim")
        else:
            text.append(f"≈ {data.duration(guess.seconds)}", style="bold")
            text.append(f" for {guess.items} items", style="bold")
            text.append(f" · {guess.basis}; cached answers are reused", style="dim")
        target.update(text)

    def _update_context(self, workload: list | None = None) -> None:
        """The Context field's placeholder says the figure an empty field gives for this choice."""
        from trust_tui.engine.run import api

        if self.bundle is None or not self.prompt_tokens:
            return
        if workload is None:
            profile, dims = self._choices()
            workload = self.bundle.select(profile, dims) if dims else []
        if not workload:
            return
        self.context_plan = api.context_plan(workload, self.prompt_tokens,
                                             train_ctx=self.model.context_length)
        self.query_one("#setup-ctx", Input).placeholder = f"auto: {self.context_plan.describe()}"

    # ------------------------------------------------------------------ start

    def _int(self, widget_id: str, name: str) -> tuple[bool, int | None]:
        raw = self.query_one(widget_id, Input).value.strip()
        if not raw:
            return True, None
        try:
            return True, int(raw)
        except ValueError:
            self.notify(f"{name}: {raw!r} is not a whole number", severity="error", markup=False)
            return False, None

    def action_start(self) -> None:
        from trust_tui.engine.run.api import BackendOptions
        from trust_tui.engine.run.loop import RunSpec

        if self.bundle is None:
            self.notify("The bundle is not loaded.", severity="error")
            return
        profile, dims = self._choices()
        if not dims:
            self.notify("Choose at least one dimension.", severity="warning")
            return
        values = {}
        for widget_id, name in (("#setup-gpu", "GPU layers"), ("#setup-threads", "Threads"),
                                ("#setup-ctx", "Context"), ("#setup-recheck", "Recheck")):
            ok, value = self._int(widget_id, name)
            if not ok:
                return
            values[name] = value
        if values["Threads"] is not None and values["Threads"] < 1:
            self.notify("Threads: at least 1", severity="error")
            return
        if values["Context"] is not None and values["Context"] < 128:
            self.notify("Context: at least 128 tokens", severity="error")
            return
        ok, judge = self._judge_choice()
        if not ok:
            return
        recheck = values["Recheck"] or 0
        if self.server_mode and recheck:
            self.notify("Recheck: a determinism check asks a local model file again; a server run "
                        "cannot be rechecked here.", severity="error")
            return
        if self.server_mode:
            self._start_on_server(profile, dims, judge)
            return
        all_dims = set(dims) == set(self.bundle.dimensions)
        spec = RunSpec(bundle=str(self.query_one("#setup-bundle", Select).value), profile=profile,
                       dimensions=() if all_dims else tuple(dims))
        # llama.cpp runs in a child process for the app: an abort or a segfault there fails the
        # run with its reason and leaves the app and the terminal standing (backends/worker.py;
        # overhead in bench/worker_overhead.py).
        options = BackendOptions(n_ctx=values["Context"], threads=values["Threads"],
                                 n_gpu_layers=values["GPU layers"], worker=True)
        self.app.start_run(self.model, spec, options, replace=True, judge=judge, recheck=recheck)

    def _start_on_server(self, profile: str, dims: list[str], judge=None) -> None:
        from trust_tui.engine.run.loop import RunSpec

        options = self._server_options()
        if not options.server:
            self.notify("Enter the server's URL.", severity="warning")
            return
        info = self.server_info
        name = (info.settings.get("model") if info else None) or options.server_model or options.server
        row = data.ModelRow(path=self.model.path, name=f"{name} @ {options.server}", source="server",
                            model_id=info.model_id if info else None)
        all_dims = set(dims) == set(self.bundle.dimensions)
        spec = RunSpec(bundle=str(self.query_one("#setup-bundle", Select).value), profile=profile,
                       dimensions=() if all_dims else tuple(dims))
        self.app.start_run(row, spec, options, replace=True, judge=judge)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "setup-start":
            self.action_start()
        else:
            self.action_back()

    def action_back(self) -> None:
        self.dismiss()
