/* timerfds (monotonic and realtime, relative and absolute, periodic, one-shot, disarmed, with unread expirations) keep their clock, interval, ticks and deadlines: each fires as it would have. */
#include "fdlib.h"
#include <sys/timerfd.h>

#define MS 1000000ll
#define NSHOTS 6

/* A timer not yet expired at the dump: when it is due and when it fired. */
struct shot {
	const char *what;
	int fd, clock;
	long long due;		/* ns on its clock */
	long long interval;	/* ns, 0 for a one-shot */
	long long fired;	/* ns on its clock, 0 if not yet */
	bool before;		/* was already readable at SIGTERM */
};

static long long clock_ns(int clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static struct timespec ts_of(long long ns)
{
	struct timespec ts = { ns / NS_PER_SEC, ns % NS_PER_SEC };

	return ts;
}

static long long ns_of(struct timespec ts)
{
	return ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static int tmr(int clock, int flags, int sflags, long long value,
	       long long interval, const char *what)
{
	struct itimerspec its = { ts_of(interval), ts_of(value) };
	int fd = timerfd_create(clock, flags);

	if (fd < 0)
		fail("timerfd_create %s: %s", what, strerror(errno));
	if ((value || interval) && timerfd_settime(fd, sflags, &its, NULL))
		fail("timerfd_settime %s: %s", what, strerror(errno));
	return fd;
}

static uint64_t ticks(int fd, const char *what)
{
	uint64_t n;

	if (read(fd, &n, 8) != 8)
		fail("%s: read: %s", what, strerror(errno));
	return n;
}

/* Its interval must be interval ns; value 0 if disarmed is set. */
static void expect_time(int fd, long long interval, bool disarmed,
			const char *what)
{
	struct itimerspec its;

	if (timerfd_gettime(fd, &its))
		fail("%s: timerfd_gettime: %s", what, strerror(errno));
	if (ns_of(its.it_interval) != interval ||
	    (disarmed && ns_of(its.it_value)))
		fail("%s: interval %lld ns value %lld ns, want %lld and %s",
		     what, ns_of(its.it_interval), ns_of(its.it_value),
		     interval, disarmed ? "0" : "any");
}

/* The fdinfo lines that say what a timer is, as one string. */
static void ident(int fd, char *buf, size_t size)
{
	char c[64], f[64];

	snprintf(buf, size, "clockid %s flags %s",
		 fdinfo_str(fd, "clockid", c, sizeof(c)),
		 fdinfo_str(fd, "settime flags", f, sizeof(f)));
}

/* Count the expirations of each of n fds over the same ms milliseconds. */
static void count_over(const int *fds, int n, int ms, uint64_t *counts)
{
	long long end, left;
	struct pollfd p[8];
	uint64_t k;
	int i;

	for (i = 0; i < n; i++) {
		if (read(fds[i], &k, 8) < 0 && errno != EAGAIN)
			fail("fd %d: read: %s", fds[i], strerror(errno));
		counts[i] = 0;
		p[i] = (struct pollfd){ fds[i], POLLIN, 0 };
	}
	end = mono_ns() + ms * MS;
	while ((left = end - mono_ns()) > 0) {
		if (poll(p, n, left / MS + 1) <= 0)
			continue;
		for (i = 0; i < n; i++)
			if ((p[i].revents & POLLIN) && read(fds[i], &k, 8) == 8)
				counts[i] += k;
	}
}

int main(int argc, char **argv)
{
	enum { PER, RABS, DIS, DIS2, TICK1, TICKN, TICKA, DIS3, NT };
	static const char *const names[NT] = {
		"periodic 50 ms", "realtime absolute periodic 100 ms",
		"never armed", "expired and read", "one-shot unread",
		"periodic 20 ms unread", "realtime absolute one-shot unread",
		"disarmed with an interval of 30 ms",
	};
	struct shot shots[NSHOTS] = {
		{ "monotonic one-shot 1000 ms", -1, CLOCK_MONOTONIC,
		  1000 * MS, 0, 0, false },
		{ "monotonic one-shot 150 ms", -1, CLOCK_MONOTONIC,
		  150 * MS, 0, 0, false },
		{ "realtime absolute one-shot 800 ms", -1, CLOCK_REALTIME,
		  800 * MS, 0, 0, false },
		{ "realtime one-shot 400 ms", -1, CLOCK_REALTIME,
		  400 * MS, 0, 0, false },
		{ "monotonic periodic 50 ms from 900 ms", -1, CLOCK_MONOTONIC,
		  900 * MS, 50 * MS, 0, false },
		{ "realtime absolute periodic 100 ms from 700 ms", -1,
		  CLOCK_REALTIME, 700 * MS, 100 * MS, 0, false },
	};
	const int nshots = NSHOTS;
	const int nb = TFD_NONBLOCK;
	char idents[NT + NSHOTS][128], now_id[128];
	long long ready[2], term[2], tn_start, tn_min, left, real;
	int fds[NT], i, pending;
	uint64_t n, hi;

	test_init(argc, argv);
	real = clock_ns(CLOCK_REALTIME);
	fds[PER] = tmr(CLOCK_MONOTONIC, nb, 0, 50 * MS, 50 * MS, names[PER]);
	fds[RABS] = tmr(CLOCK_REALTIME, nb | TFD_CLOEXEC, TFD_TIMER_ABSTIME,
			real + 100 * MS, 100 * MS, names[RABS]);
	fds[DIS] = tmr(CLOCK_MONOTONIC, nb, 0, 0, 0, names[DIS]);
	fds[DIS2] = tmr(CLOCK_MONOTONIC, nb, 0, 1 * MS, 0, names[DIS2]);
	fds[TICK1] = tmr(CLOCK_MONOTONIC, nb, 0, 5 * MS, 0, names[TICK1]);
	tn_start = mono_ns();
	fds[TICKN] = tmr(CLOCK_MONOTONIC, nb, 0, 20 * MS, 20 * MS,
			 names[TICKN]);
	fds[TICKA] = tmr(CLOCK_REALTIME, nb, TFD_TIMER_ABSTIME, real + 5 * MS, 0,
			 names[TICKA]);
	fds[DIS3] = tmr(CLOCK_MONOTONIC, nb, 0, 0, 30 * MS, names[DIS3]);
	sleep_us(250000);
	if (ticks(fds[DIS2], names[DIS2]) != 1)
		fail("the 1 ms one-shot did not fire once");
	if (!poll_fd(fds[TICK1], POLLIN, 0))
		fail("the 5 ms one-shot did not fire");
	/* these are due after the ready: during the dump, or after it */
	for (i = 0; i < nshots; i++) {
		struct shot *s = &shots[i];
		bool abs = strstr(s->what, "absolute");
		long long at = clock_ns(s->clock) + s->due;

		s->fd = tmr(s->clock, strstr(s->what, "1000") ? 0 : nb,
			    abs ? TFD_TIMER_ABSTIME : 0, abs ? at : s->due,
			    s->interval, s->what);
		s->due = at;
	}
	for (i = 0; i < NT + nshots; i++)
		ident(i < NT ? fds[i] : shots[i - NT].fd, idents[i], 128);
	ready[0] = mono_ns();
	ready[1] = clock_ns(CLOCK_REALTIME);
	/* the 20 ms timer has expired at least this often by now */
	tn_min = (ready[0] - tn_start) / (20 * MS);
	test_ready();
	test_wait();
	term[0] = mono_ns();
	term[1] = clock_ns(CLOCK_REALTIME);

	for (i = 0; i < nshots; i++)	/* before anything else takes time */
		shots[i].before = poll_fd(shots[i].fd, POLLIN, 0);
	expect_fl(fds[PER], O_NONBLOCK, O_NONBLOCK, names[PER]);
	expect_fl(shots[0].fd, O_NONBLOCK, 0, shots[0].what);
	expect_cloexec(fds[RABS], 1, names[RABS]);
	expect_cloexec(fds[PER], 0, names[PER]);

	/* unread expirations are all there, and not more than could be */
	if ((n = ticks(fds[TICK1], names[TICK1])) != 1)
		fail("%s: %llu expirations, want 1", names[TICK1],
		     (unsigned long long)n);
	expect_empty(fds[TICK1], names[TICK1]);
	expect_time(fds[TICK1], 0, true, names[TICK1]);
	/* spent and unread: its expiration kept, not armed again */
	if ((n = ticks(fds[TICKA], names[TICKA])) != 1)
		fail("%s: %llu expirations, want 1", names[TICKA],
		     (unsigned long long)n);
	expect_time(fds[TICKA], 0, true, names[TICKA]);
	sleep_us(20000);
	expect_empty(fds[TICKA], names[TICKA]);
	n = ticks(fds[TICKN], names[TICKN]);
	hi = (mono_ns() - tn_start) / (20 * MS) + 1;
	if (n < (uint64_t)tn_min || n > hi)
		fail("%s: %llu expirations, want %lld (pending at the dump) to "
		     "%llu", names[TICKN], (unsigned long long)n, tn_min,
		     (unsigned long long)hi);
	expect_time(fds[TICKN], 20 * MS, false, names[TICKN]);

	/* disarmed ones stay so */
	expect_time(fds[DIS], 0, true, names[DIS]);
	expect_time(fds[DIS2], 0, true, names[DIS2]);
	expect_time(fds[DIS3], 30 * MS, true, names[DIS3]);
	expect_empty(fds[DIS3], names[DIS3]);
	expect_empty(fds[DIS], names[DIS]);
	expect_empty(fds[DIS2], names[DIS2]);

	/* the others fire (once, if one-shots) not before they were due, nor
	 * later than due + the time between ready and SIGTERM (the dump is
	 * in there) */
	for (pending = nshots; pending;) {
		struct pollfd p[16];

		for (i = 0; i < nshots; i++)
			p[i] = (struct pollfd){ shots[i].fired ? -1 :
						shots[i].fd, POLLIN, 0 };
		if (poll(p, nshots, 3000) <= 0)
			fail("%d one-shot timers did not fire within 3 s",
			     pending);
		for (i = 0; i < nshots; i++)
			if (p[i].revents & POLLIN) {
				shots[i].fired = clock_ns(shots[i].clock);
				pending--;
			}
	}
	for (i = 0; i < nshots; i++) {
		struct shot *s = &shots[i];
		int c = s->clock == CLOCK_REALTIME;
		long long late = s->fired - s->due - (term[c] - ready[c]);

		if (s->before && term[c] < s->due - 5 * MS)
			fail("%s fired %lld ms early (before SIGTERM)", s->what,
			     (s->due - term[c]) / MS);
		if (!s->before && s->fired < s->due - 5 * MS)
			fail("%s fired %lld ms early", s->what,
			     (s->due - s->fired) / MS);
		if (!s->before && late > 500 * MS)
			fail("%s fired %lld ms late, dump time left out",
			     s->what, late / MS);
		n = ticks(s->fd, s->what);
		hi = s->interval ? (clock_ns(s->clock) - s->due) /
				   s->interval + 1 : 1;
		if (n < 1 || n > hi)
			fail("%s: %llu expirations, want 1 to %llu", s->what,
			     (unsigned long long)n, (unsigned long long)hi);
		expect_time(s->fd, s->interval, !s->interval, s->what);
	}
	sleep_us(100000);
	for (i = 0; i < nshots; i++)
		if (!shots[i].interval && poll_fd(shots[i].fd, POLLIN, 0))
			fail("%s fired again", shots[i].what);

	/* periodic ones go on at their pace: 10, 5, 10 and 5 in 500 ms */
	expect_time(fds[PER], 50 * MS, false, names[PER]);
	expect_time(fds[RABS], 100 * MS, false, names[RABS]);
	{
		const int per[4] = { fds[PER], fds[RABS], shots[4].fd,
				     shots[5].fd };
		const char *what[4] = { names[PER], names[RABS],
					shots[4].what, shots[5].what };
		const uint64_t lo[4] = { 7, 3, 7, 3 }, top[4] = { 12, 6, 12, 6 };
		uint64_t counts[4];

		count_over(per, 4, 500, counts);
		for (i = 0; i < 4; i++)
			if (counts[i] < lo[i] || counts[i] > top[i])
				fail("%s: %llu expirations in 500 ms", what[i],
				     (unsigned long long)counts[i]);
	}

	/* a restored disarmed timer can be armed */
	if (timerfd_settime(fds[DIS], 0, &(struct itimerspec){
				    { 0, 0 }, ts_of(20 * MS) }, NULL))
		fail("arming %s: %s", names[DIS], strerror(errno));
	left = mono_ns();
	if (!poll_fd(fds[DIS], POLLIN, 1000) || ticks(fds[DIS], names[DIS]) != 1)
		fail("%s armed after restore did not fire", names[DIS]);
	if (mono_ns() - left < 19 * MS)
		fail("%s fired after %lld ms, armed for 20", names[DIS],
		     (mono_ns() - left) / MS);

	/* same clocks, and absolute ones still absolute (so that they follow
	 * a change of the realtime clock) */
	for (i = 0; i < NT + nshots; i++) {
		ident(i < NT ? fds[i] : shots[i - NT].fd, now_id, 128);
		if (strcmp(now_id, idents[i]))
			fail("%s: %s, was %s", i < NT ? names[i] :
			     shots[i - NT].what, now_id, idents[i]);
	}
	pass();
}
