/*
 * NetBSD ABI definitions an application needs to talk to a rump kernel from a Linux host: the
 * rump headers (rump/rumpdefs.h) give NetBSD's constants (RUMP_AF_INET = 2, RUMP_SOCK_*,
 * RUMP_MOUNT_TMPFS …) but no structures. Layouts are NetBSD's (<netinet/in.h>, <fs/tmpfs/tmpfs_args.h>).
 * rump_sys_* calls return -1 and leave a NetBSD errno value in errno.
 */
#ifndef RUMPKG_EXAMPLE_NBSD_H
#define RUMPKG_EXAMPLE_NBSD_H
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>

struct nbsd_sockaddr_in {
	uint8_t sin_len;     /* NetBSD has a length byte */
	uint8_t sin_family;  /* RUMP_AF_INET (2), not the host's AF_INET */
	uint16_t sin_port;   /* network byte order */
	uint32_t sin_addr;   /* network byte order */
	int8_t sin_zero[8];
};
_Static_assert(sizeof(struct nbsd_sockaddr_in) == 16, "NetBSD struct sockaddr_in is 16 bytes");

static inline struct sockaddr *
nbsd_sin(struct nbsd_sockaddr_in *s, const char *ip, uint16_t port)
{
	memset(s, 0, sizeof(*s));
	s->sin_len = sizeof(*s);
	s->sin_family = 2;
	s->sin_port = htons(port);
	inet_pton(AF_INET, ip, &s->sin_addr);
	return (struct sockaddr *)(void *)s;
}

struct nbsd_tmpfs_args {
	int ta_version;      /* TMPFS_ARGS_VERSION: 1 */
	uint64_t ta_nodes_max;
	int64_t ta_size_max;
	uint32_t ta_root_uid;
	uint32_t ta_root_gid;
	uint32_t ta_root_mode;
};
_Static_assert(sizeof(struct nbsd_tmpfs_args) == 40, "NetBSD struct tmpfs_args is 40 bytes");
#endif
