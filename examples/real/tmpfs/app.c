/*
 * A file system in the rump kernel: mount tmpfs, write a file, read it back, unmount — NetBSD's
 * VFS and tmpfs in a Linux process. rumpkg's glue has called rump_init() before main() runs.
 */
#include <sys/types.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <rump/rump.h>
#include <rump/rump_syscalls.h>
#include <rump/rumpdefs.h>
#include "nbsd.h"

int
main(void)
{
	struct nbsd_tmpfs_args args;
	const char text[] = "written into rump tmpfs";
	char buf[64];
	int fd;
	ssize_t n;

	setvbuf(stdout, NULL, _IONBF, 0);
	memset(&args, 0, sizeof(args));
	args.ta_version = 1;
	args.ta_root_mode = 01777;
	if (rump_sys_mkdir("/mnt", 0755) == -1 || rump_sys_mount(RUMP_MOUNT_TMPFS, "/mnt", 0, &args, sizeof(args)) == -1) {
		printf("tmpfs: mount failed: NetBSD errno %d\n", errno);
		return 1;
	}
	fd = rump_sys_open("/mnt/hello.txt", RUMP_O_CREAT | RUMP_O_RDWR, 0644);
	if (fd == -1 || rump_sys_write(fd, text, sizeof(text) - 1) != (ssize_t)(sizeof(text) - 1)) {
		printf("tmpfs: write failed: NetBSD errno %d\n", errno);
		return 1;
	}
	rump_sys_close(fd);
	fd = rump_sys_open("/mnt/hello.txt", RUMP_O_RDONLY, 0);
	n = fd == -1 ? -1 : rump_sys_read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		printf("tmpfs: read failed: NetBSD errno %d\n", errno);
		return 1;
	}
	buf[n] = '\0';
	rump_sys_close(fd);
	printf("tmpfs: read back %zd bytes: %s\n", n, buf);
	if (rump_sys_unmount("/mnt", 0) == -1) {
		printf("tmpfs: unmount failed: NetBSD errno %d\n", errno);
		return 1;
	}
	printf("tmpfs: unmounted /mnt\n");
	return strcmp(buf, text) == 0 ? 0 : 1;
}
