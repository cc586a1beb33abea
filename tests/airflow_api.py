"""Talking to an Airflow API server the tests started on loopback (browser and production
tests): JSON requests that never go through a proxy, and log tails without passwords."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

# Straight to loopback, whatever proxy the environment names.
http = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def request(url: str, body: dict | None = None, token: str | None = None,
            method: str | None = None) -> tuple[int, dict]:
    """``(status, JSON body)``; an HTTP error gives its status and ``{"detail": ...}``, a server
    not listening yet gives status 0."""
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode("utf-8")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        with http.open(urllib.request.Request(url, data=data, headers=headers, method=method),
                       timeout=30) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, {"detail": e.read().decode("utf-8", "replace")[:500]}
    except OSError:
        return 0, {}


def log_tail(path: Path, lines: int = 40) -> str:
    """The last lines of a server's log for a failure message. The simple auth manager prints
    the passwords it generates: those lines are left out."""
    if not path.exists():
        return f"({path.name}: no output)"
    kept = [ln for ln in path.read_text("utf-8", "replace").splitlines() if "Password for" not in ln]
    return f"--- {path.name}\n" + "\n".join(kept[-lines:])
