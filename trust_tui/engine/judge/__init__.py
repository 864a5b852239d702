"""A local judge for what rules cannot decide (docs/judge.md).

A judge is any GGUF the user chooses: a generic instruct model reading a rubric under a
grammar, or a dedicated safety classifier in its own format. It reads the answers whose rule
verdict a rubric leaves to it, its verdicts are cached like answers, and its agreement with the
labelled corpus is measured (``trust-tui judge-check``) before a scorecard trusts it.

Modules: ``rubrics`` (versioned TOML data), ``formats`` (how each kind of judge is asked and
read), ``grammar`` (GBNF), ``engine`` (the judge model on the batched engine), ``cache`` (its
store tables), ``judging`` (judging a run), ``overlay`` (what readers see), ``memory`` (when the
audited model and the judge may share memory), ``calibrate`` (judge-check), ``session`` (a
judged run). Importing this package imports none of them.
"""
