#!/bin/sh
# Builds lib/<target>/@LIB@.a for each target of this component (written by
# `rumpkg new component`): `sh build.sh` for all of them, `sh build.sh TARGET...` for some.
# Needs the toolchain of each target (`rumpkg doctor --target TARGET` says what to install).
# Objects are built in a temporary directory, so the component directory holds only what ships.
set -eu
cd "$(dirname "$0")"
LIB=@LIB@
SRCS="@SRCS@"
COMMON="-std=c11 -Wall -Werror -g0 -DRUMP_COMPONENT_LIB=\"$LIB\" -ffile-prefix-map=$PWD=."

build() {
	target=$1 cc=$2 ar=$3
	shift 3
	obj=$(mktemp -d)
	for s in $SRCS; do
		# shellcheck disable=SC2086 # $cc and $COMMON are word lists
		$cc $COMMON "$@" -c -o "$obj/$(basename "$s" .c).o" "$s"
	done
	mkdir -p "lib/$target"
	rm -f "lib/$target/$LIB.a"
	$ar rcsD "lib/$target/$LIB.a" "$obj"/*.o
	rm -rf "$obj"
	echo "built lib/$target/$LIB.a"
}

[ $# -gt 0 ] || set -- @TARGETS@
for t in "$@"; do
	case "$t" in
@RULES@
	*) echo "build.sh: $t is not a target of this component (@TARGETS@)" >&2; exit 2 ;;
	esac
done
