"""The voice line: call announcements spoken through espeak-ng, one at a time, off the request path.

queue-systems.md "users ask" 5: a call names the counter, never cuts off the
announcement still playing, and works offline (espeak-ng is local). A
request only puts the text on a small bounded queue; one worker thread
speaks the entries in order. When the queue is full the newest call is
dropped and counted (``dropped``): the board still shows it, and a hall
with that many calls a minute has outgrown one voice line.

With ``wav_dir`` each call is written to a numbered WAV file instead of
played (for a separate player, and for tests on machines without audio).
"""

import os
import queue
import shutil
import subprocess
import threading

# espeak-ng voice names of the catalogue languages.
VOICES = {"zh-CN": "cmn", "en": "en"}

# Ten calls waiting is several minutes of speech: beyond that, speaking is late anyway.
QUEUE_SIZE = 10
# No announcement runs longer than this; a hung synthesiser must not stop the line.
SPEAK_TIMEOUT_S = 20


class Announcer:
    """Speaks call texts in order on a worker thread.

    Args:
        command: the espeak-ng program (name or path).
        wav_dir: write WAV files there instead of playing, or None.

    Attributes:
        available: the program was found (otherwise ``say`` does nothing).
        spoken: how many texts were spoken; ``dropped``: refused, queue full;
        failed: the last failure message, or None.
    """

    def __init__(self, command="espeak-ng", wav_dir=None):
        self.program = shutil.which(command)
        self.available = self.program is not None
        self.wav_dir = wav_dir
        self.spoken = self.dropped = 0
        self.failed = None
        self.done = threading.Condition()
        self._queue = queue.Queue(QUEUE_SIZE)
        self._thread = None
        if self.available:
            if wav_dir:
                os.makedirs(wav_dir, exist_ok=True)
            self._thread = threading.Thread(target=self._run, name="kiosk-voice", daemon=True)
            self._thread.start()

    def say(self, texts):
        """Queue ``[(language, text), ...]`` as one announcement; never blocks. Returns False if dropped."""
        if not self.available:
            return False
        try:
            self._queue.put_nowait(tuple(texts))
            return True
        except queue.Full:
            self.dropped += 1
            return False

    def _run(self):
        while True:
            texts = self._queue.get()
            if texts is None:
                return
            for lang, text in texts:
                self._speak(lang, text)
            with self.done:
                self.spoken += 1
                self.done.notify_all()

    def _speak(self, lang, text):
        argv = [self.program, "-v", VOICES.get(lang, "en")]
        if self.wav_dir:
            argv += ["-w", os.path.join(self.wav_dir, "call-%05d-%s.wav" % (self.spoken + 1, lang))]
        try:
            result = subprocess.run(argv + ["--", text], capture_output=True, timeout=SPEAK_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            self.failed = "%s: %s" % (self.program, exc)
            return
        if result.returncode != 0:
            self.failed = "%s exited %d: %s" % (self.program, result.returncode,
                                                 result.stderr.decode(errors="replace").strip()[:200])

    def wait(self, count, timeout_s):
        """Wait until ``count`` announcements were spoken; returns whether they were."""
        with self.done:
            return self.done.wait_for(lambda: self.spoken >= count, timeout_s)

    def close(self):
        """Stop the worker after what is queued (idempotent)."""
        if self._thread is not None:
            try:
                self._queue.put(None, timeout=1)
            except queue.Full:
                pass
            self._thread.join(timeout=SPEAK_TIMEOUT_S)
            self._thread = None
