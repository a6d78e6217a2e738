/*
 * A file-system program for a rumprun unikernel: NetBSD's ext2fs, ffs and disk drivers and the
 * virtio block driver under a bare-metal platform, booted by `rumpkg run` under QEMU with
 * data.ext2 as its first virtio disk, which the platform mounts on /data (rumpkg.json
 * image.block).
 *
 * Lists /data, prints /data/hello.txt, says which file system it is, and writes
 * /data/written-by-guest.txt. Exits 0 when all of it worked, else a bit per failed step.
 */
#include <sys/types.h>
#include <sys/statvfs.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
main(void)
{
	struct statvfs sv;
	struct dirent *de;
	char buf[256];
	ssize_t n;
	DIR *d;
	int fd, rv = 0;

	if ((d = opendir("/data")) == NULL) {
		printf("fsls: opendir /data: %s\n", strerror(errno));
		return 1;
	}
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			printf("fsls: /data/%s\n", de->d_name);
	closedir(d);

	if ((fd = open("/data/hello.txt", O_RDONLY)) == -1) {
		printf("fsls: open /data/hello.txt: %s\n", strerror(errno));
		rv |= 2;
	} else {
		while ((n = read(fd, buf, sizeof(buf))) > 0) {
			printf("fsls: hello.txt: ");
			fwrite(buf, 1, n, stdout);
		}
		close(fd);
	}
	if (statvfs("/data", &sv) == 0)
		printf("fsls: /data is %s from %s\n", sv.f_fstypename, sv.f_mntfromname);
	else
		rv |= 4;

	if ((fd = open("/data/written-by-guest.txt", O_CREAT | O_WRONLY | O_TRUNC, 0644)) == -1) {
		printf("fsls: create /data/written-by-guest.txt: %s\n", strerror(errno));
		rv |= 8;
	} else {
		const char *s = "written by NetBSD's ext2fs in a rumprun unikernel\n";
		if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
			rv |= 8;
		close(fd);
		printf("fsls: wrote /data/written-by-guest.txt\n");
	}
	return rv;
}
