"""The machine the compose tests (test_compose.py, test_compose_spark.py) share: set up once."""

from collections.abc import Iterator

import pytest
from compose_stack import (
    Machine,
    build_standin_images,
    docker_daemon,
    empty_wheelhouse,
    ensure_compose_v2,
    ensure_tools,
    fill_wheelhouse,
    finish,
    wheelhouse_ready,
)


@pytest.fixture(scope="session")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Machine]:
    """Tools installed, a Docker daemon answering, the stand-in base images built, the wheels for
    the project's images in deploy/wheelhouse/.

    The slow parts overlap: the wheels and (on a machine without Docker) the stand-ins'
    debootstrap are made while apt-get installs the tools.
    """
    work_dir = tmp_path_factory.mktemp("compose")
    wheels = fill_wheelhouse(work_dir)
    rootfs = None
    try:
        rootfs = ensure_tools(work_dir)
        ensure_compose_v2()
        with docker_daemon(work_dir):
            finish(rootfs, "build-standin-images.sh --rootfs", work_dir / "rootfs.log")
            build_standin_images()
            wheelhouse_ready(wheels, work_dir / "wheelhouse.log")
            yield Machine(work_dir)
    finally:
        for process in (wheels, rootfs):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
        empty_wheelhouse()
