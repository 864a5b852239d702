"""A name -> object registry filled on first use: what the scorer and metric registries share.

A registry imports nothing that registers into it when it is itself imported. It knows the
modules that register by name and imports them the first time anyone looks a name up, so the
registry is complete whoever asks first and whatever was imported before, and a feature package
(the TrustLLM import) can register from its own module without an import cycle.
"""

from __future__ import annotations

import importlib
import threading
from typing import Generic, Iterable, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Objects with a ``name``, registered once each; ``kind`` names them in errors."""

    def __init__(self, kind: str, modules: Iterable[str], builtin: Iterable[T] = ()) -> None:
        self.kind = kind
        self.modules = tuple(modules)
        self._builtin = {obj.name for obj in builtin}
        # Insertion order is kept: some callers list entries in the order they were registered.
        self.entries: dict[str, T] = {obj.name: obj for obj in builtin}
        self._lock = threading.RLock()
        self._loaded = False

    def register(self, obj: T) -> T:
        with self._lock:
            known = self.entries.get(obj.name)
            if known is not None and known is not obj:
                raise ValueError(f"{self.kind} {obj.name!r} registered twice")
            self.entries[obj.name] = obj
        return obj

    def unregister(self, name: str) -> None:
        """Removes what a test registered; the built-in entries stay."""
        with self._lock:
            if name not in self._builtin:
                self.entries.pop(name, None)

    def _load(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if not self._loaded:
                for module in self.modules:
                    importlib.import_module(module)
                self._loaded = True

    def get(self, name: str) -> T:
        self._load()
        try:
            return self.entries[name]
        except KeyError:
            raise KeyError(name) from None

    def find(self, name: str) -> T | None:
        self._load()
        return self.entries.get(name)

    def values(self) -> list[T]:
        self._load()
        return list(self.entries.values())
