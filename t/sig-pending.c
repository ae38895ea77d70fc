/* Blocked mask and pending signals (thread-private, shared, queued RT with values) survive and get delivered. */
#include "lib.h"

#define RT (SIGRTMIN + 4)

struct got {
	int sig, code, val;
	pid_t pid;
};

static struct got seen[8];
static volatile int nlog;

static void handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (nlog < 8)
		seen[nlog] = (struct got){ sig, si->si_code,
					   si->si_value.sival_int, si->si_pid };
	nlog++;
}

static uint64_t bit(int sig)
{
	return 1ull << (sig - 1);
}

int main(int argc, char **argv)
{
	const int sigs[] = { SIGUSR1, SIGUSR2, RT };
	struct got want[4];
	struct sigaction sa;
	sigset_t set, cur;
	uint64_t mask;
	int i;

	test_init(argc, argv);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO;
	sigfillset(&sa.sa_mask);	/* one handler at a time, in order */
	sigemptyset(&set);
	for (i = 0; i < 3; i++) {
		if (sigaction(sigs[i], &sa, NULL))
			fail("sigaction: %s", strerror(errno));
		sigaddset(&set, sigs[i]);
	}
	sigaddset(&set, SIGWINCH);	/* blocked, never sent */
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		fail("sigprocmask: %s", strerror(errno));
	sigprocmask(SIG_BLOCK, NULL, &cur);
	mask = sigset_bits(&cur);

	if (syscall(SYS_tgkill, test_pid, syscall(SYS_gettid), SIGUSR1) ||
	    kill(test_pid, SIGUSR2) ||
	    sigqueue(test_pid, RT, (union sigval){ .sival_int = 1111 }) ||
	    sigqueue(test_pid, RT, (union sigval){ .sival_int = 2222 }))
		fail("sending: %s", strerror(errno));
	want[0] = (struct got){ SIGUSR1, SI_TKILL, 0, test_pid };
	want[1] = (struct got){ SIGUSR2, SI_USER, 0, test_pid };
	want[2] = (struct got){ RT, SI_QUEUE, 1111, test_pid };
	want[3] = (struct got){ RT, SI_QUEUE, 2222, test_pid };

	test_ready();
	while (!test_done())	/* spin: no sigsuspend touching the mask */
		;

	if (nlog)
		fail("signal %d delivered while blocked", seen[0].sig);
	sigprocmask(SIG_BLOCK, NULL, &cur);
	if (sigset_bits(&cur) != mask)
		fail("blocked %#llx, want %#llx",
		     (unsigned long long)sigset_bits(&cur),
		     (unsigned long long)mask);
	sigpending(&cur);
	if (sigset_bits(&cur) != (bit(SIGUSR1) | bit(SIGUSR2) | bit(RT)))
		fail("pending %#llx", (unsigned long long)sigset_bits(&cur));
	if (proc_status("SigPnd", 16) != bit(SIGUSR1))
		fail("thread pending %#llx, want SIGUSR1",
		     proc_status("SigPnd", 16));
	if (proc_status("ShdPnd", 16) != (bit(SIGUSR2) | bit(RT)))
		fail("shared pending %#llx, want SIGUSR2 and %d",
		     proc_status("ShdPnd", 16), RT);

	sigdelset(&set, SIGWINCH);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	if (nlog != 4)
		fail("%d signals delivered, want 4", nlog);
	for (i = 0; i < 4; i++)
		if (seen[i].sig != want[i].sig ||
		    seen[i].code != want[i].code ||
		    seen[i].pid != want[i].pid ||
		    (want[i].code == SI_QUEUE && seen[i].val != want[i].val))
			fail("delivery %d: sig %d code %d val %d pid %d, want "
			     "sig %d code %d val %d pid %d", i, seen[i].sig,
			     seen[i].code, seen[i].val, (int)seen[i].pid,
			     want[i].sig, want[i].code, want[i].val,
			     (int)want[i].pid);
	pass();
}
