/* Signal-driven I/O and sync flags: a pipe with O_ASYNC whose owner is the process itself (F_SETSIG SIGUSR1, si_fd told), one whose owner is a child (SIGIO), and files opened O_SYNC, O_DSYNC come back with their flags; writes raise the signals in the right process after restore. */
#include "fdlib.h"

static volatile sig_atomic_t got_usr1, usr1_fd = -1, got_io;

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	got_usr1++;
	usr1_fd = si->si_fd;
}

static void on_io(int sig)
{
	(void)sig;
	got_io++;
}

static void async(int fd, int type, pid_t who, int sig, const char *what)
{
	struct f_owner_ex o = { .type = type, .pid = who };

	if (fcntl(fd, F_SETOWN_EX, &o) || (sig && fcntl(fd, F_SETSIG, sig)) ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC | O_NONBLOCK))
		fail("%s: %s", what, strerror(errno));
}

static void expect_owner(int fd, int type, pid_t who, int sig, const char *what)
{
	struct f_owner_ex o;

	if (fcntl(fd, F_GETOWN_EX, &o) || (int)o.type != type || o.pid != who ||
	    fcntl(fd, F_GETSIG) != sig)
		fail("%s: owner %d/%d signal %d, want %d/%d %d", what, o.type,
		     (int)o.pid, fcntl(fd, F_GETSIG), type, (int)who, sig);
	expect_fl(fd, O_ASYNC | O_NONBLOCK, O_ASYNC | O_NONBLOCK, what);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_sigaction = on_usr1, .sa_flags = SA_SIGINFO };
	int p[2], q[2], fs, fds, sync[2];
	pid_t kid;

	test_init(argc, argv);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGIO, on_io);
	if (pipe(p) || pipe(q))
		fail("pipe: %s", strerror(errno));
	fs = open("sync", O_RDWR | O_CREAT | O_SYNC, 0600);
	fds = open("dsync", O_WRONLY | O_CREAT | O_DSYNC | O_APPEND, 0600);
	if (fs < 0 || fds < 0)
		fail("open: %s", strerror(errno));
	async(p[0], F_OWNER_PID, getpid(), SIGUSR1, "own pipe");
	sync_open(sync);
	kid = xfork();
	if (!kid) {
		/* the child reads q: the parent's writes signal it */
		child_ready(sync);
		test_wait();
		if (!got_io)
			fail("child: no SIGIO");
		exit(80);
	}
	async(q[0], F_OWNER_PID, kid, 0, "child's pipe");
	children_ready(sync, 1);
	test_ready();
	test_wait();

	expect_owner(p[0], F_OWNER_PID, getpid(), SIGUSR1, "own pipe");
	expect_owner(q[0], F_OWNER_PID, kid, 0, "child's pipe");
	expect_fl(fs, O_SYNC | O_ACCMODE, O_SYNC | O_RDWR, "O_SYNC file");
	expect_fl(fds, O_SYNC | O_DSYNC | O_APPEND | O_ACCMODE,
		  O_DSYNC | O_APPEND | O_WRONLY, "O_DSYNC file");
	if (got_usr1)
		fail("SIGUSR1 before any write");
	if (write(p[1], "x", 1) != 1)
		fail("write: %s", strerror(errno));
	for (int i = 0; i < 200 && !got_usr1; i++)
		sleep_us(5000);
	if (!got_usr1 || usr1_fd != p[0])
		fail("no SIGUSR1 for fd %d after a write (got %d, si_fd %d)",
		     p[0], (int)got_usr1, (int)usr1_fd);
	if (got_io)
		fail("the parent got the child's SIGIO");
	if (write(q[1], "y", 1) != 1)
		fail("write: %s", strerror(errno));
	sleep_us(50000);
	if (kill(kid, SIGTERM))
		fail("kill: %s", strerror(errno));
	child_reap(kid, 80);
	pass();
}
