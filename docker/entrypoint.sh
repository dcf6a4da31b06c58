#!/bin/sh
# A container's node: the same `thresh node init` / `thresh node start` a local cluster runs.
# Environment: THRESH_PASSPHRASE_FILE (default the compose secret), THRESH_BOOTSTRAP (a
# multiaddr; a peer id is not needed), THRESH_HTTP_ALLOW_HOST (the host:port the HTTP API is
# published at), THRESH_LOG_LEVEL.
set -eu
thresh="node /app/packages/cli/dist/bin.js"
pass="${THRESH_PASSPHRASE_FILE:-/run/secrets/node_passphrase}"
if [ ! -f /data/identity.json ]; then
  $thresh node init --data-dir /data --passphrase-file "$pass" \
    --listen /ip4/0.0.0.0/tcp/4001 --http 0.0.0.0:8080
fi
set -- node /app/packages/cli/dist/bin.js node start --data-dir /data --passphrase-file "$pass"
if [ -n "${THRESH_BOOTSTRAP:-}" ]; then set -- "$@" --bootstrap "$THRESH_BOOTSTRAP"; fi
if [ -n "${THRESH_HTTP_ALLOW_HOST:-}" ]; then set -- "$@" --http-allow-host "$THRESH_HTTP_ALLOW_HOST"; fi
exec "$@"
