/* hello-net: the smallest rumpkg application. rumpkg's glue boots the rump kernel and configures
 * the network interface from rumpkg.json before this main() runs (renamed to rumpkg_main_0). */
#include <stdio.h>

int
main(int argc, char **argv)
{
	printf("hello-net: hello from the application (%d argument%s)\n", argc - 1, argc == 2 ? "" : "s");
	for (int i = 1; i < argc; i++)
		printf("hello-net: arg %d: %s\n", i, argv[i]);
	return 0;
}
