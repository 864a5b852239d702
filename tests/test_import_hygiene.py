"""The engine is headless: importing it must never import textual (STYLE.md)."""

import subprocess
import sys


def test_engine_does_not_import_textual():
    code = (
        "import sys\n"
        "import trust_tui.engine.run.api, trust_tui.engine.run.loop, trust_tui.engine.score.scorecard\n"
        "import trust_tui.engine.bundles, trust_tui.export.markdown, trust_tui.cli\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'llama_cpp')]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"imported at module level: {out.stdout}"
