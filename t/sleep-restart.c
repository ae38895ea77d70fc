/* Sleeps interrupted by the dump restart transparently: no spurious EINTR, never shorter than asked. */
#include "lib.h"
#include <time.h>

#define NS 1000000000ll
#define SLEEP_NS 300000000ll

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NS + ts.tv_nsec;
}

/* One sleep of SLEEP_NS in one of several ways; returns an errno value. */
static int do_sleep(int how, long long start)
{
	struct timespec req = { 0, SLEEP_NS }, rem;

	switch (how) {
	case 0:
		return nanosleep(&req, &rem) ? errno : 0;
	case 1:
		return clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL);
	case 2:
		return nanosleep(&req, &req) ? errno : 0;	/* rem == req */
	case 3:
		return syscall(SYS_nanosleep, &req, NULL) ? errno : 0;
	default:
		req.tv_sec = (start + SLEEP_NS) / NS;
		req.tv_nsec = (start + SLEEP_NS) % NS;
		return clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &req,
				       NULL);
	}
}

static const char *const names[] = {
	"nanosleep", "clock_nanosleep", "nanosleep(req, req)",
	"SYS_nanosleep", "clock_nanosleep(ABSTIME)",
};

int main(int argc, char **argv)
{
	long long start, took;
	int i, err;

	test_init(argc, argv);
	test_ready();
	for (i = 0; !test_done(); i++) {
		start = now_ns();
		err = do_sleep(i % 5, start);
		took = now_ns() - start;
		if (err == EINTR && test_done())
			break;
		if (err)
			fail("spurious EINTR from %s: %s", names[i % 5],
			     strerror(err));
		if (took < SLEEP_NS)
			fail("%s slept %lld ns, asked %lld", names[i % 5], took,
			     SLEEP_NS);
	}
	pass();
}
