/* hw-riscv64 (QEMU virt): NS16550A console, SiFive test finisher power-off, virtio-mmio probe. */
#define RUMPKG_PLATFORM "hw-riscv64"
#include "../hw-common.c"

#define UART ((volatile unsigned char *)0x10000000UL)
#define FINISHER ((volatile unsigned int *)0x100000UL)
#define VIRTIO_MMIO_BASE 0x10001000UL
#define VIRTIO_MMIO_SLOTS 8

void hw_console_putc(int c)
{
	while ((UART[5] & 0x20) == 0)
		;
	UART[0] = (unsigned char)c;
}

/* 0x5555 = pass (QEMU exits 0); (status << 16) | 0x3333 = fail with that status. */
void hw_poweroff(int status)
{
	*FINISHER = status == 0 ? 0x5555u : (((unsigned)status & 0xffffu) << 16) | 0x3333u;
	for (;;)
		__asm__ volatile("wfi");
}

/* The virtio-mmio hypercall: count transports whose device id matches (1 = net, 2 = block). */
int rumpcomp_virtio_mmio_probe(unsigned devid)
{
	int found = 0;
	for (unsigned i = 0; i < VIRTIO_MMIO_SLOTS; i++) {
		volatile unsigned int *r = (volatile unsigned int *)(VIRTIO_MMIO_BASE + i * 0x1000UL);
		if (r[0] == 0x74726976u && r[2] == devid)
			found++;
	}
	return found;
}
