#!/usr/bin/env bash
# Packs the Python packages that bench/gpu_serving.py and defaultmodel/train.py need beyond what
# the GPU machine has (torch, transformers, numpy, scipy, opencv...) into one xz tarball, built
# here for CPython 3.12 on x86-64, for a machine that cannot reach a package index.
#
#     bash bench/device_packages.sh .serving-site/site.tar.xz
#
# There:  mkdir -p /tmp/site && tar xJf .serving-site/site.tar.xz -C /tmp/site
#         export PYTHONPATH=/tmp/site
#
# Only what no import reads is dropped, so that the tarball plus the repository fit the 64 MiB a
# device call carries: bytecode compiled for this machine's Python, the Rust static library and
# dependency file that c2pa-python's wheel carries beside its shared library (31 MB),
# PyWavelets' test suite and ImageHash's sample images. Nothing else: PyWavelets imports its
# `pywt/data` at start-up, and a copy without it broke a run.
set -euo pipefail

out=${1:?usage: device_packages.sh OUT.tar.xz}
here=$(cd "$(dirname "$0")/.." && pwd)
pins() { grep -h -i -E "^($1)==" "$here"/requirements*.txt; }
site=$(mktemp -d)
trap 'rm -rf "$site"' EXIT

python3 -m pip install --quiet --no-deps --no-compile --only-binary=:all: \
    --python-version 3.12 --implementation cp \
    --platform manylinux_2_34_x86_64 --platform manylinux_2_31_x86_64 \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --target "$site" \
    $(pins 'diffusers|imagehash|pywavelets|open-clip-torch|c2pa-python|cryptography|reedsolo') \
    cffi==2.1.1 pycparser==3.12 pydantic==2.14.3 pydantic_core==2.50.4 annotated-types==0.8.0 \
    typing-inspection==0.4.5 toml==0.10.2
find "$site" -name __pycache__ -type d -prune -exec rm -rf {} +
rm -f "$site"/c2pa/libs/*.rlib "$site"/c2pa/libs/*.d
rm -rf "$site"/pywt/tests "$site"/images
mkdir -p "$(dirname "$out")"
tar cJf "$out" -C "$site" .
ls -l "$out"
