/* A read(0) blocked on a pipe across the dump (shell-job mode) restarts on the new stdin and gets its data. */
#include "lib.h"

int main(int argc, char **argv)
{
	char buf[16];
	ssize_t n;

	test_init(argc, argv);
	test_ready();
	n = read(0, buf, sizeof(buf));
	if (n < 0)
		fail("read: %s%s", strerror(errno),
		     test_sigterm ? " (after SIGTERM)" : "");
	if (n != 2 || memcmp(buf, "x\n", 2))
		fail("read %zd bytes: %.*s", n, (int)(n > 0 ? n : 0), buf);
	t_puts("got x\n");
	test_wait();
	pass();
}
