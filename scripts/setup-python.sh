#!/usr/bin/env bash
# Creates (or refreshes) the Python virtualenvs used by the Django example
# and the SDK fixture/e2e tests.
#
#   .venv       sentry-sdk 2.x + Django + test tools (scripts/requirements.txt)
#   .venv-sdk1  sentry-sdk 1.45.1 (last 1.x) for the legacy /store/ endpoint test
#   .venv-bugsink  Bugsink (scripts/requirements-bugsink.txt), a real Sentry-compatible
#               upstream for tests/bugsink; its own venv, since it pins its own Django stack
#   .venv-trials   FastAPI, aiohttp and friends (scripts/requirements-trials.txt) for the
#               trial apps of tests/trials
#   .venv-sdk3  sentry-sdk 3.x (scripts/requirements-sdk3.txt) for tests/spans' capture app
#   .venv-sdk2  the latest sentry-sdk 2.x (scripts/requirements-sdk2.txt), same app
#
# Idempotent: pip runs only when the requirements changed (hash stamp kept in
# the venv). Usage:
#   scripts/setup-python.sh            # every venv
#   scripts/setup-python.sh --no-sdk1  # every venv but .venv-sdk1
#   scripts/setup-python.sh --only sdk3,sdk2   # only the named ones (main, sdk1, bugsink,
#                                              # trials, sdk3, sdk2)
#   PYTHON=python3.11 scripts/setup-python.sh
# Prints the path of .venv on the last line of stdout.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
REQ="$ROOT/scripts/requirements.txt"
VENV="$ROOT/.venv"
VENV_SDK1="$ROOT/.venv-sdk1"
SDK1_REQ="sentry-sdk==1.45.1"
BUGSINK_REQ="$ROOT/scripts/requirements-bugsink.txt"
VENV_BUGSINK="$ROOT/.venv-bugsink"
TRIALS_REQ="$ROOT/scripts/requirements-trials.txt"
VENV_TRIALS="$ROOT/.venv-trials"
SDK3_REQ="$ROOT/scripts/requirements-sdk3.txt"
VENV_SDK3="$ROOT/.venv-sdk3"
SDK2_REQ="$ROOT/scripts/requirements-sdk2.txt"
VENV_SDK2="$ROOT/.venv-sdk2"
WITH_SDK1=1
# Comma-separated names of the venvs to set up; empty means all of them.
ONLY=""

while [ $# -gt 0 ]; do
  case "$1" in
    --no-sdk1) WITH_SDK1=0 ;;
    --sdk1) WITH_SDK1=1 ;;
    --only) [ $# -ge 2 ] || { echo "setup-python.sh: --only needs a list" >&2; exit 2; }
            ONLY="$2"; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "setup-python.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

# wanted NAME: whether the venv NAME is part of this run.
wanted() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; }

log() { echo "setup-python: $*" >&2; }

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  log "error: $PYTHON not found (set PYTHON=...)"; exit 1
fi

# ensure_venv DIR STAMP_CONTENT PIP_ARGS...
ensure_venv() {
  local dir="$1" want="$2"; shift 2
  local stamp="$dir/.requirements.sha256"
  local have=""
  if [ -x "$dir/bin/python" ]; then
    have="$("$dir/bin/python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null || true)"
  fi
  # (Re)create when missing, broken, or built with another interpreter.
  if [ "$have" != "$PYVER" ]; then
    log "creating $dir"
    rm -rf "$dir"
    if ! "$PYTHON" -m venv "$dir"; then
      log "error: '$PYTHON -m venv' failed (on Debian: apt-get install python3-venv)"; exit 1
    fi
  fi
  # Keep the venv out of git even when the repo's .gitignore does not list it.
  [ -f "$dir/.gitignore" ] || echo '*' > "$dir/.gitignore"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "$dir up to date"
    return 0
  fi
  log "installing into $dir: $*"
  "$dir/bin/python" -m pip install --disable-pip-version-check --no-input -q "$@"
  echo "$want" > "$stamp"
}

hash_of() { "$PYTHON" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())'; }

PYVER="$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
# ensure_req_venv NAME DIR REQUIREMENTS_FILE: a venv installed from one requirements file.
ensure_req_venv() {
  local name="$1" dir="$2" req="$3"
  wanted "$name" || return 0
  local hash
  hash="$( { cat "$req"; echo "python=$PYVER"; } | hash_of)"
  ensure_venv "$dir" "$hash" -r "$req"
}

ensure_req_venv main "$VENV" "$REQ"

if [ "$WITH_SDK1" = 1 ] && wanted sdk1; then
  SDK1_HASH="$(printf '%s\npython=%s\n' "$SDK1_REQ" "$PYVER" | hash_of)"
  ensure_venv "$VENV_SDK1" "$SDK1_HASH" "$SDK1_REQ"
fi

ensure_req_venv bugsink "$VENV_BUGSINK" "$BUGSINK_REQ"
ensure_req_venv trials "$VENV_TRIALS" "$TRIALS_REQ"
ensure_req_venv sdk3 "$VENV_SDK3" "$SDK3_REQ"
ensure_req_venv sdk2 "$VENV_SDK2" "$SDK2_REQ"

echo "$VENV"
