/*
 * Miniature rumpuser hypercall layer for POSIX hosts (librumpuser.a, platform package
 * "rumpuser", provides hypercall:17). Not NetBSD code. Compiled with the host libc.
 * Build with -DRUMPUSER_VERSION=N to get a layer for another ABI (tests of the mismatch path).
 */
#include <unistd.h>

#ifndef RUMPUSER_VERSION
#define RUMPUSER_VERSION 17
#endif

static const char rumpuser_corpus_version[] __attribute__((used)) = "librumpuser @VERSION@";

int
rumpuser_init(int version, const void *hyp)
{
	(void)hyp;
	return version == RUMPUSER_VERSION ? 0 : 1;
}

void
rumpuser_putchar(int c)
{
	unsigned char ch = (unsigned char)c;

	if (write(1, &ch, 1) != 1)
		return;
}

void
rumpuser_exit(int status)
{
	_exit(status);
}
