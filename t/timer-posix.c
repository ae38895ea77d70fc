/* POSIX timers keep their ids (with gaps), clocks, signals, values and SIGEV_THREAD_ID target; a periodic timer whose signal was blocked is queued once with its overrun; a SIGEV_NONE timer keeps counting down. */
#include "lib.h"

#define MS 1000000ll
#define SIG_A (SIGRTMIN + 2)	/* periodic, handled by any thread */
#define SIG_D (SIGRTMIN + 3)	/* periodic, blocked: overruns */

/* the kernel's struct sigevent (libc headers differ on the tid field) */
struct ksigevent {
	union sigval value;
	int signo, notify, tid, pad[11];
};

static int ktimer(int clock, int notify, int signo, long val, int tid)
{
	struct ksigevent ev = { { .sival_ptr = (void *)val }, signo, notify,
				tid, { 0 } };
	int id;

	if (syscall(SYS_timer_create, clock, &ev, &id))
		fail("timer_create: %s", strerror(errno));
	return id;
}

static void kset(int id, long long value, long long interval)
{
	struct itimerspec its = { { interval / NS_PER_SEC, interval % NS_PER_SEC },
				  { value / NS_PER_SEC, value % NS_PER_SEC } };

	if (syscall(SYS_timer_settime, id, 0, &its, NULL))
		fail("timer_settime %d: %s", id, strerror(errno));
}

static struct itimerspec kget(int id)
{
	struct itimerspec its;

	if (syscall(SYS_timer_gettime, id, &its))
		fail("timer_gettime %d: %s", id, strerror(errno));
	return its;
}

static long long ns(struct timespec ts)
{
	return ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static volatile int a_count, a_bad;
static int id_a, id_b, id_c, id_d, gap;
static volatile pid_t b_tid, b_got_tid;
static volatile int b_got, b_timerid, b_done;
static pthread_t thr;

static void on_a(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	if (si->si_code != SI_TIMER || si->si_value.sival_int != 0x1234 ||
	    si->si_timerid != id_a)
		a_bad++;
	a_count++;
}

/* The SIGEV_THREAD_ID target: waits for SIGUSR1 with sigwaitinfo. */
static void *b_thread(void *arg)
{
	sigset_t set;
	siginfo_t si;

	(void)arg;
	sigfillset(&set);	/* SIGTERM is for the main thread */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	b_tid = syscall(SYS_gettid);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	while (!b_done)	/* wait for it, or until main gives up */
		if (sigtimedwait(&set, &si, &(struct timespec){ 0, 10000000 }) > 0)
			break;
	if (b_done)
		return NULL;
	b_timerid = si.si_timerid;
	b_got_tid = syscall(SYS_gettid);
	b_got++;
	while (!b_done)	/* the runner checks the threads after restore */
		sleep_us(1000);
	return NULL;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	struct itimerspec its;
	struct timespec z = { 0, 0 };
	sigset_t set;
	siginfo_t si;
	long long c_left, t0;
	int spare, n;

	test_init(argc, argv);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_a;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIG_A, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIG_D);
	pthread_sigmask(SIG_BLOCK, &set, NULL);	/* the thread inherits it */
	if (pthread_create(&thr, NULL, b_thread, NULL))
		fail("pthread_create");
	while (!b_tid)
		sleep_us(1000);

	/* ids with a gap: the second one is deleted */
	id_a = ktimer(CLOCK_MONOTONIC, SIGEV_SIGNAL, SIG_A, 0x1234, 0);
	spare = ktimer(CLOCK_MONOTONIC, SIGEV_SIGNAL, SIGUSR2, 0, 0);
	id_b = ktimer(CLOCK_REALTIME, SIGEV_THREAD_ID | SIGEV_SIGNAL, SIGUSR1,
		      0x55, b_tid);
	id_c = ktimer(CLOCK_BOOTTIME, SIGEV_NONE, 0, 0, 0);
	id_d = ktimer(CLOCK_MONOTONIC, SIGEV_SIGNAL, SIG_D, 0x77, 0);
	gap = spare;
	if (syscall(SYS_timer_delete, spare))
		fail("timer_delete: %s", strerror(errno));
	kset(id_a, 20 * MS, 20 * MS);
	kset(id_b, 700 * MS, 0);
	kset(id_c, 10 * NS_PER_SEC, 0);
	kset(id_d, 5 * MS, 5 * MS);
	sleep_us(100000);	/* D expires ~20 times: one signal, overruns */
	t0 = mono_ns();
	test_ready();
	test_wait();

	/* the same ids answer, the deleted one does not */
	its = kget(id_a);
	if (ns(its.it_interval) != 20 * MS)
		fail("timer A: interval %lld ns, want 20 ms", ns(its.it_interval));
	if (!syscall(SYS_timer_gettime, gap, &its) || errno != EINVAL)
		fail("deleted timer %d exists after restore", gap);
	its = kget(id_c);
	c_left = ns(its.it_value);
	if (c_left <= 0 || c_left > 10 * NS_PER_SEC - (mono_ns() - t0) + 50 * MS)
		fail("SIGEV_NONE timer: %lld ms left, %lld ms passed",
		     c_left / MS, (mono_ns() - t0) / MS);
	its = kget(id_d);
	if (ns(its.it_interval) != 5 * MS)
		fail("timer D: interval %lld ns", ns(its.it_interval));

	/* A keeps firing at its pace, with its value */
	n = a_count;
	sleep_us(300000);
	if (a_count - n < 5 || a_count - n > 20 || a_bad)
		fail("timer A: %d signals in 300 ms (%d bad)", a_count - n, a_bad);

	/* B went to its thread, once */
	for (n = 0; !b_got && n < 3000; n++)
		sleep_us(1000);
	b_done = 1;
	if (pthread_join(thr, NULL))
		fail("pthread_join");
	if (b_got != 1 || b_got_tid != b_tid || b_timerid != id_b)
		fail("timer B: %d signals, thread %d (want %d), timer %d (want %d)",
		     b_got, b_got_tid, b_tid, b_timerid, id_b);

	/* D's blocked signal: one queued, carrying the overruns */
	sigemptyset(&set);
	sigaddset(&set, SIG_D);
	if (sigtimedwait(&set, &si, &z) != SIG_D)
		fail("timer D: no pending signal after restore");
	if (si.si_code != SI_TIMER || si.si_timerid != id_d ||
	    si.si_value.sival_int != 0x77)
		fail("timer D: code %d timer %d value %d", si.si_code,
		     si.si_timerid, si.si_value.sival_int);
	if (si.si_overrun < 10)
		fail("timer D: overrun %d, want at least 10", si.si_overrun);
	if (syscall(SYS_timer_getoverrun, id_d) != si.si_overrun)
		fail("timer D: timer_getoverrun %ld, signal said %d",
		     syscall(SYS_timer_getoverrun, id_d), si.si_overrun);
	if (sigtimedwait(&set, &si, &z) == SIG_D)
		fail("timer D: a second signal queued right away");
	/* a new timer gets a new id */
	n = ktimer(CLOCK_MONOTONIC, SIGEV_NONE, 0, 0, 0);
	if (n == id_a || n == id_b || n == id_c || n == id_d)
		fail("a new timer got id %d, already in use", n);
	pass();
}
