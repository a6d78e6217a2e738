/*
 * @NAME@: a rump kernel component (written by `rumpkg new component`; replace the body with the
 * driver). The conventions rumpkg's packager, glue and audit rely on, as in NetBSD's archives:
 * - every global symbol carries the rump kernel prefix `rumpns_` (only rump*, RUMP* and __*
 *   names stay unprefixed), so the component cannot clash with the host or the application;
 * - its init code is registered with RUMP_COMPONENT(level) for each level in the manifest's
 *   rump.initLevels (here @LEVEL@): by a constructor on posix targets, in the link set on hw
 *   targets; rump_init() of @rump/base runs it in the rump init order;
 * - it is compiled per target with that target's ABI flags (build.sh; manifest abiFlags).
 */
#include "rump_component.h"

/* What the component is and which release: found by `rumpkg audit` in an image. */
const char rumpns_@ID@_version[] = "@LIB@ @VERSION@";

static int attached;

/* Attaches the component (idempotent). Other components reference it by this symbol. */
void
rumpns_@ID@_attach(void)
{
	attached = 1;
}

RUMP_COMPONENT(@LEVEL@)
{
	rumpns_@ID@_attach();
}
