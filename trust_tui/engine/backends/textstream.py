"""Turning generated token bytes into text: UTF-8 across token boundaries and stop strings.

Shared by every in-process decoding path (the plain loop and the batched engine) so that both
cut answers at exactly the same place.
"""

from __future__ import annotations

import codecs


class TextStream:
    """Accumulates token bytes; finds stop strings; says what text is safe to stream.

    Text that could still turn out to be the start of a stop string is held back from the
    stream until it is known not to be; the final text is cut just before the first stop string.
    """

    def __init__(self, stops: tuple[str, ...] | list[str]):
        self.stops = tuple(s for s in stops if s)
        self._hold = max((len(s) for s in self.stops), default=1) - 1
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.text = ""
        self._emitted = 0
        self.stopped = False

    def feed(self, piece: bytes) -> str:
        """Add one token's bytes; return newly streamable text ('' if none)."""
        if self.stopped:
            return ""
        start = max(0, len(self.text) - self._hold)
        self.text += self._decoder.decode(piece)
        cut = self._first_stop(start)
        if cut is not None:
            self.text = self.text[:cut]
            self.stopped = True
            return self._emit(len(self.text))
        return self._emit(len(self.text) - self._hold)

    def finish(self) -> str:
        """No more tokens: flush what was held back."""
        if not self.stopped:
            self.text += self._decoder.decode(b"", final=True)
            cut = self._first_stop(max(0, self._emitted - self._hold))
            if cut is not None:
                self.text = self.text[:cut]
                self.stopped = True
        return self._emit(len(self.text))

    def _first_stop(self, start: int) -> int | None:
        best = None
        for stop in self.stops:
            index = self.text.find(stop, start)
            if index != -1 and (best is None or index < best):
                best = index
        return best

    def _emit(self, upto: int) -> str:
        if upto <= self._emitted:
            return ""
        chunk = self.text[self._emitted:upto]
        self._emitted = upto
        return chunk
