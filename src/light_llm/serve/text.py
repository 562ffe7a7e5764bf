"""From a request's tokens to the text it sends: incremental decoding that holds back a
partial UTF-8 character, and stop strings that end the text where they first appear
(text that could still become a stop string is held back until it cannot)."""

from __future__ import annotations


class StopText:
    def __init__(self, decode, stops: list[str]):
        self.decode = decode
        self.stops = [stop for stop in stops if stop]
        self.ids: list[int] = []
        self.sent = 0  # characters of the decoded text already sent
        self.stopped = False

    def push(self, token: int) -> str:
        """The text that token makes safe to send (maybe empty)."""
        self.ids.append(token)
        text = self.decode(self.ids)
        if text.endswith("\ufffd"):  # a character still incomplete
            return ""
        return self._release(text, final=False)

    def flush(self) -> str:
        """What is left at the end of generation."""
        return "" if self.stopped else self._release(self.decode(self.ids), final=True)

    def _release(self, text: str, final: bool) -> str:
        hits = [index for index in (text.find(stop, max(0, self.sent - len(stop) + 1)) for stop in self.stops)
                if index >= 0]
        if hits:
            self.stopped = True
            return self._send_until(text, min(hits))
        end = len(text) if final else len(text) - self._held_back(text)
        return self._send_until(text, end)

    def _held_back(self, text: str) -> int:
        """Length of the longest end of `text` that begins some stop string."""
        longest = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(text)), longest, -1):
                if text.endswith(stop[:size]):
                    longest = size
                    break
        return longest

    def _send_until(self, text: str, end: int) -> str:
        piece = text[self.sent:end] if end > self.sent else ""
        self.sent = max(self.sent, end)
        return piece
