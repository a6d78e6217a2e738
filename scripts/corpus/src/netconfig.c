/*
 * Miniature rump_pub_netconfig_* (librumpnet_config.a, component "net-config"). Not NetBSD code.
 * Each call prints one "config ..." line and returns 0.
 */
#include "rump_component.h"

int
rump_pub_netconfig_ifcreate(const char *ifname)
{
	rump_printf("config ifcreate ");
	rump_printf(ifname);
	rump_printf("\n");
	return 0;
}

int
rump_pub_netconfig_ipv4_ifaddr(const char *ifname, const char *addr, const char *mask)
{
	rump_printf("config ipv4_ifaddr ");
	rump_printf(ifname);
	rump_printf(" ");
	rump_printf(addr);
	rump_printf(" ");
	rump_printf(mask);
	rump_printf("\n");
	return 0;
}

int
rump_pub_netconfig_dhcp_ipv4_oneshot(const char *ifname)
{
	rump_printf("config dhcp_ipv4_oneshot ");
	rump_printf(ifname);
	rump_printf("\n");
	return 0;
}
