"""Ray in local mode, as the tests and the scaling benchmark start it (2 CPUs, quiet)."""

from __future__ import annotations

import ray
import ray.data


def init_local_ray() -> None:
    """Start Ray on this machine: 2 CPUs, a small object store, no dashboard, no progress bars."""
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=100 * 2**20,
        log_to_driver=False,
        configure_logging=False,
    )
    ray.data.DataContext.get_current().enable_progress_bars = False
