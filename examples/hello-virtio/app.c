/* hello-virtio: a freestanding rumpkg application for hw-x86_64 and hw-riscv64. There is no libc
 * on hw targets: output goes through the rump kernel's console (rump_printf, librump). rumpkg's
 * glue boots the rump kernel and configures vioif0 from rumpkg.json before this main() runs
 * (renamed to rumpkg_main_0); its return value becomes the guest's exit status. */
void rump_printf(const char *s);

int
main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	rump_printf("hello-virtio: hello from the application\n");
	return 0;
}
