/* 256 MiB of private anonymous memory with a per-page pattern and untouched holes survives. */
#include "lib.h"
#include <sys/mman.h>

#define SIZE (256ul << 20)
#define NPAGES (SIZE / PAGE)

/* Pages never touched: every 17th page and one 400 KiB hole. */
static bool is_hole(unsigned long i)
{
	return i % 17 == 5 || (i >= 1000 && i < 1100);
}

static uint64_t seed(unsigned long i)
{
	return i * 0x100000001b3ull + 12345;
}

int main(int argc, char **argv)
{
	unsigned char *p;
	unsigned long i;
	long off;

	test_init(argc, argv);
	p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	for (i = 0; i < NPAGES; i++)
		if (!is_hole(i))
			pattern_fill(p + i * PAGE, PAGE, seed(i));
	test_ready();
	test_wait();
	for (i = 0; i < NPAGES; i++) {
		if (is_hole(i))
			off = zero_check(p + i * PAGE, PAGE);
		else
			off = pattern_check(p + i * PAGE, PAGE, seed(i));
		if (off >= 0)
			fail("%s page %lu differs at byte %ld",
			     is_hole(i) ? "untouched" : "filled", i, off);
	}
	pass();
}
