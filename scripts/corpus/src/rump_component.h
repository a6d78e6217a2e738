/*
 * Miniature rump kernel component ABI (rumpkg test corpus; see README.md in this directory).
 * Not NetBSD code: a small imitation of the conventions of sys/rump/include/rump/rumpuser.h and
 * sys/rump/librump/rumpkern/rump_private.h that rumpkg's packager and glue depend on.
 */
#ifndef RUMPKG_CORPUS_RUMP_COMPONENT_H
#define RUMPKG_CORPUS_RUMP_COMPONENT_H

/* enum rump_component_type of NetBSD's rump_private.h (the numbering real archives carry in
 * rc_type; components/symbols.ts RUMP_COMPONENT_TYPES). This is NOT the run order. */
enum rump_component_type {
	RUMP_COMPONENT_DEV,
	RUMP_COMPONENT_DEV_AFTERMAINBUS,
	RUMP_COMPONENT_NET,
	RUMP_COMPONENT_NET_ROUTE,
	RUMP_COMPONENT_NET_IF,
	RUMP_COMPONENT_NET_IFCFG,
	RUMP_COMPONENT_VFS,
	RUMP_COMPONENT_KERN,
	RUMP_COMPONENT_KERN_VFS,
	RUMP_COMPONENT_POSTINIT,
	RUMP_COMPONENT_SYSCALL,
	RUMP__FACTION_DEV,
	RUMP__FACTION_VFS,
	RUMP__FACTION_NET,
	RUMP_COMPONENT_MAX
};

/* One init level of one component: rc_type is an enum rump_component_type value, rc_level its
 * name (printed by rump_init), rc_name the library. */
struct rump_component {
	int rc_type;
	void (*rc_init)(void);
	const char *rc_name;
	const char *rc_level;
};

/* Like NetBSD's __link_set_add_rodata(rump_components, sym): the entry's address goes into the
 * section link_set_rump_components, bracketed at link time by __start_/__stop_ symbols. */
#define RUMP_LINK_SET_ADD(sym) \
	static const void *const __link_set_rump_components_sym_##sym \
	    __attribute__((section("link_set_rump_components"), used)) = &sym

/* How a component registers rumpcomp<LEVEL>, as real builds do:
 * - on Linux/ELF hosts (posix targets, -DRUMPKG_REGISTER_BY_CONSTRUCTOR) a constructor
 *   rumpcomp_ctor<LEVEL> in .init_array calls rump_component_load(&rumpcomp<LEVEL>) before main;
 * - NetBSD-native and rumprun hw builds put the struct's address in the link set. */
void rump_component_load(const struct rump_component *);
#ifdef RUMPKG_REGISTER_BY_CONSTRUCTOR
#define RUMP_COMPONENT_REGISTER(level) \
	static void rumpcomp_ctor##level(void) __attribute__((constructor)); \
	static void rumpcomp_ctor##level(void) { rump_component_load(&rumpcomp##level); }
#else
#define RUMP_COMPONENT_REGISTER(level) RUMP_LINK_SET_ADD(rumpcomp##level)
#endif

/* rumpuser hypercalls (ABI 17) used by the miniature base; provided by the platform package. */
int rumpuser_init(int version, const void *hyp);
void rumpuser_putchar(int c);
void rumpuser_exit(int status);

/* Miniature rump kernel API (librump.a). rump_printf writes s verbatim: no format directives. */
int rump_init(void);
void rump_printf(const char *s);
void rump_printf_int(long v);

#endif
