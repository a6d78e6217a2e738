/*
 * Miniature rumpuser hypercall layer for freestanding hw targets (ABI 17), shared by every
 * arch; the arch file (platform.c, which #includes this file) supplies hw_console_putc(),
 * hw_poweroff() and the bus backends. No libc: this file also provides the few mem* routines
 * the compiler may emit calls to. Not NetBSD code: part of rumpkg's miniature corpus
 * (components/corpus/README.md, "Platform packages").
 */
typedef unsigned long size_t;

void hw_console_putc(int c);
void hw_poweroff(int status) __attribute__((noreturn));
int main(int argc, char **argv, char **envp);

/* The platform package's version (components/corpus.ts fills it in), kept in the image. */
const char rumpkg_platform_version[] = RUMPKG_PLATFORM " @VERSION@";

int rumpuser_init(int version, const void *hyp)
{
	(void)hyp;
	return version == 17 ? 0 : 1;
}

void rumpuser_putchar(int c)
{
	if (c == '\n')
		hw_console_putc('\r');
	hw_console_putc(c);
}

void rumpuser_exit(int status)
{
	hw_poweroff(status);
}

static void hw_puts(const char *s)
{
	while (*s)
		rumpuser_putchar(*s++);
}

/* Entered from boot.S with a stack and a zeroed .bss. */
void hw_main(void)
{
	static char *argv[] = { "rumpkg-image", 0 };
	static char *envp[] = { 0 };
	hw_puts("rumpkg: " RUMPKG_PLATFORM " platform up\n");
	rumpuser_exit(main(1, argv, envp));
}

void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;
	while (n--)
		*dp++ = *sp++;
	return d;
}

void *memmove(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;
	if (dp < sp)
		while (n--)
			*dp++ = *sp++;
	else
		while (n--)
			dp[n] = sp[n];
	return d;
}

void *memset(void *d, int c, size_t n)
{
	unsigned char *dp = d;
	while (n--)
		*dp++ = (unsigned char)c;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}
