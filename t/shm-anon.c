/* MAP_SHARED anonymous memory written before and after fork stays one: after restore parent and child see each other's new writes; the child's own shared region survives too. */
#include "lib.h"
#include <sys/mman.h>

#define NPAGES 64
/* pages of the shared region: who wrote them, when (seeds 1-3) */
#define BEFORE 0		/* 0-15 parent before fork */
#define CHILD 16		/* 16-31 child after fork */
#define AFTER 32		/* 32-47 parent after fork; 48-61 untouched */
#define TO_PARENT 62		/* written after restore */
#define TO_CHILD 63

static unsigned char *shm;

static void *map_shared(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	return p;
}

static void fill(int first, uint64_t seed)
{
	pattern_fill(shm + first * PAGE, 16 * PAGE, seed);
}

static void check(const char *who)
{
	static const struct {
		int first;
		uint64_t seed;
	} part[] = { { BEFORE, 1 }, { CHILD, 2 }, { AFTER, 3 } };
	long off;
	int i;

	check_shared_map(shm, NULL, who);
	for (i = 0; i < 3; i++)
		if ((off = pattern_check(shm + part[i].first * PAGE, 16 * PAGE,
					 part[i].seed)) >= 0)
			fail("%s: page %ld differs at %ld", who,
			     part[i].first + off / (long)PAGE, off % PAGE);
	if ((off = zero_check(shm + 48 * PAGE, 14 * PAGE)) >= 0)
		fail("%s: untouched page %ld is not zero", who,
		     48 + off / (long)PAGE);
}

static void child(int sync[2])
{
	unsigned char *own = map_shared(4 * PAGE);
	long off;

	pattern_fill(own, 4 * PAGE, 4);
	fill(CHILD, 2);
	child_ready(sync);
	test_wait();

	check("child");
	check_shared_map(own, NULL, "child's own region");
	if ((off = pattern_check(own, 4 * PAGE, 4)) >= 0)
		fail("child's own shared region differs at %ld", off);
	page_exchange(shm + TO_PARENT * PAGE, 6, shm + TO_CHILD * PAGE, 5,
		      "child");
	exit(50);
}

int main(int argc, char **argv)
{
	int sync[2];
	pid_t pid;

	test_init(argc, argv);
	sync_open(sync);
	shm = map_shared(NPAGES * PAGE);
	fill(BEFORE, 1);
	pid = xfork();
	if (!pid)
		child(sync);
	fill(AFTER, 3);
	children_ready(sync, 1);
	if (pattern_check(shm + CHILD * PAGE, 16 * PAGE, 2) >= 0)
		fail("the child's writes do not show before the dump");
	test_ready();
	test_wait();

	if (kill(pid, SIGTERM))
		fail("kill: %s", strerror(errno));
	page_exchange(shm + TO_CHILD * PAGE, 5, shm + TO_PARENT * PAGE, 6,
		      "parent");
	check("parent");
	child_reap(pid, 50);
	pass();
}
