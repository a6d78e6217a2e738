#!/usr/bin/env bash
# The main job, on the embedded default (a local file registry; no server):
#   build the miniature corpus with the real compilers → validate, pack and publish every
#   component into the embedded registry → create a project, add drivers, resolve and lock →
#   link the image → run it → audit it.
# Everything lives under .rumpkg-work/ (RUMPKG_HOME included); nothing outside is touched.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=${RUMPKG_DEMO_DIR:-$ROOT/.rumpkg-work}
export RUMPKG_HOME=$WORK/home
rumpkg() { node "$ROOT/dist/cli/bin.js" "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

[ -f "$ROOT/dist/cli/bin.js" ] || npm run build
rm -rf "$WORK"
mkdir -p "$WORK"

step "Building the miniature corpus: 106 NetBSD rump components x 4 releases (cc, ar)"
node scripts/corpus.mjs "$WORK/corpus" --target posix-x86_64

step "Validating one manifest, packing one component (reproducible tarball + SRI integrity)"
rumpkg validate "$WORK/corpus/10.1.0/tcpip/package.json"
rumpkg pack "$WORK/corpus/10.1.0/tcpip" -o "$WORK/tcpip.tgz"

step "Publishing every component of every release into the embedded file registry"
rumpkg --quiet publish "$WORK"/corpus/*/*
rumpkg info tcpip

step "A project: rumpkg init; rumpkg add tcpip virtif net-config"
mkdir -p "$WORK/hello"
cp examples/hello-net/app.c "$WORK/hello/"
cd "$WORK/hello"
rumpkg init --name hello --target posix-x86_64
rumpkg add tcpip virtif net-config
rumpkg tree
rumpkg why net

step "rumpkg build (posix-x86_64), then rumpkg run: init lines in the real run order, then the app"
rumpkg build
rumpkg run
rumpkg size build/posix-x86_64/hello

step "The example project with network configuration (examples/hello-net)"
cp -r "$ROOT/examples/hello-net" "$WORK/hello-net"
cd "$WORK/hello-net"
rumpkg install
rumpkg build
rumpkg run

step "rumpkg audit: which drivers are inside, checked against the bytes (symbols + link-set entries)"
rumpkg audit build/posix-x86_64/hello-net
rumpkg audit build/posix-x86_64/hello-net --sbom cyclonedx -o "$WORK/hello-net.cdx.json"
echo "CycloneDX 1.6 SBOM written to $WORK/hello-net.cdx.json"

step "The same image with its manifest stripped: the audit still names the drivers by fingerprint"
objcopy --remove-section .rumpkg.manifest build/posix-x86_64/hello-net "$WORK/hello-net.stripped"
rumpkg audit "$WORK/hello-net.stripped"

step "hw targets: the same drivers on bare (virtual) metal — examples/hello-virtio for hw-x86_64 and hw-riscv64 under QEMU"
# A separate home (its own registry): the hw corpus is another build of the same versions.
export RUMPKG_HOME=$WORK/home-hw
node "$ROOT/scripts/corpus.mjs" "$WORK/corpus-hw" --target hw-x86_64 --target hw-riscv64 --version 10.1.0
rumpkg --quiet publish "$WORK"/corpus-hw/10.1.0/*
cp -r "$ROOT/examples/hello-virtio" "$WORK/hello-virtio"
cd "$WORK/hello-virtio"
rumpkg install
rumpkg tree --target hw-x86_64
rumpkg tree --target hw-riscv64
rumpkg build
rumpkg size build/hw-x86_64/hello-virtio
rumpkg run --target hw-x86_64 --timeout 60
rumpkg run --target hw-riscv64 --timeout 60
