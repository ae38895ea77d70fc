/* 512 MiB of private memory restored lazily (in t/run's lazy mode, marked by a file "lazy-mode") stays right while the program acts before it is all in: a child forked at once sees every page, MADV_DONTNEED and munmap'ed ranges stay zero (not filled later), an mremap'ed range keeps its pages at the new address, a page written first keeps the write; the userfaultfd goes away (no "um" left in smaps) and no fd appears. */
#include "lib.h"
#include <sys/mman.h>

#define SIZE (512ul << 20)
#define NPAGES (SIZE / PAGE)
#define A_LO (NPAGES - 16384)	/* MADV_DONTNEED */
#define B_LO (NPAGES - 8192)	/* munmap, mapped again fresh */
#define C_LO (NPAGES - 4096)	/* mremap'ed to r */
#define M_PG (NPAGES / 2 + 77)	/* written first */

static unsigned char *p, *r;

static uint64_t seed(unsigned long i)
{
	return i * 0x100000001b3ull + 777;
}

/* Does any mapping of this process still have userfaultfd missing mode? */
static bool lazy_now(void)
{
	static char buf[4 << 20];
	char *s = buf;

	if (read_file("/proc/self/smaps", buf, sizeof(buf)) <= 0)
		fail("reading /proc/self/smaps");
	while ((s = strstr(s, "VmFlags:"))) {
		char *nl = strchr(s, '\n');

		if (nl)
			*nl = 0;
		if (strstr(s, " um"))
			return true;
		s = nl ? nl + 1 : s + 8;
		if (!nl)
			break;
	}
	return false;
}

static void wait_filled(const char *who)
{
	long long end = mono_ns() + 60000000000ll;

	while (lazy_now()) {
		if (mono_ns() > end)
			fail("%s: still registered with a userfaultfd after 60 s", who);
		sleep_us(10000);
	}
}

static void check_page(const unsigned char *at, unsigned long i, const char *who)
{
	long off = pattern_check(at, PAGE, seed(i));

	if (off >= 0)
		fail("%s: page %lu differs at byte %ld", who, i, off);
}

int main(int argc, char **argv)
{
	unsigned long i;
	bool lazy, want_lazy;
	pid_t kid;
	long off;

	test_init(argc, argv);
	p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	r = mmap(NULL, 4096 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED || r == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	for (i = 0; i < NPAGES; i++)
		pattern_fill(p + i * PAGE, PAGE, seed(i));
	test_ready();
	test_wait();
	lazy = lazy_now();
	want_lazy = access("lazy-mode", F_OK) == 0;
	if (want_lazy && !lazy)
		fail("restored with --lazy-pages, but nothing is registered: no lazy phase");
	kid = xfork();
	if (!kid) {
		for (i = NPAGES; i-- > 0;)
			check_page(p + i * PAGE, i, "child");
		wait_filled("child");
		for (i = 0; i < NPAGES; i++)
			check_page(p + i * PAGE, i, "child, filled");
		_exit(0);
	}
	if (madvise(p + A_LO * PAGE, (B_LO - A_LO) * PAGE, MADV_DONTNEED) ||
	    munmap(p + B_LO * PAGE, (C_LO - B_LO) * PAGE) ||
	    mmap(p + B_LO * PAGE, (C_LO - B_LO) * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) !=
	    p + B_LO * PAGE ||
	    mremap(p + C_LO * PAGE, (NPAGES - C_LO) * PAGE,
		   (NPAGES - C_LO) * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, r) != r)
		fail("madvise, munmap, mmap or mremap: %s", strerror(errno));
	memset(p + M_PG * PAGE, 0xab, PAGE);
	wait_filled("parent");
	for (i = 0; i < C_LO; i++) {
		const unsigned char *at = p + i * PAGE;

		if (i >= A_LO)
			off = zero_check(at, PAGE);
		else if (i == M_PG)
			off = at[0] == 0xab && at[PAGE - 1] == 0xab ? -1 : 0;
		else
			off = pattern_check(at, PAGE, seed(i));
		if (off >= 0)
			fail("page %lu (%s) differs at byte %ld", i,
			     i >= B_LO ? "unmapped, mapped again" :
			     i >= A_LO ? "MADV_DONTNEED" :
			     i == M_PG ? "written after restore" : "kept", off);
	}
	for (i = C_LO; i < NPAGES; i++)
		check_page(r + (i - C_LO) * PAGE, i, "moved by mremap");
	child_reap(kid, 0);
	if (want_lazy)
		t_puts("the lazy phase was on when the program acted\n");
	pass();
}
