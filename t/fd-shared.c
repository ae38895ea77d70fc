/* A file opened before fork: parent and child write in turns through their inherited fds (and a dup) on one shared offset; status flags are shared, close-on-exec is per process, and a separate open keeps its own offset. */
#include "lib.h"

#define REC 16
#define BEFORE 8		/* records written before the dump */
#define TOTAL 108		/* and after restore up to this */
#define KCMP_FILE 0
#define OTHER 20		/* fd of each process's own open of other.dat */

static int fd;			/* shared.dat, opened before fork */

/* Write records from..to-1 of our parity, alternating between fds[]. */
static void turns(int from, int to, int parity, const int fds[2],
		  const char *who)
{
	char rec[REC + 1];
	long long end;
	off_t pos;
	int k;

	for (k = from; k < to; k++) {
		if ((k & 1) != parity)
			continue;
		end = mono_ns() + 10 * NS_PER_SEC;
		while ((pos = lseek(fds[k / 2 % 2], 0, SEEK_CUR)) !=
		       (off_t)k * REC) {
			if (pos < 0 || pos > (off_t)k * REC ||
			    mono_ns() > end)
				fail("%s: offset %lld waiting to write record "
				     "%d: not shared", who, (long long)pos, k);
			sleep_us(50);
		}
		snprintf(rec, sizeof(rec), "%c%014d\n", parity ? 'C' : 'P',
			 k);
		if (write(fds[k / 2 % 2], rec, REC) != REC)
			fail("%s: write: %s", who, strerror(errno));
	}
}

/* Open other.dat as fd OTHER, at offset pos. */
static void open_other(off_t pos, const char *who)
{
	int o = open("other.dat", O_RDWR);

	if (o < 0 || dup2(o, OTHER) != OTHER || close(o) ||
	    lseek(OTHER, pos, SEEK_SET) != pos)
		fail("%s: opening other.dat: %s", who, strerror(errno));
}

static void expect(const char *who, const char *what, int fd, int fdfl,
		   off_t pos)
{
	int fl = fcntl(fd, F_GETFL), fdf = fcntl(fd, F_GETFD);
	off_t now = lseek(fd, 0, SEEK_CUR);

	if (fl < 0 || fdf != fdfl || (pos >= 0 && now != pos) ||
	    (fd != OTHER && !(fl & O_NONBLOCK)))
		fail("%s: %s (fd %d): fd flags %d, flags %#x, offset %lld; "
		     "want %d, O_NONBLOCK, %lld", who, what, fd, fdf, fl,
		     (long long)now, fdfl, (long long)pos);
}

static void child(int sync[2])
{
	int fds[2] = { fd, fcntl(fd, F_DUPFD_CLOEXEC, 0) };

	open_other(9, "child");
	if (fds[1] < 0 || fcntl(fd, F_SETFL, O_NONBLOCK))
		fail("child: setting up: %s", strerror(errno));
	turns(0, BEFORE, 1, fds, "child");
	child_ready(sync);
	test_wait();

	expect("child", "inherited fd", fd, 0, -1);
	expect("child", "its dup", fds[1], FD_CLOEXEC, -1);
	expect("child", "its own open", OTHER, 0, 9);
	turns(BEFORE, TOTAL, 1, fds, "child");
	exit(90);
}

int main(int argc, char **argv)
{
	static char buf[TOTAL * REC + 1];
	char rec[REC + 1];
	int sync[2], k;
	pid_t pid;
	long r;

	test_init(argc, argv);
	write_file("other.dat", buf, 100);
	fd = open("shared.dat", O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		fail("open: %s", strerror(errno));
	sync_open(sync);
	pid = xfork();
	if (!pid)
		child(sync);
	open_other(5, "parent");
	if (fcntl(fd, F_SETFD, FD_CLOEXEC))
		fail("F_SETFD: %s", strerror(errno));
	turns(0, BEFORE, 0, (int[]){ fd, fd }, "parent");
	children_ready(sync, 1);
	test_ready();
	test_wait();

	expect("parent", "inherited fd", fd, FD_CLOEXEC, BEFORE * REC);
	expect("parent", "its own open", OTHER, 0, 5);
	r = syscall(SYS_kcmp, getpid(), pid, KCMP_FILE, fd, fd);
	if (r && !(r < 0 && errno == ENOSYS))
		fail("kcmp: the inherited fds are not one open file");
	r = syscall(SYS_kcmp, getpid(), pid, KCMP_FILE, OTHER, OTHER);
	if (r == 0)
		fail("kcmp: the two opens of other.dat became one");
	if (kill(pid, SIGTERM))
		fail("kill: %s", strerror(errno));
	turns(BEFORE, TOTAL, 0, (int[]){ fd, fd }, "parent");
	child_reap(pid, 90);

	if (pread(fd, buf, sizeof(buf), 0) != TOTAL * REC)
		fail("shared.dat is not %d bytes", TOTAL * REC);
	for (k = 0; k < TOTAL; k++) {
		snprintf(rec, sizeof(rec), "%c%014d\n", k & 1 ? 'C' : 'P', k);
		if (memcmp(buf + k * REC, rec, REC))
			fail("record %d is \"%.15s\", want \"%.15s\"", k,
			     buf + k * REC, rec);
	}
	pass();
}
