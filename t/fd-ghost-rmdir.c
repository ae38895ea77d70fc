/* Unlinked files whose directories were removed after them (one and two levels deep): content, size, mode, flags and offset are kept, the names say "(deleted)", and no directory or file is left on disk. */
#include "fdlib.h"

#define LEN 5000

struct ghost {
	const char *path;
	int fd, fl;
	off_t pos;
	struct stat st;
	char link[512];
};

static struct ghost g[2] = {
	{ "gh/sub/b", -1, 0, 4000, { 0 }, "" },
	{ "gh/x/y/c", -1, 0, 123, { 0 }, "" },
};

int main(int argc, char **argv)
{
	static char buf[LEN], want[LEN], left[4096], link[512];
	int i, fd;

	test_init(argc, argv);
	if (mkdir("gh", 0755) || mkdir("gh/sub", 0755) ||
	    mkdir("gh/x", 0755) || mkdir("gh/x/y", 0755))
		fail("mkdir: %s", strerror(errno));
	for (i = 0; i < 2; i++) {
		pattern_fill(buf, LEN, i + 1);
		write_file(g[i].path, buf, LEN);
		if (chmod(g[i].path, i ? 0600 : 0604))
			fail("chmod: %s", strerror(errno));
		fd = open(g[i].path, i ? O_RDWR | O_APPEND : O_RDONLY);
		if (fd < 0 || lseek(fd, g[i].pos, SEEK_SET) != g[i].pos)
			fail("open %s: %s", g[i].path, strerror(errno));
		g[i].fd = fd;
	}
	if (unlink("gh/sub/b") || rmdir("gh/sub") || unlink("gh/x/y/c") ||
	    rmdir("gh/x/y") || rmdir("gh/x"))
		fail("removing: %s", strerror(errno));
	for (i = 0; i < 2; i++) {
		g[i].fl = fcntl(g[i].fd, F_GETFL);
		if (fstat(g[i].fd, &g[i].st))
			fail("fstat: %s", strerror(errno));
		fd_link(g[i].fd, g[i].link, sizeof(g[i].link));
	}
	test_ready();
	test_wait();

	for (i = 0; i < 2; i++) {
		struct ghost *x = &g[i];
		const char *end;
		struct stat now;
		long bad;

		if (fstat(x->fd, &now))
			fail("%s: fstat: %s", x->path, strerror(errno));
		if (now.st_size != LEN || now.st_mode != x->st.st_mode ||
		    now.st_nlink != 0)
			fail("%s: size %lld mode %o links %lu; want %d %o 0",
			     x->path, (long long)now.st_size, now.st_mode,
			     (unsigned long)now.st_nlink, LEN, x->st.st_mode);
		if (fcntl(x->fd, F_GETFL) != x->fl ||
		    lseek(x->fd, 0, SEEK_CUR) != x->pos)
			fail("%s: flags %#x offset %lld; want %#x %lld",
			     x->path, fcntl(x->fd, F_GETFL),
			     (long long)lseek(x->fd, 0, SEEK_CUR), x->fl,
			     (long long)x->pos);
		/* its directory is gone: any name under gh/ will do */
		fd_link(x->fd, link, sizeof(link));
		end = strstr(link, " (deleted)");
		if (strncmp(link, x->link, strstr(x->link, "/gh/") + 4 -
			    x->link) || !end || strcmp(end, " (deleted)"))
			fail("%s is %s, was %s", x->path, link, x->link);
		/* reading on from the offset gives the rest, then EOF */
		if (read(x->fd, buf, LEN) != LEN - x->pos ||
		    read(x->fd, buf + LEN - x->pos, 1) != 0)
			fail("%s: reading on from %lld does not end at %d",
			     x->path, (long long)x->pos, LEN);
		pattern_fill(want, LEN, i + 1);
		if ((bad = mem_diff(buf, want + x->pos, LEN - x->pos)) >= 0)
			fail("%s: byte %lld differs", x->path,
			     (long long)(x->pos + bad));
	}
	if (write(g[0].fd, "x", 1) != -1 || errno != EBADF)
		fail("%s: write on a read-only fd did not say EBADF", g[0].path);
	if (write(g[1].fd, "END", 3) != 3 ||
	    pread(g[1].fd, buf, 3, LEN) != 3 || memcmp(buf, "END", 3))
		fail("%s: O_APPEND write: %s", g[1].path, strerror(errno));
	dir_names("gh", left, sizeof(left));
	if (left[0])
		fail("gh holds %s: want nothing", left);
	pass();
}
