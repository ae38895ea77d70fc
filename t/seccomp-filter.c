/* Stacked seccomp filters: two shared by both threads (TSYNC), one more on the second thread only, a child with a third that kills; after restore each thread's filters still answer, they are still shared (the second thread can TSYNC a new one onto the main thread), the child's filter still kills it with SIGSYS, and no_new_privs stays set. */
#include "lib.h"
#include "seccomp.h"
#include <sys/resource.h>

static volatile int go, thread_ok;
static volatile pid_t thread_tid;

/* getpgid -> EACCES, getsid -> EPERM (filters A, B); getppid allowed. */
static int check_ab(bool ppid)
{
	if (syscall(SYS_getpgid, 0) != -1 || errno != EACCES)
		return 1;
	if (syscall(SYS_getsid, 0) != -1 || errno != EPERM)
		return 2;
	if (ppid && syscall(SYS_getppid) < 0)
		return 3;
	return 0;
}

/* The second thread's own filter D: getpriority -> EXDEV. */
static bool check_d(void)
{
	return syscall(SYS_getpriority, PRIO_PROCESS, 0) == -1 && errno == EXDEV;
}

static void *thread(void *arg)
{
	char s[32], path[64];
	sigset_t all;

	(void)arg;
	sigfillset(&all);	/* SIGTERM is for the main thread */
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	thread_tid = syscall(SYS_gettid);
	while (go != 2)
		sleep_us(1000);
	sc_deny(SYS_getpriority, SC_RET_ERRNO(EXDEV), 0);
	go = 3;
	while (go != 4)
		sleep_us(1000);
	snprintf(path, sizeof(path), "/proc/self/task/%d/status", thread_tid);
	sc_status(path, s, sizeof(s));
	if (check_ab(true) || !check_d() || strcmp(s, "2/3")) {
		thread_ok = -1;
		return NULL;
	}
	/* E, synced onto the main thread: its filters must be our ancestors */
	sc_deny(SYS_sysinfo, SC_RET_ERRNO(ENOTTY), SC_TSYNC);
	thread_ok = 1;
	return NULL;
}

int main(int argc, char **argv)
{
	int to_child[2], from_child[2], st;
	char s[32], c = 0;
	pthread_t t;
	pid_t kid;

	test_init(argc, argv);
	if (pthread_create(&t, NULL, thread, NULL))
		fail("pthread_create");
	while (!thread_tid)
		sleep_us(1000);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		fail("no_new_privs: %s", strerror(errno));
	sc_deny(SYS_getpgid, SC_RET_ERRNO(EACCES), SC_TSYNC);
	sc_deny(SYS_getsid, SC_RET_ERRNO(EPERM), SC_TSYNC);
	if (check_ab(true))
		fail("filters not working before the dump: %d", check_ab(true));
	go = 2;	/* the thread adds D */
	while (go != 3)
		sleep_us(1000);
	kid = sc_fork_piped(to_child, from_child);
	if (kid == 0) {
		sc_deny(SYS_getppid, SC_RET_KILL, SC_LOG);
		if (read(to_child[0], &c, 1) != 1)
			_exit(10);
		sc_status("/proc/self/status", s, sizeof(s));
		c = check_ab(false) ? 'a' : strcmp(s, "2/3") ? 's' : 'k';
		if (write(from_child[1], &c, 1) != 1)
			_exit(11);
		syscall(SYS_getppid);	/* killed here */
		_exit(12);
	}
	test_ready();
	test_wait();

	if (check_ab(true))
		fail("main thread: filter %d lost after restore", check_ab(true));
	sc_status("/proc/self/status", s, sizeof(s));
	if (strcmp(s, "2/2"))
		fail("main thread: seccomp %s, want 2/2", s);
	if (check_d())
		fail("main thread got the second thread's filter");
	go = 4;
	pthread_join(t, NULL);
	if (thread_ok != 1)
		fail("second thread: filters lost or no longer shared after restore");
	if (syscall(SYS_sysinfo, NULL) != -1 || errno != ENOTTY || !check_d())
		fail("main thread did not get the filters the second thread synced");
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		fail("no_new_privs lost");
	if (write(to_child[1], "x", 1) != 1 || read(from_child[0], &c, 1) != 1)
		fail("talking to the child: %s", strerror(errno));
	if (c != 'k')
		fail("child: %s", c == 'a' ? "inherited filters lost" :
		     "not 3 filters after restore");
	if (waitpid(kid, &st, 0) != kid || !WIFSIGNALED(st) ||
	    WTERMSIG(st) != SIGSYS)
		fail("child was not killed by its filter (status %#x)", st);
	pass();
}
