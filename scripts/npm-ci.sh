#!/usr/bin/env bash
# Installs the pinned node packages (solc-js) from package-lock.json into
# <repo>/node_modules. Idempotent: skips the install when the lock file has
# not changed since the last successful one. Usage: bash scripts/npm-ci.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STAMP="node_modules/.package-lock.sha256"

command -v node >/dev/null || { echo "npm-ci.sh: node is not installed" >&2; exit 1; }
command -v npm >/dev/null || { echo "npm-ci.sh: npm is not installed" >&2; exit 1; }

want="$(sha256sum package-lock.json | cut -d' ' -f1)"
have="$(cat "$STAMP" 2>/dev/null || true)"
if [ "$want" != "$have" ] || [ ! -f node_modules/solc/soljson.js ]; then
    npm ci --no-audit --no-fund --loglevel=error \
        || { echo "npm-ci.sh: npm ci failed" >&2; exit 1; }
    echo "$want" > "$STAMP"
fi

node -e 'const s = require("solc"); if (!s.version().startsWith(require("./package.json").dependencies.solc)) { console.error("npm-ci.sh: solc " + s.version() + " is not the pinned version"); process.exit(1); }' \
    || exit 1
