"""The API's PNG charts, drawn in a short-lived child process and cached by their data.

matplotlib adds about 45 MB to the process that imports it, for the rest of its life; a chart
changes only with the model version (or a movie added to it), so one child per new chart keeps
every API worker near its idle size (tests/service/test_api_process.py measures it). A child
costs about a second once; the same chart again is served from memory.
"""

import hashlib
import json
import subprocess
import sys
import threading
from collections import OrderedDict
from typing import Any

MAX_CACHED = 16  # a few versions' charts; each is tens of kB
RENDER_TIMEOUT_S = 60.0


class ChartFailed(Exception):
    """The child drew nothing: its first line of error."""


class ChartCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pngs: OrderedDict[str, bytes] = OrderedDict()

    def png(self, kind: str, version: int, data: Any) -> bytes:
        payload = json.dumps(data, separators=(",", ":")).encode()
        key = hashlib.sha256(f"{kind}\n{version}\n".encode() + payload).hexdigest()
        with self._lock:
            if key in self._pngs:
                self._pngs.move_to_end(key)
                return self._pngs[key]
        png = _draw_in_child(kind, version, payload)  # unlocked: a slow chart blocks no other
        with self._lock:
            self._pngs[key] = png
            while len(self._pngs) > MAX_CACHED:
                self._pngs.popitem(last=False)
        return png


def _draw_in_child(kind: str, version: int, payload: bytes) -> bytes:
    try:
        done = subprocess.run(
            [sys.executable, "-m", "service.plots", kind, str(version)],
            input=payload,
            capture_output=True,
            timeout=RENDER_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ChartFailed(f"drawing took over {RENDER_TIMEOUT_S:g} s") from None
    if done.returncode != 0 or not done.stdout.startswith(b"\x89PNG"):
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        raise ChartFailed(lines[-1] if lines else f"exit status {done.returncode}")  # the exception line
    return done.stdout


CHARTS = ChartCache()  # one per API process
