/* Helpers for the fd-kind tests: fdinfo, poll, exact reads, flags, dirs. */
#ifndef CR_TEST_FDLIB_H
#define CR_TEST_FDLIB_H

#include "lib.h"
#include <dirent.h>
#include <poll.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

/* Where /proc/self/fd/N points ("" if it cannot be read). */
static inline const char *fd_link(int fd, char *buf, size_t size)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, buf, size - 1);
	buf[n < 0 ? 0 : n] = 0;
	return buf;
}

/* The whole of /proc/self/fdinfo/N, NUL-terminated. */
static inline void fdinfo_read(int fd, char *buf, size_t size)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	if (read_file(path, buf, size) < 0)
		fail("read %s: %s", path, strerror(errno));
}

/*
 * The value after "key:" on a line of /proc/self/fdinfo/N, leading blanks
 * skipped, up to the end of the line, into val.  Fails if there is none.
 */
static inline const char *fdinfo_str(int fd, const char *key, char *val,
				     size_t size)
{
	char buf[8192], *p, *e;
	size_t klen = strlen(key);

	fdinfo_read(fd, buf, sizeof(buf));
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p) {
		if (strncmp(p, key, klen) || p[klen] != ':')
			continue;
		p += klen + 1;
		while (*p == ' ' || *p == '\t')
			p++;
		e = strchr(p, '\n');
		if (!e)
			e = p + strlen(p);
		snprintf(val, size, "%.*s", (int)(e - p), p);
		return val;
	}
	fail("fd %d: no \"%s:\" in fdinfo", fd, key);
}

static inline unsigned long long fdinfo_num(int fd, const char *key, int base)
{
	char val[256];

	return strtoull(fdinfo_str(fd, key, val, sizeof(val)), NULL, base);
}

/*
 * The lines of fdinfo that start with prefix (e.g. "tfd:"), each cut to its
 * first nfields blank-separated fields, sorted, joined by "; ".  For
 * comparing an epoll's or inotify's registrations before and after, leaving
 * out the fields that name inodes cr makes anew.
 */
static inline void fdinfo_lines(int fd, const char *prefix, int nfields,
				char *out, size_t size)
{
	static char buf[65536], lines[256][256];
	char *p, *e;
	int n = 0, i, j, f;
	size_t len = 0;

	fdinfo_read(fd, buf, sizeof(buf));
	for (p = buf; *p && n < 256; p = *e ? e + 1 : e) {
		e = strchr(p, '\n');
		if (!e)
			e = p + strlen(p);
		if (strncmp(p, prefix, strlen(prefix)))
			continue;
		/* keep nfields fields, blanks squeezed to one */
		for (i = 0, f = 0; p < e && f < nfields && i < 255;) {
			if (*p == ' ' || *p == '\t') {
				while (p < e && (*p == ' ' || *p == '\t'))
					p++;
				if (++f < nfields && i < 255 && p < e)
					lines[n][i++] = ' ';
				continue;
			}
			lines[n][i++] = *p++;
		}
		lines[n++][i] = 0;
	}
	for (i = 1; i < n; i++)		/* insertion sort, few lines */
		for (j = i; j > 0 && strcmp(lines[j - 1], lines[j]) > 0; j--) {
			char t[256];

			memcpy(t, lines[j], sizeof(t));
			memcpy(lines[j], lines[j - 1], sizeof(t));
			memcpy(lines[j - 1], t, sizeof(t));
		}
	out[0] = 0;
	for (i = 0; i < n; i++)
		len += snprintf(out + len, len < size ? size - len : 0, "%s%s",
				i ? "; " : "", lines[i]);
}

/* poll one fd for events within ms: the revents (0 on timeout). */
static inline short poll_fd(int fd, short events, int ms)
{
	struct pollfd p = { fd, events, 0 };
	int r;

	while ((r = poll(&p, 1, ms)) < 0 && errno == EINTR)
		;
	if (r < 0)
		fail("poll fd %d: %s", fd, strerror(errno));
	return r ? p.revents : 0;
}

/* read exactly len bytes (also from O_NONBLOCK fds, waiting 10 s at most). */
static inline void read_exact(int fd, void *buf, size_t len, const char *what)
{
	unsigned char *p = buf;
	ssize_t n;

	while (len) {
		n = read(fd, p, len);
		if (n < 0 && errno == EAGAIN) {
			if (!poll_fd(fd, POLLIN, 10000))
				fail("%s: no data for 10 s", what);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail("%s: read: %s", what, n ? strerror(errno) : "EOF");
		p += n;
		len -= n;
	}
}

static inline void write_exact(int fd, const void *buf, size_t len,
			       const char *what)
{
	const unsigned char *p = buf;
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EAGAIN) {
			if (!poll_fd(fd, POLLOUT, 10000))
				fail("%s: full for 10 s", what);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail("%s: write: %s", what, strerror(errno));
		p += n;
		len -= n;
	}
}

/* A read on a non-blocking fd must say EAGAIN: nothing is there. */
static inline void expect_empty(int fd, const char *what)
{
	char buf[256];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n >= 0 || errno != EAGAIN)
		fail("%s: read gave %zd (%s), want EAGAIN", what, n,
		     n < 0 ? strerror(errno) : "data");
}

/* File status flags (F_GETFL) masked by mask must be want. */
static inline void expect_fl(int fd, int mask, int want, const char *what)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || (fl & mask) != want)
		fail("%s: fd %d flags %#x, want %#x (of %#x)", what, fd,
		     fl & mask, want, mask);
}

/* Close-on-exec must be on (1) or off (0). */
static inline void expect_cloexec(int fd, int on, const char *what)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl < 0 || !!(fl & FD_CLOEXEC) != on)
		fail("%s: fd %d FD_CLOEXEC %d, want %d", what, fd,
		     fl < 0 ? -1 : fl & FD_CLOEXEC, on);
}

/* Names in directory path, sorted, each ending in "/"; no "." and "..". */
static inline void dir_names(const char *path, char *out, size_t size)
{
	static char names[128][256];
	struct dirent *de;
	size_t len = 0;
	int n = 0, i, j;
	DIR *d = opendir(path);

	if (!d)
		fail("opendir %s: %s", path, strerror(errno));
	while ((de = readdir(d)) && n < 128)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			snprintf(names[n++], sizeof(names[0]), "%s",
				 de->d_name);
	closedir(d);
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char t[256];

			memcpy(t, names[j], sizeof(t));
			memcpy(names[j], names[j - 1], sizeof(t));
			memcpy(names[j - 1], t, sizeof(t));
		}
	out[0] = 0;
	for (i = 0; i < n; i++)
		len += snprintf(out + len, len < size ? size - len : 0, "%s/",
				names[i]);
}

/* kcmp(KCMP_FILE): are fd a of pid1 and fd b of pid2 one open file? */
static inline bool same_file(pid_t pid1, int a, pid_t pid2, int b)
{
	long r = syscall(SYS_kcmp, pid1, pid2, 0 /* KCMP_FILE */, a, b);

	if (r < 0)
		fail("kcmp(%d fd %d, %d fd %d): %s", (int)pid1, a, (int)pid2,
		     b, strerror(errno));
	return r == 0;
}

/* Move fd to number want (closing fd); fails if want is taken. */
static inline int fd_move(int fd, int want, const char *what)
{
	if (fd < 0)
		fail("%s: %s", what, strerror(errno));
	if (fd == want)
		return fd;
	if (fcntl(want, F_GETFD) >= 0)
		fail("%s: fd %d is taken", what, want);
	if (dup3(fd, want, fcntl(fd, F_GETFD) & FD_CLOEXEC ? O_CLOEXEC : 0) !=
	    want)
		fail("%s: dup3 to %d: %s", what, want, strerror(errno));
	close(fd);
	return want;
}

/*
 * Bind an inet socket to a random port below the ephemeral range (and its
 * address in a): a port given back at the dump must not be taken by some
 * other program's outgoing connection before the restore binds it again.
 */
static inline int bind_low_port(int s, void *a, socklen_t len)
{
	unsigned short *port = ((struct sockaddr *)a)->sa_family == AF_INET6 ?
		&((struct sockaddr_in6 *)a)->sin6_port :
		&((struct sockaddr_in *)a)->sin_port;
	static unsigned x;

	if (!x)
		x = (unsigned)getpid() * 2654435761u ^ (unsigned)time(NULL);
	for (int i = 0; i < 200; i++) {
		x = x * 1103515245 + 12345;
		*port = htons(10000 + (x >> 8) % 20000);
		if (!bind(s, (struct sockaddr *)a, len))
			return 0;
		if (errno != EADDRINUSE)
			return -1;
	}
	return -1;
}

#endif
