# syntax=docker/dockerfile:1.7
#
# The four images of the Lucid RDP control plane, one target each (docker-bake.hcl builds them all):
#
#   server-manager, session-controller, resource-monitor  distroless Node 22, uid 65532, no shell
#   xrdp-integration                                      Debian trixie slim + xrdp, tini, Node 22
#
# Why one Dockerfile with four targets rather than one per service: all four images are made from
# the same `build` stage (npm ci of the whole workspace, then esbuild bundles of every service).
# In one file BuildKit runs that stage once per bake, on the build platform, and each target only
# copies its bundle out of it; four files would each repeat the install and differ only in a port.
#
# Base images are pinned by the digest of their multi-platform index (linux/amd64 and
# linux/arm64), never by tag alone. To move a pin, re-resolve it on a machine with registry access:
#   docker buildx imagetools inspect gcr.io/distroless/nodejs22-debian13:nonroot
# and keep the "Digest:" of the index (application/vnd.oci.image.index.v1+json), not a child's.
# test/images/static.test.ts fails when a FROM is not pinned this way.
ARG NODE_IMAGE=docker.io/library/node:22-trixie-slim@sha256:db8a96a63e5264607ada2d206758876ebbed6a12be2ada7517793cbfb0c2a29c
ARG DISTROLESS_IMAGE=gcr.io/distroless/nodejs22-debian13:nonroot@sha256:939d6f1671529d230f50b563578e9b5d206af58f038b10ebd7e1233023d4e167
ARG DEBIAN_IMAGE=docker.io/library/debian:trixie-slim@sha256:d7e12182ce18b85b93007c1dedf31f2d29e01ccf3182cc4017c709b6259bc132

# ---------------------------------------------------------------------------------- build --
# Bundles are plain JavaScript (the mongodb driver's native helpers stay external and absent), so
# they are built once on the builder's own platform and copied into images of every platform.
FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS build
WORKDIR /src
# Manifests first: the install layer is reused until a dependency changes.
COPY package.json package-lock.json ./
COPY gen/package.json gen/
COPY packages/cli/package.json packages/cli/
COPY packages/conformance/package.json packages/conformance/
COPY packages/console/package.json packages/console/
COPY packages/runtime/package.json packages/runtime/
COPY packages/proc/package.json packages/proc/
COPY packages/storage/package.json packages/storage/
COPY packages/testing/package.json packages/testing/
COPY services/server-manager/package.json services/server-manager/
COPY services/session-controller/package.json services/session-controller/
COPY services/resource-monitor/package.json services/resource-monitor/
COPY services/xrdp-integration/package.json services/xrdp-integration/
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN node_modules/.bin/tsx scripts/bundle.ts --out /out \
    && node_modules/.bin/tsx scripts/build-console.ts /out/console

# ------------------------------------------------------------------------------ distroless --
# What the three distroless images share. Files stay root-owned and read-only to the service
# (uid 65532), which writes nothing: the images run with a read-only root filesystem.
FROM ${DISTROLESS_IMAGE} AS distroless
WORKDIR /app
COPY --from=build /out/healthcheck.mjs /app/healthcheck.mjs
# A container must listen beyond loopback. The runtime then refuses to start (exit 2 naming HOST)
# until auth is configured: AUTH_JWT_SECRET or AUTH_JWKS_URL, or AUTH_DISABLED=true on purpose.
# EMBEDDED_STATE=memory: the bundles ship no SQLite binding (better-sqlite3 is a native module,
# built per Node ABI and platform), so an image without MONGODB_URI keeps records in memory; an
# image is meant to run on MongoDB (MONGODB_URI) and Redis (REDIS_URL).
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    EMBEDDED_STATE=memory
USER 65532:65532
# Exec form: there is no shell. The script reads PORT, HOST and TLS_CERT from the image's env.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["/nodejs/bin/node", "/app/healthcheck.mjs"]
ENTRYPOINT ["/nodejs/bin/node"]

FROM distroless AS server-manager
COPY --from=build /out/server-manager/main.mjs /app/main.mjs
ENV PORT=8081
EXPOSE 8081
CMD ["/app/main.mjs"]

FROM distroless AS session-controller
COPY --from=build /out/session-controller/main.mjs /app/main.mjs
# The browser console it serves at /console (index.html, app.js, style.css).
COPY --from=build /out/console /app/console
ENV PORT=8082 \
    CONSOLE_DIR=/app/console
EXPOSE 8082
CMD ["/app/main.mjs"]

FROM distroless AS resource-monitor
COPY --from=build /out/resource-monitor/main.mjs /app/main.mjs
# It reads the host's /proc; in a container that is the container's own view unless the
# operator mounts the host's (e.g. -v /proc:/host/proc:ro with MONITOR_PROC_ROOT=/host/proc).
ENV PORT=8090
EXPOSE 8090
CMD ["/app/main.mjs"]

# ------------------------------------------------------------------------ xrdp-integration --
# Not distroless: it runs xrdp, and xrdp needs xrdp-sesman as root (PAM authentication, then
# setuid/setgid into the user's session), an X server backend (xorgxrdp, a module of Xorg) and
# the shell scripts xrdp-sesman starts sessions with (/etc/xrdp/startwm.sh). Debian trixie ships
# xrdp 0.10 and xorgxrdp; its own Node is 20, so Node 22 comes from the official image.
FROM ${NODE_IMAGE} AS node22

FROM ${DEBIAN_IMAGE} AS xrdp-integration
# openssl makes each instance's certificate; tini is PID 1 (below); setpriv is util-linux's. The
# `test -x` checks fail the build here, not the first start, if a package stops shipping one.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       xrdp xorgxrdp tini openssl ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && test -x /usr/sbin/xrdp && test -x /usr/sbin/xrdp-sesman \
    && test -x /usr/bin/tini && test -x /usr/bin/setpriv
COPY --from=node22 /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
COPY --from=build /out/xrdp-integration/main.mjs /app/main.mjs
COPY --from=build /out/healthcheck.mjs /app/healthcheck.mjs
# RDP clients reach every instance through the service's one port (the front door, RDP_DOOR=on),
# which relays each connection by its routing token to its xrdp, listening on loopback only.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    EMBEDDED_STATE=memory \
    PORT=3389 \
    RDP_DOOR=on \
    XRDP_STATE_DIR=/var/lib/lucid-xrdp
EXPOSE 3389
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/node", "/app/healthcheck.mjs"]
# tini is PID 1 because Node does not reap orphans: xrdp forks a child per connection and
# xrdp-sesman's sessions outlive their parents, and both end up as PID 1's children.
# It stays root (see above), but setpriv bounds every process below tini to the capabilities xrdp
# needs, whatever the runtime grants:
#   SETUID, SETGID   xrdp-sesman switches to the user who logged in (setuid, setgid, initgroups)
#   CHOWN, FOWNER    xrdp-sesman hands the user's socket directory and X authority files to that
#                    user, then sets their modes
#   DAC_OVERRIDE     PAM modules and xrdp-sesman, still root, open files in users' 0700 homes
#   KILL             stopping an instance signals session processes that belong to other users
#   AUDIT_WRITE      PAM writes login audit records
#   SYS_ADMIN        mount, for one thing only: xrdp 0.10 finds its sesman solely in the compiled-in
#                    socket directory, so each instance's xrdp and sesman run in a private mount
#                    namespace with the instance's own directory bound over /run/xrdp/sockdir
#                    (services/xrdp-integration/src/supervisor/sockdir-namespace.ts). Without it
#                    instances sharing one sesman share desktops. Desktops themselves run as their
#                    user, with no capabilities.
# Dropped: NET_BIND_SERVICE (every port is above 1023), NET_RAW, MKNOD, SYS_CHROOT, SETPCAP,
# SETFCAP, FSETID. Run with the same list (--cap-drop=ALL --cap-add=...) so the runtime grants no more.
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/bin/setpriv", "--inh-caps=-all", "--bounding-set=-all,+setuid,+setgid,+chown,+fowner,+dac_override,+kill,+audit_write,+sys_admin", "--", "/usr/local/bin/node"]
CMD ["/app/main.mjs"]
