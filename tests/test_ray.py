"""``completions_sdk.ray`` on a local Ray (2 CPUs) against the emulator on a real port.

Ray's workers are other processes: what they sent is counted at the server
(``MeteredEmulator``). The rows and the quota schedule are also checked in-process,
without a cluster, where that is enough.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from completions_sdk.emulator import Deployment, EmulatorConfig
from tests._support.docs import samples
from tests._support.emulator import client_options
from tests._support.metered import MeteredEmulator, max_in_window

ray = pytest.importorskip("ray")
np = pytest.importorskip("numpy")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from completions_sdk._quota import LATE  # noqa: E402
from completions_sdk._quota_gate import Gate  # noqa: E402
from completions_sdk._ray_quota import QuotaSchedule, SharedLimiter, schedule_actor  # noqa: E402
from completions_sdk._ray_rows import OUTPUT_COLUMNS  # noqa: E402
from completions_sdk._retry import Deadline  # noqa: E402
from completions_sdk.ray import ChatCompletions, Completions  # noqa: E402
from tests._support.ray_local import init_local_ray  # noqa: E402

pytestmark = [
    # On 2 shared cores ray.init alone was measured at 10 s idle and 45 s under load.
    pytest.mark.timeout(300),
    # Ray's own modules warn about Ray's own settings (DataContext's deprecated fields).
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray"),
    # Ray prefers expressions to Python functions in filter(); the recipe's is tiny.
    pytest.mark.filterwarnings("ignore:Use 'expr' instead of 'fn':UserWarning"),
]
DEFAULTS = {"model": "m", "max_tokens": 8}


@pytest.fixture(scope="module")
def cluster() -> Iterator[MeteredEmulator]:
    """Ray on 2 CPUs, its workers configured by ``ENKRYPTAI_*`` for the emulator it yields
    (as a reader's nodes are: the docs' samples name no key or address)."""
    config = EmulatorConfig(allow_any_deployment=True)
    with MeteredEmulator(config) as server, pytest.MonkeyPatch.context() as env:
        for name, value in client_options(server).items():
            env.setenv(f"ENKRYPTAI_{name.upper()}", value)  # workers inherit ray.init's
        init_local_ray()
        try:
            yield server
        finally:
            ray.shutdown()


@pytest.fixture
def emulator() -> Iterator[MeteredEmulator]:
    config = EmulatorConfig(deployments={"d": Deployment(blocked_keywords=("forbidden",))})
    with MeteredEmulator(config) as server:
        yield server


def options(server: MeteredEmulator, **more: Any) -> dict[str, Any]:
    return {**client_options(server), "max_retries": 0, **more}


def test_importing_the_sdk_does_not_import_ray() -> None:
    code = "import sys, completions_sdk; assert 'ray' not in sys.modules, 'ray imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


async def test_a_numpy_batch_becomes_plain_requests_and_fixed_columns(
    emulator: MeteredEmulator,
) -> None:
    # Ray's default batch: numpy arrays; token ids as an object array of arrays; NaN unset.
    prompts = np.empty(3, dtype=object)
    prompts[:] = [np.array([1, 2, 3]), np.array([4, 5]), np.array([6])]
    batch = {
        "id": np.arange(3),
        "prompt": prompts,
        "max_tokens": np.array([np.nan, 3.0, -1.0]),
    }
    mapper = Completions(
        client_options=options(emulator, deployment="d"), request_defaults=DEFAULTS
    )
    [table] = [table async for table in mapper(batch)]
    rows = table.to_pylist()
    assert [row["id"] for row in rows] == [0, 1, 2]
    # The two valid rows are sent at once: in either order. Plain ints; NaN: the default.
    sent = sorted((body["prompt"], body["max_tokens"]) for body in _bodies(emulator))
    assert sent == [([1, 2, 3], 8), ([4, 5], 3)]
    assert rows[0]["error"] is None and rows[0]["text"] and rows[0]["total_tokens"] > 0
    assert json.loads(rows[0]["policy_detections"]) is not None
    invalid = json.loads(rows[2]["error"])
    assert invalid["type"] == "ValidationError" and "max_tokens" in invalid["message"]
    assert emulator.api_key not in table.to_pandas().to_json()
    for name, type_name in OUTPUT_COLUMNS.items():
        assert table.schema.field(name).type == getattr(pa, type_name)()


def test_the_schedule_spaces_sends_and_a_429_pauses_everyone() -> None:
    schedule = QuotaSchedule(requests_per_minute=600, tokens_per_minute=None)
    now = time.time()
    first = schedule.lease(4, 100)
    second = schedule.lease(4, 100)
    assert first[1] == pytest.approx(0.1) and first[0] == pytest.approx(now, abs=0.05)
    assert second[0] == pytest.approx(first[0] + 0.4)  # after the first lease's four slots
    schedule.throttled(2.0)
    assert schedule.lease(1, 1)[0] >= now + 1.9
    tokens = QuotaSchedule(requests_per_minute=None, tokens_per_minute=6000)  # 100 a second
    assert tokens.lease(2, 100)[1] == pytest.approx(0.5)
    tokens.lease(1, 0, owed=-100)  # sends used 100 fewer than estimated: given back
    assert tokens.lease(2, 100)[1] == pytest.approx(0.0)


class _Handle:
    """A stand-in for an actor handle: ``.lease.remote`` returns the answer itself."""

    def __init__(self, schedule: QuotaSchedule) -> None:
        self.lease = type("M", (), {"remote": staticmethod(_Ready.wrap(schedule.lease))})
        self.throttled = type("M", (), {"remote": staticmethod(schedule.throttled)})


class _Ready:
    @staticmethod
    def wrap(method: Any) -> Any:
        return lambda *args: _Ready(method(*args))

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Any:
        yield from asyncio.sleep(0).__await__()
        return self.value


async def test_the_limiter_leases_a_few_slots_per_round_trip() -> None:
    schedule = QuotaSchedule(requests_per_minute=6000, tokens_per_minute=None)  # 100/s
    limiter = SharedLimiter(_Handle(schedule), 100, get=lambda answer: answer.value)
    waits = []
    for _ in range(50):
        await limiter.prefetch(10)  # a slot at hand: reserve takes it without a round trip
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(limiter, "_get", _no_blocking_get)
            waits.append(limiter.reserve(10))
    assert schedule.leases <= 50 // 25 + 2  # leases of 25 slots, not one per send
    assert 0 < max(waits) <= 0.5  # paced at 100/s from the lease's start
    limiter.throttled(None)
    assert schedule.stats()["pauses"] == 1
    assert limiter.paused_for() > 0  # this worker pauses at once, the others at their lease


def _no_blocking_get(ref: Any) -> Any:
    raise AssertionError("reserve waited for a lease after prefetch")


def most_in_a_second(per_second: int, trip: int = 0) -> int:
    """The most sends a job paced at ``per_second`` may show in any one-second window:
    the second's own (both ends), those up to ``LATE`` after their slot, and ``trip``
    more for the way to the server (a process descheduled on the way bunches two)."""
    return round(per_second * (1 + LATE)) + 1 + trip


async def test_workers_sharing_a_schedule_send_no_more_than_its_rate_plus_lateness() -> None:
    per_second = 100
    schedule = QuotaSchedule(requests_per_minute=per_second * 60, tokens_per_minute=None)
    workers = [  # two actors' limiters, one schedule
        SharedLimiter(_Handle(schedule), per_second, get=lambda answer: answer.value)
        for _ in range(2)
    ]
    sent: list[float] = []
    late = itertools.cycle([0.0, 0.02, 0.3, 0.0, 0.08, 0.15])  # some wake-ups past LATE

    async def send(limiter: SharedLimiter) -> None:
        gate = Gate(limiter, None, 1, Deadline(None), 60)
        await limiter.prefetch(1)
        while (wait := gate.wait()) > 0:
            await asyncio.sleep(wait + next(late))  # a busy loop wakes it late
        sent.append(time.monotonic())
        gate.sent()

    await asyncio.gather(*(send(workers[i % 2]) for i in range(200)))
    assert len(sent) == 200
    assert max_in_window(sent) <= most_in_a_second(per_second)
    assert max(sent) - min(sent) >= (200 - most_in_a_second(per_second)) / per_second


def _bodies(emulator: MeteredEmulator) -> list[dict[str, Any]]:
    return [request.body for request in emulator.requests]


def _prompts(count: int) -> list[dict[str, Any]]:
    return [
        {"id": i, "prompt": "forbidden word" if i % 50 == 7 else f"row {i}", "max_tokens": None}
        for i in range(count)
    ]


def test_a_job_keeps_every_row_once_with_failures_as_rows(
    cluster: MeteredEmulator, emulator: MeteredEmulator, tmp_path: Path
) -> None:
    emulator.set_faults("status=503;times=12", deployment="d")
    rows = _prompts(300)
    rows[5]["max_tokens"] = -3  # invalid: an error row, never sent
    out = ray.data.from_items(rows, override_num_blocks=4).map_batches(
        Completions,
        fn_constructor_kwargs={
            "client_options": options(emulator, deployment="d"),
            "request_defaults": DEFAULTS,
        },
        concurrency=2,
        num_cpus=0.25,  # waiting on sockets: leave CPUs to the reads and writes
        batch_size=32,
    )
    out.write_parquet(str(tmp_path))
    files = sorted(tmp_path.glob("*.parquet"))
    # The output columns have one type in every file, success or error (an input column
    # that is null in a whole block is Ray's to type, not ours).
    schemas = {
        tuple(str(pq.read_schema(file).field(name).type) for name in OUTPUT_COLUMNS)
        for file in files
    }
    assert schemas == {tuple(OUTPUT_COLUMNS.values())}, schemas
    got = pq.read_table(tmp_path).to_pylist()
    assert sorted(row["id"] for row in got) == list(range(300))
    errors = [json.loads(row["error"]) for row in got if row["error"] is not None]
    kinds = sorted((error["type"], error["status"]) for error in errors)
    assert kinds.count(("InternalServerError", 503)) == 12  # the first 12 sends, whichever
    assert kinds.count(("ValidationError", None)) == 1
    blocked = kinds.count(("GuardrailViolation", 400))
    assert blocked <= 6 and len(errors) == 12 + 1 + blocked  # 6 blocked, unless a 503 first
    assert all(row["text"] for row in got if row["error"] is None)
    assert len(emulator.arrivals) == 299  # each valid row sent once, no retries asked for


def test_the_job_wide_quota_holds_in_every_second_at_the_server(
    cluster: MeteredEmulator, emulator: MeteredEmulator
) -> None:
    per_second = 10
    out = ray.data.from_items(_prompts(80), override_num_blocks=4).map_batches(
        Completions,
        fn_constructor_kwargs={
            "client_options": options(
                emulator, rate_limit={"requests_per_minute": per_second * 60}
            ),
            "request_defaults": DEFAULTS,
            "concurrency": 32,  # far more than the quota lets through: it must pace
        },
        concurrency=2,
        num_cpus=0.25,
        batch_size=16,
    )
    got = out.take_all()
    assert sorted(row["id"] for row in got) == list(range(80))
    # Counted where the server parses them, after the trip over 2 shared, busy cores
    # (a descheduled worker or server bunches a couple; a CI run saw 13): never near the
    # 20 a second of two actors each at the rate. And 80 sends took their 8 seconds.
    arrivals = emulator.arrivals
    assert len(arrivals) == 80
    assert max_in_window(arrivals) <= most_in_a_second(per_second, trip=2)
    assert max(arrivals) - min(arrivals) >= (80 - most_in_a_second(per_second)) / per_second


def test_the_schedule_outlives_the_worker_that_made_it_and_ends_when_unused(
    cluster: MeteredEmulator,
) -> None:
    rates = (1234, None)  # a schedule of its own
    name = f"quota:{ray.get_runtime_context().get_job_id()}:1234:None:0"

    @ray.remote(num_cpus=0)
    class Maker:
        def make(self) -> None:
            self.schedule = schedule_actor(*rates, idle_seconds=3.0)
            # As a worker's reconnect does: its first handle is let go.
            self.schedule = schedule_actor(*rates, idle_seconds=3.0)

    maker = Maker.remote()  # type: ignore[attr-defined]
    ray.get(maker.make.remote())
    ray.kill(maker)  # as Ray Data stops a job's actors, the schedule's maker among them
    schedule = schedule_actor(*rates, idle_seconds=3.0)
    _, gap = ray.get(schedule.lease.remote(1, 1))
    assert gap == pytest.approx(60 / 1234)
    del schedule
    deadline = time.monotonic() + 60
    while name in {actor["name"] for actor in ray.util.list_named_actors(all_namespaces=True)}:
        assert time.monotonic() < deadline, "an unused schedule did not end"
        time.sleep(0.5)
    # Gone, and its name free: the next job makes a new one.
    assert ray.get(schedule_actor(*rates, idle_seconds=3.0).stats.remote())["leases"] == 0


def test_chat_rows_become_chat_requests(
    cluster: MeteredEmulator, emulator: MeteredEmulator
) -> None:
    rows = [{"id": i, "messages": [{"role": "user", "content": f"q{i}"}]} for i in range(40)]
    got = (
        ray.data.from_items(rows, override_num_blocks=2)
        .map_batches(
            ChatCompletions,
            fn_constructor_kwargs={
                "client_options": options(emulator),
                "request_defaults": DEFAULTS,
            },
            concurrency=1,
            num_cpus=0.25,
            batch_size=20,
        )
        .take_all()
    )
    assert sorted(row["id"] for row in got) == list(range(40))
    assert all(row["error"] is None and row["text"] for row in got)
    assert sorted(body["messages"][0]["content"] for body in _bodies(emulator)) == sorted(
        f"q{i}" for i in range(40)
    )


def test_the_docs_job_and_resume_samples_run(
    cluster: MeteredEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    lines = [json.dumps({"id": i, "prompt": f"row {i}"}) for i in range(45)]
    (tmp_path / "prompts.jsonl").write_text("\n".join(lines[:30]) + "\n")
    page = Path(__file__).parents[1] / "docs" / "scale-out.md"
    job_sample, resume_sample = samples(page)
    cluster.clear()
    namespace: dict[str, object] = {}
    exec(compile("\n" * job_sample.line + job_sample.code, str(page), "exec"), namespace)
    got = pq.read_table(tmp_path / "results").to_pylist()
    assert sorted(row["id"] for row in got) == list(range(30))
    assert all(row["error"] is None for row in got)
    assert len(cluster.arrivals) == 30
    assert max_in_window(cluster.arrivals) <= most_in_a_second(10, trip=2)  # 600 a minute
    # The input grew (or the first run stopped part way): the recipe sends only the rest.
    (tmp_path / "prompts.jsonl").write_text("\n".join(lines) + "\n")
    exec(compile("\n" * resume_sample.line + resume_sample.code, str(page), "exec"), namespace)
    assert len(cluster.arrivals) == 45  # nothing sent twice
    got = pq.read_table(tmp_path / "results").to_pylist()
    assert sorted(row["id"] for row in got) == list(range(45))  # nothing written twice
