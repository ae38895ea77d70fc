/* A process in a time namespace whose CLOCK_MONOTONIC and CLOCK_BOOTTIME are 100 days ahead of the host's (as after a long uptime elsewhere) is restored into a new one: neither clock goes back, and both advance only by about the time that passed. */
#include "lib.h"
#include <sched.h>

#define AHEAD (100 * 86400ll)	/* seconds */

static long long clock_ns(int clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long long mono, boot, real, m2, b2, r2;
	char buf[128];
	int fd, n;

	if (!getenv("CR_T_TIMENS")) {	/* enter one: unshare, then exec */
		if (unshare(0x80 /* CLONE_NEWTIME */))
			skip("no time namespaces");
		n = snprintf(buf, sizeof(buf), "monotonic %lld 0\nboottime %lld 0\n",
			     AHEAD, AHEAD);
		fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, buf, n) != n)
			fail("timens_offsets: %s", strerror(errno));
		setenv("CR_T_TIMENS", "1", 1);
		execv("/proc/self/exe", argv);
		fail("exec: %s", strerror(errno));
	}
	test_init(argc, argv);
	if (clock_ns(CLOCK_MONOTONIC) < AHEAD * NS_PER_SEC)
		skip("execve does not enter the time namespace on this kernel");
	mono = clock_ns(CLOCK_MONOTONIC);
	boot = clock_ns(CLOCK_BOOTTIME);
	real = clock_ns(CLOCK_REALTIME);
	test_ready();
	test_wait();
	m2 = clock_ns(CLOCK_MONOTONIC);
	b2 = clock_ns(CLOCK_BOOTTIME);
	r2 = clock_ns(CLOCK_REALTIME);
	if (m2 < mono || b2 < boot)
		fail("clocks went back: monotonic by %lld s, boottime by %lld s",
		     (mono - m2) / NS_PER_SEC, (boot - b2) / NS_PER_SEC);
	if (m2 - mono > r2 - real + NS_PER_SEC || b2 - boot > r2 - real + NS_PER_SEC)
		fail("clocks jumped ahead: monotonic %lld ms, boottime %lld ms, wall %lld ms",
		     (m2 - mono) / 1000000, (b2 - boot) / 1000000,
		     (r2 - real) / 1000000);
	pass();
}
