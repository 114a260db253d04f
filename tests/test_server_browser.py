"""The demo page in headless Chromium: type a call-out, see the label, the scores and the suggested call-in.

Chromium is driven with the DevTools protocol over --remote-debugging-pipe (file descriptors 3 and 4), so
the test needs no browser-automation package and opens no debugging port. Only loopback traffic.
"""

from __future__ import annotations

import itertools
import json
import os
import select
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import fixture_texts
from test_server_support import free_port, relabelled_bundle, wait_until_serving

from callinkit import Classifier

TESTS = Path(__file__).resolve().parent
HOSTILE = "<img src=x onerror=\"window.pwned=1\"><script>window.pwned=1</script> you clown"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--remote-debugging-pipe"]


class DevToolsPipe:
    """A minimal Chrome DevTools protocol client over Chromium's debugging pipe (NUL-separated JSON)."""

    def __init__(self, url: str, profile: Path, log: Path) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def wire_pipes() -> None:  # in the child: Chromium reads commands on fd 3 and answers on fd 4
            read, write = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(read, 3)
            os.dup2(write, 4)

        with open(log, "wb") as log_file:
            self.proc = subprocess.Popen([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", url],
                                         stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
                                         preexec_fn=wire_pipes, pass_fds=(3, 4))
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._ids = itertools.count(1)
        self._buffer = b""

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             timeout_s: float = 15.0) -> dict[str, Any]:
        """Send one command and return its result (events in between are skipped)."""
        message_id = next(self._ids)
        message = {"id": message_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout_s
        while True:
            reply = self._read(deadline)
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._from_chrome], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError("Chromium did not answer")
            chunk = os.read(self._from_chrome, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout_s=5)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)


class Page:
    """The demo page's tab, attached through a DevTools session."""

    def __init__(self, browser: DevToolsPipe) -> None:
        self.browser = browser
        deadline = time.monotonic() + 15
        while True:
            pages = [t for t in browser.send("Target.getTargets")["targetInfos"] if t["type"] == "page"]
            if pages or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.session = browser.send("Target.attachToTarget", {"targetId": pages[0]["targetId"],
                                                               "flatten": True})["sessionId"]

    def evaluate(self, expression: str) -> Any:
        result = self.browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                                   self.session)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float = 15.0) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.05)
        raise TimeoutError(f"never true: {expression}")

    def type_and_submit(self, text: str) -> None:
        """Once the previous check has finished (its button is disabled until then, and a click on it is lost),
        focus the message box, clear it, type `text` as keyboard input, and press the Check button."""
        self.wait_for("!document.getElementById('check').disabled")
        self.evaluate("(() => { const box = document.getElementById('message'); box.value = ''; box.focus(); })(); true")
        self.browser.send("Input.insertText", {"text": text}, self.session)
        self.evaluate("document.getElementById('check').click(); true")


READ_RESULT = """JSON.stringify({
  status: document.getElementById('status').textContent,
  shown: !document.getElementById('result').hidden,
  label: document.getElementById('label').textContent,
  scores: [...document.querySelectorAll('#scores tr')].map(r => r.cells[0].textContent),
  suggestion: !document.getElementById('suggestion').hidden,
  rewrite: document.getElementById('rewrite').textContent,
  candidates: [...document.querySelectorAll('#candidates li')].map(li => li.firstChild.textContent),
  note: document.getElementById('note').textContent,
  marks: [...document.querySelectorAll('#explained mark')].map(m => m.textContent),
  explained: document.getElementById('explained').textContent,
  why: !document.getElementById('why').hidden,
})"""


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install -y chromium)")
def test_demo_page_shows_label_scores_and_call_in(tiny_bundle, tmp_path):
    bundle = relabelled_bundle(tiny_bundle, tmp_path / "bundle")
    classifier = Classifier.load(bundle)
    # A call-out whose explanation has spans, so the page has words to highlight.
    call_out = next(t for t in fixture_texts()
                    if classifier.predict_one(t).label == "call_out" and classifier.explain([t])[0].spans)
    expected_marks = [sp.text for sp in sorted(classifier.explain([call_out])[0].spans, key=lambda sp: sp.start)]
    call_in = next(t for t in fixture_texts() if classifier.predict_one(t).label == "call_in")
    port = free_port()
    server_code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        from pathlib import Path
        import uvicorn
        from test_server_support import fake_rewriter_app
        uvicorn.run(fake_rewriter_app(Path({str(bundle)!r})), host="127.0.0.1", port={port}, log_level="warning")
    """)
    server = subprocess.Popen([sys.executable, "-c", server_code], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    browser = None
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(base, server)
        browser = DevToolsPipe(base + "/", tmp_path / "profile", tmp_path / "chromium.log")
        page = Page(browser)
        page.wait_for("document.readyState === 'complete' && !!document.getElementById('message')")

        page.type_and_submit(call_out)
        page.wait_for("document.getElementById('rewrite').textContent.length > 0 && "
                      "document.getElementById('status').textContent === ''")
        shown = json.loads(page.evaluate(READ_RESULT))

        page.type_and_submit(call_in)
        page.wait_for("document.getElementById('label').textContent === 'call_in'")
        kept = json.loads(page.evaluate(READ_RESULT))

        # Model output is text, never markup: the fake rewriter echoes the message into its call-in.
        page.type_and_submit(HOSTILE)
        page.wait_for(f"document.getElementById('explained').textContent === {json.dumps(HOSTILE)}")
        time.sleep(0.5)  # give an injected onerror handler the time it would need to run
        injected = json.loads(page.evaluate(
            "JSON.stringify({pwned: window.pwned === 1, imgs: document.querySelectorAll('#result img').length, "
            "scripts: document.querySelectorAll('#result script').length, "
            "shown: document.getElementById('result').textContent})"))
    finally:
        if browser is not None:
            browser.close()
        server.terminate()
        server.communicate(timeout=30)

    assert shown["status"] == "" and shown["shown"] and shown["label"] == "call_out"
    assert shown["scores"] == ["neutral", "call_in", "call_out"]  # the relabelled bundle's label order
    assert shown["suggestion"] and shown["rewrite"] == f"Call-in #0: {call_out}"
    assert shown["candidates"] == [f"Call-in #{i}: {call_out}" for i in range(3)]
    # The words behind the label: the library's spans, highlighted in place in the whole message.
    assert shown["why"] and shown["marks"] == expected_marks and shown["explained"] == call_out
    assert kept["label"] == "call_in" and not kept["suggestion"] and kept["candidates"] == []
    assert not injected["pwned"] and injected["imgs"] == 0 and injected["scripts"] == 0
    assert HOSTILE in injected["shown"]  # shown literally (in the explained message), as text
    assert kept["note"] == "Not a call-out: nothing to rewrite."
