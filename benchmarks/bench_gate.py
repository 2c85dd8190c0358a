"""What the gate and the security headers cost per request (app/access.py, app/hardening.py).

    python benchmarks/bench_gate.py

Times the Host check plus the gate, and the security-header hook, inside a request context as
Flask runs them, for a link cookie, no credentials and the admin token, in both modes; and the
cached token lookup and the in-memory touch on their own.
"""

from __future__ import annotations

import tempfile
import timeit

from app.access import COOKIE
from app.config import Settings
from app.services import get_services
from app.web import create_app

ADMIN = "admin-token-0123456789abcdef"
N = 20_000


def bench(mode: str) -> None:
    data_dir = tempfile.mkdtemp()
    dash_app = create_app(Settings(data_dir=data_dir, access=mode, admin_token=ADMIN,
                                   build_id="bench"))
    book = get_services(dash_app).links
    row, token = book.links.create("bench", "wall", "product=Ledger")
    book.refresh(force=True)
    server = dash_app.server
    hooks = {f.__name__: f for f in server.before_request_funcs[None]}
    gate = [hooks["refuse_foreign_host"], hooks["gate"]]
    headers_hook = next(f for f in server.after_request_funcs[None]
                        if f.__name__ == "security_headers")
    for label, headers in (("link cookie", {"Cookie": f"{COOKIE}={token}"}),
                           ("no credentials", {}),
                           ("admin token", {"Authorization": f"Bearer {ADMIN}"})):
        with server.test_request_context("/_dash-update-component", method="POST",
                                         headers=headers):
            gated = timeit.timeit(lambda: [f() for f in gate], number=N)
            with_headers = timeit.timeit(lambda: headers_hook(server.response_class("x")),
                                         number=N)
            bare = timeit.timeit(lambda: server.response_class("x"), number=N)
        print(f"{mode:5} {label:15} host check + gate {1e6 * gated / N:6.1f} us   "
              f"security headers {1e6 * (with_headers - bare) / N:5.1f} us")
    resolve = timeit.timeit(lambda: book.resolve(token, allow_lookup=False), number=N)
    touch = timeit.timeit(lambda: book.touch(row.id, user_agent="Mozilla/5.0"), number=N)
    print(f"{mode:5} cached resolve {1e6 * resolve / N:.2f} us, touch {1e6 * touch / N:.2f} us")


if __name__ == "__main__":
    for access in ("open", "links"):
        bench(access)
