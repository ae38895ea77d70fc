/*
 * madvise and mlock state is restored per mapping, as VmFlags show it and
 * as it behaves: after restore a forked child does not get the
 * MADV_DONTFORK range and sees the MADV_WIPEONFORK range zeroed; the
 * mlocked range, hugepage advice and MADV_DONTDUMP stay; mlockall
 * (MCL_FUTURE) still locks a mapping made after restore, and a PROT_NONE
 * mapping it locked stays locked; a MAP_GROWSDOWN mapping keeps growing
 * down ("gd").
 */
#include "lib.h"
#include <sys/mman.h>

#define LEN (4 * PAGE)
#define MY_MADV_WIPEONFORK 18

enum { DONTFORK, WIPE, LOCKED, HUGE, NOHUGE, NODUMP, MERGE, GROWS, NREG };
static const char *const code[NREG] = { "dc", "wf", "lo", "hg", "nh", "dd",
					"mg", "gd" };
static char *reg[NREG];
static bool have[NREG];
static char smaps[512 * 1024];

/* Does the VmFlags line of the mapping holding addr have code? */
static bool vmflag(const void *addr, const char *c)
{
	unsigned long a = (unsigned long)addr, s, e;
	bool in = false;
	char *line, *next;

	if (read_file("/proc/self/smaps", smaps, sizeof(smaps)) < 0)
		fail("read smaps: %s", strerror(errno));
	for (line = smaps; *line; line = next) {
		next = strchr(line, '\n');
		next = next ? (*next = 0, next + 1) : line + strlen(line);
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2)	/* a header */
			in = a >= s && a < e;
		else if (in && !strncmp(line, "VmFlags:", 8))
			for (char *p = line + 8; *p; p++)
				if (p[0] == c[0] && p[1] == c[1] &&
				    (p[2] == ' ' || !p[2]) && p[-1] == ' ')
					return true;
	}
	return false;
}

static void check_all(const char *when)
{
	for (int i = 0; i < NREG; i++) {
		long off = pattern_check(reg[i], LEN, i + 1);

		if (off >= 0)
			fail("%s: region %s differs at %ld", when, code[i], off);
		if (have[i] && !vmflag(reg[i], code[i]))
			fail("%s: region %p lost VmFlag %s", when, reg[i], code[i]);
	}
}

int main(int argc, char **argv)
{
	struct vma v;
	pid_t pid;
	void *p, *guard;

	test_init(argc, argv);
	for (int i = 0; i < NREG; i++) {
		reg[i] = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS |
			      (i == GROWS ? MAP_GROWSDOWN : 0), -1, 0);
		if (reg[i] == MAP_FAILED)
			fail("mmap: %s", strerror(errno));
		pattern_fill(reg[i], LEN, i + 1);
	}
	have[DONTFORK] = !madvise(reg[DONTFORK], LEN, MADV_DONTFORK);
	have[WIPE] = !madvise(reg[WIPE], LEN, MY_MADV_WIPEONFORK);
	have[LOCKED] = !mlock(reg[LOCKED], LEN);
	have[HUGE] = !madvise(reg[HUGE], LEN, MADV_HUGEPAGE);
	have[NOHUGE] = !madvise(reg[NOHUGE], LEN, MADV_NOHUGEPAGE);
	have[NODUMP] = !madvise(reg[NODUMP], LEN, MADV_DONTDUMP);
	have[MERGE] = !madvise(reg[MERGE], LEN, MADV_MERGEABLE);	/* KSM */
	have[GROWS] = true;
	if (!have[DONTFORK] || !have[WIPE] || !have[NODUMP])
		fail("madvise: %s", strerror(errno));
	if (!have[LOCKED])
		skip("mlock not allowed");
	if (mlockall(MCL_FUTURE))
		fail("mlockall: %s", strerror(errno));
	guard = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (guard == MAP_FAILED || !vmflag(guard, "lo"))
		fail("a PROT_NONE mapping under MCL_FUTURE is not locked");
	check_all("before");

	test_ready();
	test_wait();

	check_all("after restore");
	if (!vmflag(guard, "lo"))
		fail("the locked PROT_NONE mapping is no longer locked");
	pid = xfork();
	if (pid == 0) {
		if (!vma_find((unsigned long)reg[DONTFORK], NULL, &v))
			fail("child: the MADV_DONTFORK range is mapped");
		if (zero_check(reg[WIPE], LEN) >= 0)
			fail("child: the MADV_WIPEONFORK range is not zero");
		if (pattern_check(reg[LOCKED], LEN, LOCKED + 1) >= 0)
			fail("child: other memory differs");
		_exit(0);
	}
	child_reap(pid, 0);
	if (pattern_check(reg[WIPE], LEN, WIPE + 1) >= 0)
		fail("the MADV_WIPEONFORK range changed in the parent");
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	if (!vmflag(p, "lo"))
		fail("mlockall(MCL_FUTURE) lost: a new mapping is not locked");
	pass();
}
