#!/usr/bin/env bash
# Install what the end-to-end tests (marker e2e) need: Debian's chromium, the npm packages pinned
# in tests/e2e/package-lock.json (@spotlightjs/spotlight, hono, playwright-core) for
# tests/test_spotlight.py, and Bugsink in its own venv (tests/e2e/.venv-bugsink, pinned in
# tests/e2e/bugsink-requirements.txt) for tests/test_bugsink.py. Idempotent and quick when
# already there.
# Installing chromium needs root (CI runs as root); without it, the test skips with a reason
# (outside CI) instead.
set -euo pipefail
cd "$(dirname "$0")/../tests/e2e"

if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
    else
        echo "install-e2e: /usr/bin/chromium is missing; install Debian's chromium as root" >&2
    fi
fi

if ! command -v npm >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
    else
        echo "install-e2e: node and npm are missing" >&2
        exit 0
    fi
fi

# npm ci only when node_modules was not installed from this very lock file (a stamp records it).
stamp=node_modules/.crashreport-lock.sha256
want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || [ ! -x node_modules/.bin/spotlight ]; then
    npm ci --no-audit --no-fund --loglevel=error
    echo "$want" > "$stamp"
fi
# Bugsink: its own venv, rebuilt only when the requirements file changed (a stamp records it).
bstamp=.venv-bugsink/.crashreport-req.sha256
bwant=$(sha256sum bugsink-requirements.txt | cut -d' ' -f1)
if [ "$(cat "$bstamp" 2>/dev/null)" != "$bwant" ] || [ ! -x .venv-bugsink/bin/gunicorn ]; then
    rm -rf .venv-bugsink
    python3 -m venv .venv-bugsink
    .venv-bugsink/bin/python -m pip install -q --disable-pip-version-check -r bugsink-requirements.txt
    echo "$bwant" > "$bstamp"
fi

echo "install-e2e: chromium $([ -x /usr/bin/chromium ] && echo present || echo MISSING)," \
     "node $(node --version 2>/dev/null || echo MISSING)," \
     "spotlight $(node -p "require('./node_modules/@spotlightjs/spotlight/package.json').version" 2>/dev/null || echo MISSING)," \
     "bugsink $(.venv-bugsink/bin/python -c 'import bugsink.version as v; print(v.version)' 2>/dev/null || echo MISSING)"
