/* Threads blocked in a futex wait, a pipe read and nanosleep, and one spinning, all resume after restore: no EINTR, no early return. */
#include "lib.h"

#define SLEEP_NS 100000000ll

struct blk {
	const char *what;
	void *(*fn)(void *);
	long nr;		/* the syscall it blocks in, or -1 */
	pid_t tid;
	pthread_t pt;
};

static volatile int fword, stop;
static volatile unsigned long spins;
static int pfd[2];
static const char msg[] = "fed after restore";

static void *futex_thread(void *arg)
{
	(void)arg;
	while (!fword) {
		long r = futex_wait(&fword, 0);

		if (r && errno == EINTR)
			fail("futex wait: EINTR");
		if (!r && !fword)
			fail("futex wait returned 0 before the wake");
	}
	return NULL;
}

static void *read_thread(void *arg)
{
	char buf[64];
	ssize_t n = read(pfd[0], buf, sizeof(buf));

	(void)arg;
	if (n < 0)
		fail("read: %s", strerror(errno));
	if (n != sizeof(msg) - 1 || memcmp(buf, msg, n))
		fail("read gave %zd bytes \"%.*s\", want \"%s\"", n,
		     (int)(n > 0 ? n : 0), buf, msg);
	return NULL;
}

static void *sleep_thread(void *arg)
{
	struct timespec req = { 0, SLEEP_NS };
	long long t0, dt;

	(void)arg;
	while (!stop) {
		t0 = mono_ns();
		if (syscall(SYS_nanosleep, &req, NULL))
			fail("nanosleep: %s", strerror(errno));
		dt = mono_ns() - t0;
		if (dt < SLEEP_NS)
			fail("nanosleep of %lld ns returned after %lld ns",
			     SLEEP_NS, dt);
	}
	return NULL;
}

static void *spin_thread(void *arg)
{
	(void)arg;
	while (!stop)
		spins++;
	return NULL;
}

static struct blk blk[] = {
	{ "futex wait", futex_thread, SYS_futex, 0, 0 },
	{ "pipe read", read_thread, SYS_read, 0, 0 },
	{ "nanosleep", sleep_thread, SYS_nanosleep, 0, 0 },
	{ "spinning", spin_thread, -1, 0, 0 },
};

#define NBLK (int)(sizeof(blk) / sizeof(blk[0]))

static void *start(void *arg)
{
	struct blk *b = arg;

	b->tid = gettid();
	return b->fn(NULL);
}

/* The syscall thread tid is blocked in, or -1. */
static long blocked_in(pid_t tid)
{
	char path[64], buf[256];

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	if (read_file(path, buf, sizeof(buf)) <= 0 ||
	    !strncmp(buf, "running", 7))
		return -1;
	return atol(buf);
}

int main(int argc, char **argv)
{
	pid_t tids[NBLK];
	unsigned long s0;
	long long end;
	int i;

	test_init(argc, argv);
	block_sigterm();
	if (pipe(pfd))
		fail("pipe: %s", strerror(errno));
	for (i = 0; i < NBLK; i++)
		blk[i].pt = thread_start(start, &blk[i]);
	for (i = 0; i < NBLK; i++)
		while (!blk[i].tid || (blk[i].nr >= 0 &&
				       blocked_in(blk[i].tid) != blk[i].nr))
			sleep_us(1000);
	while (!spins)
		sleep_us(1000);
	test_ready();
	test_wait();

	for (i = 0; i < NBLK; i++)
		tids[i] = blk[i].tid;
	check_tids(tids, NBLK);
	s0 = spins;
	end = mono_ns() + 10 * NS_PER_SEC;
	while (spins < s0 + 1000)
		if (mono_ns() > end)
			fail("the spinning thread does not run after restore");
	sleep_us(2 * SLEEP_NS / 1000);	/* a few more sleeps */
	futex_set(&fword, 1);
	if (write(pfd[1], msg, sizeof(msg) - 1) != sizeof(msg) - 1)
		fail("write: %s", strerror(errno));
	stop = 1;
	for (i = 0; i < NBLK; i++)
		thread_join(blk[i].pt, blk[i].what);
	pass();
}
