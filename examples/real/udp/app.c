/*
 * One UDP datagram through the rump kernel's own loopback (lo0, configured by the tcpip
 * component's init): real NetBSD sockets in a Linux process. rumpkg's glue has called
 * rump_init() before main() runs.
 */
#include <sys/types.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <rump/rump.h>
#include <rump/rump_syscalls.h>
#include <rump/rumpdefs.h>
#include "nbsd.h"

int
main(void)
{
	struct nbsd_sockaddr_in to, from;
	socklen_t fromlen = sizeof(from);
	char buf[64];
	int rx, tx;
	ssize_t n;

	setvbuf(stdout, NULL, _IONBF, 0);
	rx = rump_sys_socket(RUMP_AF_INET, RUMP_SOCK_DGRAM, 0);
	tx = rump_sys_socket(RUMP_AF_INET, RUMP_SOCK_DGRAM, 0);
	if (rx == -1 || tx == -1) {
		printf("udp: socket failed: NetBSD errno %d\n", errno);
		return 1;
	}
	if (rump_sys_bind(rx, nbsd_sin(&to, "127.0.0.1", 5001), sizeof(to)) == -1) {
		printf("udp: bind failed: NetBSD errno %d\n", errno);
		return 1;
	}
	if (rump_sys_sendto(tx, "hello over rump lo0", 19, 0, (struct sockaddr *)(void *)&to, sizeof(to)) != 19) {
		printf("udp: sendto failed: NetBSD errno %d\n", errno);
		return 1;
	}
	n = rump_sys_recvfrom(rx, buf, sizeof(buf) - 1, 0, (struct sockaddr *)(void *)&from, &fromlen);
	if (n < 0) {
		printf("udp: recvfrom failed: NetBSD errno %d\n", errno);
		return 1;
	}
	buf[n] = '\0';
	printf("udp: received \"%s\" from 127.0.0.1:%u\n", buf, (unsigned)ntohs(from.sin_port));
	return 0;
}
