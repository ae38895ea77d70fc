/* File locks (dump --file-locks): POSIX locks of two processes with their ranges, a flock lock on a description shared by parent and child, an OFD lock, a shared flock on a directory; after restore a new process sees every one with its holder and range, and they still lock. */
#include "fdlib.h"
#include <sys/file.h>

static struct flock lk(short type, off_t start, off_t len)
{
	struct flock f = { .l_type = type, .l_whence = SEEK_SET,
			   .l_start = start, .l_len = len };

	return f;
}

static void set(int fd, int cmd, short type, off_t start, off_t len,
		const char *what)
{
	struct flock f = lk(type, start, len);

	if (fcntl(fd, cmd, &f))
		fail("%s: %s", what, strerror(errno));
}

/* F_GETLK (or F_OFD_GETLK) for a write lock on the range must say this */
static void expect(const char *path, int cmd, off_t start, off_t len,
		   short type, pid_t pid, off_t hstart, off_t hlen,
		   const char *what)
{
	struct flock f = lk(F_WRLCK, start, len);
	int fd = open(path, O_RDWR);

	if (fd < 0 || fcntl(fd, cmd, &f))
		fail("%s: GETLK: %s", what, strerror(errno));
	close(fd);
	if (f.l_type != type || (type != F_UNLCK &&
				 (f.l_pid != pid || f.l_start != hstart ||
				  f.l_len != hlen)))
		fail("%s: lock type %d pid %d range %lld+%lld, want type %d "
		     "pid %d range %lld+%lld", what, f.l_type, (int)f.l_pid,
		     (long long)f.l_start, (long long)f.l_len, type, (int)pid,
		     (long long)hstart, (long long)hlen);
}

static void expect_flock(const char *path, int op, bool free_,
			 const char *what)
{
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		fail("%s: open: %s", what, strerror(errno));
	if (free_ ? flock(fd, op | LOCK_NB) != 0 :
		    (!flock(fd, op | LOCK_NB) || errno != EWOULDBLOCK))
		fail("%s: flock %s %s", what, op == LOCK_EX ? "LOCK_EX" :
		     "LOCK_SH", free_ ? "failed" : "succeeded");
	close(fd);
}

/* A new process, holding nothing: what does it see? */
static void check(pid_t me, pid_t kid, bool unlocked)
{
	pid_t pid = xfork();
	int st;

	if (pid) {
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
		    WEXITSTATUS(st))
			fail("the checker failed: %s", wait_str(st));
		return;
	}
	if (unlocked)
		expect("a", F_GETLK, 10, 10, F_UNLCK, 0, 0, 0,
		       "a: parent's write lock after its F_UNLCK");
	else
		expect("a", F_GETLK, 12, 1, F_WRLCK, me, 10, 10,
		       "a: parent's write lock");
	expect("a", F_GETLK, 30, 40, F_UNLCK, 0, 0, 0, "a: between the locks");
	expect("a", F_GETLK, 5000, 1, F_RDLCK, me, 1000, 0,
	       "a: parent's read lock to EOF");
	expect("a", F_GETLK, 250, 1, F_RDLCK, kid, 200, 100,
	       "a: child's read lock");
	expect("c", F_OFD_GETLK, 0, 0, F_WRLCK, -1, 0, 50, "c: OFD lock");
	expect("c", F_OFD_GETLK, 50, 0, F_UNLCK, 0, 0, 0, "c: after the OFD lock");
	expect_flock("b", LOCK_EX, false, "b: exclusive flock");
	expect_flock("b", LOCK_SH, false, "b: exclusive flock");
	expect_flock("d", LOCK_EX, false, "d: shared flock");
	expect_flock("d", LOCK_SH, true, "d: shared flock");
	_exit(0);
}

int main(int argc, char **argv)
{
	int fa, fb, fc, fdir, sync[2];
	pid_t kid;

	test_init(argc, argv);
	fa = open("a", O_RDWR | O_CREAT, 0600);
	fb = open("b", O_RDONLY | O_CREAT, 0600);
	fc = open("c", O_RDWR | O_CREAT, 0600);
	if (fa < 0 || fb < 0 || fc < 0 || mkdir("d", 0755))
		fail("files: %s", strerror(errno));
	fdir = open("d", O_RDONLY | O_DIRECTORY);
	if (fdir < 0 || write(fa, "0123456789", 10) != 10)
		fail("d, write: %s", strerror(errno));
	set(fa, F_SETLK, F_WRLCK, 10, 10, "POSIX write lock");
	set(fa, F_SETLK, F_RDLCK, 1000, 0, "POSIX read lock");
	set(fc, F_OFD_SETLK, F_WRLCK, 0, 50, "OFD lock");
	if (flock(fb, LOCK_EX) || flock(fdir, LOCK_SH))
		fail("flock: %s", strerror(errno));
	sync_open(sync);
	kid = xfork();
	if (!kid) {
		int fk = open("a", O_RDONLY);

		/* the child shares fb (and its lock) and has its own lock */
		if (fk < 0)
			fail("child: open: %s", strerror(errno));
		set(fk, F_SETLK, F_RDLCK, 200, 100, "child's POSIX read lock");
		child_ready(sync);
		test_wait();
		exit(80);
	}
	children_ready(sync, 1);
	test_ready();
	test_wait();

	check(getpid(), kid, false);
	/* they are the process's own: it can still change them */
	set(fa, F_SETLK, F_UNLCK, 10, 10, "unlock");
	check(getpid(), kid, true);
	if (flock(fb, LOCK_UN))
		fail("flock LOCK_UN: %s", strerror(errno));
	/* the child shares b's description: its lock was the same one */
	expect_flock("b", LOCK_EX, true, "b after LOCK_UN");
	if (kill(kid, SIGTERM))
		fail("kill: %s", strerror(errno));
	child_reap(kid, 80);
	pass();
}
