/*
 * Miniature PCI autoconfiguration (librumpdev_pci.a, component "pci"). Not NetBSD code.
 * rumpns_pci_autoconf() runs at RUMP_COMPONENT_DEV_AFTERMAINBUS: it scans bus 0 through the
 * platform's pci-backend hypercall rumpcomp_pci_confread() and prints one line per function
 * found, e.g. "pci: 00:03.0 1af4:1000" (bus:device.function vendor:device, hex).
 */
#include "rump_component.h"

int rumpcomp_pci_confread(unsigned bus, unsigned dev, unsigned fun, int reg, unsigned *value);

static void
pci_puthex(unsigned v, int digits)
{
	char buf[9];
	int i;

	for (i = 0; i < digits && i < 8; i++)
		buf[i] = "0123456789abcdef"[(v >> ((digits - 1 - i) * 4)) & 0xf];
	buf[i] = '\0';
	rump_printf(buf);
}

void
rumpns_pci_autoconf(void)
{
	unsigned dev, fun, id, hdr;

	for (dev = 0; dev < 32; dev++) {
		for (fun = 0; fun < 8; fun++) {
			if (rumpcomp_pci_confread(0, dev, fun, 0, &id) != 0)
				break;
			if ((id & 0xffff) == 0xffff || (id & 0xffff) == 0) {
				if (fun == 0)
					break;
				continue;
			}
			rump_printf("pci: 00:");
			pci_puthex(dev, 2);
			rump_printf(".");
			pci_puthex(fun, 1);
			rump_printf(" ");
			pci_puthex(id & 0xffff, 4);
			rump_printf(":");
			pci_puthex(id >> 16, 4);
			rump_printf("\n");
			/* header type bit 7: multi-function device */
			if (fun == 0 && (rumpcomp_pci_confread(0, dev, 0, 12, &hdr) != 0 || (hdr & 0x00800000u) == 0))
				break;
		}
	}
}
