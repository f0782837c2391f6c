#!/usr/bin/env bash
# Smoke test of the four images on a machine with Docker: runs each image the way production does
# and checks it from outside.
#
#   scripts/images/smoke-test.sh [TAG]        images: $REGISTRY/<name>:$TAG, as docker-bake.hcl names them
#   REGISTRY=docker.io/pickme TAG=0.1.0 scripts/images/smoke-test.sh
#
# The images must be in the local engine (e.g. `docker buildx bake --set '*.platform=linux/amd64'
# --load`) or pullable. For each image it:
#   - runs it detached (distroless ones with a read-only root, no capabilities, no-new-privileges;
#     xrdp-integration with exactly the capabilities its ENTRYPOINT keeps),
#   - waits for Docker's HEALTHCHECK (grpc.health.v1 Check, exec form) to report healthy,
#   - runs the health script once more by hand (docker exec, no shell),
#   - makes one real RPC through the published port (Connect JSON over HTTP/1.1, with curl),
#   - for the distroless ones: checks the user is 65532 and that /bin/sh does not exist.
# Exits non-zero on the first failure, printing the container's logs. CI runs it in
# .github/workflows/images.yml; the tests in test/images/ prove the same without Docker.
set -euo pipefail

registry=${REGISTRY:-docker.io/pickme}
tag=${1:-${TAG:-latest}}
timeout_s=${SMOKE_TIMEOUT_S:-90}

command -v docker >/dev/null || { echo "smoke-test: docker not found" >&2; exit 2; }
command -v curl >/dev/null || { echo "smoke-test: curl not found" >&2; exit 2; }

containers=()
cleanup() {
  for c in "${containers[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

fail() {
  echo "smoke-test: FAIL: $1" >&2
  if [ -n "${2:-}" ]; then
    echo "--- docker logs $2" >&2
    docker logs "$2" >&2 || true
  fi
  exit 1
}

# wait_healthy CONTAINER: until Docker's health status is healthy (unhealthy or exited: failure).
wait_healthy() {
  local c=$1 status running
  for _ in $(seq "$timeout_s"); do
    running=$(docker inspect -f '{{.State.Running}}' "$c")
    [ "$running" = true ] || fail "$c exited ($(docker inspect -f '{{.State.ExitCode}}' "$c"))" "$c"
    status=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$c")
    case "$status" in
      healthy) return 0 ;;
      unhealthy) fail "$c is unhealthy" "$c" ;;
      "") fail "$c has no HEALTHCHECK" "$c" ;;
    esac
    sleep 1
  done
  fail "$c not healthy within ${timeout_s}s" "$c"
}

# rpc CONTAINER PORT SERVICE/METHOD EXPECTED: one unary Connect call with an empty JSON request.
rpc() {
  local c=$1 port=$2 method=$3 expected=$4 host_port body
  host_port=$(docker port "$c" "$port/tcp" | head -1 | sed 's/.*://')
  body=$(curl -fsS --max-time 10 -H 'content-type: application/json' -d '{}' \
    "http://127.0.0.1:${host_port}/lucid.rdp.v1.${method}") || fail "$method failed" "$c"
  grep -q "$expected" <<<"$body" || fail "$method answered without \"$expected\": $body" "$c"
  echo "  $method: ok"
}

# distroless NAME PORT METHOD EXPECTED
distroless() {
  local name=$1 port=$2 method=$3 expected=$4 image c
  image="$registry/$name:$tag"
  echo "== $image"
  [ "$(docker image inspect -f '{{.Config.User}}' "$image")" = "65532:65532" ] ||
    fail "$image does not run as 65532:65532"
  if docker run --rm --entrypoint /bin/sh "$image" -c true >/dev/null 2>&1; then
    fail "$image has a shell"
  fi
  c=$(docker run -d --read-only --cap-drop=ALL --security-opt=no-new-privileges \
    -e AUTH_DISABLED=true -p "127.0.0.1::$port" "$image")
  containers+=("$c")
  wait_healthy "$c"
  docker exec "$c" /nodejs/bin/node /app/healthcheck.mjs || fail "health script failed" "$c"
  rpc "$c" "$port" "$method" "$expected"
}

distroless lucid-rdp-server-manager 8081 ServerManagerService/ListNodes '{'
distroless lucid-session-controller 8082 SessionControllerService/ListSessions '{'
distroless lucid-resource-monitor 8090 ResourceMonitorService/GetHostMetrics 'totalBytes'

image="$registry/lucid-xrdp-integration:$tag"
echo "== $image"
# The capabilities the image's ENTRYPOINT bounds itself to (Dockerfile): the runtime grants no more.
c=$(docker run -d --cap-drop=ALL \
  --cap-add=SETUID --cap-add=SETGID --cap-add=CHOWN --cap-add=FOWNER \
  --cap-add=DAC_OVERRIDE --cap-add=KILL --cap-add=AUDIT_WRITE --cap-add=SYS_ADMIN \
  -e AUTH_DISABLED=true -p "127.0.0.1::3389" "$image")
containers+=("$c")
wait_healthy "$c"
docker exec "$c" /usr/local/bin/node /app/healthcheck.mjs || fail "health script failed" "$c"
[ "$(docker exec "$c" cat /proc/1/comm)" = tini ] || fail "PID 1 is not tini" "$c"
rpc "$c" 3389 XrdpIntegrationService/GetHostInfo 'xrdpVersion'

echo "smoke-test: all four images healthy"
