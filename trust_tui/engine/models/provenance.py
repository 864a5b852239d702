"""Where a GGUF file came from, as far as its own metadata says: who quantized it, from what, with
which importance matrix, and whether it carries a chat template (and which one, by hash).

Two files of "the same" Q4_K_M can differ in the importance matrix behind them, and a scorecard
shared without that cannot be reproduced; the models screen and the exports show these lines.
Only what the file states is shown; absent keys are left out, never guessed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Mapping

# (metadata key, label): the keys llama.cpp's convert and quantize tools write.
KEYS = (
    ("general.quantized_by", "quantized by"),
    ("general.organization", "organization"),
    ("general.finetune", "fine-tune"),
    ("general.source.url", "source"),
    ("general.source.huggingface.repository", "source repository"),
    ("general.base_model.0.name", "base model"),
    ("general.base_model.0.repo_url", "base model repository"),
    ("general.license", "licence"),
    ("general.quantization_version", "quantization version"),
    ("quantize.imatrix.file", "imatrix file"),
    ("quantize.imatrix.dataset", "imatrix dataset"),
    ("quantize.imatrix.entries_count", "imatrix entries"),
    ("quantize.imatrix.chunks_count", "imatrix chunks"),
)


@dataclass(frozen=True)
class Provenance:
    file_type: str
    fields: tuple[tuple[str, str], ...]  # (label, value) in KEYS order, present keys only
    chat_template_sha256: str | None  # None: the file has no chat template

    @property
    def imatrix(self) -> bool:
        return any(label.startswith("imatrix") for label, _ in self.fields)

    def lines(self) -> list[str]:
        out = [f"file type: {self.file_type or '?'}"]
        out += [f"{label}: {value}" for label, value in self.fields]
        if not self.imatrix:
            out.append("imatrix: none recorded in the file")
        out.append(f"chat template: sha256 {self.chat_template_sha256[:12]}" if self.chat_template_sha256
                   else "chat template: none (a plain fallback template is used)")
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"file_type": self.file_type, "fields": dict(self.fields),
                "chat_template_sha256": self.chat_template_sha256}


def _text(value: Any) -> str:
    text = str(value)
    # Metadata is untrusted text from a downloaded file: one line, no control characters.
    text = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    return text if len(text) <= 200 else text[:199] + "…"


def from_metadata(metadata: Mapping[str, Any], file_type: str = "",
                  chat_template: str | None = None) -> Provenance:
    fields = tuple((label, _text(metadata[key])) for key, label in KEYS
                   if metadata.get(key) not in (None, ""))
    digest = hashlib.sha256(chat_template.encode("utf-8")).hexdigest() if chat_template else None
    return Provenance(file_type=file_type, fields=fields, chat_template_sha256=digest)


def of_info(info) -> Provenance:
    """From a gguf.GGUFInfo."""
    return from_metadata(info.metadata, info.file_type, info.chat_template)
