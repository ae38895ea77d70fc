/* Interval timers: ITIMER_REAL fires once at its time (dump time counted, as wall time), ITIMER_VIRTUAL keeps its period and ticks on CPU time, ITIMER_PROF keeps its value and interval. */
#include "lib.h"
#include <sys/time.h>

#define MS 1000000ll

static volatile int n_alrm, n_vt;
static volatile long long alrm_at;

static void on_sig(int sig)
{
	if (sig == SIGALRM) {
		n_alrm++;
		alrm_at = mono_ns();
	} else {
		n_vt++;
	}
}

static long long tv_ns(struct timeval tv)
{
	return tv.tv_sec * NS_PER_SEC + tv.tv_usec * 1000ll;
}

static void set(int which, long long value, long long interval)
{
	struct itimerval it = {
		{ interval / NS_PER_SEC, interval % NS_PER_SEC / 1000 },
		{ value / NS_PER_SEC, value % NS_PER_SEC / 1000 } };

	if (setitimer(which, &it, NULL))
		fail("setitimer %d: %s", which, strerror(errno));
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	struct itimerval it;
	struct timespec rt0, rt1;
	long long due, ready, term, late, end;
	int n;

	test_init(argc, argv);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sig;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGVTALRM, &sa, NULL);
	set(ITIMER_VIRTUAL, 20 * MS, 20 * MS);
	set(ITIMER_PROF, 5 * NS_PER_SEC, NS_PER_SEC);
	due = mono_ns() + 700 * MS;
	set(ITIMER_REAL, 700 * MS, 0);
	ready = mono_ns();
	clock_gettime(CLOCK_REALTIME, &rt0);
	test_ready();
	test_wait();
	term = mono_ns();

	/* REAL: once, not early, not later than the dump made it */
	end = mono_ns() + 3 * NS_PER_SEC;
	while (!n_alrm && mono_ns() < end)
		sleep_us(1000);
	if (n_alrm != 1) {
		getitimer(ITIMER_REAL, &it);
		clock_gettime(CLOCK_REALTIME, &rt1);
		fail("ITIMER_REAL fired %d times, want once (%lld ms left; realtime ran %lld ms, monotonic %lld ms)",
		     n_alrm, tv_ns(it.it_value) / MS,
		     (long long)(rt1.tv_sec - rt0.tv_sec) * 1000 + (rt1.tv_nsec - rt0.tv_nsec) / 1000000,
		     (mono_ns() - ready) / MS);
	}
	if (alrm_at < due - 20 * MS)	/* the downtime is wall time */
		fail("ITIMER_REAL fired %lld ms early", (due - alrm_at) / MS);
	/* the dump and restore lie between ready and SIGTERM, and a timer
	 * due meanwhile fires at the restore: up to term - ready late (a
	 * slow machine, qemu, may restore well before SIGTERM comes) */
	late = alrm_at - due - (term - ready);
	if (late > 500 * MS)
		fail("ITIMER_REAL fired %lld ms late", late / MS);
	if (getitimer(ITIMER_REAL, &it) || tv_ns(it.it_value))
		fail("ITIMER_REAL still armed after firing");

	/* VIRTUAL: same period, and it ticks while we spin */
	if (getitimer(ITIMER_VIRTUAL, &it) || tv_ns(it.it_interval) != 20 * MS ||
	    !tv_ns(it.it_value) || tv_ns(it.it_value) > 40 * MS)
		fail("ITIMER_VIRTUAL: value %lld interval %lld ns",
		     tv_ns(it.it_value), tv_ns(it.it_interval));
	n = n_vt;
	end = mono_ns() + 5 * NS_PER_SEC;
	while (n_vt < n + 3 && mono_ns() < end)
		;
	if (n_vt < n + 3)
		fail("ITIMER_VIRTUAL: %d signals in 5 s of spinning", n_vt - n);

	/* PROF: interval kept, value counting down from what was left */
	if (getitimer(ITIMER_PROF, &it) || tv_ns(it.it_interval) != NS_PER_SEC ||
	    tv_ns(it.it_value) > 5 * NS_PER_SEC || tv_ns(it.it_value) < NS_PER_SEC)
		fail("ITIMER_PROF: value %lld interval %lld ns",
		     tv_ns(it.it_value), tv_ns(it.it_interval));
	pass();
}
