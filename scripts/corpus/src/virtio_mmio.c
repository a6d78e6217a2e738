/*
 * Miniature virtio-mmio transport (librumpdev_virtio_mmio.a, component "virtio-mmio"), modelled
 * on NetBSD's sys/dev/virtio/virtio_mmio.c. Not NetBSD code. rumpns_virtio_mmio_autoconf() runs
 * at RUMP_COMPONENT_DEV: it probes every transport slot through the platform's
 * virtio-mmio-backend hypercall rumpcomp_virtio_mmio_confread() and prints one line per
 * transport with a device behind it, e.g. "virtio-mmio: slot 7 at 0x10008000 device 1 (net)".
 */
#include "rump_component.h"

int rumpcomp_virtio_mmio_confread(unsigned slot, int reg, unsigned *value, unsigned long *base);

#define VIRTIO_MMIO_MAGIC 0x74726976u /* "virt" */

static void
vm_puthex(unsigned long v)
{
	char buf[19];
	int i = (int)sizeof(buf) - 1;

	buf[i] = '\0';
	do {
		buf[--i] = "0123456789abcdef"[v & 0xf];
		v >>= 4;
	} while (v != 0);
	buf[--i] = 'x';
	buf[--i] = '0';
	rump_printf(&buf[i]);
}

void
rumpns_virtio_mmio_autoconf(void)
{
	unsigned slot, magic, devid;
	unsigned long base;

	for (slot = 0; rumpcomp_virtio_mmio_confread(slot, 0, &magic, &base) == 0; slot++) {
		if (magic != VIRTIO_MMIO_MAGIC)
			continue;
		if (rumpcomp_virtio_mmio_confread(slot, 8, &devid, &base) != 0 || devid == 0)
			continue;
		rump_printf("virtio-mmio: slot ");
		rump_printf_int((long)slot);
		rump_printf(" at ");
		vm_puthex(base);
		rump_printf(" device ");
		rump_printf_int((long)devid);
		rump_printf(devid == 1 ? " (net)\n" : devid == 2 ? " (block)\n" : "\n");
	}
}
