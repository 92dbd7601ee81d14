"""Ray in local mode, as the tests and the scaling benchmark start it (2 CPUs, quiet)."""

from __future__ import annotations

import ray
import ray.data


def init_local_ray() -> None:
    """Start Ray on this machine: 2 CPUs, a small object store, no dashboard, no progress bars.

    Ray's workers keep Ray's nice 15. Next to the rest of the suite they get little CPU
    (a 300-row job beside two busy loops: 180 s, against 22.6 s at nice 0), but at nice 0
    they took more from the suite than they gave back: five full runs took 273-341 s
    against 265-281 s, and a CPU-bound soak test passed its hang guard.
    """
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=100 * 2**20,
        log_to_driver=False,
        configure_logging=False,
    )
    ray.data.DataContext.get_current().enable_progress_bars = False
