/*
 * Miniature rump_pub_etfs_register (librumpvfs.a, component "vfs"). Not NetBSD code.
 * Prints one "config ..." line and returns 0.
 */
#include "rump_component.h"

int
rump_pub_etfs_register(const char *key, const char *hostpath, int ftype)
{
	rump_printf("config etfs_register ");
	rump_printf(key);
	rump_printf(" ");
	rump_printf(hostpath);
	rump_printf(" ");
	rump_printf_int(ftype);
	rump_printf("\n");
	return 0;
}
