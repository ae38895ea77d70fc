/* The rseq area (glibc's, or our own under musl) is still registered after restore and kept up to date. */
#include "lib.h"

int main(int argc, char **argv)
{
	volatile struct rseq_area *area;
	unsigned len;

	test_init(argc, argv);
	area = rseq_area(&len);
	rseq_check(area, len, "before");

	test_ready();
	test_wait();

	rseq_check(area, len, "after");
	pass();
}
