/*
 * Platform package platform-hw-riscv64 (QEMU virt): NS16550A console, SiFive test finisher
 * power-off and the `virtio-mmio-backend` hypercall over the virt machine's eight virtio-mmio
 * transports. Boot: boot.S (entered by OpenSBI in S-mode) calls hw_main() in hw-common.c.
 */
#define RUMPKG_PLATFORM "hw-riscv64"
#include "hw-common.c"

#define UART ((volatile unsigned char *)0x10000000UL)
#define FINISHER ((volatile unsigned int *)0x100000UL)
#define VIRTIO_MMIO_BASE 0x10001000UL
#define VIRTIO_MMIO_STRIDE 0x1000UL
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

/*
 * The virtio-mmio-backend hypercall (components/corpus/README.md): read the 32-bit register at
 * byte offset `reg` of transport `slot` and its physical base address. Returns 0, or 6 (ENXIO)
 * past the last transport, or 22 (EINVAL) for a bad register offset.
 */
int rumpcomp_virtio_mmio_confread(unsigned slot, int reg, unsigned *value, unsigned long *base)
{
	if (slot >= VIRTIO_MMIO_SLOTS)
		return 6;
	if (reg < 0 || reg > 0x100 || (reg & 3) != 0)
		return 22;
	*base = VIRTIO_MMIO_BASE + slot * VIRTIO_MMIO_STRIDE;
	*value = *(volatile unsigned int *)(*base + (unsigned long)reg);
	return 0;
}
