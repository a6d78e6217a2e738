/*
 * The rump kernel component ABI this component is built against (written by
 * `rumpkg new component`). It imitates NetBSD's sys/rump/librump/rumpkern/rump_private.h as
 * rumpkg's base component (librump, @rump/base) implements it: one `struct rump_component` per
 * init level, registered by a constructor (posix) or placed in the link set
 * `link_set_rump_components` (hw); rump_init() runs them in the rump init order, printing
 * `init <level> <lib>` for each.
 */
#ifndef RUMP_COMPONENT_H
#define RUMP_COMPONENT_H

/* enum rump_component_type of rump_private.h: the values real archives carry in rc_type. */
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

struct rump_component {
	int rc_type;
	void (*rc_init)(void);
	const char *rc_name;	/* the library, printed by rump_init */
	const char *rc_level;	/* the init level's name */
};

/* __link_set_add_rodata(rump_components, sym): the entry's address goes into the section
 * link_set_rump_components, bracketed at link time by __start_/__stop_ symbols. */
#define RUMP_LINK_SET_ADD(sym) \
	static const void *const __link_set_rump_components_sym_##sym \
	    __attribute__((section("link_set_rump_components"), used)) = &sym

/*
 * How the struct is registered, as in NetBSD's rump_private.h: with RUMP_USE_CTOR (hosted
 * builds: posix targets, like Linux-hosted rump kernels) a constructor in .init_array hands it to
 * rump_component_load() before main; otherwise (hw targets, NetBSD-native builds) its address
 * goes into the link set. build.sh passes -DRUMP_USE_CTOR for posix targets.
 */
void rump_component_load(const struct rump_component *);
#ifdef RUMP_USE_CTOR
#define RUMP_COMPONENT_REGISTER(level) \
	static void rumpcomp_ctor_##level(void) __attribute__((constructor)); \
	static void rumpcomp_ctor_##level(void) { rump_component_load(&rumpcomp_##level); }
#else
#define RUMP_COMPONENT_REGISTER(level) RUMP_LINK_SET_ADD(rumpcomp_##level);
#endif

/*
 * RUMP_COMPONENT(level) { body }: the body runs when rump_init() reaches `level`, as in NetBSD
 * (`RUMP_COMPONENT(RUMP_COMPONENT_DEV) { config_init_component(…); }`). RUMP_COMPONENT_LIB
 * names the library (the build passes -DRUMP_COMPONENT_LIB=…).
 */
#define RUMP_COMPONENT(level) \
	static void rumpcompinit_##level(void); \
	static const struct rump_component rumpcomp_##level = \
	    { level, rumpcompinit_##level, RUMP_COMPONENT_LIB, #level }; \
	RUMP_COMPONENT_REGISTER(level) \
	static void rumpcompinit_##level(void)

#endif
