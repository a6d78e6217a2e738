/*
 * Platform package platform-hw-x86_64: COM1 serial console, isa-debug-exit power-off and the
 * `pci-backend` hypercall (PCI configuration mechanism #1, ports 0xCF8/0xCFC).
 * Boot: boot.S (PVH ELF note → 32-bit entry → long mode) calls hw_main() in hw-common.c.
 */
#define RUMPKG_PLATFORM "hw-x86_64"
#include "hw-common.c"

static inline void outb(unsigned short port, unsigned char v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline unsigned char inb(unsigned short port) { unsigned char v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void outl(unsigned short port, unsigned int v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port)); }
static inline unsigned int inl(unsigned short port) { unsigned int v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

void hw_console_putc(int c)
{
	while ((inb(0x3f8 + 5) & 0x20) == 0)
		;
	outb(0x3f8, (unsigned char)c);
}

/* QEMU `-device isa-debug-exit,iobase=0xf4,iosize=0x04`: QEMU exits with (status << 1) | 1. */
void hw_poweroff(int status)
{
	outb(0xf4, (unsigned char)status);
	for (;;)
		__asm__ volatile("cli; hlt");
}

/*
 * The pci-backend hypercall (components/corpus/README.md): read the 32-bit configuration
 * register `reg` of bus:dev.fun through configuration mechanism #1. Returns 0, or 22 (EINVAL)
 * for an address outside the configuration space.
 */
int rumpcomp_pci_confread(unsigned bus, unsigned dev, unsigned fun, int reg, unsigned *value)
{
	if (bus > 255 || dev > 31 || fun > 7 || reg < 0 || reg > 252 || (reg & 3) != 0)
		return 22;
	outl(0xcf8, 0x80000000u | (bus << 16) | (dev << 11) | (fun << 8) | (unsigned)reg);
	*value = inl(0xcfc);
	return 0;
}
