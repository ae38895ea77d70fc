/* timerfds run on while the process is down: a periodic timer counts every period from the dump to the restore, a one-shot due meanwhile has fired once, and a slow periodic timer is next due on its old beat. */
#include "fdlib.h"
#include <sys/timerfd.h>

#define MS 1000000ll

static long long clock_ns(int clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static int tmr(int clock, long long value, long long interval, const char *what)
{
	struct itimerspec its = {
		{ interval / NS_PER_SEC, interval % NS_PER_SEC },
		{ value / NS_PER_SEC, value % NS_PER_SEC },
	};
	int fd = timerfd_create(clock, TFD_NONBLOCK);

	if (fd < 0 || timerfd_settime(fd, 0, &its, NULL))
		fail("%s: %s", what, strerror(errno));
	return fd;
}

int main(int argc, char **argv)
{
	enum { FAST, BOOT, ONCE, SLOW, NT };
	static const struct { int clock; long long value, interval; } set[NT] = {
		{ CLOCK_MONOTONIC, 1 * MS, 1 * MS },
		{ CLOCK_BOOTTIME, 2 * MS, 2 * MS },
		{ CLOCK_MONOTONIC, 15 * MS, 0 },
		{ CLOCK_REALTIME, 10 * MS, 1000 * MS },
	};
	static const char *const names[NT] = {
		"monotonic every 1 ms", "boottime every 2 ms",
		"one-shot 15 ms", "realtime every 1 s",
	};
	long long start[NT], before, now, want, due, left;
	struct itimerspec its;
	uint64_t n;
	int fds[NT], i;

	test_init(argc, argv);
	for (i = 0; i < NT; i++) {
		start[i] = clock_ns(set[i].clock);
		fds[i] = tmr(set[i].clock, set[i].value, set[i].interval,
			     names[i]);
	}
	test_ready();
	test_wait();

	/* every period since the start, the downtime too: none read yet
	 * (the read is bracketed by two clock readings: no preemption
	 * between them counts against it) */
	for (i = FAST; i <= BOOT; i++) {
		before = clock_ns(set[i].clock);
		read_exact(fds[i], &n, 8, names[i]);
		now = clock_ns(set[i].clock);
		want = (before - start[i]) / set[i].interval;
		if ((long long)n < want - 1 ||
		    (long long)n > (now - start[i]) / set[i].interval + 1)
			fail("%s: %llu expirations in %lld ms, want %lld: the "
			     "time down %s", names[i], (unsigned long long)n,
			     (now - start[i]) / MS, want,
			     (long long)n < want ? "was left out" : "counted twice");
	}
	/* the one-shot fired once (before, during or after the downtime) */
	if (clock_ns(CLOCK_MONOTONIC) - start[ONCE] > 17 * MS &&
	    !poll_fd(fds[ONCE], POLLIN, 0))
		fail("%s has not fired %lld ms after it was due", names[ONCE],
		     (clock_ns(CLOCK_MONOTONIC) - start[ONCE]) / MS - 15);
	read_exact(fds[ONCE], &n, 8, names[ONCE]);
	if (n != 1)
		fail("%s: %llu expirations, want 1", names[ONCE],
		     (unsigned long long)n);
	/* the slow one fired once at 10 ms; next due on its beat */
	read_exact(fds[SLOW], &n, 8, names[SLOW]);	/* at least one */
	before = clock_ns(CLOCK_REALTIME);
	if (timerfd_gettime(fds[SLOW], &its))
		fail("timerfd_gettime: %s", strerror(errno));
	now = clock_ns(CLOCK_REALTIME);
	due = start[SLOW] + set[SLOW].value +
	      ((now - start[SLOW] - set[SLOW].value) / set[SLOW].interval + 1) *
	      set[SLOW].interval;
	left = its.it_value.tv_sec * NS_PER_SEC + its.it_value.tv_nsec;
	if (left < due - now - MS || left > due - before + MS)
		fail("%s: due in %lld ms, want %lld ms: off its beat by the "
		     "downtime", names[SLOW], left / MS, (due - now) / MS);
	if (its.it_interval.tv_sec != 1 || its.it_interval.tv_nsec)
		fail("%s: interval lost", names[SLOW]);
	pass();
}
