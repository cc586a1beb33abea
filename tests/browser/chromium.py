"""Headless Chromium driven through the DevTools protocol over a pipe, with the standard library.

Why not Selenium or Playwright: Playwright downloads its own browsers at run time, which
cannot work here, and Selenium would need chromedriver besides the browser. Chromium's
``--remote-debugging-pipe`` speaks the same protocol over file descriptors 3 (commands in)
and 4 (replies and events out), NUL-separated JSON, so a small client needs no package and
opens no port at all.

The browser is kept on this machine: host names other than loopback resolve to nothing
(``--host-resolver-rules``) and Chromium's own background traffic (updates, sync, safe
browsing, metrics) is switched off. Every URL a page requests is recorded, so a test can
assert that a page asked for nothing elsewhere.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path

# Debian's package and command are both named chromium.
BINARY_NAMES = ("chromium",)

FLAGS = [
    "--headless",
    "--remote-debugging-pipe",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-gpu",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--no-pings",
    "--metrics-recording-only",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
    # Nothing but loopback resolves: a page that tried to load a CDN asset would fail to,
    # and the test sees the attempt in the recorded requests.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
    "--lang=ja-JP",
]


class CdpError(RuntimeError):
    pass


def find_chromium() -> str | None:
    for name in BINARY_NAMES:
        if path := shutil.which(name):
            return path
    return None


def _high_fd(fd: int) -> int:
    """Move ``fd`` above 9 (close-on-exec), so it can never be 3 or 4 when the child's
    descriptors are set up."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class Chromium:
    """One headless browser process; use as a context manager so it always ends."""

    def __init__(self, profile_dir: Path, log_path: Path, size: tuple[int, int] = (1400, 900)):
        binary = find_chromium()
        if binary is None:
            raise FileNotFoundError("chromium is not installed (Debian package chromium; .ci/run "
                                    "installs it)")
        self.size = size
        cmd_r, cmd_w = (_high_fd(fd) for fd in os.pipe())  # we write, Chromium reads on fd 3
        evt_r, evt_w = (_high_fd(fd) for fd in os.pipe())  # Chromium writes on fd 4, we read

        def child_fds() -> None:  # runs in the child between fork and exec: dup2 only
            os.dup2(cmd_r, 3)
            os.dup2(evt_w, 4)

        args = [binary, *FLAGS, f"--user-data-dir={profile_dir}",
                f"--window-size={size[0]},{size[1]}"]
        if os.geteuid() == 0:
            # Chromium refuses to start as root with its sandbox on; CI runs as root.
            args.append("--no-sandbox")
        args.append("about:blank")
        self._log = open(log_path, "ab")
        # close_fds=False keeps fds 3 and 4 made by child_fds; every other descriptor of
        # this process is close-on-exec (PEP 446), so nothing else leaks into the browser.
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, close_fds=False,
                                     preexec_fn=child_fds, start_new_session=True)
        os.close(cmd_r)
        os.close(evt_w)
        self._w, self._r = cmd_w, evt_r
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.call("Browser.close", timeout=5)
            except (CdpError, TimeoutError, OSError):
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                # The browser's helpers (renderer, GPU, zygote) share its process group.
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        for fd in (self._w, self._r):
            try:
                os.close(fd)
            except OSError:
                pass
        self._log.close()

    def _send(self, message: dict) -> None:
        data = json.dumps(message).encode("utf-8") + b"\0"
        while data:
            data = data[os.write(self._w, data):]

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from chromium in time")
            ready, _, _ = select.select([self._r], [], [], left)
            if ready:
                chunk = os.read(self._r, 1 << 20)
                if not chunk:
                    raise CdpError(f"chromium closed its pipe (exit code {self.proc.poll()})")
                self._buf += chunk
        raw, _, self._buf = self._buf.partition(b"\0")
        return json.loads(raw)

    def call(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict:
        """Send one command and return its result; events that arrive meanwhile are kept."""
        self._id += 1
        message: dict = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._send(message)
        deadline = time.monotonic() + timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise CdpError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            self.events.append(reply)

    def new_page(self) -> Page:
        return Page(self)


class Page:
    """One tab, attached in flat mode (its commands carry the session id)."""

    def __init__(self, browser: Chromium):
        self.browser = browser
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.call("Target.attachToTarget",
                                    {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Network"):
            self.call(f"{domain}.enable")
        width, height = browser.size
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def call(self, method: str, params: dict | None = None, timeout: float = 30.0) -> dict:
        return self.browser.call(method, params, session=self.session, timeout=timeout)

    def goto(self, url: str) -> None:
        result = self.call("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise CdpError(f"navigating to {url}: {result['errorText']}")

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (promises are awaited)."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise CdpError(f"script failed: {text}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0, what: str = ""):
        """Poll ``expression`` until it is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.evaluate(expression)
            except CdpError:
                value = None  # the page is between documents while it navigates
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout:.0f}s for {what or expression}; page at "
                                   f"{self.evaluate('location.href')}")
            time.sleep(0.25)

    def wait_until_stable(self, expression: str, timeout: float = 20.0, what: str = "",
                          quiet: float = 1.0) -> None:
        """Poll ``expression`` until its value has not changed for ``quiet`` seconds (an
        animation has ended), then give the page one more frame to paint."""
        deadline = time.monotonic() + timeout
        last, since = self.evaluate(expression), time.monotonic()
        while time.monotonic() - since < quiet:
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout:.0f}s for {what or expression} to settle")
            time.sleep(0.2)
            value = self.evaluate(expression)
            if value != last:
                last, since = value, time.monotonic()
        self.evaluate("new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")

    def type_into(self, selector: str, text: str) -> None:
        """Focus an input and type into it as a person would (frameworks see real input
        events, unlike a value set from script)."""
        found = self.evaluate(f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
                              f" if (!e) return false; e.focus(); return true; }})()")
        if not found:
            raise CdpError(f"no element {selector} on {self.evaluate('location.href')}")
        self.call("Input.insertText", {"text": text})

    def text(self) -> str:
        return self.evaluate("document.body ? document.body.innerText : ''") or ""

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def requested_urls(self) -> list[str]:
        """Every URL this page has asked for so far (documents, scripts, images, XHR)."""
        self.evaluate("1")  # collect events that arrived since the last command
        return [e["params"]["request"]["url"] for e in self.browser.events
                if e.get("sessionId") == self.session and e.get("method") == "Network.requestWillBeSent"]
