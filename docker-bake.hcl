# The four images, for linux/arm64 (Raspberry Pi 5) and linux/amd64, from one multi-target
# Dockerfile (why one: see its header). On a machine with Docker and buildx:
#
#   docker buildx bake --print                          # what would be built
#   docker buildx bake --push                           # all four, both platforms, to REGISTRY
#   TAG=0.1.0 docker buildx bake --push server-manager  # one image
#   docker buildx bake --set '*.platform=linux/amd64' --load   # this machine's platform, into docker
#
# .github/workflows/images.yml runs it in CI; test/images/static.test.ts checks this file.

variable "REGISTRY" {
  default = "docker.io/pickme"
}

variable "TAG" {
  default = "latest"
}

# OCI labels; the workflow sets them from the commit it builds.
variable "REVISION" {
  default = ""
}

variable "SOURCE_URL" {
  default = ""
}

group "default" {
  targets = ["server-manager", "session-controller", "resource-monitor", "xrdp-integration"]
}

# Hidden (not in any group): what every image shares. Each image below adds its tags and a
# registry cache beside it (":buildcache", every layer with mode=max, so that the shared build
# stage is found whichever image is built first).
target "_common" {
  context    = "."
  dockerfile = "Dockerfile"
  platforms  = ["linux/arm64", "linux/amd64"]
  labels = {
    "org.opencontainers.image.source"   = SOURCE_URL
    "org.opencontainers.image.revision" = REVISION
    "org.opencontainers.image.version"  = TAG
    "org.opencontainers.image.vendor"   = "pickme"
  }
  # SLSA provenance (mode=max records the build's inputs) and an SPDX SBOM, attached to the index.
  attest = [
    "type=provenance,mode=max",
    "type=sbom",
  ]
}

target "server-manager" {
  inherits   = ["_common"]
  target     = "server-manager"
  tags       = ["${REGISTRY}/lucid-rdp-server-manager:${TAG}"]
  cache-from = ["type=registry,ref=${REGISTRY}/lucid-rdp-server-manager:buildcache"]
  cache-to   = ["type=registry,ref=${REGISTRY}/lucid-rdp-server-manager:buildcache,mode=max"]
  labels = {
    "org.opencontainers.image.title"       = "lucid-rdp-server-manager"
    "org.opencontainers.image.description" = "Creates and destroys RDP servers on demand: placement, port pool, cleanup (gRPC/Connect on 8081)."
  }
}

target "session-controller" {
  inherits = ["_common"]
  target   = "session-controller"
  # lucid-rdp-controller: the seeds' name, still pushed so existing deployments keep pulling.
  tags       = ["${REGISTRY}/lucid-session-controller:${TAG}", "${REGISTRY}/lucid-rdp-controller:${TAG}"]
  cache-from = ["type=registry,ref=${REGISTRY}/lucid-session-controller:buildcache"]
  cache-to   = ["type=registry,ref=${REGISTRY}/lucid-session-controller:buildcache,mode=max"]
  labels = {
    "org.opencontainers.image.title"       = "lucid-session-controller"
    "org.opencontainers.image.description" = "Session lifecycle, timers and policies, connection monitoring, the web console (gRPC/Connect on 8082)."
  }
}

target "resource-monitor" {
  inherits   = ["_common"]
  target     = "resource-monitor"
  tags       = ["${REGISTRY}/lucid-resource-monitor:${TAG}"]
  cache-from = ["type=registry,ref=${REGISTRY}/lucid-resource-monitor:buildcache"]
  cache-to   = ["type=registry,ref=${REGISTRY}/lucid-resource-monitor:buildcache,mode=max"]
  labels = {
    "org.opencontainers.image.title"       = "lucid-resource-monitor"
    "org.opencontainers.image.description" = "Host and per-server CPU, memory, disk and network from /proc, Prometheus export, alerts (gRPC/Connect on 8090)."
  }
}

target "xrdp-integration" {
  inherits = ["_common"]
  target   = "xrdp-integration"
  # lucid-rdp-xrdp: the seeds' name, still pushed so existing deployments keep pulling.
  tags       = ["${REGISTRY}/lucid-xrdp-integration:${TAG}", "${REGISTRY}/lucid-rdp-xrdp:${TAG}"]
  cache-from = ["type=registry,ref=${REGISTRY}/lucid-xrdp-integration:buildcache"]
  cache-to   = ["type=registry,ref=${REGISTRY}/lucid-xrdp-integration:buildcache,mode=max"]
  labels = {
    "org.opencontainers.image.title"       = "lucid-xrdp-integration"
    "org.opencontainers.image.description" = "Runs and supervises real xrdp and xrdp-sesman (Debian trixie, tini, Node 22; gRPC/Connect on 3389)."
  }
}
