#!/bin/sh
# The Dockerfile's `pip install`: from the wheels in /wheelhouse alone when there are any and they
# cover everything asked for (build backend included), else from the package index as usual.
set -eu
if ls /wheelhouse/*.whl >/dev/null 2>&1; then
    if pip install --no-index --find-links /wheelhouse "$@"; then
        exit 0
    fi
    echo "pip-install: /wheelhouse does not cover it; installing from the index" >&2
fi
exec pip install "$@"
