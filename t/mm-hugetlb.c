/*
 * A hugetlb mapping is refused clearly at dump (cr cannot restore it yet);
 * the process goes on untouched.  The test reserves a huge page through
 * /proc/sys/vm/nr_hugepages if none is free, and gives it back at the end;
 * where it cannot, it is skipped.
 */
#include "lib.h"
#include <sys/mman.h>

#define HP (2ul << 20)
#define NR "/proc/sys/vm/nr_hugepages"

static long nr_before = -1;

static long nr_get(void)
{
	char buf[32];

	return read_file(NR, buf, sizeof(buf)) > 0 ? atol(buf) : -1;
}

static void nr_set(long n)
{
	char buf[32];
	int fd = open(NR, O_WRONLY | O_CLOEXEC), len;

	len = snprintf(buf, sizeof(buf), "%ld\n", n);
	if (fd >= 0) {
		if (write(fd, buf, len) != len)
			len = -1;
		close(fd);
	}
}

int main(int argc, char **argv)
{
	char *p;

	test_init(argc, argv);
	p = mmap(NULL, HP, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (p == MAP_FAILED) {
		nr_before = nr_get();
		if (nr_before < 0)
			skip("no " NR);
		nr_set(nr_before + 1);
		p = mmap(NULL, HP, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		if (p == MAP_FAILED) {
			nr_set(nr_before);
			skip("no huge page could be reserved");
		}
	}
	pattern_fill(p, HP, 5);

	test_ready();
	test_wait();

	if (pattern_check(p, HP, 5) >= 0)
		fail("hugetlb contents changed");
	munmap(p, HP);
	if (nr_before >= 0)
		nr_set(nr_before);
	pass();
}
