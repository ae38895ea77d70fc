/* PROT_NONE regions (one with data, one never touched, one splitting a VMA) keep their prot and data. */
#include "lib.h"
#include <sys/mman.h>


/* Page layout inside one reservation; single unmapped pages keep VMAs apart. */
enum { A = 1, A_LEN = 8, B = 10, B_LEN = 64, C = 75, C_LEN = 3, TOTAL = 79 };

struct region {
	int pg, len;
	const char *prot;
};

static const struct region want[] = {
	{ A, A_LEN, "---p" },
	{ B, B_LEN, "---p" },
	{ C, 1, "rw-p" },
	{ C + 1, 1, "---p" },
	{ C + 2, 1, "rw-p" },
};

#define NREG (sizeof(want) / sizeof(want[0]))

static unsigned char *base;

static unsigned char *pg(int n)
{
	return base + n * PAGE;
}

static void check_maps(const char *when)
{
	unsigned i;
	struct vma v;

	for (i = 0; i < NREG; i++) {
		unsigned long s = (unsigned long)pg(want[i].pg);

		if (vma_find(s, NULL, &v))
			fail("%s: nothing mapped at %#lx", when, s);
		if (v.start != s || v.end != s + want[i].len * PAGE ||
		    strcmp(v.prot, want[i].prot))
			fail("%s: %lx-%lx %s, want %lx-%lx %s", when, v.start,
			     v.end, v.prot, s, s + want[i].len * PAGE,
			     want[i].prot);
	}
}

static void prot(int n, int len, int prot)
{
	if (mprotect(pg(n), len * PAGE, prot))
		fail("mprotect: %s", strerror(errno));
}

static void check(int n, int len, uint64_t seed)
{
	long off = pattern_check(pg(n), len * PAGE, seed);

	if (off >= 0)
		fail("data at page %d differs at byte %ld", n, off);
}

int main(int argc, char **argv)
{
	long off;

	test_init(argc, argv);
	base = mmap(NULL, TOTAL * PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	munmap(pg(0), PAGE);
	munmap(pg(A + A_LEN), PAGE);
	munmap(pg(B + B_LEN), PAGE);
	munmap(pg(C + C_LEN), PAGE);
	pattern_fill(pg(A), A_LEN * PAGE, 11);
	prot(A, A_LEN, PROT_NONE);
	prot(B, B_LEN, PROT_NONE);	/* guard-like, never touched */
	pattern_fill(pg(C), C_LEN * PAGE, 33);
	prot(C + 1, 1, PROT_NONE);
	check_maps("before");

	test_ready();
	test_wait();

	check_maps("after");
	prot(A, A_LEN, PROT_READ);
	check(A, A_LEN, 11);
	prot(B, B_LEN, PROT_READ | PROT_WRITE);
	off = zero_check(pg(B), B_LEN * PAGE);
	if (off >= 0)
		fail("untouched PROT_NONE area not zero at %ld", off);
	memset(pg(B), 1, B_LEN * PAGE);
	prot(C + 1, 1, PROT_READ);
	check(C, C_LEN, 33);
	pass();
}
