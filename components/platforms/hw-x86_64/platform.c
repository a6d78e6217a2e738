/* hw-x86_64: COM1 serial console, isa-debug-exit power-off, PCI config mechanism #1. */
#define RUMPKG_PLATFORM "hw-x86_64"
#include "../hw-common.c"

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

/* The pci-backend hypercall: count devices on bus 0 with this vendor:device (0xffff = any). */
int rumpcomp_pci_probe(unsigned vendor, unsigned device)
{
	int found = 0;
	for (unsigned slot = 0; slot < 32; slot++) {
		outl(0xcf8, 0x80000000u | (slot << 11));
		unsigned id = inl(0xcfc);
		if ((id & 0xffff) == 0xffff)
			continue;
		if ((id & 0xffff) == vendor && (device == 0xffff || (id >> 16) == device))
			found++;
	}
	return found;
}
