/* signalfds keep their masks and flags: signals queued at the dump and sent after restore are read from the right one with signo, code, pid and value; the blocked mask is unchanged. */
#include "fdlib.h"
#include <sys/signalfd.h>

#define RT 40			/* a real-time signal, above both libcs' own */

static void sigs(sigset_t *set, int a, int b)
{
	sigemptyset(set);
	if (a)
		sigaddset(set, a);
	if (b)
		sigaddset(set, b);
}

static void queue(int sig, int val)
{
	union sigval sv = { .sival_int = val };

	if (sigqueue(getpid(), sig, sv))
		fail("sigqueue %d: %s", sig, strerror(errno));
}

/* The next siginfo from fd: sig, code, pid (and val for SI_QUEUE). */
static void expect_sig(int fd, int sig, int code, pid_t pid, int val,
		       const char *what)
{
	struct signalfd_siginfo si;
	ssize_t n;

	if (!poll_fd(fd, POLLIN, 5000))
		fail("%s: signal %d not readable in 5 s", what, sig);
	n = read(fd, &si, sizeof(si));
	if (n != sizeof(si))
		fail("%s: read %zd: %s", what, n, strerror(errno));
	if ((int)si.ssi_signo != sig || si.ssi_code != code ||
	    (pid_t)si.ssi_pid != pid || si.ssi_uid != getuid() ||
	    (code == SI_QUEUE && si.ssi_int != val))
		fail("%s: signo %u code %d pid %u uid %u int %d; want %d %d %d "
		     "%d %d", what, si.ssi_signo, si.ssi_code, si.ssi_pid,
		     si.ssi_uid, si.ssi_int, sig, code, (int)pid,
		     (int)getuid(), val);
}

int main(int argc, char **argv)
{
	unsigned long long mask1, mask2, blocked;
	sigset_t set, block;
	int s1, s2, st;
	pid_t pid;

	test_init(argc, argv);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGUSR2);
	sigaddset(&block, RT);
	sigaddset(&block, SIGWINCH);
	if (sigprocmask(SIG_BLOCK, &block, NULL))
		fail("sigprocmask: %s", strerror(errno));
	sigs(&set, SIGUSR1, RT);
	s1 = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	sigs(&set, SIGUSR2, 0);
	s2 = signalfd(-1, &set, 0);
	if (s1 < 0 || s2 < 0)
		fail("signalfd: %s", strerror(errno));
	mask1 = fdinfo_num(s1, "sigmask", 16);
	mask2 = fdinfo_num(s2, "sigmask", 16);
	if (mask1 != (1ull << (SIGUSR1 - 1) | 1ull << (RT - 1)) ||
	    mask2 != 1ull << (SIGUSR2 - 1))
		fail("fdinfo sigmask %llx %llx", mask1, mask2);
	/* queued at the dump: two RT with values (kept apart), a SIGWINCH */
	queue(RT, 1111);
	queue(RT, 2222);
	kill(getpid(), SIGWINCH);
	blocked = proc_status("SigBlk", 16);
	test_ready();
	test_wait();

	if (proc_status("SigBlk", 16) != blocked)
		fail("blocked mask %llx, was %llx",
		     proc_status("SigBlk", 16), blocked);
	if (fdinfo_num(s1, "sigmask", 16) != mask1 ||
	    fdinfo_num(s2, "sigmask", 16) != mask2)
		fail("signalfd masks %llx %llx, were %llx %llx",
		     fdinfo_num(s1, "sigmask", 16),
		     fdinfo_num(s2, "sigmask", 16), mask1, mask2);
	expect_fl(s1, O_NONBLOCK | O_ACCMODE, O_NONBLOCK | O_RDWR, "s1");
	expect_fl(s2, O_NONBLOCK | O_ACCMODE, O_RDWR, "s2");
	expect_cloexec(s1, 1, "s1");
	expect_cloexec(s2, 0, "s2");

	/* what was queued: both RT in order, SIGWINCH still pending */
	expect_sig(s1, RT, SI_QUEUE, getpid(), 1111, "queued RT 1");
	expect_sig(s1, RT, SI_QUEUE, getpid(), 2222, "queued RT 2");
	expect_empty(s1, "s1 after the queued signals");
	if (sigpending(&set) || !sigismember(&set, SIGWINCH) ||
	    sigismember(&set, RT) || sigismember(&set, SIGUSR1))
		fail("pending after reading: %llx, want SIGWINCH only",
		     (unsigned long long)sigset_bits(&set));

	/* new signals go to the fd whose mask has them */
	kill(getpid(), SIGUSR1);
	expect_sig(s1, SIGUSR1, SI_USER, getpid(), 0, "SIGUSR1 after restore");
	kill(getpid(), SIGUSR2);
	expect_empty(s1, "s1 after SIGUSR2");
	expect_sig(s2, SIGUSR2, SI_USER, getpid(), 0, "SIGUSR2 after restore");
	queue(RT, 3333);
	expect_sig(s1, RT, SI_QUEUE, getpid(), 3333, "RT after restore");

	/* from another process */
	pid = xfork();
	if (!pid) {
		union sigval sv = { .sival_int = 4444 };

		_exit(sigqueue(getppid(), SIGUSR1, sv) ? 1 : 0);
	}
	expect_sig(s1, SIGUSR1, SI_QUEUE, pid, 4444, "SIGUSR1 from a child");
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		fail("child: %s", wait_str(st));

	/* the mask of a restored signalfd can be changed */
	sigs(&set, SIGUSR2, 0);
	if (signalfd(s1, &set, 0) != s1)
		fail("signalfd(s1, new mask): %s", strerror(errno));
	kill(getpid(), SIGUSR2);
	expect_sig(s1, SIGUSR2, SI_USER, getpid(), 0, "s1 with its new mask");
	if (sigpending(&set) || sigset_bits(&set) != 1ull << (SIGWINCH - 1))
		fail("pending at the end: %llx, want SIGWINCH only",
		     (unsigned long long)sigset_bits(&set));
	pass();
}
