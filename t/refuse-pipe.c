/* Holds a pipe beyond stdio: cr dump must refuse and leave the process running undisturbed. */
#include "lib.h"

int main(int argc, char **argv)
{
	char c = 'p';
	int p[2];

	test_init(argc, argv);
	if (pipe(p) || write(p[1], &c, 1) != 1)
		fail("pipe: %s", strerror(errno));
	test_ready();
	if (spin_counters(10000000) < 1000)
		fail("counter barely moved");
	if (read(p[0], &c, 1) != 1 || c != 'p')
		fail("pipe lost its data");
	pass();
}
