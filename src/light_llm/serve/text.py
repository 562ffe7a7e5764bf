"""From a request's tokens to the text it sends: incremental decoding that holds back a
partial UTF-8 character, and stop strings that end the text where they first appear
(text that could still become a stop string is held back until it cannot).

Each token decodes only a short window of ids, not the whole answer: the ids since the
last complete piece, against the same window without the new ones (as Hugging Face's
TextStreamer and text-generation-inference do), so decoders that drop a leading space
treat both alike and the pieces add up to the whole decoded text."""

from __future__ import annotations


class IncrementalDecode:
    def __init__(self, decode):
        self.decode = decode
        self.ids: list[int] = []
        self.prefix = 0  # the window's first id: context for the decoder
        self.read = 0  # ids before this one are already in the text

    def push(self, token: int) -> str:
        """The new text `token` completes (empty while a character is incomplete)."""
        self.ids.append(token)
        before = self.decode(self.ids[self.prefix:self.read])
        text = self.decode(self.ids[self.prefix:])
        if len(text) <= len(before) or text.endswith("\ufffd"):
            return ""
        self.prefix, self.read = self.read, len(self.ids)
        return text[len(before):]

    def rest(self) -> str:
        """At the end: what is still held back (an incomplete character decodes as U+FFFD)."""
        before = self.decode(self.ids[self.prefix:self.read])
        text = self.decode(self.ids[self.prefix:])
        self.prefix = self.read = len(self.ids)
        return text[len(before):]


class StopText:
    def __init__(self, decode, stops: list[str]):
        self.stops = [stop for stop in stops if stop]
        self.pieces = IncrementalDecode(decode)
        self.text = ""  # the decoded text so far
        self.sent = 0  # characters of it already sent
        self.stopped = False

    def push(self, token: int) -> str:
        """The text that token makes safe to send (maybe empty)."""
        piece = self.pieces.push(token)
        if not piece:
            return ""
        self.text += piece
        return self._release(final=False)

    def flush(self) -> str:
        """What is left at the end of generation."""
        if self.stopped:
            return ""
        self.text += self.pieces.rest()
        return self._release(final=True)

    def _release(self, final: bool) -> str:
        text = self.text
        hits = [index for index in (text.find(stop, max(0, self.sent - len(stop) + 1)) for stop in self.stops)
                if index >= 0]
        if hits:
            self.stopped = True
            return self._send_until(min(hits))
        end = len(text) if final else len(text) - self._held_back(text)
        return self._send_until(end)

    def _held_back(self, text: str) -> int:
        """Length of the longest end of `text` that begins some stop string."""
        longest = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(text)), longest, -1):
                if text.endswith(stop[:size]):
                    longest = size
                    break
        return longest

    def _send_until(self, end: int) -> str:
        piece = self.text[self.sent:end] if end > self.sent else ""
        self.sent = max(self.sent, end)
        return piece
