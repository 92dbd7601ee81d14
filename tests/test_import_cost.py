"""What ``import completions_sdk`` loads: httpcore only with the first client, as httpx does.

httpx imports httpcore (with h11, anyio and certifi) only when it builds a transport; the
SDK's pool and bounded reads subclass httpcore's classes, so they are imported with the
first client. Loaded at import, they cost about 10% of the import benchmark's figure
(docs/performance.md). Each check runs in a fresh interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]

_PROBE = """
import json, sys
import completions_sdk
loaded = sorted({name.split(".")[0] for name in sys.modules} & {"httpcore", "h11", "anyio"})
client = completions_sdk.Client(api_key="k", deployment="d", base_url="http://127.0.0.1:1")
pool = client._http._transport._pool
print(json.dumps({
    "file": completions_sdk.__file__,
    "at_import": loaded,
    "pool": type(pool).__name__,
    "backend": type(pool._network_backend).__name__,
}))
"""


def test_import_leaves_httpcore_to_the_first_client() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, cwd=ROOT
    )
    found = json.loads(done.stdout.splitlines()[-1])
    assert Path(found["file"]).parent == ROOT / "completions_sdk"
    assert found["at_import"] == []
    # and the first client still gets the SDK's pool and reads bounded by the deadline
    assert found["pool"] == "LinearConnectionPool"
    assert found["backend"] == "_BoundedBackend"
