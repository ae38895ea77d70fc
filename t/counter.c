/* Busy loop: counters in registers, on the stack and in globals stay in lockstep across the dump. */
#include "lib.h"

int main(int argc, char **argv)
{
	unsigned long before;

	test_init(argc, argv);
	test_ready();
	before = spin_counters(50000000);
	if (before < 1000)
		fail("only %lu rounds before SIGTERM", before);
	pass();
}
