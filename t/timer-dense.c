/*
 * Timers that go off while cr reads the frozen process are neither lost
 * nor doubled: 200 one-shot POSIX timers fall due 3 ms apart from just
 * after "ready" on, and ITIMER_REAL in their midst, so some go off
 * between cr's reads of the pending signals and of the timers.  Each
 * must fire exactly once: before the dump, as a signal pending in the
 * image, or after restore.  (cr once read the signals first: a timer
 * that went off in between was saved disarmed, its signal nowhere.)
 */
#include "lib.h"
#include <sys/time.h>

#define N 200
#define MS 1000000ll
#define SIG_T (SIGRTMIN + 2)

struct ksigevent {
	union sigval value;
	int signo, notify, tid, pad[11];
};

static volatile int fired[N], alrm;

static void on_timer(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	if (si->si_value.sival_int >= 0 && si->si_value.sival_int < N)
		fired[si->si_value.sival_int]++;
}

static void on_alrm(int sig)
{
	(void)sig;
	alrm++;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	struct itimerval it = { { 0, 0 }, { 0, 300000 } };
	long long end;
	int id[N], i, all;

	test_init(argc, argv);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_timer;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIG_T, &sa, NULL);
	sa.sa_handler = on_alrm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	for (i = 0; i < N; i++) {
		struct ksigevent ev = { { .sival_int = i }, SIG_T, SIGEV_SIGNAL,
					0, { 0 } };

		if (syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &id[i]))
			fail("timer_create %d: %s", i, strerror(errno));
	}
	for (i = 0; i < N; i++) {
		struct itimerspec ts = { { 0, 0 },
			{ 0, (20 + 3 * i) * MS % (1000 * MS) } };

		ts.it_value.tv_sec = (20 + 3 * i) * MS / (1000 * MS);
		if (syscall(SYS_timer_settime, id[i], 0, &ts, NULL))
			fail("timer_settime %d: %s", i, strerror(errno));
	}
	setitimer(ITIMER_REAL, &it, NULL);
	test_ready();
	test_wait();

	end = mono_ns() + 5000 * MS;	/* the last is due 620 ms after ready */
	do {
		sleep_us(10000);
		for (all = alrm, i = 0; i < N; i++)
			all = all && fired[i];
	} while (!all && mono_ns() < end);
	sleep_us(100000);	/* a second one would come at once */
	if (alrm != 1)
		fail("ITIMER_REAL fired %d times, want once", alrm);
	for (i = 0; i < N; i++)
		if (fired[i] != 1)
			fail("timer %d (due %d ms after ready) fired %d times, want once",
			     i, 20 + 3 * i, fired[i]);
	pass();
}
