/* Per-thread state survives: blocked mask, private pending signal, sigaltstack, comm, nice, policy, rseq, robust list, clear_child_tid. */
#include "lib.h"
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>

struct ts {
	const char *name;
	int nice, policy, block;
	size_t altstack;	/* 0: none */
	bool pending;		/* SIGUSR1 was sent to this thread alone */
	bool robust;		/* ends holding the robust mutex */
	/* as they were before the dump */
	pid_t tid;
	pthread_t pt;
	uint64_t mask;
	stack_t ss;
	void *rhead;
	size_t rlen;
	void *tidaddr;
	volatile struct rseq_area *rseq;
	unsigned rseq_len;
};

static struct ts ts[] = {
	{ .name = "ts-alpha", .nice = 2, .policy = SCHED_OTHER,
	  .block = SIGUSR1, .pending = true },
	{ .name = "ts-beta", .nice = 5, .policy = SCHED_BATCH,
	  .block = SIGUSR2, .altstack = 65536, .robust = true },
	{ .name = "ts-gamma", .nice = 9, .policy = SCHED_IDLE,
	  .block = SIGWINCH, .altstack = 32768 },
	{ .name = "ts-delta", .nice = 13, .policy = SCHED_OTHER,
	  .block = SIGALRM, .altstack = 16384 },
};

#define NTS (int)(sizeof(ts) / sizeof(ts[0]))

static pthread_mutex_t robust;
static volatile int nready, go;
static volatile pid_t usr1_tid;
static volatile int usr1_code;
static bool have_tidaddr = true;

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	usr1_tid = gettid();
	usr1_code = si->si_code;
}

static uint64_t cur_mask(void)
{
	sigset_t set;

	pthread_sigmask(SIG_BLOCK, NULL, &set);
	return sigset_bits(&set);
}

static void setup(struct ts *t)
{
	struct sched_param sp = { 0 };
	stack_t ss = { 0 };
	sigset_t set;

	t->tid = gettid();
	if (prctl(PR_SET_NAME, t->name) ||
	    setpriority(PRIO_PROCESS, t->tid, t->nice) ||
	    syscall(SYS_sched_setscheduler, 0, t->policy, &sp))
		fail("%s: setting name, nice, policy: %s", t->name,
		     strerror(errno));
	sigemptyset(&set);
	sigaddset(&set, t->block);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	t->mask = cur_mask();
	if (t->altstack) {
		ss.ss_size = t->altstack;
		ss.ss_sp = malloc(ss.ss_size);
		if (!ss.ss_sp || sigaltstack(&ss, NULL))
			fail("%s: sigaltstack: %s", t->name, strerror(errno));
	}
	sigaltstack(NULL, &t->ss);
	if (t->robust && pthread_mutex_lock(&robust))
		fail("%s: locking the robust mutex failed", t->name);
	if (syscall(SYS_get_robust_list, 0, &t->rhead, &t->rlen))
		fail("get_robust_list: %s", strerror(errno));
	if (prctl(PR_GET_TID_ADDRESS, &t->tidaddr))
		have_tidaddr = false;
	t->rseq = rseq_area(&t->rseq_len);
}

static void check(struct ts *t)
{
	char name[16] = "";
	uint64_t pend;
	void *head, *tidaddr;
	sigset_t set;
	size_t len;
	stack_t ss;
	int nice, policy;

	if (gettid() != t->tid)
		fail("%s: tid %d, was %d", t->name, (int)gettid(),
		     (int)t->tid);
	prctl(PR_GET_NAME, name);
	if (strcmp(name, t->name))
		fail("%s: comm is \"%s\"", t->name, name);
	errno = 0;
	nice = getpriority(PRIO_PROCESS, t->tid);
	if (errno || nice != t->nice)
		fail("%s: nice %d, want %d", t->name, nice, t->nice);
	policy = syscall(SYS_sched_getscheduler, 0);
	if (policy != t->policy)
		fail("%s: policy %d, want %d", t->name, policy, t->policy);
	if (cur_mask() != t->mask)
		fail("%s: blocked %#llx, want %#llx", t->name,
		     (unsigned long long)cur_mask(),
		     (unsigned long long)t->mask);
	sigaltstack(NULL, &ss);
	if (ss.ss_sp != t->ss.ss_sp || ss.ss_size != t->ss.ss_size ||
	    ss.ss_flags != t->ss.ss_flags)
		fail("%s: sigaltstack %p+%zu flags %d, want %p+%zu flags %d",
		     t->name, ss.ss_sp, ss.ss_size, ss.ss_flags, t->ss.ss_sp,
		     t->ss.ss_size, t->ss.ss_flags);
	sigpending(&set);
	pend = sigset_bits(&set);
	if (pend != (t->pending ? 1ull << (SIGUSR1 - 1) : 0))
		fail("%s: pending %#llx", t->name, (unsigned long long)pend);
	if (syscall(SYS_get_robust_list, 0, &head, &len) ||
	    head != t->rhead || len != t->rlen)
		fail("%s: robust list %p+%zu, want %p+%zu", t->name, head, len,
		     t->rhead, t->rlen);
	if (have_tidaddr && (prctl(PR_GET_TID_ADDRESS, &tidaddr) ||
			     tidaddr != t->tidaddr))
		fail("%s: clear_child_tid %p, want %p", t->name, tidaddr,
		     t->tidaddr);
	rseq_check(t->rseq, t->rseq_len, t->name);
}

static void *thread(void *arg)
{
	struct ts *t = arg;
	sigset_t set;

	setup(t);
	__atomic_add_fetch(&nready, 1, __ATOMIC_SEQ_CST);
	futex_await(&go);
	check(t);
	if (t->pending) {
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
		if (usr1_tid != t->tid || usr1_code != SI_TKILL)
			fail("%s: SIGUSR1 handled by tid %d (code %d), want "
			     "%d (SI_TKILL)", t->name, (int)usr1_tid,
			     usr1_code, (int)t->tid);
	}
	return NULL;		/* the robust one still holds the mutex */
}

/* The thread's own pending mask, as the kernel shows it. */
static unsigned long long thread_sigpnd(pid_t tid)
{
	char path[64], buf[4096], *p;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	if (read_file(path, buf, sizeof(buf)) < 0 ||
	    !(p = strstr(buf, "\nSigPnd:")))
		fail("no SigPnd in %s", path);
	return strtoull(p + 8, NULL, 16);
}

int main(int argc, char **argv)
{
	pthread_mutexattr_t ma;
	struct sigaction sa;
	struct timespec tmo;
	pid_t tids[NTS];
	int i, err;

	test_init(argc, argv);
	block_sigterm();
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_usr1;
	sa.sa_flags = SA_SIGINFO;
	if (sigaction(SIGUSR1, &sa, NULL) || pthread_mutexattr_init(&ma) ||
	    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST) ||
	    pthread_mutex_init(&robust, &ma))
		fail("setting up: %s", strerror(errno));
	for (i = 0; i < NTS; i++)
		ts[i].pt = thread_start(thread, &ts[i]);
	while (nready < NTS)
		sleep_us(1000);
	if (syscall(SYS_tgkill, test_pid, ts[0].tid, SIGUSR1))
		fail("tgkill: %s", strerror(errno));
	if (thread_sigpnd(ts[0].tid) != 1ull << (SIGUSR1 - 1))
		fail("SIGUSR1 is not pending in %s", ts[0].name);
	test_ready();
	test_wait();

	for (i = 0; i < NTS; i++)
		tids[i] = ts[i].tid;
	check_tids(tids, NTS);
	futex_set(&go, 1);
	for (i = 0; i < NTS; i++)
		thread_join(ts[i].pt, ts[i].name);
	clock_gettime(CLOCK_REALTIME, &tmo);
	tmo.tv_sec += 5;
	err = pthread_mutex_timedlock(&robust, &tmo);
	if (err != EOWNERDEAD)
		fail("robust mutex of a dead thread: %s, want EOWNERDEAD",
		     err ? strerror(err) : "locked");
	pass();
}
