#!/usr/bin/env bash
# Builds FerretDB 1.x (a MongoDB wire-protocol server; the tests use its SQLite backend) into
# .tools/bin/ferretdb with the Go toolchain. Idempotent: does nothing when a working binary is there.
#
# Why not `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2`: FerretDB reads its version
# from build/version/version.txt, a generated file missing from the module zip, and panics at start
# without it. It checks that file whenever the binary's main package comes from FerretDB's module,
# so a throwaway module that merely requires FerretDB is not enough either. Instead this script
# builds, in a temporary directory that is removed afterwards, a throwaway module that requires
# FerretDB v1.24.2 and replaces it by an unmodified copy of that release with version.txt added.
set -euo pipefail

version=v1.24.2
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.tools/bin/ferretdb"

if [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1; then
  exit 0
fi

tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
cd "$tmp"

export GOFLAGS=-mod=mod
go mod init ferretdb-build >/dev/null 2>&1
go get "github.com/FerretDB/FerretDB@$version"

src=$(go list -m -f '{{.Dir}}' github.com/FerretDB/FerretDB)
cp -R "$src" FerretDB
chmod -R u+w FerretDB
printf '%s\n' "$version" > FerretDB/build/version/version.txt
go mod edit -replace "github.com/FerretDB/FerretDB=./FerretDB"

# The SQLite backend is pure Go (modernc.org/sqlite): no cgo. The PostgreSQL backend is left out.
mkdir -p "$(dirname "$bin")"
CGO_ENABLED=0 go build -buildvcs=false -trimpath -tags ferretdb_no_postgresql -o "$bin" \
  github.com/FerretDB/FerretDB/cmd/ferretdb
"$bin" --version
