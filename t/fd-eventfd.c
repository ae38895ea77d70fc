/* eventfds keep their 64-bit counter, EFD_SEMAPHORE, O_NONBLOCK and sharing: reads, writes, epoll and a child blocked in read(2) behave as before. */
#include "fdlib.h"
#include <sys/epoll.h>
#include <sys/eventfd.h>

#define NEAR_MAX 0xfffffffffffffffeull	/* the largest count there is */
#define WAKE 77			/* written for the blocked child */

static uint64_t get(int fd, const char *what)
{
	uint64_t v;

	if (read(fd, &v, 8) != 8)
		fail("%s: read: %s", what, strerror(errno));
	return v;
}

static void put(int fd, uint64_t v, const char *what)
{
	if (write(fd, &v, 8) != 8)
		fail("%s: write %llu: %s", what, (unsigned long long)v,
		     strerror(errno));
}

/* The child sits in a blocking read of the shared eventfd across the dump. */
static void child(int efd, int ep, int sync[2])
{
	uint64_t v;
	ssize_t n;

	close(ep);		/* an epoll shared by two processes is another test */
	child_ready(sync);
	n = read(efd, &v, 8);
	if (n != 8)
		fail("child: blocking read: %zd: %s", n,
		     n < 0 ? strerror(errno) : "short");
	if (v != WAKE)
		fail("child: read %llu, want %d", (unsigned long long)v, WAKE);
	test_wait();
	exit(50);
}

int main(int argc, char **argv)
{
	struct epoll_event ev, evs[8];
	int cnt, sem, blk, full, shared, ep, sync[2], i, n;
	bool seen_cnt = false, seen_full = false;
	long long end;
	uint64_t v;
	pid_t pid;

	test_init(argc, argv);
	cnt = eventfd(0, EFD_NONBLOCK);
	sem = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
	blk = eventfd(0, 0);
	full = eventfd(0, EFD_NONBLOCK);
	shared = eventfd(0, 0);
	ep = epoll_create1(0);
	if (cnt < 0 || sem < 0 || blk < 0 || full < 0 || shared < 0 || ep < 0)
		fail("eventfd: %s", strerror(errno));
	put(cnt, 5, "cnt");
	put(cnt, 37, "cnt");
	put(full, NEAR_MAX, "full");
	ev.events = EPOLLIN;
	ev.data.u64 = 0xc0ffee0000000001ull;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, cnt, &ev))
		fail("epoll_ctl: %s", strerror(errno));
	ev.events = EPOLLIN | EPOLLOUT;
	ev.data.u64 = 0xc0ffee0000000002ull;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, full, &ev))
		fail("epoll_ctl: %s", strerror(errno));
	ev.events = EPOLLIN;
	ev.data.u64 = 0xc0ffee0000000003ull;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, blk, &ev))
		fail("epoll_ctl: %s", strerror(errno));

	sync_open(sync);
	pid = xfork();
	if (!pid)
		child(shared, ep, sync);
	children_ready(sync, 1);
	end = mono_ns() + 10 * NS_PER_SEC;
	while (proc_state(pid, NULL) != 'S') {	/* in its read */
		if (mono_ns() > end)
			fail("the child does not block in its read");
		sleep_us(1000);
	}
	test_ready();
	test_wait();

	/* flags, and the counts as the kernel reports them */
	expect_fl(cnt, O_NONBLOCK | O_ACCMODE, O_NONBLOCK | O_RDWR, "cnt");
	expect_fl(sem, O_NONBLOCK | O_ACCMODE, O_NONBLOCK | O_RDWR, "sem");
	expect_fl(blk, O_NONBLOCK | O_ACCMODE, O_RDWR, "blk");
	expect_cloexec(sem, 1, "sem");
	expect_cloexec(cnt, 0, "cnt");
	if (fdinfo_num(cnt, "eventfd-count", 16) != 42 ||
	    fdinfo_num(full, "eventfd-count", 16) != NEAR_MAX ||
	    fdinfo_num(sem, "eventfd-count", 16) != 3)
		fail("fdinfo counts %llx %llx %llx, want 2a %llx 3",
		     fdinfo_num(cnt, "eventfd-count", 16),
		     fdinfo_num(full, "eventfd-count", 16),
		     fdinfo_num(sem, "eventfd-count", 16), NEAR_MAX);
	if (!same_file(getpid(), shared, pid, shared))
		fail("the eventfd of parent and child is not one file");

	/* epoll sees the counts: cnt readable, full readable not writable */
	n = epoll_wait(ep, evs, 8, 0);
	for (i = 0; i < n; i++) {
		if (evs[i].data.u64 == 0xc0ffee0000000001ull &&
		    evs[i].events == EPOLLIN)
			seen_cnt = true;
		else if (evs[i].data.u64 == 0xc0ffee0000000002ull &&
			 evs[i].events == EPOLLIN)
			seen_full = true;
		else
			fail("epoll: unexpected event %#x data %#llx",
			     evs[i].events,
			     (unsigned long long)evs[i].data.u64);
	}
	if (n != 2 || !seen_cnt || !seen_full)
		fail("epoll_wait gave %d events, want cnt IN and full IN", n);

	/* counter: all at once, then empty, then new writes add up */
	if ((v = get(cnt, "cnt")) != 42)
		fail("cnt read %llu, want 42", (unsigned long long)v);
	expect_empty(cnt, "cnt after read");
	put(cnt, 7, "cnt");
	put(cnt, 8, "cnt");
	if ((v = get(cnt, "cnt")) != 15)
		fail("cnt read %llu, want 15", (unsigned long long)v);

	/* semaphore: 1 three times, then empty */
	for (i = 0; i < 3; i++)
		if ((v = get(sem, "sem")) != 1)
			fail("sem read %d gave %llu, want 1", i,
			     (unsigned long long)v);
	expect_empty(sem, "sem after 3 reads");
	put(sem, 2, "sem");
	if (get(sem, "sem") != 1 || get(sem, "sem") != 1)
		fail("sem: reads after writing 2 are not 1, 1");
	expect_empty(sem, "sem after 2 more reads");

	/* full: one more does not fit; the value is all there */
	v = 1;
	if (write(full, &v, 8) != -1 || errno != EAGAIN)
		fail("full: writing 1 more did not say EAGAIN: the count is "
		     "not %#llx", NEAR_MAX);
	if ((v = get(full, "full")) != NEAR_MAX)
		fail("full read %#llx, want %#llx", (unsigned long long)v,
		     NEAR_MAX);

	/* blocking: nothing now; a write makes epoll and read see it */
	if (epoll_wait(ep, evs, 8, 0) != 1 || evs[0].events != EPOLLOUT ||
	    evs[0].data.u64 != 0xc0ffee0000000002ull)
		fail("epoll after reading all: want only full OUT");
	put(blk, 99, "blk");
	if (epoll_wait(ep, evs, 8, 0) != 2)
		fail("epoll does not see the write to blk");
	if ((v = get(blk, "blk")) != 99)
		fail("blk read %llu, want 99", (unsigned long long)v);

	/* wake the child out of its read, wait until it took the value */
	put(shared, WAKE, "shared");
	end = mono_ns() + 10 * NS_PER_SEC;
	while (fdinfo_num(shared, "eventfd-count", 16)) {
		if (mono_ns() > end)
			fail("the child never read the shared eventfd");
		sleep_us(1000);
	}
	if (kill(pid, SIGTERM))
		fail("kill: %s", strerror(errno));
	child_reap(pid, 50);
	pass();
}
