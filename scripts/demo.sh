#!/usr/bin/env bash
# The main job, on the embedded default (a local file registry; no server):
#   check (and on Debian/Ubuntu as root, install) the toolchains and QEMU → the miniature corpus,
#   built with the real compilers (cached by content: a second run reuses it) → validate, pack
#   and publish every component into the embedded registry → create a project, add drivers,
#   resolve and lock → link the image → run it → audit it → the same for unikernels under QEMU.
# Everything lives under .rumpkg-work/ (RUMPKG_HOME included) and the corpus cache in
# $TMPDIR/rumpkg-corpus (shared with the tests); nothing else is touched.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=${RUMPKG_DEMO_DIR:-$ROOT/.rumpkg-work}
export RUMPKG_HOME=$WORK/home
rumpkg() { "$ROOT/dist/rumpkg" "$@"; }  # the shipped command (package.json bin)
START=$(date +%s%N)
elapsed() { echo "$(( ($(date +%s%N) - START) / 100000000 ))" | sed -E 's/([0-9])$/.\1/; s/^\./0./'; }
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then B=$'\033[1m'; N=$'\033[0m'; else B=; N=; fi
step() { printf '\n%s== [%s s] %s%s\n' "$B" "$(elapsed)" "$*" "$N"; }

[ -x "$ROOT/dist/rumpkg" ] || npm run build
rm -rf "$WORK"
mkdir -p "$WORK"

step "Checking this machine: toolchains for posix-x86_64, hw-x86_64, hw-riscv64 and QEMU (rumpkg doctor)"
node scripts/setup.mjs

step "The miniature corpus: 106 NetBSD rump components (+ platform packages) x 4 releases, built with cc and clang (cached by content)"
CORPUS=$(node scripts/corpus.mjs --cached)

step "Validating one manifest, packing one component (reproducible tarball + SRI integrity)"
rumpkg validate "$CORPUS/10.1.0/tcpip/package.json"
rumpkg pack "$CORPUS/10.1.0/tcpip" -o "$WORK/tcpip.tgz"

step "Publishing every component of every release into the embedded file registry"
rumpkg --quiet publish "$CORPUS"/*/*
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

step "rumpkg audit: which drivers are inside, checked against the bytes (archive members by content, registrations, symbols)"
rumpkg audit build/posix-x86_64/hello-net
rumpkg audit build/posix-x86_64/hello-net --sbom cyclonedx -o "$WORK/hello-net.cdx.json"
echo "CycloneDX 1.6 SBOM written to $WORK/hello-net.cdx.json"

step "The same image with its manifest stripped: the audit still names the drivers by fingerprint"
objcopy --remove-section .rumpkg.manifest build/posix-x86_64/hello-net "$WORK/hello-net.stripped"
rumpkg audit "$WORK/hello-net.stripped"

step "A unikernel: rumpkg add tcpip virtio-net for hw-x86_64 and hw-riscv64 (the closure differs per target)"
mkdir -p "$WORK/unikernel"
cp "$ROOT/examples/hello-virtio/app.c" "$WORK/unikernel/"
cd "$WORK/unikernel"
rumpkg init --name unikernel --target hw-x86_64 --target hw-riscv64
rumpkg add tcpip virtio-net
rumpkg tree --target hw-x86_64
rumpkg tree --target hw-riscv64
rumpkg why pci --target hw-x86_64

step "rumpkg build, then boot each image under QEMU (serial console; the guest powers off by itself)"
rumpkg build
rumpkg run --target hw-x86_64 --timeout 60
rumpkg run --target hw-riscv64 --timeout 60
rumpkg audit build/hw-x86_64/unikernel

step "virtio-net on posix-x86_64 cannot work (no PCI there): rumpkg says why"
mkdir -p "$WORK/no-pci" && cd "$WORK/no-pci"
rumpkg init --name no-pci --target posix-x86_64
if rumpkg add virtio-net; then echo "unexpected: resolved"; exit 1; fi

step "Pictures: the unikernel's closures drawn side by side, and its audit as one HTML page"
cd "$WORK/unikernel"
rumpkg graph --format svg -o "$WORK/unikernel-graph.svg"
rumpkg audit build/hw-x86_64/unikernel --html "$WORK/unikernel-audit.html" > /dev/null
echo "open $WORK/unikernel-graph.svg and $WORK/unikernel-audit.html in a browser;"
echo "for the registry's web UI: RUMPKG_HOME=$RUMPKG_HOME $ROOT/dist/rumpkg registry serve, then http://127.0.0.1:4873/"


# Real NetBSD drivers, when you have them: RUMPKG_REAL_ARCHIVES=DIR names a directory holding the
# real archives — either unpacked builds (a buildrump.sh lib/ with include/ next to it, or the
# rumprun set) or the .tar.xz files of ../shared/netbsd/real.
if [ -n "${RUMPKG_REAL_ARCHIVES:-}" ]; then
  REAL=$WORK/real
  mkdir -p "$REAL"
  for t in "$RUMPKG_REAL_ARCHIVES"/*.tar.xz; do [ -f "$t" ] && tar xJf "$t" -C "$REAL"; done
  POSIX_LIB=$(ls -d "$RUMPKG_REAL_ARCHIVES"/lib "$REAL"/netbsd-*-posix-*/lib 2>/dev/null | head -1 || true)
  RUMPRUN=$(ls -d "$REAL"/rumprun-*-hw-x86_64 2>/dev/null | head -1 || true)
  export RUMPKG_HOME=$WORK/real-home
  if [ -n "$POSIX_LIB" ] && [ -f "$POSIX_LIB/librump.a" ]; then
    step "Real NetBSD 7.99.34 archives for posix-x86_64: import (init levels from the binaries, any-of, conflicts), publish"
    rumpkg import archives "$POSIX_LIB" --target posix-x86_64 --version 7.99.34 -o "$REAL/components" \
      --upstream-commit 82f3a6905f6a3a65ceb3a21046de62437f61e7dd
    rumpkg --quiet publish "$REAL"/components/*
    cp -r "$ROOT/examples/real" "$REAL/examples"
    step "Real programs: UDP over the rump kernel's lo0, tmpfs, and two rump kernel processes talking TCP over shmif"
    for d in udp tmpfs tcp-shmif/server tcp-shmif/client; do (cd "$REAL/examples/$d" && rumpkg --quiet install && rumpkg --quiet build); done
    (cd "$REAL/examples/udp" && rumpkg run)
    (cd "$REAL/examples/tmpfs" && rumpkg run)
    (cd "$REAL/examples/tcp-shmif/server" && rumpkg run) & SERVER=$!
    (cd "$REAL/examples/tcp-shmif/client" && rumpkg run)
    wait $SERVER
    step "rumpkg audit of the real UDP image: every component confirmed from the bytes (tcpip has no global symbol)"
    (cd "$REAL/examples/udp" && rumpkg audit build/posix-x86_64/real-udp)
  fi
  if [ -n "$RUMPRUN" ] && command -v qemu-system-x86_64 >/dev/null; then
    step "Real rumprun hw-x86_64: import the kernel components and the platform, build examples/unikernel-http, boot it"
    # Another build of NetBSD 7.99.34 (rumprun's src-netbsd): its own registry, as a team would
    # keep one per build rather than mix two builds under one version.
    export RUMPKG_HOME=$WORK/real-hw-home
    rumpkg import archives "$RUMPRUN/lib/rumprun-hw" --target hw-x86_64 --version 7.99.34 -o "$REAL/hw"
    rumpkg import platform "$RUMPRUN" --target hw-x86_64 --version 7.99.34 -o "$REAL/hw" --upstream-commit b04d42225a12a6fae57a78a9c1cf23642e46cd00
    rumpkg --quiet publish "$REAL"/hw/*
    cp -r "$ROOT/examples/unikernel-http" "$REAL/unikernel-http"
    cd "$REAL/unikernel-http"
    rumpkg install
    rumpkg tree
    rumpkg build
    rumpkg run --timeout 60 & BOOT=$!
    for _ in $(seq 1 100); do curl -fsS http://127.0.0.1:8080/hello 2>/dev/null && break; sleep 0.3; done
    curl -fsS http://127.0.0.1:8080/quit || true
    wait $BOOT
    rumpkg audit build/hw-x86_64/unikernel-http
  fi
  export RUMPKG_HOME=$WORK/home
fi

step "Done: the demo took $(elapsed) s (README: About the time)"
