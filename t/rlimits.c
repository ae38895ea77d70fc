/* Distinct soft limits (and some hard limits) of many resources are restored. */
#include "lib.h"
#include <sys/resource.h>

#define KEEP RLIM_INFINITY	/* keep the current hard limit */

struct lim {
	int res;
	const char *name;
	rlim_t cur, max;
};

static const struct lim lims[] = {
	{ RLIMIT_NOFILE, "NOFILE", 777, 4099 },
	{ RLIMIT_STACK, "STACK", (7 << 20) + 3 * 4096, KEEP },
	{ RLIMIT_CORE, "CORE", (3 << 20) + 1, 8 << 20 },
	{ RLIMIT_NPROC, "NPROC", 2345, KEEP },
	{ RLIMIT_MEMLOCK, "MEMLOCK", (2 << 20) + 4096, KEEP },
	{ RLIMIT_MSGQUEUE, "MSGQUEUE", 123456, KEEP },
	{ RLIMIT_NICE, "NICE", 7, KEEP },
	{ RLIMIT_RTPRIO, "RTPRIO", 3, KEEP },
	{ RLIMIT_SIGPENDING, "SIGPENDING", 1234, KEEP },
	{ RLIMIT_FSIZE, "FSIZE", (1ul << 30) + 1, KEEP },
	{ RLIMIT_LOCKS, "LOCKS", 999, KEEP },
	{ RLIMIT_CPU, "CPU", 100000, KEEP },
	{ RLIMIT_RTTIME, "RTTIME", 5000001, KEEP },
	{ RLIMIT_AS, "AS", 48ul << 30, KEEP },
	{ RLIMIT_DATA, "DATA", 40ul << 30, KEEP },
};

#define NLIMS (sizeof(lims) / sizeof(lims[0]))

static struct rlimit set[NLIMS];

int main(int argc, char **argv)
{
	struct rlimit rl;
	unsigned i;

	test_init(argc, argv);
	for (i = 0; i < NLIMS; i++) {
		if (getrlimit(lims[i].res, &rl))
			fail("getrlimit %s: %s", lims[i].name, strerror(errno));
		/* only lower hard limits: CAP_SYS_RESOURCE may be missing */
		if (lims[i].max < rl.rlim_max)
			rl.rlim_max = lims[i].max;
		rl.rlim_cur = lims[i].cur;
		if (rl.rlim_cur > rl.rlim_max)
			rl.rlim_cur = rl.rlim_max;
		if (setrlimit(lims[i].res, &rl))
			fail("setrlimit %s: %s", lims[i].name, strerror(errno));
		set[i] = rl;
	}

	test_ready();
	test_wait();

	for (i = 0; i < NLIMS; i++) {
		if (getrlimit(lims[i].res, &rl))
			fail("getrlimit %s: %s", lims[i].name, strerror(errno));
		if (rl.rlim_cur != set[i].rlim_cur ||
		    rl.rlim_max != set[i].rlim_max)
			fail("RLIMIT_%s is %llu/%llu, want %llu/%llu",
			     lims[i].name, (unsigned long long)rl.rlim_cur,
			     (unsigned long long)rl.rlim_max,
			     (unsigned long long)set[i].rlim_cur,
			     (unsigned long long)set[i].rlim_max);
	}
	pass();
}
