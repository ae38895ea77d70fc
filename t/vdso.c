/* The vDSO and vvar pages stay where they were and vDSO clocks agree with the clock_gettime syscall. */
#include "lib.h"
#include <sys/auxv.h>
#include <sys/time.h>
#include <time.h>

#define NS 1000000000ll
#define MS 1000000ll

static const char *const specials[] = { "[vdso]", "[vvar]", "[vvar_vclock]" };
#define NSPECIAL 3

static struct vma before[NSPECIAL];
static bool present[NSPECIAL];

static long long ns(const struct timespec *ts)
{
	return ts->tv_sec * NS + ts->tv_nsec;
}

static long long vdso_ns(clockid_t clk)
{
	struct timespec ts;

	if (clock_gettime(clk, &ts))
		fail("clock_gettime(%d): %s", (int)clk, strerror(errno));
	return ns(&ts);
}

static long long sys_ns(clockid_t clk)
{
	struct timespec ts;

	if (syscall(SYS_clock_gettime, clk, &ts))
		fail("SYS_clock_gettime(%d): %s", (int)clk, strerror(errno));
	return ns(&ts);
}

/*
 * vDSO time and syscall time must agree and be bracketed: in one of a few
 * tries, as a busy machine may take this thread off its core for longer
 * than the bound between two reads (a vDSO that is wrong is wrong each
 * time).
 */
static void check_clock(clockid_t clk)
{
	long long v1, s, v2;

	for (int i = 0; i < 5; i++) {
		v1 = vdso_ns(clk), s = sys_ns(clk), v2 = vdso_ns(clk);
		if (v1 <= s && s <= v2 && v2 - v1 <= 5 * MS)
			return;
	}
	fail("clock %d: vdso %lld, syscall %lld, vdso %lld", (int)clk, v1, s,
	     v2);
}

static void check_tod(void)
{
	struct timeval tv;
	long long t, s;

	for (int i = 0; i < 5; i++) {
		gettimeofday(&tv, NULL);
		t = tv.tv_sec * NS + tv.tv_usec * 1000ll;
		s = sys_ns(CLOCK_REALTIME);
		if (s >= t && s - t <= 5 * MS)
			return;
	}
	fail("gettimeofday %lld vs syscall %lld", t, s);
}

int main(int argc, char **argv)
{
	unsigned long ehdr = getauxval(AT_SYSINFO_EHDR);
	long long mono;
	struct vma v;
	int i;

	test_init(argc, argv);
	for (i = 0; i < NSPECIAL; i++)
		present[i] = !vma_find(0, specials[i], &before[i]);
	if (!present[0] || before[0].start != ehdr)
		fail("[vdso] at %#lx, AT_SYSINFO_EHDR %#lx", before[0].start,
		     ehdr);
	if (!present[1])
		fail("no [vvar]");
	check_clock(CLOCK_MONOTONIC);
	check_clock(CLOCK_REALTIME);
	check_tod();
	mono = vdso_ns(CLOCK_MONOTONIC);

	test_ready();
	test_wait();

	for (i = 0; i < NSPECIAL; i++) {
		bool here = !vma_find(0, specials[i], &v);

		if (here != present[i] || (here &&
		    (v.start != before[i].start || v.end != before[i].end ||
		     strcmp(v.prot, before[i].prot))))
			fail("%s now %lx-%lx %s, was %lx-%lx %s", specials[i],
			     here ? v.start : 0, here ? v.end : 0,
			     here ? v.prot : "-", before[i].start,
			     before[i].end, present[i] ? before[i].prot : "-");
	}
	if (getauxval(AT_SYSINFO_EHDR) != ehdr ||
	    memcmp((void *)ehdr, "\177ELF", 4))
		fail("no ELF header at AT_SYSINFO_EHDR %#lx", ehdr);
	if (vdso_ns(CLOCK_MONOTONIC) < mono)
		fail("CLOCK_MONOTONIC went backwards");
	check_clock(CLOCK_MONOTONIC);
	check_clock(CLOCK_REALTIME);
	check_clock(CLOCK_BOOTTIME);
	check_tod();
	pass();
}
