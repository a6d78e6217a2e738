/*
 * The connecting half of two rump kernels talking TCP over a shmif bus file. rumpkg's glue has
 * booted the rump kernel and configured shmif0 (10.93.0.2/24 on the bus, from rumpkg.json).
 * The server may not listen yet: connect is retried (NetBSD errno 61, ECONNREFUSED).
 */
#include <sys/types.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <rump/rump.h>
#include <rump/rump_syscalls.h>
#include <rump/rumpdefs.h>
#include "nbsd.h"

int
main(void)
{
	struct nbsd_sockaddr_in sin;
	char buf[64];
	int s = -1, tries;
	ssize_t n;

	setvbuf(stdout, NULL, _IONBF, 0);
	for (tries = 0; tries < 300; tries++) {
		s = rump_sys_socket(RUMP_AF_INET, RUMP_SOCK_STREAM, 0);
		if (s == -1) {
			printf("client: socket failed: NetBSD errno %d\n", errno);
			return 1;
		}
		if (rump_sys_connect(s, nbsd_sin(&sin, "10.93.0.1", 7777), sizeof(sin)) == 0)
			break;
		rump_sys_close(s);
		s = -1;
		usleep(100 * 1000);
	}
	if (s == -1) {
		printf("client: no server at 10.93.0.1:7777 after %d attempts (NetBSD errno %d)\n", tries, errno);
		return 1;
	}
	if (rump_sys_write(s, "ping", 4) != 4) {
		printf("client: write failed: NetBSD errno %d\n", errno);
		return 1;
	}
	n = rump_sys_read(s, buf, sizeof(buf) - 1);
	if (n <= 0) {
		printf("client: read failed: NetBSD errno %d\n", errno);
		return 1;
	}
	buf[n] = '\0';
	printf("client: got \"%s\" back over TCP on the shmif bus\n", buf);
	rump_sys_close(s);
	return strcmp(buf, "pong") == 0 ? 0 : 1;
}
