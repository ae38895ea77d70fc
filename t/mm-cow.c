/* 256 MiB of private memory that a parent shares copy-on-write with 8 children that only read it stays shared after restore (Pss adds up to ~256 MiB, not 9x; not so in t/run's lazy mode) with its contents; a write still copies. */
#include "lib.h"
#include <sys/mman.h>

#define SIZE (256ul << 20)
#define NCHILD 8
#define WPAGE 1000		/* child 0 writes it after restore */

static uint64_t *mem;

static uint64_t word(size_t i)
{
	return i * 0x9e3779b97f4a7c15ull ^ 0x5bd1e995;
}

static void check_mem(size_t from, size_t n, const char *who)
{
	size_t i;

	for (i = from; i < from + n; i++)
		if (mem[i] != word(i))
			fail("%s: word %zu is %#llx, want %#llx", who, i,
			     (unsigned long long)mem[i],
			     (unsigned long long)word(i));
}

/* Rss and Pss (KiB) of the mapping at mem in process pid. */
static void smaps(pid_t pid, unsigned long *rss, unsigned long *pss)
{
	static char buf[1 << 20];
	char path[64], head[32], *p, *r, *s;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	snprintf(head, sizeof(head), "\n%lx-", (unsigned long)mem);
	buf[0] = '\n';
	if (read_file(path, buf + 1, sizeof(buf) - 1) <= 0 ||
	    !(p = strstr(buf, head)) || !(r = strstr(p, "\nRss:")) ||
	    !(s = strstr(p, "\nPss:")))
		fail("no mapping at %p in %s", (void *)mem, path);
	*rss = strtoul(r + 5, NULL, 10);
	*pss = strtoul(s + 5, NULL, 10);
}

static void child(int i, int sync[2])
{
	child_ready(sync);
	test_wait();
	check_mem(0, SIZE / 8, "child");
	raise(SIGSTOP);		/* the parent measures */
	if (i == 0) {
		memset(mem + WPAGE * PAGE / 8, 0xab, PAGE);
		if (mem[WPAGE * PAGE / 8 + 7] != 0xababababababababull)
			fail("child 0 does not see its own write");
	}
	exit(80 + i);
}

int main(int argc, char **argv)
{
	unsigned long rss, pss, total = 0, want = SIZE >> 10;
	pid_t pids[NCHILD + 1];
	int sync[2], i, st;
	size_t w;

	test_init(argc, argv);
	mem = mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	for (w = 0; w < SIZE / 8; w++)
		mem[w] = word(w);
	sync_open(sync);
	for (i = 0; i < NCHILD; i++) {
		pids[i] = xfork();
		if (!pids[i])
			child(i, sync);
	}
	pids[NCHILD] = getpid();
	children_ready(sync, NCHILD);
	test_ready();
	test_wait();

	check_mem(0, SIZE / 8, "parent");
	for (i = 0; i < NCHILD; i++)
		kill(pids[i], SIGTERM);
	for (i = 0; i < NCHILD; i++) {
		st = xwaitpid(pids[i], WUNTRACED);
		if (!WIFSTOPPED(st))
			fail("child %d: %s", i, wait_str(st));
	}
	for (i = 0; i <= NCHILD; i++) {
		smaps(pids[i], &rss, &pss);
		if (rss < want - want / 50)
			fail("pid %d has %lu KiB of the %lu KiB resident",
			     (int)pids[i], rss, want);
		total += pss;
	}
	/* restore --lazy-pages copies each process's pages: not shared */
	if (total > want + want / 2 && access("lazy-mode", F_OK))
		fail("the 9 processes' Pss of the region adds up to %lu KiB, "
		     "want about %lu: not shared", total, want);
	for (i = 0; i < NCHILD; i++)
		kill(pids[i], SIGCONT);
	for (i = 0; i < NCHILD; i++)
		child_reap(pids[i], 80 + i);
	check_mem(WPAGE * PAGE / 8, PAGE / 8, "parent after the child's write");
	pass();
}
