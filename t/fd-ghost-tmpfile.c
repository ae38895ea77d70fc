/* An O_TMPFILE file (never linked), shared by parent and child, keeps content, size, mode, flags (O_TMPFILE too) and offset; its name stays "DIR/#INODE (deleted)". */
#include "fdlib.h"

#define LEN 3000

int main(int argc, char **argv)
{
	static char buf[LEN], want[LEN], left[4096], link[512], was[512];
	struct stat st, now;
	int fd, fl, sync[2];
	size_t keep;
	pid_t pid;
	long bad;

	test_init(argc, argv);
	if (mkdir("gh", 0755))
		fail("mkdir: %s", strerror(errno));
	fd = open("gh", O_TMPFILE | O_RDWR, 0640);
	if (fd < 0)
		fail("O_TMPFILE: %s", strerror(errno));
	pattern_fill(buf, LEN, 3);
	if (write(fd, buf, LEN) != LEN || lseek(fd, 100, SEEK_SET) != 100)
		fail("write: %s", strerror(errno));
	fl = fcntl(fd, F_GETFL);
	if (fstat(fd, &st))
		fail("fstat: %s", strerror(errno));
	fd_link(fd, was, sizeof(was));
	if (!strstr(was, "/gh/#"))
		fail("O_TMPFILE is %s", was);
	sync_open(sync);
	pid = xfork();
	if (!pid) {
		child_ready(sync);
		test_wait();
		exit(80);
	}
	children_ready(sync, 1);
	test_ready();
	test_wait();

	if (fstat(fd, &now))
		fail("fstat: %s", strerror(errno));
	if (now.st_size != LEN || now.st_mode != st.st_mode ||
	    now.st_nlink != 0)
		fail("size %lld mode %o links %lu; want %d %o 0",
		     (long long)now.st_size, now.st_mode,
		     (unsigned long)now.st_nlink, LEN, st.st_mode);
	if (fcntl(fd, F_GETFL) != fl || lseek(fd, 0, SEEK_CUR) != 100)
		fail("flags %#x offset %lld; want %#x 100", fcntl(fd, F_GETFL),
		     (long long)lseek(fd, 0, SEEK_CUR), fl);
	/* "/.../gh/#INODE (deleted)": the inode number is new */
	fd_link(fd, link, sizeof(link));
	keep = strrchr(was, '#') + 1 - was;
	if (strncmp(link, was, keep) || !strstr(link, " (deleted)"))
		fail("O_TMPFILE is %s, was %s", link, was);
	if (!same_file(getpid(), fd, pid, fd))
		fail("parent and child do not share the file");
	if (pread(fd, buf, LEN, 0) != LEN)
		fail("pread: %s", strerror(errno));
	pattern_fill(want, LEN, 3);
	if ((bad = mem_diff(buf, want, LEN)) >= 0)
		fail("byte %ld differs", bad);
	if (write(fd, "HERE", 4) != 4 || pread(fd, buf, 4, 100) != 4 ||
	    memcmp(buf, "HERE", 4))
		fail("write at the offset: %s", strerror(errno));
	/* it can still be given a name */
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, link, AT_FDCWD, "gh/named", AT_SYMLINK_FOLLOW))
		fail("linkat: %s", strerror(errno));
	if (stat("gh/named", &now) || now.st_size != LEN)
		fail("gh/named: %s", strerror(errno));
	unlink("gh/named");
	dir_names("gh", left, sizeof(left));
	if (left[0])
		fail("gh holds %s: want nothing", left);
	if (kill(pid, SIGTERM))
		fail("kill: %s", strerror(errno));
	child_reap(pid, 80);
	pass();
}
