/*
 * The listening half of two rump kernels talking TCP over a shmif bus file. rumpkg's glue has
 * booted the rump kernel and configured shmif0 (10.93.0.1/24 on the bus, from rumpkg.json)
 * before main() runs: this program only speaks NetBSD sockets.
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
	struct nbsd_sockaddr_in sin, peer;
	socklen_t plen = sizeof(peer);
	char buf[64];
	int s, c, one = 1;
	ssize_t n;

	setvbuf(stdout, NULL, _IONBF, 0);
	s = rump_sys_socket(RUMP_AF_INET, RUMP_SOCK_STREAM, 0);
	if (s == -1) {
		printf("server: socket failed: NetBSD errno %d\n", errno);
		return 1;
	}
	rump_sys_setsockopt(s, RUMP_SOL_SOCKET, RUMP_SO_REUSEADDR, &one, sizeof(one));
	if (rump_sys_bind(s, nbsd_sin(&sin, "10.93.0.1", 7777), sizeof(sin)) == -1 || rump_sys_listen(s, 1) == -1) {
		printf("server: bind/listen failed: NetBSD errno %d\n", errno);
		return 1;
	}
	printf("server: listening on 10.93.0.1:7777\n");
	c = rump_sys_accept(s, (struct sockaddr *)(void *)&peer, &plen);
	if (c == -1) {
		printf("server: accept failed: NetBSD errno %d\n", errno);
		return 1;
	}
	n = rump_sys_read(c, buf, sizeof(buf) - 1);
	if (n <= 0) {
		printf("server: read failed: NetBSD errno %d\n", errno);
		return 1;
	}
	buf[n] = '\0';
	printf("server: got \"%s\" from a client on the bus\n", buf);
	if (rump_sys_write(c, "pong", 4) != 4) {
		printf("server: write failed: NetBSD errno %d\n", errno);
		return 1;
	}
	/* Wait for the client to close first, so our close sends no reset before it has read. */
	(void)rump_sys_read(c, buf, sizeof(buf));
	rump_sys_close(c);
	rump_sys_close(s);
	return 0;
}
