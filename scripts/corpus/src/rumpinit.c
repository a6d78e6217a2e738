/*
 * Miniature rump kernel bootstrap (librump.a, component "base"). Not NetBSD code.
 * rump_init(): checks the hypercall ABI, then runs every registered component by the real
 * init-level run order (rump_run_order), printing one line per component. Components register
 * through constructors calling rump_component_load() (posix, as real Linux-hosted builds) or
 * through link_set_rump_components entries (hw); ties run in registration (= link) order.
 */
#include "rump_component.h"

#define RUMPUSER_VERSION 17

extern const struct rump_component *const __start_link_set_rump_components[]
    __attribute__((weak, visibility("hidden")));
extern const struct rump_component *const __stop_link_set_rump_components[]
    __attribute__((weak, visibility("hidden")));

/* The real run order of the init levels (initLevelRunOrder; rump.c in NetBSD). */
static const int rump_run_order[] = {
	RUMP_COMPONENT_KERN,
	RUMP__FACTION_VFS,
	RUMP_COMPONENT_VFS,
	RUMP__FACTION_NET,
	RUMP_COMPONENT_NET,
	RUMP_COMPONENT_NET_ROUTE,
	RUMP_COMPONENT_NET_IF,
	RUMP_COMPONENT_NET_IFCFG,
	RUMP__FACTION_DEV,
	RUMP_COMPONENT_DEV,
	RUMP_COMPONENT_DEV_AFTERMAINBUS,
	RUMP_COMPONENT_KERN_VFS,
	RUMP_COMPONENT_POSTINIT,
	RUMP_COMPONENT_SYSCALL,
};

static int rump_inited;

/* Components registered by constructors, in the order the constructors ran (link order). */
#define RUMP_MAX_LOADED 128
static const struct rump_component *rump_loaded[RUMP_MAX_LOADED];
static unsigned int rump_nloaded;

void
rump_component_load(const struct rump_component *c)
{
	if (rump_nloaded < RUMP_MAX_LOADED)
		rump_loaded[rump_nloaded++] = c;
}

static void
rump_component_run(const struct rump_component *c)
{
	rump_printf("init ");
	rump_printf(c->rc_level);
	rump_printf(" ");
	rump_printf(c->rc_name);
	rump_printf("\n");
	c->rc_init();
}

void
rump_printf(const char *s)
{
	while (*s != '\0')
		rumpuser_putchar((unsigned char)*s++);
}

void
rump_printf_int(long v)
{
	char buf[24];
	int i = (int)sizeof(buf) - 1;
	unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;

	buf[i] = '\0';
	do {
		buf[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		buf[--i] = '-';
	rump_printf(&buf[i]);
}

int
rump_init(void)
{
	const struct rump_component *const *p;
	unsigned int i, k;
	int rv;

	if (rump_inited)
		return 0;
	rv = rumpuser_init(RUMPUSER_VERSION, 0);
	if (rv != 0) {
		rump_printf("rump_init: hypercall ABI mismatch\n");
		return rv;
	}
	rump_inited = 1;
	for (i = 0; i < sizeof(rump_run_order) / sizeof(rump_run_order[0]); i++) {
		for (k = 0; k < rump_nloaded; k++) {
			if (rump_loaded[k]->rc_type == rump_run_order[i])
				rump_component_run(rump_loaded[k]);
		}
		for (p = __start_link_set_rump_components; p < __stop_link_set_rump_components; p++) {
			if ((*p)->rc_type == rump_run_order[i])
				rump_component_run(*p);
		}
	}
	return 0;
}
