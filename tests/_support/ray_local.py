"""Ray in local mode, as the tests and the scaling benchmark start it (2 CPUs, quiet)."""

from __future__ import annotations

import ray
import ray.data


def init_local_ray() -> None:
    """Start Ray on this machine: 2 CPUs, a small object store, no dashboard, no progress
    bars, and workers at the priority of the processes beside them.

    Ray starts its workers at nice 15 so that its own daemons come first; next to the
    rest of the suite (other pytest workers, the other Pythons) they then got a few
    percent of a core: a job's actors took 95 s to start, and a descheduled actor bunched
    its sends at the server.
    """
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=100 * 2**20,
        log_to_driver=False,
        configure_logging=False,
        _system_config={"worker_niceness": 0},
    )
    ray.data.DataContext.get_current().enable_progress_bars = False
