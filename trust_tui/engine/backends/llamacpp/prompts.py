"""A model's prompt rules: rendered with the GGUF's chat template (or a plain fallback, reported)
and tokenized exactly as llama-cpp-python's ``create_chat_completion`` does, so answers match what
users see elsewhere.

The backend, the tokenizer-only measure of a workload (``measure_prompts``), the agreement measure
and the judge all tokenize through ``tokenize_prompt``: a prompt counted before loading has the
tokens it is decoded with, and teacher-forced agreement sees the tokens the run saw.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from trust_tui.engine.backends.llamacpp import loader

FALLBACK_TEMPLATE_WARNING = (
    "the model has no chat template; prompts used a plain fallback template, "
    "which alone can lower its scores"
)
FALLBACK_STOPS = ("\nUser:", "\n\nUser")


def fallback_render(messages: Sequence[Mapping[str, str]]) -> str:
    """A plain transcript for models without a chat template (base models)."""
    parts = []
    for message in messages:
        role = message["role"]
        if role == "system":
            parts.append(message["content"].strip() + "\n")
        elif role == "user":
            parts.append(f"User: {message['content'].strip()}\n")
        else:
            parts.append(f"Assistant: {message['content'].strip()}\n")
    parts.append("Assistant:")
    return "\n".join(parts)


def adds_bos(llm: Any) -> bool:
    """Whether the vocabulary asks for a BOS token in front of a prompt."""
    import llama_cpp

    return bool(llama_cpp.llama_vocab_get_add_bos(llm._model.vocab))


def tokenize_prompt(llm: Any, prompt: str, templated: bool) -> list[int]:
    """The tokens of a rendered prompt. llama-cpp-python's chat handler's rule: a GGUF template
    writes its own special tokens (parsed with special=True, no extra BOS); the plain fallback
    gets the vocabulary's BOS when it asks for one."""
    add_bos = not templated and adds_bos(llm)
    return llm.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True)


class ChatPrompts:
    """Render and tokenize for one model (any Llama: a vocabulary-only load is enough)."""

    def __init__(self, llm: Any, template: str | None):
        self.llm = llm
        self._add_bos_vocab = adds_bos(llm)
        self.formatter = None
        if template:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            eos_id, bos_id = llm.token_eos(), llm.token_bos()
            eos = llm._model.token_get_text(eos_id) if eos_id != -1 else ""
            bos = llm._model.token_get_text(bos_id) if bos_id != -1 else ""
            try:
                self.formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
                self.formatter(messages=[{"role": "user", "content": "ping"}])
            except Exception:  # noqa: BLE001 - a broken template: fall back, and say so
                self.formatter = None

    @property
    def templated(self) -> bool:
        return self.formatter is not None

    def render(self, messages: Sequence[Mapping[str, str]]) -> str:
        if self.formatter is not None:
            return self.formatter(messages=[dict(m) for m in messages]).prompt
        return fallback_render(messages)

    def tokenize(self, prompt: str) -> list[int]:
        return tokenize_prompt(self.llm, prompt, self.templated)

    def raw_prefix(self) -> str:
        """What a prompt written in the model's own format must start with: the BOS text where
        the vocabulary adds one and the template would have written it (templated prompts are
        tokenized without an added BOS), else nothing."""
        if self.formatter is None or not self._add_bos_vocab:
            return ""
        token = self.llm.token_bos()
        return self.llm._model.token_get_text(token) if token != -1 else ""


def measure_prompts(path: str | Path, chat_template: str | None,
                    conversations: Iterable[Sequence[Mapping[str, str]]]) -> list[int]:
    """Prompt tokens of each conversation, rendered and tokenized as the backend will, from a
    vocabulary-only load of the model file. Raises ModelError when llama.cpp cannot read it."""
    llm = loader.load_vocab(path)
    try:
        prompts = ChatPrompts(llm, chat_template)
        return [len(prompts.tokenize(prompts.render(messages))) for messages in conversations]
    finally:
        loader.close(llm)
