/* Test runner: runs each test program under cr dump/restore, as PID 1 of a new pid namespace. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>

#include "../tlv.h"

#define SCRATCH "/tmp/cr-t"
#define READY_MS 10000
#define MAX_TASKS 1024		/* threads and processes of one test */
#define MAX_KIDS 16		/* processes we started and did not reap */

enum kind { C, PY, SH };

enum {
	STDIN = 1,		/* shell job: stdin is a pipe we feed */
	REFUSE = 2,		/* cr dump must fail, naming .expect */
	CORRUPT = 4,		/* also run the corrupt-image checks */
	BIG = 8,		/* long timeouts */
	FEW = 16,		/* only the dump and twice modes */
	FAULT = 32,		/* the fault injection sweep */
	LOAD = 64,		/* the load mode: cycles on busy cores */
	EXTUNIX = 128,		/* dump with --ext-unix-sk */
	TCPEST = 256,		/* dump with --tcp-established */
	TCPCLOSE = 512,		/* dump with --tcp-close */
	NOSNAP = 1024,		/* not in snap mode: a peer outside the tree
				   goes on with the original after dump -R */
	LOCKS = 2048,		/* dump with --file-locks */
	DOWN = 4096,		/* 1.5 s between dump and restore (timers) */
	GAP = 8192,		/* cr dump pauses 30 ms between reading the
				   pending signals and the timers */
	LAZY = 16384,		/* also the lazy mode (restore --lazy-pages) */
};

struct test {
	const char *name;
	enum kind kind;
	int flags;
	const char *expect;
};

static const struct test tests[] = {
	{ "counter", C, CORRUPT | LAZY, NULL },
	{ "mm-anon-256m", C, BIG | LAZY, NULL },
	{ "mm-file-private", C, LAZY, NULL },
	{ "mm-prot-none", C, LAZY, NULL },
	{ "mm-brk", C, LAZY, NULL },
	{ "mm-stack-deep", C, LAZY, NULL },
	{ "regs-sse", C, 0, NULL },
	{ "regs-avx512", C, 0, NULL },
	{ "sig-actions", C, 0, NULL },
	{ "sig-pending", C, 0, NULL },
	{ "rlimits", C, 0, NULL },
	{ "cwd-umask", C, 0, NULL },
	{ "fd-files", C, 0, NULL },
	{ "fd-async", C, CORRUPT, NULL },
	{ "sleep-restart", C, 0, NULL },
	{ "read-restart", C, STDIN, NULL },
	{ "rseq", C, 0, NULL },
	{ "vdso", C, 0, NULL },
	{ "proc-misc", C, 0, NULL },
	{ "proc-caps", C, 0, NULL },
	{ "prctl-state", C, 0, NULL },
	{ "sched-affinity", C, 0, NULL },
	{ "mm-madvise", C, CORRUPT | LAZY, NULL },
	{ "mm-pkeys", C, 0, NULL },
	{ "mm-hugetlb", C, CORRUPT | LAZY, NULL },
	{ "mm-hugetlb-1g", C, BIG | FEW, NULL },
	{ "refuse-userfaultfd", C, REFUSE, "userfaultfd" },
	{ "refuse-cgroup-v1", C, REFUSE, "cgroup v1" },
	{ "refuse-spec-thread", C, REFUSE, "speculation" },
	{ "cgroup-v2", C, 0, NULL },
	{ "fd-eventfd", C, CORRUPT, NULL },
	{ "fd-signalfd", C, 0, NULL },
	{ "fd-timerfd", C, 0, NULL },
	{ "fd-timerfd-down", C, 0, NULL },
	{ "refuse-epoll-shared", C, REFUSE, "epoll" },
	{ "refuse-epoll-closed", C, REFUSE, "epoll" },
	{ "refuse-epoll-reused", C, REFUSE, "epoll" },
	{ "fd-inotify", C, 0, NULL },
	{ "fd-fanotify", C, CORRUPT, NULL },
	{ "refuse-fanotify-queued", C, REFUSE, "fanotify" },
	{ "fd-ghost", C, CORRUPT, NULL },
	{ "fd-ghost-rmdir", C, 0, NULL },
	{ "fd-ghost-tmpfile", C, 0, NULL },
	{ "refuse-ghost-big", C, REFUSE, "ghost-limit" },
	{ "fd-memfd", C, CORRUPT, NULL },
	{ "fd-fifo", C, CORRUPT, NULL },
	{ "fd-paths", C, 0, NULL },
	{ "fd-locks", C, LOCKS | CORRUPT | FAULT, NULL },
	{ "fd-locks-shared", C, LOCKS, NULL },
	{ "refuse-file-lock", C, REFUSE, "--file-locks" },
	{ "fd-opath", C, 0, NULL },
	{ "fd-epoll", C, 0, NULL },
	{ "refuse-socket", C, REFUSE, "socket" },
	{ "sk-unix-pair", C, CORRUPT, NULL },
	{ "sk-unix-dgram", C, CORRUPT, NULL },
	{ "sk-unix-listen", C, FAULT | CORRUPT, NULL },
	{ "sk-unix-shutdown", C, 0, NULL },
	{ "refuse-sk-unix-ext", C, REFUSE, "unix" },
	{ "refuse-sk-unix-scm", C, REFUSE, "SCM_RIGHTS" },
	{ "refuse-sk-unix-oob", C, REFUSE, "MSG_OOB" },
	{ "refuse-sk-unix-queued", C, REFUSE, "not accepted yet" },
	{ "sk-unix-ext-dgram", C, EXTUNIX, NULL },
	{ "sk-unix-filter", C, 0, NULL },
	{ "sk-inet", C, CORRUPT | FAULT, NULL },
	{ "sk-tcp-pair-in-tree", C, TCPEST | FAULT | CORRUPT, NULL },
	{ "sk-tcp-pair-busy", C, TCPEST | FAULT, NULL },
	{ "sk-tcp-shared", C, TCPEST, NULL },
	{ "sk-tcp-close", C, TCPCLOSE, NULL },
	{ "sk-netlink-packet", C, CORRUPT, NULL },
	{ "sk-tcp-stream-veth", C, TCPEST | BIG, NULL },
	{ "sk-tcp-half-closed", C, TCPEST, NULL },
	{ "real-redis", PY, TCPEST | BIG, NULL },
	{ "real-nginx", PY, TCPEST | BIG, NULL },
	{ "refuse-tcp-established", C, REFUSE, "established TCP" },
	{ "refuse-tcp-backlog", C, REFUSE | TCPEST, "not accepted yet" },
	{ "refuse-clone-vm", C, REFUSE, "CLONE_VM" },
	{ "thread-2", C, CORRUPT | LAZY, NULL },
	{ "thread-16", C, CORRUPT | LAZY, NULL },
	{ "thread-256", C, BIG | FEW, NULL },
	{ "thread-blocked", C, CORRUPT, NULL },
	{ "thread-condvar", C, LOAD, NULL },
	{ "thread-state", C, CORRUPT | LAZY, NULL },
	{ "tree-depth", C, LAZY, NULL },
	{ "tree-width", C, CORRUPT, NULL },
	{ "tree-sid-pgid", C, 0, NULL },
	{ "tree-zombie", C, LAZY, NULL },
	{ "tree-subreaper", C, 0, NULL },
	{ "tree-dead-sid", C, CORRUPT | FAULT, NULL },
	{ "tree-dead-pgid", C, 0, NULL },
	{ "tree-clone-files", C, CORRUPT, NULL },
	{ "tree-clone-fs", C, 0, NULL },
	{ "tree-pipe", C, LAZY, NULL },
	{ "shm-anon", C, LAZY, NULL },
	{ "shm-file", C, 0, NULL },
	{ "shm-posix", C, 0, NULL },
	{ "shm-sysv", C, CORRUPT | FAULT, NULL },
	{ "mm-cow", C, BIG | FEW | LAZY, NULL },
	{ "mm-lazy-events", C, BIG | FEW | LAZY, NULL },
	{ "fd-shared", C, 0, NULL },
	{ "tty-pty", C, CORRUPT, NULL },
	{ "tty-top", C, 0, NULL },
	{ "tty-extern", C, 0, NULL },
	{ "refuse-tty-input", C, REFUSE, "input queued" },
	{ "fault-tree", C, FAULT, NULL },
	{ "python-loop", PY, LAZY, NULL },
	{ "timer-posix", C, CORRUPT | LAZY, NULL },
	{ "timer-itimer", C, 0, NULL },
	{ "timer-due", C, DOWN, NULL },
	{ "timer-dense", C, GAP, NULL },
	{ "creds-drop", C, CORRUPT, NULL },
	{ "seccomp-filter", C, CORRUPT, NULL },
	{ "seccomp-strict", C, 0, NULL },
	{ "timens", C, 0, NULL },
	{ "refuse-timens-mixed", C, REFUSE, "time namespace" },
	{ "sk-unix-python", PY, 0, NULL },
	{ "bash-loop", SH, 0, NULL },
	{ "shell-pipeline", SH, 0, NULL },
};

#define NTESTS (sizeof(tests) / sizeof(tests[0]))

enum mode { DUMP, SNAP, TWICE, PIPE, FG, CHAIN, LIVE, CORRUPTM, FORGE,
	    REFUSEM, FAULTM, LOADM, LAZYM, NOCR, NMODES };

static const char *const mode_names[NMODES] = {
	"dump", "snap", "twice", "pipe", "fg", "chain", "live", "corrupt",
	"forge", "refuse", "fault", "load", "lazy", "nocr",
};

/* A thread or process of the test's tree, from /proc/PID/task/TID/stat. */
struct task {
	pid_t tid, pid, ppid, pgid, sid;
	char state;
	char comm[20];
};

/* One (test, flavor, mode) run. */
struct ctx {
	const struct test *t;
	const char *flavor;
	enum mode mode;
	char id[128], dir[PATH_MAX], why[1024];
	pid_t pid;		/* the test process (same pid after restore) */
	char pidstr[16];
	int feed;		/* write end of the test's stdin pipe, or -1 */
	int tmo;		/* ms for each wait */
	bool skipped;
	pid_t kids[MAX_KIDS];	/* what we started, killed at the end */
	int nkids;
	struct task tree[MAX_TASKS];	/* the test's tasks, at ready */
	int ntree;
	const char *fault;	/* CR_FAULT of the fault modes */
	bool armed;		/* ... given to the cr runs now */
	char *maps[16];		/* /proc/PID/maps of the first processes */
	pid_t maps_pid[16];
	int nmaps;
};

static struct ctx *cur;
static char root[PATH_MAX], cr[PATH_MAX + 8];
static bool keep, own_ns;
static sigset_t sigchld;
static const char *save_dir;	/* --save-images: copies of good images */
static uint64_t seed = 1;	/* --seed: of the corrupt and forge modes */
static bool strict;		/* --strict: known[] issues fail too */
static char *cr_env[8];		/* --cr-env: NAME=VALUE for cr only */
static int ncr_env;

/*
 * Cases that fail for a known reason in cr: they print SKIP with it and
 * count as skipped (unless --strict).  Remove an entry once cr is fixed;
 * until then its case says PASS with a reminder.
 */
static const struct {
	const char *id;		/* a part of the case's id */
	const char *why;
} known[] = {
	{ ".fault-dump-done:kill",
	  "cr killed between its rename and the tree's end leaves the complete "
	  "cr.img (the tree runs on)" },
	{ ".fault-restore-done:kill",
	  "cr killed after it let the tree go: the tree runs on" },
};

static const char *known_issue(const char *id)
{
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strstr(id, known[i].id))
			return known[i].why;
	return NULL;
}

/* ---- small utilities ---- */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ll + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, ms % 1000 * 1000000l };

	nanosleep(&ts, NULL);
}

__attribute__((format(printf, 2, 3)))
static bool bad(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->why[0])		/* keep the first reason */
		return false;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	return false;
}

/* Read a file (relative to the scratch dir) into buf; NUL-terminated. */
static ssize_t slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, len = 0;

	buf[0] = 0;
	if (fd < 0)
		return -1;
	while ((size_t)len < size - 1 &&
	       (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += n;
	close(fd);
	buf[len] = 0;
	return len;
}

/* Last non-empty line of buf (trailing newlines are cut off). */
static char *last_line(char *buf)
{
	size_t n = strlen(buf);
	char *p;

	while (n && buf[n - 1] == '\n')
		buf[--n] = 0;
	p = strrchr(buf, '\n');
	return p ? p + 1 : buf;
}

/* Last line of a file, in a static buffer. */
static const char *file_tail(const char *path)
{
	static char buf[64 * 1024];

	if (slurp(path, buf, sizeof(buf)) < 0)
		return "(no file)";
	return buf[0] ? last_line(buf) : "(empty)";
}

static bool has_line(const char *buf, const char *line)
{
	size_t n = strlen(line);
	const char *p;

	for (p = buf; (p = strstr(p, line)); p += n)
		if ((p == buf || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

static const char *status_str(int st)
{
	static char buf[64];

	if (WIFEXITED(st))
		snprintf(buf, sizeof(buf), "exit %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, sizeof(buf), "killed by signal %d", WTERMSIG(st));
	else
		snprintf(buf, sizeof(buf), "status %#x", st);
	return buf;
}

static bool exited_ok(int st)
{
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Absolute path of a file in the scratch dir (ring of buffers). */
static const char *at(struct ctx *c, const char *name)
{
	static char bufs[8][PATH_MAX + 64];
	static int i;

	i = (i + 1) % 8;
	snprintf(bufs[i], sizeof(bufs[i]), "%s/%s", c->dir, name);
	return bufs[i];
}

static int open_file(const char *path, int flags)
{
	return open(path, flags | O_CLOEXEC, 0644);
}

static int rm_one(const char *path, const struct stat *st, int type,
		  struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static void rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static bool copy_file(const char *from, const char *to)
{
	int in = open_file(from, O_RDONLY);
	int out = open_file(to, O_WRONLY | O_CREAT | O_TRUNC);
	char buf[65536];
	ssize_t n = -1;

	if (in >= 0 && out >= 0)
		while ((n = read(in, buf, sizeof(buf))) > 0)
			if (write(out, buf, n) != n) {
				n = -1;
				break;
			}
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return n == 0;
}

/* ---- children: spawning and reaping ---- */

/*
 * As PID 1 we inherit every orphan, restored processes included: all
 * waits go through reap(), which collects every dead child and remembers
 * the status of those we started (the test, cr) until someone take()s it.
 */
static struct {
	pid_t pid;
	int status;
} reaped[64];
static int nreaped;

/* The test (whatever restored it) or something else we started. */
static bool started(pid_t pid)
{
	int i;

	if (cur && pid == cur->pid)
		return true;
	for (i = 0; cur && i < cur->nkids; i++)
		if (cur->kids[i] == pid)
			return true;
	return false;
}

static void reap(void)
{
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (!started(pid))
			continue;
		if (nreaped == 64)
			memmove(reaped, reaped + 1,
				--nreaped * sizeof(reaped[0]));
		reaped[nreaped].pid = pid;
		reaped[nreaped++].status = st;
	}
}

static int find_reaped(pid_t pid)
{
	int i;

	for (i = 0; i < nreaped; i++)
		if (reaped[i].pid == pid)
			return i;
	return -1;
}

/* How pid ended if it is dead and reaped (not taken), else NULL. */
static const char *ended(pid_t pid)
{
	int i = find_reaped(pid);

	return i < 0 ? NULL : status_str(reaped[i].status);
}

/* Take the status of a reaped child: it is no longer ours to kill. */
static bool take(pid_t pid, int *st)
{
	int i = find_reaped(pid);

	if (i < 0)
		return false;
	if (st)
		*st = reaped[i].status;
	memmove(reaped + i, reaped + i + 1,
		(--nreaped - i) * sizeof(reaped[0]));
	for (i = 0; cur && i < cur->nkids; i++)
		if (cur->kids[i] == pid) {
			cur->kids[i] = cur->kids[--cur->nkids];
			break;
		}
	return true;
}

/* Wait for a child to end within ms, reaping all others meanwhile. */
static bool wait_for(pid_t pid, int *st, int ms)
{
	long long end = now_ms() + ms;

	for (;;) {
		struct timespec ts = { 0, 50 * 1000000l };
		long long left;

		reap();
		if (take(pid, st))
			return true;
		left = end - now_ms();
		if (left <= 0)
			return false;
		if (left < 50)
			ts.tv_nsec = left * 1000000l;
		sigtimedwait(&sigchld, NULL, &ts);
	}
}

/*
 * For cr (is_cr), the environment gets the --cr-env settings and, if the
 * case armed it, CR_FAULT.
 */
static pid_t spawn(struct ctx *c, const char *const argv[], int in, int out,
		   int err, bool session, bool is_cr)
{
	sigset_t none;
	pid_t pid;
	int i;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		bad(c, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (session)
			setsid();
		for (i = 0; is_cr && i < ncr_env; i++)
			putenv(cr_env[i]);
		if (is_cr && c->armed && setenv("CR_FAULT", c->fault, 1))
			_exit(126);
		if (is_cr && (c->t->flags & GAP) &&
		    setenv("CR_TEST_TIMER_GAP_MS", "30", 1))
			_exit(126);
		if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
			_exit(126);
		syscall(SYS_close_range, 3, ~0u, 0);
		execv(argv[0], (char *const *)argv);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (c->nkids < MAX_KIDS)
		c->kids[c->nkids++] = pid;
	else
		bad(c, "t/run: more than %d processes at once", MAX_KIDS);
	return pid;
}

/* Poll the test's out file for a line, while the test is alive. */
static bool wait_line(struct ctx *c, const char *line, int ms)
{
	static char buf[64 * 1024];
	long long end = now_ms() + ms;

	for (;;) {
		slurp("out", buf, sizeof(buf));
		if (has_line(buf, line))
			return true;
		reap();
		if (ended(c->pid))
			return bad(c, "test %s before \"%s\": %s",
				   ended(c->pid), line, file_tail("out"));
		if (now_ms() > end)
			return bad(c, "no \"%s\" from the test in %d ms: %s",
				   line, ms, file_tail("out"));
		sleep_ms(10);
	}
}

/* ---- the test's process tree ---- */

static bool read_stat(const char *path, struct task *t)
{
	char buf[1024], *l, *r;

	if (slurp(path, buf, sizeof(buf)) <= 0 || !(l = strchr(buf, '(')) ||
	    !(r = strrchr(buf, ')')))
		return false;
	*r = 0;
	snprintf(t->comm, sizeof(t->comm), "%s", l + 1);
	t->tid = atoi(buf);
	return sscanf(r + 1, " %c %d %d %d", &t->state, &t->ppid, &t->pgid,
		      &t->sid) == 4;
}

/* Every thread of process top and of all its descendants, into out. */
static int scan_tree(pid_t top, struct task *out, int max)
{
	static struct task procs[4096];
	static bool in[4096];
	int nprocs = 0, n = 0, i, j;
	char path[PATH_MAX];
	struct dirent *de;
	bool more = true;
	DIR *d;

	d = opendir("/proc");
	while (d && (de = readdir(d)) && nprocs < 4096) {
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if (isdigit((unsigned char)de->d_name[0]) &&
		    read_stat(path, &procs[nprocs])) {
			in[nprocs] = procs[nprocs].tid == top;
			nprocs++;
		}
	}
	if (d)
		closedir(d);
	while (more) {
		more = false;
		for (i = 0; i < nprocs; i++)
			for (j = 0; j < nprocs && !in[i]; j++)
				if (in[j] && procs[i].ppid == procs[j].tid)
					in[i] = more = true;
	}
	for (i = 0; i < nprocs; i++) {
		snprintf(path, sizeof(path), "/proc/%d/task", procs[i].tid);
		d = in[i] ? opendir(path) : NULL;
		while (d && (de = readdir(d)) && n < max) {
			snprintf(path, sizeof(path), "/proc/%d/task/%s/stat",
				 procs[i].tid, de->d_name);
			if (de->d_name[0] != '.' && read_stat(path, &out[n])) {
				out[n].pid = procs[i].tid;
				n++;
			}
		}
		if (d)
			closedir(d);
	}
	return n;
}

static const struct task *find_task(const struct task *ts, int n, pid_t tid)
{
	int i;

	for (i = 0; i < n; i++)
		if (ts[i].tid == tid)
			return &ts[i];
	return NULL;
}

static bool traced(const struct task *t)
{
	char path[64], buf[4096], *p;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", t->pid, t->tid);
	slurp(path, buf, sizeof(buf));
	p = strstr(buf, "TracerPid:");
	return p && atoi(p + 10);
}

/* Remember the test's tree (it must not change until SIGTERM). */
static bool tree_record(struct ctx *c)
{
	c->ntree = scan_tree(c->pid, c->tree, MAX_TASKS);
	if (c->ntree == MAX_TASKS)
		return bad(c, "the test has over %d tasks", MAX_TASKS - 1);
	return c->ntree > 0 || bad(c, "test %d not in /proc", (int)c->pid);
}

/*
 * The tree must be as recorded: every thread and process with the same
 * ids (the root's parent may differ), comm and zombie state, none more,
 * none stopped or traced.
 */
static bool tree_same(struct ctx *c, const char *when)
{
	static struct task now[MAX_TASKS];
	const struct task *a, *b;
	int n = scan_tree(c->pid, now, MAX_TASKS), i;

	for (i = 0; i < c->ntree; i++) {
		a = &c->tree[i];
		b = find_task(now, n, a->tid);
		if (!b)
			return bad(c, "%s: task %d (%s) of pid %d is missing",
				   when, a->tid, a->comm, a->pid);
		if (b->pid != a->pid || b->pgid != a->pgid ||
		    b->sid != a->sid || strcmp(b->comm, a->comm) ||
		    (a->pid != c->pid && b->ppid != a->ppid))
			return bad(c, "%s: task %d is pid %d ppid %d pgid %d "
				   "sid %d comm %s; was %d %d %d %d %s", when,
				   a->tid, b->pid, b->ppid, b->pgid, b->sid,
				   b->comm, a->pid, a->ppid, a->pgid, a->sid,
				   a->comm);
		if ((a->state == 'Z') != (b->state == 'Z') ||
		    strchr("tT", b->state) || traced(b))
			return bad(c, "%s: task %d (%s) is in state %c%s, was "
				   "%c", when, a->tid, a->comm, b->state,
				   traced(b) ? " and traced" : "", a->state);
	}
	for (i = 0; i < n; i++)
		if (!find_task(c->tree, c->ntree, now[i].tid))
			return bad(c, "%s: task %d (%s, ppid %d) was not there",
				   when, now[i].tid, now[i].comm, now[i].ppid);
	return true;
}

static void tree_kill(struct ctx *c)
{
	int i;

	for (i = 0; i < c->ntree; i++)
		if (c->tree[i].tid == c->tree[i].pid)
			kill(c->tree[i].pid, SIGKILL);
}

/* No process of the tree may be left (all reaped) within ms. */
static bool tree_gone(struct ctx *c, const char *when, int ms)
{
	long long end = now_ms() + ms;
	const struct task *t;
	int i;

	for (i = 0; i < c->ntree; i++) {
		t = &c->tree[i];
		while (!kill(t->pid, 0) || errno != ESRCH) {
			if (now_ms() > end)
				return bad(c, "%s: pid %d (%s) still exists",
					   when, t->pid, t->comm);
			reap();
			sleep_ms(5);
		}
	}
	take(c->pid, NULL);	/* nothing may wait for that one now */
	return true;
}

/* ---- the test process ---- */

static bool start(struct ctx *c)
{
	char bin[PATH_MAX + 64], script[PATH_MAX + 64];
	const char *argv[3] = { bin, NULL, NULL };
	int in, out, p[2], st;

	snprintf(bin, sizeof(bin), "%s/t/bin/%s.%s", root, c->t->name,
		 c->flavor);
	if (c->t->kind != C) {
		snprintf(script, sizeof(script), "%s/t/%s.%s", root,
			 c->t->name, c->flavor);
		argv[0] = c->t->kind == PY ? "/usr/bin/python3" : "/bin/bash";
		argv[1] = script;
	}
	if (access(argv[c->t->kind != C], R_OK))
		return bad(c, "%s: %s (run make tests)", argv[c->t->kind != C],
			   strerror(errno));
	if (c->t->flags & STDIN) {
		if (pipe2(p, O_CLOEXEC))
			return bad(c, "pipe: %s", strerror(errno));
		in = p[0];
		c->feed = p[1];
	} else {
		in = open_file("/dev/null", O_RDONLY);
	}
	out = open_file("out", O_WRONLY | O_CREAT | O_TRUNC);
	c->pid = spawn(c, argv, in, out, out, true, false);
	close(in);
	close(out);
	if (c->pid < 0)
		return false;
	snprintf(c->pidstr, sizeof(c->pidstr), "%d", (int)c->pid);
	if (wait_line(c, "ready", READY_MS))
		return true;
	if (take(c->pid, &st) && exited_ok(st) &&
	    !strncmp(file_tail("out"), "SKIP", 4)) {
		c->skipped = true;
		snprintf(c->why, sizeof(c->why), "%s", file_tail("out") + 4);
	}
	return false;
}

/* The whole tree must run on as it was (not stopped, not traced) after a
 * dump that left it. */
static bool still_running(struct ctx *c, const char *when)
{
	reap();
	if (ended(c->pid))
		return bad(c, "test died: %s: %s", ended(c->pid),
			   file_tail("out"));
	return tree_same(c, when);
}

/* Write "x\n" to the test's stdin and wait until it has read it. */
static bool feed(struct ctx *c)
{
	if (!(c->t->flags & STDIN))
		return true;
	if (write(c->feed, "x\n", 2) != 2)
		return bad(c, "writing to the test's stdin: %s",
			   strerror(errno));
	close(c->feed);
	c->feed = -1;
	return wait_line(c, "got x", c->tmo);
}

/* SIGTERM the test; 'waiter' (the test, or cr restore in the foreground)
 * must exit 0 and the test must have said PASS. */
static bool finish(struct ctx *c, pid_t waiter)
{
	const char *tail;
	int st;

	if (!feed(c))
		return false;
	if (kill(c->pid, SIGTERM))
		return bad(c, "kill(%d, SIGTERM): %s", (int)c->pid,
			   strerror(errno));
	if (!wait_for(waiter, &st, c->tmo))
		return bad(c, "%s did not end after SIGTERM: %s",
			   waiter == c->pid ? "test" : "cr restore",
			   file_tail("out"));
	tail = file_tail("out");
	if (!exited_ok(st))
		return bad(c, "%s %s: %s", waiter == c->pid ? "test" :
			   "cr restore", status_str(st), tail);
	if (strcmp(tail, "PASS"))
		return bad(c, "no PASS: %s", tail);
	return true;
}

/* ---- cr ---- */

/*
 * Start cr with args + [-j] -v -o DIR/tag.log; stderr to tag.err, stdout
 * to 'out' (or tag.out if -1), stdin from 'in' (or /dev/null if -1).
 */
static pid_t cr_start(struct ctx *c, const char *tag, const char *const *args,
		      int in, int out)
{
	const char *argv[24];
	char name[64];
	int n = 0, err, nul = -1;
	pid_t pid;

	argv[n++] = cr;
	if ((c->t->flags & EXTUNIX) && !strcmp(args[0], "dump"))
		argv[n++] = "--ext-unix-sk";
	if ((c->t->flags & LOCKS) && !strcmp(args[0], "dump"))
		argv[n++] = "--file-locks";
	while (*args)
		argv[n++] = *args++;
	if (c->t->flags & STDIN)
		argv[n++] = "-j";
	if ((c->t->flags & TCPEST) && !strcmp(argv[1], "dump"))
		argv[n++] = "--tcp-established";
	if ((c->t->flags & TCPCLOSE) && !strcmp(argv[1], "dump"))
		argv[n++] = "--tcp-close";
	snprintf(name, sizeof(name), "%s.log", tag);
	argv[n++] = "-v";
	argv[n++] = "-o";
	argv[n++] = at(c, name);
	argv[n] = NULL;

	snprintf(name, sizeof(name), "%s.err", tag);
	err = open_file(name, O_WRONLY | O_CREAT | O_TRUNC);
	if (in < 0)
		in = nul = open_file("/dev/null", O_RDONLY);
	if (out < 0) {
		snprintf(name, sizeof(name), "%s.out", tag);
		out = open_file(name, O_WRONLY | O_CREAT | O_TRUNC);
	} else {
		out = fcntl(out, F_DUPFD_CLOEXEC, 3);
	}
	pid = spawn(c, argv, in, out, err, false, true);
	close(err);
	close(out);
	if (nul >= 0)
		close(nul);
	return pid;
}

/*
 * A sanitizer build of cr (CR=build/cr-asan) reports on stderr, whatever
 * its exit status: any report fails the case, with its first line.
 */
static bool sanitizer_clean(struct ctx *c, const char *tag)
{
	static const char *const marks[] = {
		"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
		"WARNING: AddressSanitizer", "runtime error:",
	};
	static char buf[64 * 1024];
	char name[64], *p, *nl;
	size_t i;

	snprintf(name, sizeof(name), "%s.err", tag);
	if (slurp(name, buf, sizeof(buf)) <= 0)
		return true;
	for (i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		p = strstr(buf, marks[i]);
		if (!p)
			continue;
		while (p > buf && p[-1] != '\n')
			p--;
		nl = strchr(p, '\n');
		if (nl)
			*nl = 0;
		return bad(c, "cr %s: sanitizer report in %s: %s", tag,
			   at(c, name), p);
	}
	return true;
}

/* Wait for cr to end; wait status, or -1 (reason set) on timeout. */
static int cr_run_wait(struct ctx *c, const char *tag, pid_t pid)
{
	int st;

	if (pid < 0)
		return -1;
	if (!wait_for(pid, &st, c->tmo)) {
		bad(c, "cr %s timed out", tag);
		return -1;
	}
	return sanitizer_clean(c, tag) ? st : -1;
}

static int cr_run(struct ctx *c, const char *tag, const char *const *args,
		  int in, int out)
{
	return cr_run_wait(c, tag, cr_start(c, tag, args, in, out));
}

static const char *err_line(const char *tag)
{
	char name[64];

	snprintf(name, sizeof(name), "%s.err", tag);
	return file_tail(name);
}

/* A failed cr must print exactly one line on stderr. */
static bool one_err_line(struct ctx *c, const char *tag, char *buf, size_t size)
{
	char name[64];
	ssize_t n;

	snprintf(name, sizeof(name), "%s.err", tag);
	n = slurp(name, buf, size);
	if (n <= 0 || buf[n - 1] != '\n' || strchr(buf, '\n') != buf + n - 1)
		return bad(c, "cr %s: stderr must be exactly one line, got "
			   "%zd bytes: %s", tag, n, file_tail(name));
	return true;
}

static bool check_cr(struct ctx *c, const char *tag, int st)
{
	if (st < 0)
		return false;
	if (!exited_ok(st))
		return bad(c, "cr %s: %s: %s", tag, status_str(st),
			   err_line(tag));
	return true;
}

/* The killed test must be reaped by us with SIGKILL. */
static bool reap_killed(struct ctx *c)
{
	int st;

	if (!wait_for(c->pid, &st, c->tmo))
		return bad(c, "test still alive after the dump");
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
		return bad(c, "test ended with %s, want SIGKILL: %s",
			   status_str(st), file_tail("out"));
	return true;
}

/* --save-images: keep a copy of each good image, as DIR/ID.TAG.img. */
static void save_image(struct ctx *c, const char *img, const char *tag)
{
	char from[PATH_MAX], to[PATH_MAX];

	snprintf(from, sizeof(from), "%s/cr.img", img);
	snprintf(to, sizeof(to), "%s/%s.%s.img", save_dir, c->id, tag);
	if (!copy_file(from, to))
		fprintf(stderr, "t/run: saving %s as %s: %s\n", from, to,
			strerror(errno));
}

/* cr dump into img (with -R if running, then option opt if not NULL). */
static bool dump_opt(struct ctx *c, const char *img, const char *tag,
		     bool running, const char *opt)
{
	const char *args[] = { "dump", "-t", c->pidstr, "-D", at(c, img),
			       running ? "-R" : NULL, opt, NULL };

	if (mkdir(img, 0755) && errno != EEXIST)
		return bad(c, "mkdir %s: %s", img, strerror(errno));
	if (!check_cr(c, tag, cr_run(c, tag, args, -1, -1)))
		return false;
	if (save_dir)
		save_image(c, img, tag);
	if (running)
		return still_running(c, "after dump -R");
	return reap_killed(c) && tree_gone(c, "after the dump", c->tmo);
}

static bool dump(struct ctx *c, const char *img, const char *tag, bool running)
{
	return dump_opt(c, img, tag, running, NULL);
}

/* The pid file written by cr restore must hold the original pid. */
static bool check_pidfile(struct ctx *c, const char *name, pid_t cr_pid)
{
	long long end = now_ms() + c->tmo;
	char buf[64];
	int st;

	for (;;) {
		if (slurp(name, buf, sizeof(buf)) > 0) {
			if (atoi(buf) == c->pid)
				return true;
			if (strchr(buf, '\n') || cr_pid < 0)
				return bad(c, "pid file says %s, want %d",
					   last_line(buf), (int)c->pid);
		} else if (cr_pid < 0) {
			return bad(c, "no pid file %s", name);
		}
		if (cr_pid > 0 && take(cr_pid, &st))
			return bad(c, "cr restore: %s: %s", status_str(st),
				   file_tail("restore.err"));
		if (now_ms() > end)
			return bad(c, "no pid file from cr restore");
		reap();
		sleep_ms(10);
	}
}

/*
 * Start cr restore from image dir img, or from the image on stdin 'in'
 * if img is "-".  With -j, the restored stdin is a fresh pipe we feed
 * later and its stdout appends to the out file.  Returns cr's pid.
 */
static pid_t restore_start(struct ctx *c, const char *img, const char *tag,
			   bool detach, int in)
{
	const char *args[8] = { "restore", "-D", at(c, img), "--pidfile" };
	char pidfile[64];
	int out = -1, p[2];
	pid_t pid;

	snprintf(pidfile, sizeof(pidfile), "%s.pid", tag);
	args[4] = at(c, pidfile);
	args[5] = detach ? "-d" : NULL;
	if (c->mode == LAZYM)	/* post-copy: pages come after it runs */
		args[detach ? 6 : 5] = "--lazy-pages";
	if (c->t->flags & DOWN)	/* timers fall due meanwhile */
		usleep(1500000);
	if (!strcmp(img, "-")) {
		args[1] = "--image";
		args[2] = "-";
	}
	if (c->t->flags & STDIN) {
		if (pipe2(p, O_CLOEXEC)) {
			bad(c, "pipe: %s", strerror(errno));
			return -1;
		}
		if (c->feed >= 0)
			close(c->feed);
		c->feed = p[1];
		in = p[0];
		out = open_file("out", O_WRONLY | O_APPEND);
	}
	pid = cr_start(c, tag, args, in, out);
	if (c->t->flags & STDIN) {
		close(p[0]);
		close(out);
	}
	return pid;
}

/* A detached restore that ended with status st must have worked. */
static bool restored(struct ctx *c, const char *tag, int st)
{
	char pidfile[64];

	snprintf(pidfile, sizeof(pidfile), "%s.pid", tag);
	return check_cr(c, tag, st) && check_pidfile(c, pidfile, -1) &&
	       tree_same(c, "after restore");
}

/* cr restore -d: it must return 0 with the test running again. */
static bool restore(struct ctx *c, const char *img, const char *tag)
{
	pid_t pid = restore_start(c, img, tag, true, -1);

	return pid > 0 && restored(c, tag, cr_run_wait(c, tag, pid));
}

/* ---- modes ---- */

static bool m_dump(struct ctx *c)
{
	return dump(c, "img", "dump", false) && restore(c, "img", "restore") &&
	       finish(c, c->pid);
}

static bool m_snap(struct ctx *c)
{
	if (!dump(c, "img", "dump", true))
		return false;
	tree_kill(c);
	return reap_killed(c) && tree_gone(c, "after SIGKILL", c->tmo) &&
	       restore(c, "img", "restore") && finish(c, c->pid);
}

static bool m_twice(struct ctx *c)
{
	return dump(c, "img", "dump", false) && restore(c, "img", "restore") &&
	       dump(c, "img2", "dump2", false) &&
	       restore(c, "img2", "restore2") && finish(c, c->pid);
}

static bool m_pipe(struct ctx *c)
{
	const char *args[] = { "dump", "-t", c->pidstr, "--image", "-", NULL };
	pid_t d, r = -1;
	int p[2];

	if (pipe2(p, O_CLOEXEC))
		return bad(c, "pipe: %s", strerror(errno));
	d = cr_start(c, "dump", args, -1, p[1]);
	if (d > 0)
		r = restore_start(c, "-", "restore", true, p[0]);
	close(p[0]);
	close(p[1]);
	if (d < 0 || r < 0)
		return false;
	/* wait_for() reaps the killed test at once: restore needs its pid */
	return check_cr(c, "dump", cr_run_wait(c, "dump", d)) &&
	       reap_killed(c) &&
	       restored(c, "restore", cr_run_wait(c, "restore", r)) &&
	       finish(c, c->pid);
}

/*
 * A pre-copy chain: two pre-dumps while the test runs on, then the dump
 * of what changed since, restored through the chain (whatever tracking
 * the kernel has: write-protect, soft-dirty, or none and full copies).
 */
static bool predump(struct ctx *c, const char *img, const char *prev)
{
	const char *args[] = { "pre-dump", "-t", c->pidstr, "-D", at(c, img),
			       prev ? "--prev-images-dir" : NULL, prev, NULL };

	if (mkdir(img, 0755) && errno != EEXIST)
		return bad(c, "mkdir %s: %s", img, strerror(errno));
	if (!check_cr(c, img, cr_run(c, img, args, -1, -1)))
		return false;
	sleep_ms(50);
	return still_running(c, "after pre-dump");
}

static bool m_chain(struct ctx *c)
{
	const char *args[] = { "dump", "-t", c->pidstr, "-D", at(c, "img"),
			       "--prev-images-dir", "../pre2", NULL };

	static char log[256 * 1024], err[4096];

	if (!predump(c, "pre1", NULL) || !predump(c, "pre2", "../pre1"))
		return false;
	/* the second round went on from the first, or cr said it could not */
	if (slurp("pre2.log", log, sizeof(log)) < 0 ||
	    slurp("pre1.err", err, sizeof(err)) < 0 ||
	    (!strstr(log, "left to the parent") &&
	     !strstr(err, "no memory-change tracking")))
		return bad(c, "the second pre-dump did not track changes: %s",
			   file_tail("pre2.log"));
	if (mkdir("img", 0755) && errno != EEXIST)
		return bad(c, "mkdir img: %s", strerror(errno));
	return check_cr(c, "dump", cr_run(c, "dump", args, -1, -1)) &&
	       reap_killed(c) && tree_gone(c, "after the dump", c->tmo) &&
	       restore(c, "img", "restore") && finish(c, c->pid);
}

static bool no_lock_left(struct ctx *c, const char *when);

/*
 * dump -R must leave the tree as it was: the original goes on, after a
 * pre-dump too, and passes its own checks (nothing is restored).  Its
 * established connections would stay locked for a restore (README), so
 * they are given back with --tcp-unlock: no pause, no RST, no byte lost.
 */
static bool m_live(struct ctx *c)
{
	if (!predump(c, "pre", NULL) ||
	    !dump_opt(c, "img", "dump", true,
		      (c->t->flags & TCPEST) ? "--tcp-unlock" : NULL))
		return false;
	sleep_ms(200);
	return still_running(c, "200 ms after dump -R") &&
	       no_lock_left(c, "after dump -R --tcp-unlock") &&
	       finish(c, c->pid);
}

/*
 * restore --lazy-pages -d: the test runs before its memory is all in and
 * checks it.  Every other test of the set streams its image through a
 * pipe (the spooled image is served from the memfd), the rest from a file.
 */
static bool m_lazy(struct ctx *c)
{
	/* UFFD_API; fork, remap, remove, unmap events; poison (6.6) */
	uint64_t api[3] = { 0xaa, 0, 0 }, want = 2 | 4 | 8 | 64 | 1 << 14;
	long u = syscall(SYS_userfaultfd, O_CLOEXEC);
	int fd;

	if (u < 0 || ioctl(u, 0xc018aa3f /* UFFDIO_API */, api) ||
	    (api[1] & want) != want) {
		c->skipped = true;
		snprintf(c->why, sizeof(c->why), " this kernel's userfaultfd "
			 "cannot do --lazy-pages");
		if (u >= 0)
			close(u);
		return true;
	}
	close(u);
	fd = open("lazy-mode", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)	/* tells a test that it may see the lazy phase */
		return bad(c, "lazy-mode: %s", strerror(errno));
	close(fd);
	if ((c->t - tests) & 1)
		return m_pipe(c);
	return m_dump(c);
}

static bool m_fg(struct ctx *c)
{
	pid_t r;

	if (!dump(c, "img", "dump", false))
		return false;
	r = restore_start(c, "img", "restore", false, -1);
	if (r < 0 || !check_pidfile(c, "restore.pid", r) ||
	    !tree_same(c, "after restore") || !finish(c, r))
		return false;
	reap();
	if (!kill(c->pid, 0))
		return bad(c, "test still exists after cr restore exited");
	return true;
}

/* ---- damaged images: the corrupt and forge modes ---- */

#define FLIPS 200		/* corrupt: bits flipped, one at a time */
#define CUTS 50			/* corrupt: truncations */
#define FORGES 100		/* forge: flips with the checksum made right */

/* Prefix the reason already given with what was being done. */
__attribute__((format(printf, 2, 3)))
static bool blame(struct ctx *c, const char *fmt, ...)
{
	char what[512], both[sizeof(what) + sizeof(c->why) + 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(both, sizeof(both), "%s: %s", what, c->why);
	memcpy(c->why, both, sizeof(c->why) - 1);
	c->why[sizeof(c->why) - 1] = 0;
	return false;
}

/* xorshift64*: the same damage for the same --seed, on any machine. */
static uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* The case's own seed: --seed mixed with its id (FNV-1a). */
static uint64_t case_seed(const struct ctx *c)
{
	uint64_t h = 0xcbf29ce484222325ull ^ seed;
	const char *p;

	for (p = c->id; *p; p++) {
		h ^= (unsigned char)*p;
		h *= 0x100000001b3ull;
	}
	return h ? h : 1;
}

/*
 * A good image in memory, and where its metadata lies: every byte but the
 * values of PAGES records (the memory), which only the checksum guards.
 */
struct img {
	unsigned char *p;
	size_t len;
	struct {
		size_t from, to;
	} meta[1024];
	int nmeta;
	size_t meta_bytes;
};

static bool img_load(struct ctx *c, struct img *im)
{
	const struct tlv_rec *r;
	struct stat st;
	size_t off = sizeof(struct tlv_head), from = 0;
	int fd = open_file("img/cr.img", O_RDONLY);

	if (fd < 0 || fstat(fd, &st) || st.st_size < 128) {
		if (fd >= 0)
			close(fd);
		return bad(c, "no img/cr.img after the dump");
	}
	im->len = st.st_size;
	im->p = malloc(im->len);
	if (!im->p || pread(fd, im->p, im->len, 0) != (ssize_t)im->len) {
		close(fd);
		return bad(c, "reading img/cr.img: %s", strerror(errno));
	}
	close(fd);
	im->nmeta = 0;
	im->meta_bytes = 0;
	while (off + sizeof(*r) <= im->len && im->nmeta < 1023) {
		r = (const struct tlv_rec *)(im->p + off);
		off += sizeof(*r);
		if (r->len > im->len - off)
			return bad(c, "img/cr.img: record at %zu runs past the "
				   "end", off - sizeof(*r));
		if (r->tag == TLV_PAGES) {
			im->meta[im->nmeta].from = from;
			im->meta[im->nmeta++].to = off;
			im->meta_bytes += off - from;
			from = off + r->len;
		}
		off += r->len;
	}
	im->meta[im->nmeta].from = from;
	im->meta[im->nmeta++].to = im->len;
	im->meta_bytes += im->len - from;
	return true;
}

/* The offset of metadata byte number n (mod their count). */
static size_t img_meta_at(const struct img *im, uint64_t n)
{
	int i;

	n %= im->meta_bytes;
	for (i = 0; n >= im->meta[i].to - im->meta[i].from; i++)
		n -= im->meta[i].to - im->meta[i].from;
	return im->meta[i].from + n;
}

/* Write bytes [off, off + n) of the image in memory to img/cr.img. */
static bool img_put(struct ctx *c, const struct img *im, size_t off, size_t n)
{
	int fd = open_file("img/cr.img", O_WRONLY);
	bool ok = fd >= 0 && pwrite(fd, im->p + off, n, off) == (ssize_t)n;

	if (fd >= 0)
		close(fd);
	return ok || bad(c, "writing img/cr.img: %s", strerror(errno));
}

/* Set the END record to the checksum of the image in memory. */
static void img_seal(struct img *im)
{
	struct tlv_end e = { tlv_crc32c(im->p, im->len - 32), im->len - 32 };

	memcpy(im->p + im->len - sizeof(e), &e, sizeof(e));
}

/* In our own pid namespace no process but us may be left, within ms;
 * else none of the test's. */
static bool ns_empty(struct ctx *c, const char *when, int ms)
{
	long long end = now_ms() + ms;
	struct dirent *de;
	struct task t;
	char path[64];
	pid_t left;
	DIR *d;

	if (!own_ns)
		return tree_gone(c, when, ms);
	for (;;) {
		left = 0;
		reap();
		d = opendir("/proc");
		while (d && !left && (de = readdir(d)))
			if (atoi(de->d_name) > 1)
				left = atoi(de->d_name);
		if (d)
			closedir(d);
		if (!left)
			break;
		if (now_ms() > end) {
			snprintf(path, sizeof(path), "/proc/%d/stat", left);
			if (!read_stat(path, &t))
				continue;
			return bad(c, "%s: pid %d (%s, state %c, ppid %d) still "
				   "exists", when, left, t.comm, t.state,
				   t.ppid);
		}
		sleep_ms(5);
	}
	take(c->pid, NULL);
	return true;
}

/*
 * Restore from the damaged image in img/.  cr must reject it: exit 1 with
 * one line on stderr and no process left.  With 'may', it may also
 * restore it (counted in *took), and all it made is killed.
 */
static bool try_damaged(struct ctx *c, bool may, int *took)
{
	const char *args[] = { "restore", "-D", at(c, "img"), "-d", NULL };
	char buf[4096];
	int st = cr_run(c, "bad", args, -1, -1);

	if (st < 0)
		return false;
	if (exited_ok(st)) {
		if (!may)
			return bad(c, "cr restore succeeded");
		++*took;
		if (own_ns)
			kill(-1, SIGKILL);
		else
			tree_kill(c);
		return ns_empty(c, "after killing what it restored", 2000);
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 1)
		return bad(c, "cr restore %s: %s", status_str(st),
			   err_line("bad"));
	return one_err_line(c, "bad", buf, sizeof(buf)) &&
	       ns_empty(c, "after a failed restore", 1000);
}

/*
 * Damage a copy of a good image in every way below: each restore must
 * fail cleanly; then the good image must still restore.  Offsets and bits
 * come from the case's seed: half anywhere, half in the metadata.
 */
static bool m_corrupt(struct ctx *c)
{
	uint64_t s;
	struct img im;
	size_t off, len;
	int i, bit, took = 0;
	bool ok = true;

	if (!dump(c, "img", "dump", false) || !img_load(c, &im))
		return false;
	s = case_seed(c);
	/* the first three: as the corrupt mode always did */
	for (i = 0; ok && i < 3 + FLIPS; i++) {
		if (i < 3) {
			off = i == 0 ? im.len / 2 : 5;
			bit = 0xff;
			if (i == 1)
				continue;
		} else {
			off = i & 1 ? rnd(&s) % im.len :
				      img_meta_at(&im, rnd(&s));
			bit = 1 << rnd(&s) % 8;
		}
		im.p[off] ^= bit;
		ok = img_put(c, &im, off, 1) && try_damaged(c, false, &took);
		im.p[off] ^= bit;
		if (!ok)
			return blame(c, "image of %zu bytes with byte %zu xor "
				     "%#x (seed %#llx)", im.len, off, bit,
				     (unsigned long long)seed);
		if (!img_put(c, &im, off, 1))
			return false;
	}
	for (i = 0; i < 1 + CUTS; i++) {
		len = i == 0 ? im.len / 2 : i & 1 ? rnd(&s) % im.len :
		      img_meta_at(&im, rnd(&s));
		if (truncate("img/cr.img", len))
			return bad(c, "truncate: %s", strerror(errno));
		if (!try_damaged(c, false, &took))
			return blame(c, "image of %zu bytes cut to %zu (seed "
				     "%#llx)", im.len, len,
				     (unsigned long long)seed);
		if (!img_put(c, &im, len, im.len - len))
			return false;
	}
	free(im.p);
	return restore(c, "img", "restore") && finish(c, c->pid);
}

/*
 * Flip metadata bits and make the checksum right again, so that restore
 * gets past the reader to the validator, the host checks, the forks and
 * the blob.  Each damaged image must be rejected cleanly or restored
 * (the result is killed); cr must never crash, hang or leave anything.
 */
static bool m_forge(struct ctx *c)
{
	struct img im;
	struct tlv_end e;
	struct stat ob;
	uint64_t s;
	size_t off;
	int i, bit, took = 0;
	FILE *f;

	if (!dump(c, "img", "dump", false) || !img_load(c, &im))
		return false;
	memcpy(&e, im.p + im.len - sizeof(e), sizeof(e));
	if (e.crc != tlv_crc32c(im.p, im.len - 32) || e.bytes != im.len - 32)
		return bad(c, "the END record is not where t/run expects it");
	if (stat("out", &ob))
		return bad(c, "out: %s", strerror(errno));
	s = case_seed(c);
	for (i = 0; i < FORGES; i++) {
		do
			off = img_meta_at(&im, rnd(&s));
		while (off >= im.len - 32);
		bit = 1 << rnd(&s) % 8;
		im.p[off] ^= bit;
		img_seal(&im);
		if (!img_put(c, &im, off, 1) ||
		    !img_put(c, &im, im.len - 16, 16) ||
		    !try_damaged(c, true, &took))
			return blame(c, "image of %zu bytes with byte %zu xor "
				     "%#x and a good checksum (seed %#llx)",
				     im.len, off, bit,
				     (unsigned long long)seed);
		/* a forged process that ran may have said so in out */
		if (truncate("out", ob.st_size))
			return bad(c, "truncate out: %s", strerror(errno));
		im.p[off] ^= bit;
		img_seal(&im);
		if (!img_put(c, &im, off, 1) ||
		    !img_put(c, &im, im.len - 16, 16))
			return false;
	}
	f = fopen("forge.log", "we");
	if (f) {
		fprintf(f, "%d of %d forged images restored\n", took, FORGES);
		fclose(f);
	}
	free(im.p);
	return restore(c, "img", "restore") && finish(c, c->pid);
}

/*
 * Each case runs in a network namespace of its own, with lo up: tests
 * bind ports and add interfaces, and cr's network lock (an nftables
 * table) must be gone after a failed dump or restore, which a namespace
 * of one's own can check by listing its tables (nft_tables).
 */
static bool net_fresh(struct ctx *c)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int s;

	if (!own_ns)
		return true;
	if (unshare(CLONE_NEWNET))
		return bad(c, "unshare(CLONE_NEWNET): %s", strerror(errno));
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr)))
		return bad(c, "bringing lo up: %s", strerror(errno));
	close(s);
	return true;
}

/* The names of this namespace's nftables tables, space-separated. */
static bool nft_tables(struct ctx *c, char *out, size_t size)
{
	struct { struct nlmsghdr h; struct nfgenmsg g; } req = {
		{ sizeof(req), NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETTABLE,
		  NLM_F_REQUEST | NLM_F_DUMP, 1, 0 },
		{ AF_UNSPEC, NFNETLINK_V0, 0 } };
	static char buf[65536];
	int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	size_t len = 0;
	ssize_t n;

	out[0] = 0;
	if (s < 0 || send(s, &req, sizeof(req), 0) != sizeof(req))
		return bad(c, "listing nftables tables: %s", strerror(errno));
	while ((n = recv(s, buf, sizeof(buf), 0)) > 0)
		for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			struct nlattr *a;
			int rest;

			if (h->nlmsg_type == NLMSG_DONE ||
			    h->nlmsg_type == NLMSG_ERROR) {
				close(s);
				return true;
			}
			a = (void *)((char *)NLMSG_DATA(h) +
				     NLMSG_ALIGN(sizeof(struct nfgenmsg)));
			rest = h->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(
				sizeof(struct nfgenmsg)));
			for (; rest >= (int)sizeof(*a) && a->nla_len >= sizeof(*a);
			     rest -= NLA_ALIGN(a->nla_len),
			     a = (void *)((char *)a + NLA_ALIGN(a->nla_len)))
				if ((a->nla_type & NLA_TYPE_MASK) ==
				    NFTA_TABLE_NAME && len + a->nla_len < size)
					len += snprintf(out + len, size - len,
							"%s ", (char *)(a + 1));
		}
	close(s);
	return true;
}

/* Nothing of cr's network lock may stay (a failed cr, -R --tcp-unlock). */
static bool no_lock_left(struct ctx *c, const char *when)
{
	char names[1024];
	long long end = now_ms() + 2000;	/* a guardian may be at it */

	for (;;) {
		if (!own_ns || !nft_tables(c, names, sizeof(names)))
			return true;
		if (!strstr(names, "cr_lock_"))
			return true;
		if (now_ms() > end)
			return bad(c, "%s: nftables tables left: %s", when,
				   names);
		sleep_ms(20);
	}
}

/* ---- fault injection: the fault mode (CR_FAULT, see cr.c) ---- */

#define MAX_POINTS 64

/* The points CR_FAULT=list named: [0] by cr dump, [1] by cr restore. */
static char points[2][MAX_POINTS][48];
static int npoints[2];

static void points_read(int k, const char *errfile)
{
	static const char key[] = "cr: fault point ";
	static char buf[64 * 1024];
	char *p, *nl;
	int i;

	slurp(errfile, buf, sizeof(buf));
	for (p = buf; (p = strstr(p, key)); p = nl) {
		p += sizeof(key) - 1;
		nl = p + strcspn(p, "\n");
		if (nl == p || nl - p >= 48 || npoints[k] == MAX_POINTS)
			continue;
		for (i = 0; i < npoints[k]; i++)
			if (!strncmp(points[k][i], p, nl - p) &&
			    !points[k][i][nl - p])
				break;
		if (i == npoints[k])
			snprintf(points[k][npoints[k]++], 48, "%.*s",
				 (int)(nl - p), p);
	}
}

static bool is_point(int k, const char *name)
{
	for (int i = 0; i < npoints[k]; i++)
		if (!strcmp(points[k][i], name))
			return true;
	return false;
}

static bool is_dump_point(const char *fault)
{
	char name[48];

	snprintf(name, sizeof(name), "%.*s", (int)strcspn(fault, ":"), fault);
	return is_point(0, name);
}

static bool m_fault_list(struct ctx *c)
{
	static char buf[64 * 1024];
	bool ok;

	npoints[0] = npoints[1] = 0;
	c->armed = true;
	ok = dump(c, "img", "dump", false);
	points_read(0, "dump.err");
	ok = ok && restore(c, "img", "restore");
	points_read(1, "restore.err");
	c->armed = false;
	if (!ok)
		return blame(c, "with CR_FAULT=list");
	/* once a process has its own fds, its points still go to cr's stderr */
	if (slurp("out", buf, sizeof(buf)) > 0 && strstr(buf, "fault point"))
		return bad(c, "CR_FAULT=list lines in the restored process's "
			   "output: %s", last_line(buf));
	if (!is_point(1, "restore-process"))
		return bad(c, "CR_FAULT=list: restore-process not named by cr");
	if (!npoints[0] || !npoints[1])
		return bad(c, "CR_FAULT=list named %d dump and %d restore "
			   "points", npoints[0], npoints[1]);
	return finish(c, c->pid);
}

/*
 * cr with the fault armed ended with st: it must have died of SIGKILL
 * (NAME:kill, where cr itself is killed), or exit 1 with one line on
 * stderr that names the point (not for the blob's steps).
 */
static bool fault_failed(struct ctx *c, const char *tag, int st)
{
	bool kill = strstr(c->fault, ":kill");
	size_t n = strcspn(c->fault, ":");
	char buf[4096], name[48];

	if (st < 0)
		return false;
	if (kill && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
		return true;
	if (exited_ok(st))
		return bad(c, "cr %s succeeded with CR_FAULT=%s", tag,
			   c->fault);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 1)
		return bad(c, "cr %s: %s, want exit 1: %s", tag,
			   status_str(st), err_line(tag));
	if (!one_err_line(c, tag, buf, sizeof(buf)))
		return false;
	snprintf(name, sizeof(name), "%.*s", (int)n, c->fault);
	if (!kill && strncmp(name, "blob-", 5) && !strstr(buf, name))
		return bad(c, "cr %s: the error does not name %s: %s", tag,
			   name, last_line(buf));
	return true;
}

static void maps_free(struct ctx *c)
{
	while (c->nmaps > 0)
		free(c->maps[--c->nmaps]);
}

/* /proc/PID/maps of the tree's first 16 processes, to compare later. */
static bool maps_record(struct ctx *c)
{
	static char buf[256 * 1024];
	char path[64];
	int i;

	maps_free(c);
	for (i = 0; i < c->ntree && c->nmaps < 16; i++) {
		if (c->tree[i].tid != c->tree[i].pid || c->tree[i].state == 'Z')
			continue;	/* a zombie has no mappings */
		snprintf(path, sizeof(path), "/proc/%d/maps", c->tree[i].pid);
		if (slurp(path, buf, sizeof(buf)) <= 0)
			return bad(c, "reading %s: %s", path, strerror(errno));
		c->maps_pid[c->nmaps] = c->tree[i].pid;
		c->maps[c->nmaps++] = strdup(buf);
	}
	return true;
}

static bool maps_same(struct ctx *c, const char *when)
{
	static char buf[256 * 1024];
	const char *a, *b;
	char path[64];
	int i;

	for (i = 0; i < c->nmaps; i++) {
		snprintf(path, sizeof(path), "/proc/%d/maps", c->maps_pid[i]);
		slurp(path, buf, sizeof(buf));
		if (!c->maps[i] || !strcmp(buf, c->maps[i]))
			continue;
		for (a = c->maps[i], b = buf; *a && *a == *b; a++, b++)
			;
		while (a > c->maps[i] && a[-1] != '\n')
			a--, b--;
		return bad(c, "%s: pid %d's mappings changed at \"%.*s\", was "
			   "\"%.*s\"", when, c->maps_pid[i],
			   (int)strcspn(b, "\n"), b, (int)strcspn(a, "\n"), a);
	}
	return true;
}

/* Within ms, the tree must run on as recorded, its mappings unchanged. */
static bool tree_settle(struct ctx *c, const char *when, int ms)
{
	long long end = now_ms() + ms;

	for (;;) {
		if (still_running(c, when) && maps_same(c, when))
			return true;
		reap();
		if (ended(c->pid) || now_ms() > end)
			return false;
		c->why[0] = 0;
		sleep_ms(20);
	}
}

/*
 * The dump after a killed one, failed at its last point on purpose: it
 * removes what the killed cr left, and its undo gives back all it took.
 * (A snapshot would not do: its established connections stay locked and
 * keep SO_LINGER 0 for a restore, README, so the tree could not go on.)
 */
static bool dump_undone(struct ctx *c)
{
	const char *args[] = { "dump", "-t", c->pidstr, "-D", at(c, "img2"),
			       NULL };
	const char *fault = c->fault;
	bool ok;
	int st;

	mkdir("img2", 0755);
	c->fault = "dump-end";
	c->armed = true;
	st = cr_run(c, "dump2", args, -1, -1);
	c->armed = false;
	ok = fault_failed(c, "dump2", st);
	c->fault = fault;
	return ok;
}

/*
 * A failed dump leaves the tree as it was, and no image (a .part may stay
 * only if cr was killed).  A cr killed while its area was mapped in a
 * process leaves that area (see README): the next dump must remove it; or
 * the one after, if a thread was still in it.
 */
static bool m_fault_dump(struct ctx *c)
{
	const char *args[] = { "dump", "-t", c->pidstr, "-D", at(c, "img"),
			       NULL };
	int st, i;

	if (!maps_record(c))
		return false;
	mkdir("img", 0755);
	c->armed = true;
	st = cr_run(c, "dump", args, -1, -1);
	c->armed = false;
	if (!fault_failed(c, "dump", st))
		return false;
	for (i = 0; i < 3 && strstr(c->fault, ":kill") && !maps_same(c, ""); i++)
		if (c->why[0] = 0, sleep_ms(100 << i), !dump_undone(c))
			return blame(c, "the dump after the killed one");
	if (!tree_settle(c, "after the failed dump", 2000) ||
	    !no_lock_left(c, "after the failed dump"))
		return false;
	if (!access("img/cr.img", F_OK))
		return bad(c, "img/cr.img exists after the failed dump");
	if (!strstr(c->fault, ":kill") && !access("img/cr.img.part", F_OK))
		return bad(c, "img/cr.img.part exists after the failed dump");
	return finish(c, c->pid);
}

/* A failed restore leaves no process; the image then restores. */
static bool m_fault_restore(struct ctx *c)
{
	struct stat ob;
	pid_t pid;
	int st;

	if (!dump(c, "img", "dump", false))
		return false;
	if (stat("out", &ob))
		return bad(c, "out: %s", strerror(errno));
	c->armed = true;
	pid = restore_start(c, "img", "frestore", true, -1);
	st = cr_run_wait(c, "frestore", pid);
	c->armed = false;
	if (!fault_failed(c, "frestore", st) ||
	    !ns_empty(c, "after the failed restore", 2000) ||
	    !no_lock_left(c, "after the failed restore"))
		return false;
	/* a tree that ran before the late fault may have written to out */
	if (truncate("out", ob.st_size))
		return bad(c, "truncate out: %s", strerror(errno));
	return restore(c, "img", "restore") && finish(c, c->pid);
}

static bool m_fault(struct ctx *c)
{
	if (!strcmp(c->fault, "list"))
		return m_fault_list(c);
	if (is_dump_point(c->fault))
		return m_fault_dump(c);
	return m_fault_restore(c);
}

/* ---- the load mode ---- */

#define LOAD_CYCLES 20

/* Busy loops outside the tree, one per core (2 to 4), until cleanup(). */
static bool busy_start(struct ctx *c)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	pid_t pid;

	for (n = n < 2 ? 2 : n > 4 ? 4 : n; n > 0; n--) {
		fflush(stdout);
		pid = fork();
		if (pid < 0)
			return bad(c, "fork: %s", strerror(errno));
		if (!pid) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			for (;;)
				__asm__ volatile("" ::: "memory");
		}
		if (c->nkids < MAX_KIDS)
			c->kids[c->nkids++] = pid;
	}
	return true;
}

/* Dump and restore LOAD_CYCLES times in a row with every core busy. */
static bool m_load(struct ctx *c)
{
	int i;

	if (!busy_start(c))
		return false;
	for (i = 0; i < LOAD_CYCLES; i++)
		if (!dump(c, "img", "dump", false) ||
		    !restore(c, "img", "restore"))
			return blame(c, "cycle %d of %d", i + 1, LOAD_CYCLES);
	return finish(c, c->pid);
}

/* Does buf name a process of the test (a pid as a whole word)? */
static bool names_a_pid(struct ctx *c, const char *buf)
{
	const char *p;
	int i;

	for (p = buf; *p; p++)
		if (isdigit((unsigned char)*p) &&
		    (p == buf || !isdigit((unsigned char)p[-1])))
			for (i = 0; i < c->ntree; i++)
				if (c->tree[i].tid == c->tree[i].pid &&
				    atoi(p) == c->tree[i].pid)
					return true;
	return false;
}

static bool m_refuse(struct ctx *c)
{
	const char *args[] = { "dump", "-t", c->pidstr, "-D", at(c, "img"),
			       NULL };
	char buf[4096];
	int st;

	mkdir("img", 0755);
	st = cr_run(c, "dump", args, -1, -1);
	if (st < 0)
		return false;
	if (exited_ok(st))
		return bad(c, "cr dump succeeded, want a refusal");
	if (!one_err_line(c, "dump", buf, sizeof(buf)))
		return false;
	if (!strstr(buf, c->t->expect) || !names_a_pid(c, buf))
		return bad(c, "cr dump error lacks \"%s\" or a pid of the "
			   "test: %s", c->t->expect, last_line(buf));
	return still_running(c, "after the refused dump") &&
	       finish(c, c->pid);
}

static bool m_nocr(struct ctx *c)
{
	return finish(c, c->pid);
}

static bool (*const modes[NMODES])(struct ctx *) = {
	m_dump, m_snap, m_twice, m_pipe, m_fg, m_chain, m_live, m_corrupt,
	m_forge, m_refuse, m_fault, m_load, m_lazy, m_nocr,
};

static bool applies(const struct test *t, enum mode m)
{
	if (m == NOCR)
		return true;
	if (t->flags & REFUSE)
		return m == REFUSEM;
	if (m == REFUSEM ||
	    ((m == CORRUPTM || m == FORGE) && !(t->flags & CORRUPT)) ||
	    (m == FAULTM && !(t->flags & FAULT)) ||
	    (m == LOADM && !(t->flags & LOAD)) ||
	    (m == LAZYM && !(t->flags & LAZY)))
		return false;
	if ((t->flags & NOSNAP) && m == SNAP)
		return false;
	if ((t->flags & TCPCLOSE) && m == LIVE)	/* closed only if restored */
		return false;
	if ((t->flags & FEW) && m != DUMP && m != TWICE && m != LAZYM)
		return false;
	return !(m == PIPE && (t->flags & STDIN));	/* stdin is the image */
}

/* ---- driver ---- */

static void show_logs(struct ctx *c)
{
	char buf[16 * 1024], *lines[5], *p, *nl;
	struct dirent *de;
	DIR *d = opendir(".");
	int n, i;

	while (d && (de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (len < 5 || strcmp(de->d_name + len - 4, ".log"))
			continue;
		n = 0;
		slurp(de->d_name, buf, sizeof(buf));
		for (p = buf; *p; p = nl + 1) {
			lines[n++ % 5] = p;
			nl = strchr(p, '\n');
			if (!nl)
				break;
			*nl = 0;
		}
		for (i = n > 5 ? n - 5 : 0; i < n; i++)
			printf("    %s: %s\n", de->d_name, lines[i % 5]);
	}
	if (d)
		closedir(d);
	printf("    (scratch dir %s kept)\n", c->dir);
}

/* Kill whatever this run left behind and reap it. */
static void cleanup(struct ctx *c)
{
	long long end = now_ms() + 5000;
	int i;

	if (c->feed >= 0)
		close(c->feed);
	tree_kill(c);
	if (c->pid > 0) {
		kill(-c->pid, SIGKILL);
		kill(c->pid, SIGKILL);
	}
	for (i = 0; i < c->nkids; i++)
		kill(c->kids[i], SIGKILL);
	if (own_ns)
		kill(-1, SIGKILL);
	while (now_ms() < end) {
		reap();
		if (waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD)
			break;
		sleep_ms(5);
	}
	nreaped = 0;
	maps_free(c);
}

/*
 * Run one case; returns 0 pass, 1 fail, 2 skip.  Its id ends in the mode's
 * name, or in 'sub' for the fault mode's cases (with CR_FAULT 'fault').
 */
static int run_case(const struct test *t, const char *flavor, enum mode m,
		    const char *sub, const char *fault)
{
	struct ctx c = { .t = t, .flavor = flavor, .mode = m, .feed = -1,
			 .fault = fault };
	const char *kn;
	bool ok;

	snprintf(c.id, sizeof(c.id), "%s.%s.%s", t->name, flavor,
		 sub ? sub : mode_names[m]);
	snprintf(c.dir, sizeof(c.dir), "%s/%s", SCRATCH, c.id);
	c.tmo = t->flags & BIG ? 120000 : 30000;
	rm_rf(c.dir);
	mkdir(SCRATCH, 0755);
	if (mkdir(c.dir, 0755) || chdir(c.dir)) {
		printf("FAIL %s: scratch dir %s: %s\n", c.id, c.dir,
		       strerror(errno));
		return 1;
	}
	cur = &c;
	ok = net_fresh(&c) && start(&c) && tree_record(&c) && modes[m](&c) &&
	     no_lock_left(&c, "at the end");
	cleanup(&c);
	cur = NULL;
	kn = known_issue(c.id);
	if (c.skipped) {
		printf("SKIP %s:%s\n", c.id, c.why);
	} else if (ok) {
		printf("PASS %s%s\n", c.id, kn ? " (in known[] of t/run.c: "
		       "remove it)" : "");
	} else if (kn && !strict) {
		printf("SKIP %s: known cr issue: %s: %s\n", c.id, kn, c.why);
		c.skipped = true;
	} else {
		printf("FAIL %s: %s\n", c.id, c.why);
		show_logs(&c);
	}
	if (chdir("/") == 0 && (ok || c.skipped) && !keep)
		rm_rf(c.dir);
	return c.skipped ? 2 : !ok;
}

static bool selected(const char *id, char **filters, int nfilters)
{
	int i;

	for (i = 0; i < nfilters; i++)
		if (strstr(id, filters[i]))
			return true;
	return !nfilters;
}

/*
 * Does a filter ask for a case of this fault sweep?  The sweep's cases
 * are only known once its fault-list case has run, so guess from the
 * filter: one that selects fault-list, one that has ".fault-" after
 * a part of NAME.FLAVOR, or one that starts with "fault-" but not with
 * the test's name (a point, e.g. fault-dump-freeze).
 */
static bool sweep_selected(const struct test *t, const char *flavor,
			   char **filters, int nfilters)
{
	char id[256];
	const char *f, *p;
	int i;

	snprintf(id, sizeof(id), "%s.%s.fault-list", t->name, flavor);
	if (selected(id, filters, nfilters))
		return true;
	for (i = 0; i < nfilters; i++) {
		f = filters[i];
		p = strstr(f, ".fault-");
		if (p && memmem(id, strlen(id) - 11, f, p - f))
			return true;
		if (!strncmp(f, "fault-", 6) &&
		    strncmp(f, t->name, strlen(t->name)) && !strstr(t->name, f))
			return true;
	}
	return false;
}

/*
 * The fault mode of one test and flavor: CR_FAULT=list (case fault-list),
 * then a case for each point it named, NAME and NAME:kill (fault-NAME,
 * fault-NAME:kill), but for the blob's steps (no :kill there).
 */
static void run_sweep(const struct test *t, const char *flavor,
		      char **filters, int nfilters, int *counts)
{
	char id[256], sub[128], fault[64];
	int k, i, kill, r;

	if (!sweep_selected(t, flavor, filters, nfilters))
		return;
	r = run_case(t, flavor, FAULTM, "fault-list", "list");
	counts[r]++;
	if (r)
		return;
	for (k = 0; k < 2; k++)
		for (i = 0; i < npoints[k]; i++)
			for (kill = 0; kill < 2; kill++) {
				const char *p = points[k][i];

				if (kill && !strncmp(p, "blob-", 5))
					continue;
				snprintf(fault, sizeof(fault), "%s%s", p,
					 kill ? ":kill" : "");
				snprintf(sub, sizeof(sub), "fault-%s", fault);
				snprintf(id, sizeof(id), "%s.%s.%s", t->name,
					 flavor, sub);
				if (selected(id, filters, nfilters))
					counts[run_case(t, flavor, FAULTM, sub,
							fault)]++;
			}
}

static int run_all(unsigned mode_mask, char **filters, int nfilters)
{
	static const char *const c_flavors[] = { "musl", "glibc", NULL };
	static const char *const py_flavors[] = { "py", NULL };
	static const char *const sh_flavors[] = { "sh", NULL };
	int counts[3] = { 0, 0, 0 };
	const char *const *fl;
	unsigned i;
	int m;

	sigemptyset(&sigchld);
	sigaddset(&sigchld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &sigchld, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < NTESTS; i++) {
		const struct test *t = &tests[i];

		fl = t->kind == C ? c_flavors : t->kind == PY ? py_flavors :
		     sh_flavors;
		for (; *fl; fl++)
			for (m = 0; m < NMODES; m++) {
				char id[128];

				snprintf(id, sizeof(id), "%s.%s.%s", t->name,
					 *fl, mode_names[m]);
				if (!(mode_mask & 1u << m) || !applies(t, m))
					continue;
				if (m == FAULTM)
					run_sweep(t, *fl, filters, nfilters,
						  counts);
				else if (selected(id, filters, nfilters))
					counts[run_case(t, *fl, m, NULL,
							NULL)]++;
			}
	}
	printf("%d passed, %d failed", counts[0], counts[1]);
	if (counts[2])
		printf(", %d skipped", counts[2]);
	printf("\n");
	return counts[1] ? 1 : 0;
}

/* Become PID 1 of a new pid namespace with our own /proc. */
static int run_in_new_ns(unsigned mode_mask, char **filters, int nfilters)
{
	pid_t pid;
	int st;

	if (unshare(CLONE_NEWPID | CLONE_NEWNS)) {
		fprintf(stderr, "unshare: %s (run as root)\n", strerror(errno));
		return 2;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "fork: %s\n", strerror(errno));
		return 2;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV |
			  MS_NOEXEC, NULL)) {
			fprintf(stderr, "mount: %s\n", strerror(errno));
			_exit(2);
		}
		own_ns = true;
		exit(run_all(mode_mask, filters, nfilters));
	}
	signal(SIGINT, SIG_IGN);	/* the child gets it too */
	if (waitpid(pid, &st, 0) < 0)
		return 2;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void usage(const char *me)
{
	fprintf(stderr,
		"usage: %s [-n] [-k] [-m MODE[,MODE...]] [-s SEED] "
		"[--save-images DIR] [FILTER...]\n"
		"  -n, --no-cr  run the tests alone (start, SIGTERM, PASS)\n"
		"  -k, --keep   keep the scratch dirs in " SCRATCH "/\n"
		"  -m, --mode   dump snap twice pipe fg chain live corrupt forge refuse "
		"fault load\n"
		"  -s, --seed   seed of the corrupt and forge modes' damage "
		"(default 1)\n"
		"  --save-images DIR  copy each good image to DIR/ID.TAG.img\n"
		"  --strict     cases of known cr issues (known[]) fail, "
		"not skip\n"
		"  --cr-env NAME=VALUE  set it in cr's environment only "
		"(up to 8)\n"
		"  FILTER       run cases whose NAME.FLAVOR.MODE contains it\n"
		"               (fault mode: NAME.FLAVOR.fault-POINT, after "
		"its fault-list)\n"
		"  env CR       cr binary (default: ./cr in the repo root)\n",
		me);
	exit(2);
}

static unsigned parse_modes(char *arg, const char *me)
{
	unsigned mask = 0;
	char *tok, *save;
	int m;

	for (tok = strtok_r(arg, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		for (m = 0; m < NMODES; m++)
			if (!strcmp(tok, mode_names[m]))
				break;
		if (m == NMODES)
			usage(me);
		mask |= 1u << m;
	}
	return mask;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "no-cr", no_argument, NULL, 'n' },
		{ "keep", no_argument, NULL, 'k' },
		{ "mode", required_argument, NULL, 'm' },
		{ "seed", required_argument, NULL, 's' },
		{ "save-images", required_argument, NULL, 'S' },
		{ "strict", no_argument, NULL, 'X' },
		{ "cr-env", required_argument, NULL, 'E' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned mode_mask = 0;
	bool nocr = false;
	static char save[PATH_MAX];
	const char *env;
	char exe[PATH_MAX], *p;
	int opt, fd;

	while ((opt = getopt_long(argc, argv, "nkm:s:h", opts, NULL)) != -1) {
		if (opt == 'n') {
			nocr = true;
		} else if (opt == 'k') {
			keep = true;
		} else if (opt == 'm') {
			mode_mask |= parse_modes(optarg, argv[0]);
		} else if (opt == 's') {
			seed = strtoull(optarg, &p, 0);
			if (*p || !*optarg)
				usage(argv[0]);
		} else if (opt == 'S') {
			if ((mkdir(optarg, 0755) && errno != EEXIST) ||
			    !realpath(optarg, save)) {
				fprintf(stderr, "%s: %s\n", optarg,
					strerror(errno));
				return 2;
			}
			save_dir = save;
		} else if (opt == 'X') {
			strict = true;
		} else if (opt == 'E') {
			if (!strchr(optarg, '=') || ncr_env == 8)
				usage(argv[0]);
			cr_env[ncr_env++] = optarg;
		} else {
			usage(argv[0]);
		}
	}
	unsetenv("CR_FAULT");	/* only the fault mode sets it, for cr */
	if (nocr)
		mode_mask = 1u << NOCR;
	else if (!mode_mask)
		mode_mask = (1u << NOCR) - 1;

	/* fds 0-2 must exist, nothing else may leak into tests or cr */
	do
		fd = open("/dev/null", O_RDWR);
	while (fd >= 0 && fd <= 2);
	syscall(SYS_close_range, 3, ~0u, 0);
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* repo root = parent of the directory holding this binary */
	if (!realpath("/proc/self/exe", exe) || !(p = strrchr(exe, '/'))) {
		fprintf(stderr, "cannot find myself\n");
		return 2;
	}
	*p = 0;
	p = strrchr(exe, '/');
	if (p)
		*p = 0;
	snprintf(root, sizeof(root), "%s", exe);
	env = getenv("CR");
	if (!env || !*env) {
		snprintf(cr, sizeof(cr), "%s/cr", root);
	} else if (!realpath(env, cr)) {
		if (!nocr) {
			fprintf(stderr, "CR=%s: %s\n", env, strerror(errno));
			return 2;
		}
	}
	if (!nocr && access(cr, X_OK)) {
		fprintf(stderr, "%s: %s (set CR=)\n", cr, strerror(errno));
		return 2;
	}
	argc -= optind;
	argv += optind;
	if (getpid() != 1)
		return run_in_new_ns(mode_mask, argv, argc);
	return run_all(mode_mask, argv, argc);
}
