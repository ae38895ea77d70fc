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
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SCRATCH "/tmp/cr-t"
#define READY_MS 10000
#define MAX_TASKS 1024		/* threads and processes of one test */

enum kind { C, PY, SH };

enum {
	STDIN = 1,		/* shell job: stdin is a pipe we feed */
	REFUSE = 2,		/* cr dump must fail, naming .expect */
	CORRUPT = 4,		/* also run the corrupt-image checks */
	BIG = 8,		/* long timeouts */
	FEW = 16,		/* only the dump and twice modes */
};

struct test {
	const char *name;
	enum kind kind;
	int flags;
	const char *expect;
};

static const struct test tests[] = {
	{ "counter", C, CORRUPT, NULL },
	{ "mm-anon-256m", C, BIG, NULL },
	{ "mm-file-private", C, 0, NULL },
	{ "mm-prot-none", C, 0, NULL },
	{ "mm-brk", C, 0, NULL },
	{ "mm-stack-deep", C, 0, NULL },
	{ "regs-sse", C, 0, NULL },
	{ "regs-avx512", C, 0, NULL },
	{ "sig-actions", C, 0, NULL },
	{ "sig-pending", C, 0, NULL },
	{ "rlimits", C, 0, NULL },
	{ "cwd-umask", C, 0, NULL },
	{ "fd-files", C, 0, NULL },
	{ "sleep-restart", C, 0, NULL },
	{ "read-restart", C, STDIN, NULL },
	{ "rseq", C, 0, NULL },
	{ "vdso", C, 0, NULL },
	{ "proc-misc", C, 0, NULL },
	{ "refuse-socket", C, REFUSE, "socket" },
	{ "refuse-clone-files", C, REFUSE, "fd table" },
	{ "thread-2", C, 0, NULL },
	{ "thread-16", C, 0, NULL },
	{ "thread-256", C, BIG | FEW, NULL },
	{ "thread-blocked", C, 0, NULL },
	{ "thread-condvar", C, 0, NULL },
	{ "thread-state", C, 0, NULL },
	{ "tree-depth", C, 0, NULL },
	{ "tree-width", C, CORRUPT, NULL },
	{ "tree-sid-pgid", C, 0, NULL },
	{ "tree-zombie", C, 0, NULL },
	{ "tree-subreaper", C, 0, NULL },
	{ "tree-pipe", C, 0, NULL },
	{ "shm-anon", C, 0, NULL },
	{ "shm-file", C, 0, NULL },
	{ "shm-posix", C, 0, NULL },
	{ "mm-cow", C, BIG | FEW, NULL },
	{ "fd-shared", C, 0, NULL },
	{ "python-loop", PY, 0, NULL },
	{ "bash-loop", SH, 0, NULL },
	{ "shell-pipeline", SH, 0, NULL },
};

#define NTESTS (sizeof(tests) / sizeof(tests[0]))

enum mode { DUMP, SNAP, TWICE, PIPE, FG, CORRUPTM, REFUSEM, NOCR, NMODES };

static const char *const mode_names[NMODES] = {
	"dump", "snap", "twice", "pipe", "fg", "corrupt", "refuse", "nocr",
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
	pid_t kids[16];		/* everything we started, killed at the end */
	int nkids;
	struct task tree[MAX_TASKS];	/* the test's tasks, at ready */
	int ntree;
};

static struct ctx *cur;
static char root[PATH_MAX], cr[PATH_MAX + 8];
static bool keep, own_ns;
static sigset_t sigchld;

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

static bool started(pid_t pid)
{
	int i;

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

static bool take(pid_t pid, int *st)
{
	int i = find_reaped(pid);

	if (i < 0)
		return false;
	if (st)
		*st = reaped[i].status;
	memmove(reaped + i, reaped + i + 1,
		(--nreaped - i) * sizeof(reaped[0]));
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

static pid_t spawn(struct ctx *c, const char *const argv[], int in, int out,
		   int err, bool session)
{
	sigset_t none;
	pid_t pid;

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
		if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
			_exit(126);
		syscall(SYS_close_range, 3, ~0u, 0);
		execv(argv[0], (char *const *)argv);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (c->nkids < 16)
		c->kids[c->nkids++] = pid;
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
	c->pid = spawn(c, argv, in, out, out, true);
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
	while (*args)
		argv[n++] = *args++;
	if (c->t->flags & STDIN)
		argv[n++] = "-j";
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
	pid = spawn(c, argv, in, out, err, false);
	close(err);
	close(out);
	if (nul >= 0)
		close(nul);
	return pid;
}

/* Wait for cr to end; wait status, or -1 (reason set) on timeout. */
static int cr_run_wait(struct ctx *c, const char *tag, pid_t pid)
{
	int st;

	if (pid < 0)
		return -1;
	if (wait_for(pid, &st, c->tmo))
		return st;
	bad(c, "cr %s timed out", tag);
	return -1;
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

static bool dump(struct ctx *c, const char *img, const char *tag, bool running)
{
	const char *args[] = { "dump", "-t", c->pidstr, "-D", at(c, img),
			       running ? "-R" : NULL, NULL };

	if (mkdir(img, 0755) && errno != EEXIST)
		return bad(c, "mkdir %s: %s", img, strerror(errno));
	if (!check_cr(c, tag, cr_run(c, tag, args, -1, -1)))
		return false;
	if (running)
		return still_running(c, "after dump -R");
	return reap_killed(c) && tree_gone(c, "after the dump", c->tmo);
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

/* Damage a copy of a good image in three ways: each restore must fail
 * cleanly; then the good image must still restore. */
static bool m_corrupt(struct ctx *c)
{
	static const char *const what[] = {
		"flipped byte in the middle", "truncated to half",
		"flipped byte in the header (offset 5)",
	};
	const char *args[] = { "restore", "-D", at(c, "img"), "-d", NULL };
	char tag[32], buf[4096];
	struct stat st;
	int i, fd, rc;

	if (!dump(c, "img", "dump", false))
		return false;
	if (stat("img/cr.img", &st) || !copy_file("img/cr.img", "good.img"))
		return bad(c, "no img/cr.img after dump");
	for (i = 0; i < 3; i++) {
		off_t off = i == 0 ? st.st_size / 2 : 5;
		unsigned char b;

		snprintf(tag, sizeof(tag), "restore-%c", 'a' + i);
		if (!copy_file("good.img", "img/cr.img"))
			return bad(c, "copy: %s", strerror(errno));
		fd = open_file("img/cr.img", O_RDWR);
		if (i == 1)
			rc = ftruncate(fd, st.st_size / 2);
		else
			rc = pread(fd, &b, 1, off) != 1 ||
			     (b ^= 0xff, pwrite(fd, &b, 1, off) != 1);
		close(fd);
		if (rc)
			return bad(c, "corrupting the image: %s",
				   strerror(errno));
		rc = cr_run(c, tag, args, -1, -1);
		if (rc < 0)
			return false;
		if (exited_ok(rc))
			return bad(c, "restore of image with %s succeeded",
				   what[i]);
		if (!one_err_line(c, tag, buf, sizeof(buf)) ||
		    !tree_gone(c, "after a failed restore", 1000))
			return false;
	}
	if (!copy_file("good.img", "img/cr.img"))
		return bad(c, "copy: %s", strerror(errno));
	return restore(c, "img", "restore") && finish(c, c->pid);
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
	m_dump, m_snap, m_twice, m_pipe, m_fg, m_corrupt, m_refuse, m_nocr,
};

static bool applies(const struct test *t, enum mode m)
{
	if (m == NOCR)
		return true;
	if (t->flags & REFUSE)
		return m == REFUSEM;
	if (m == REFUSEM || (m == CORRUPTM && !(t->flags & CORRUPT)))
		return false;
	if ((t->flags & FEW) && m != DUMP && m != TWICE)
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
}

/* Run one case; returns 0 pass, 1 fail, 2 skip. */
static int run_case(const struct test *t, const char *flavor, enum mode m)
{
	struct ctx c = { .t = t, .flavor = flavor, .mode = m, .feed = -1 };
	bool ok;

	snprintf(c.id, sizeof(c.id), "%s.%s.%s", t->name, flavor,
		 mode_names[m]);
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
	ok = start(&c) && tree_record(&c) && modes[m](&c);
	cleanup(&c);
	cur = NULL;
	if (c.skipped) {
		printf("SKIP %s:%s\n", c.id, c.why);
	} else if (ok) {
		printf("PASS %s\n", c.id);
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
				if (!(mode_mask & 1u << m) || !applies(t, m) ||
				    !selected(id, filters, nfilters))
					continue;
				counts[run_case(t, *fl, m)]++;
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
		"usage: %s [-n] [-k] [-m MODE[,MODE...]] [FILTER...]\n"
		"  -n, --no-cr  run the tests alone (start, SIGTERM, PASS)\n"
		"  -k, --keep   keep the scratch dirs in " SCRATCH "/\n"
		"  -m, --mode   dump snap twice pipe fg corrupt refuse\n"
		"  FILTER       run cases whose NAME.FLAVOR.MODE contains it\n"
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
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned mode_mask = 0;
	bool nocr = false;
	const char *env;
	char exe[PATH_MAX], *p;
	int opt, fd;

	while ((opt = getopt_long(argc, argv, "nkm:h", opts, NULL)) != -1) {
		if (opt == 'n')
			nocr = true;
		else if (opt == 'k')
			keep = true;
		else if (opt == 'm')
			mode_mask |= parse_modes(optarg, argv[0]);
		else
			usage(argv[0]);
	}
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
