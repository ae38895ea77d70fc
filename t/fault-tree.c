/* Two processes of two threads each, a pipe holding data between them and shared anonymous memory: the tree the runner's fault sweep dumps and restores with a failure injected at every step. */
#include "lib.h"
#include <sys/ioctl.h>
#include <sys/mman.h>

#define SHM_PAGES 8
#define TO_ROOT 6		/* shared pages written after restore */
#define TO_CHILD 7
#define N1 20000		/* bytes in the pipe before the dump */
#define READ1 1000		/* of which the child read this much */
#define N2 3000			/* written after restore */

static unsigned char stream[N1 + N2], buf[N1 + N2];
static unsigned char *shm;
static volatile unsigned long spins;
static volatile int wake;
static pid_t worker_tid;

/* The root's worker spins, the child's sleeps in a futex wait. */
static void *worker(void *arg)
{
	bool spin = arg;

	worker_tid = gettid();
	if (spin) {
		while (!wake)
			spins++;
		return NULL;
	}
	while (!wake) {
		long r = futex_wait(&wake, 0);

		if (r && errno != EAGAIN)
			fail("futex wait: %s", strerror(errno));
	}
	return NULL;
}

static pthread_t worker_start(bool spin)
{
	pthread_t t;

	block_sigterm();
	t = thread_start(worker, (void *)(long)spin);
	while (!worker_tid)
		sleep_us(1000);
	return t;
}

/* Both threads must be there with their tids; the worker must end. */
static void worker_end(pthread_t t, const char *who)
{
	unsigned long s0 = spins;
	long long end = mono_ns() + 10 * NS_PER_SEC;

	check_tids(&worker_tid, 1);
	while (s0 && spins < s0 + 1000)
		if (mono_ns() > end)
			fail("%s: the spinning thread does not run", who);
	futex_set(&wake, 1);
	thread_join(t, who);
}

static void check_shm(const char *who)
{
	long off;

	check_shared_map(shm, NULL, who);
	if ((off = pattern_check(shm, TO_ROOT * PAGE, 1)) >= 0)
		fail("%s: shared memory differs at %ld", who, off);
}

static int queued(int fd)
{
	int n = -1;

	if (ioctl(fd, FIONREAD, &n))
		fail("FIONREAD: %s", strerror(errno));
	return n;
}

static void child(int rd, int sync[2])
{
	pthread_t t;
	size_t n = 0;
	ssize_t k;

	if (read(rd, buf, READ1) != READ1 || memcmp(buf, stream, READ1))
		fail("child: first read from the pipe");
	t = worker_start(false);
	child_ready(sync);
	test_wait();

	check_shm("child");
	while ((k = read(rd, buf + n, sizeof(buf) - n)) > 0)
		n += k;
	if (k < 0 || n != N1 + N2 - READ1 || memcmp(buf, stream + READ1, n))
		fail("child: read %zu bytes from the pipe (%s), want %d%s", n,
		     k < 0 ? strerror(errno) : "EOF", N1 + N2 - READ1,
		     memcmp(buf, stream + READ1, n) ? ", different" : "");
	worker_end(t, "child");
	page_exchange(shm + TO_ROOT * PAGE, 8, shm + TO_CHILD * PAGE, 9,
		      "child");
	exit(60);
}

int main(int argc, char **argv)
{
	int p[2], sync[2];
	pthread_t t;
	pid_t pid;

	test_init(argc, argv);
	pattern_fill(stream, sizeof(stream), 3);
	sync_open(sync);
	shm = mmap(NULL, SHM_PAGES * PAGE, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	pattern_fill(shm, TO_ROOT * PAGE, 1);
	if (pipe(p))
		fail("pipe: %s", strerror(errno));
	if (fcntl(p[1], F_SETPIPE_SZ, 65536) < N1)
		fail("F_SETPIPE_SZ: %s", strerror(errno));
	if (write(p[1], stream, N1) != N1)
		fail("write: %s", strerror(errno));
	pid = xfork();
	if (!pid) {
		close(p[1]);
		child(p[0], sync);
	}
	close(p[0]);
	children_ready(sync, 1);
	t = worker_start(true);
	while (!spins)
		sleep_us(1000);
	test_ready();
	test_wait();

	check_shm("root");
	if (queued(p[1]) != N1 - READ1)
		fail("%d bytes in the pipe, want %d", queued(p[1]),
		     N1 - READ1);
	if (kill(pid, SIGTERM))
		fail("kill: %s", strerror(errno));
	if (write(p[1], stream + N1, N2) != N2)
		fail("write: %s", strerror(errno));
	close(p[1]);
	worker_end(t, "root");
	page_exchange(shm + TO_CHILD * PAGE, 9, shm + TO_ROOT * PAGE, 8,
		      "root");
	child_reap(pid, 60);
	pass();
}
