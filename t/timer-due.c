/* Timers due while the process was dumped (the runner waits 1.5 s before restoring) fire once right after restore, as after a long stop: ITIMER_REAL, a POSIX one-shot, a one-shot timerfd, a periodic POSIX timer whose one signal carries the missed periods as overrun, and an absolute periodic timerfd that counts them as ticks. */
#include "lib.h"
#include <poll.h>
#include <sys/time.h>
#include <sys/timerfd.h>

#define MS 1000000ll
#define SIG_P (SIGRTMIN + 1)
#define BIG_GAP (1000 * MS)	/* the runner's downtime is 1.5 s */

struct ksigevent {
	union sigval value;
	int signo, notify, tid, pad[11];
};

static volatile long long last;	/* the main loop's latest clock reading */
struct shot {
	const char *what;
	volatile int n;
	volatile long long at, gap;	/* when it fired, time since last */
};
static struct shot alrm = { "ITIMER_REAL", 0, 0, 0 };
static struct shot once = { "POSIX one-shot", 0, 0, 0 };
static struct shot tfd = { "timerfd one-shot", 0, 0, 0 };
static volatile int p_n, p_resumes, p_burst, p_bursts, p_overrun;
static volatile long long p_resume_at;

static void on_shot(int sig)
{
	struct shot *s = sig == SIGALRM ? &alrm : &once;

	s->n++;
	s->at = mono_ns();
	s->gap = s->at - last;
}

static void on_periodic(int sig, siginfo_t *si, void *uc)
{
	long long now = mono_ns();

	(void)sig, (void)uc;
	p_n++;
	if (now - last > BIG_GAP) {	/* the first one after a restore */
		p_resumes++;
		p_resume_at = now;
		if (si->si_overrun > p_overrun)
			p_overrun = si->si_overrun;
		p_burst = 0;
	} else if (p_resumes && now - p_resume_at < 250 * MS &&
		   ++p_burst > 3) {	/* more than its next 2-3 periods */
		p_bursts++;
	}
}

/* Fired once; at its due time, or at the restore if due in between. */
static void check(const struct shot *s, long long due)
{
	if (s->n != 1)
		fail("%s fired %d times, want once", s->what, s->n);
	if (s->at < due - 5 * MS)
		fail("%s fired %lld ms early", s->what, (due - s->at) / MS);
	if (s->gap < BIG_GAP && s->at - due > 200 * MS)
		fail("%s was due during the dump and fired %lld ms late: downtime not counted",
		     s->what, (s->at - due) / MS);
}

int main(int argc, char **argv)
{
	struct ksigevent ev = { { 0 }, SIGUSR2, SIGEV_SIGNAL, 0, { 0 } };
	struct itimerspec os = { { 0, 0 }, { 0, 300 * MS } };
	struct itimerspec ps = { { 0, 100 * MS }, { 0, 100 * MS } };
	struct itimerval it = { { 0, 0 }, { 0, 300000 } };
	struct itimerspec ts = { { 0, 0 }, { 0, 300 * MS } };
	struct timespec rt;
	struct sigaction sa;
	long long due, prev, maxgap = 0;
	uint64_t ticks;
	int id_once, id_p, fd, fdp;

	test_init(argc, argv);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_shot;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sa.sa_sigaction = on_periodic;
	sa.sa_flags = SA_RESTART | SA_SIGINFO;
	sigaction(SIG_P, &sa, NULL);
	if (syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &id_once))
		fail("timer_create: %s", strerror(errno));
	ev.signo = SIG_P;
	if (syscall(SYS_timer_create, CLOCK_REALTIME, &ev, &id_p))
		fail("timer_create: %s", strerror(errno));
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	fdp = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
	clock_gettime(CLOCK_REALTIME, &rt);
	last = mono_ns();
	due = last + 300 * MS;
	if (fd < 0 || fdp < 0 || timerfd_settime(fd, 0, &ts, NULL))
		fail("timerfd: %s", strerror(errno));
	ts.it_interval.tv_nsec = 100 * MS;
	ts.it_value = rt;	/* first at +100 ms */
	if ((ts.it_value.tv_nsec += 100 * MS) >= NS_PER_SEC) {
		ts.it_value.tv_sec++;
		ts.it_value.tv_nsec -= NS_PER_SEC;
	}
	if (timerfd_settime(fdp, TFD_TIMER_ABSTIME, &ts, NULL))
		fail("timerfd: %s", strerror(errno));
	if (syscall(SYS_timer_settime, id_once, 0, &os, NULL) ||
	    syscall(SYS_timer_settime, id_p, 0, &ps, NULL) ||
	    setitimer(ITIMER_REAL, &it, NULL))
		fail("arming: %s", strerror(errno));
	test_ready();
	for (long long end = 0; !end || mono_ns() < end;) {
		struct pollfd p = { fd, POLLIN, 0 };

		prev = last;
		last = mono_ns();
		if (last - prev > maxgap)
			maxgap = last - prev;
		if (!tfd.n && poll(&p, 1, 0) == 1) {
			tfd.n = 1;
			tfd.at = mono_ns();
			tfd.gap = tfd.at - prev;
		}
		if (!end && test_done())	/* then 2 s more for the shots */
			end = mono_ns() + 2 * NS_PER_SEC;
		if (end && alrm.n && once.n && tfd.n)
			break;
	}
	check(&alrm, due);
	check(&once, due);
	check(&tfd, due);
	if (read(fd, &ticks, 8) != 8 || ticks != 1)
		fail("timerfd one-shot: %llu ticks, want 1", (unsigned long long)ticks);
	if (maxgap < BIG_GAP && !p_resumes)
		pass();	/* never stopped for long (t/run -m nocr) */
	if (read(fdp, &ticks, 8) != 8 || ticks < 10)
		fail("absolute periodic timerfd: %llu ticks after 1.5 s at 100 ms",
		     (unsigned long long)ticks);
	if (!p_resumes)
		fail("periodic timer: no signal right after the restore");
	if (p_bursts)
		fail("periodic timer: a burst of signals after the restore, want one with the overrun");
	if (p_overrun < 8)
		fail("periodic timer: overrun %d after 1.5 s at 100 ms, want the missed periods",
		     p_overrun);
	pass();
}
