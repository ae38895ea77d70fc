/* A fanotify group (flags, event open flags) keeps its marks: an inode mark on a file for FAN_MODIFY|FAN_CLOSE_WRITE delivers events for writes after restore, an inode mark on a directory and mount and filesystem marks keep their masks and ignore masks as fdinfo lists them. */
#include "fdlib.h"
#include <sys/fanotify.h>

#ifndef FAN_MARK_FILESYSTEM
#define FAN_MARK_FILESYSTEM 0x100
#endif

static void mark(int fan, unsigned flags, uint64_t mask, const char *path)
{
	if (fanotify_mark(fan, FAN_MARK_ADD | flags, mask, AT_FDCWD, path))
		fail("fanotify_mark %s %#x: %s", path, flags, strerror(errno));
}

int main(int argc, char **argv)
{
	static char lines[4096], now[4096], buf[4096];
	char path[512], want[512];
	int fan, w, n, fl;
	uint64_t seen = 0;

	test_init(argc, argv);
	fan = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY | O_LARGEFILE);
	if (fan < 0 && errno == EPERM)
		skip("fanotify needs CAP_SYS_ADMIN");
	if (fan < 0)
		fail("fanotify_init: %s", strerror(errno));
	w = open("watched", O_RDWR | O_CREAT, 0600);
	if (w < 0 || mkdir("dir", 0755))
		fail("files: %s", strerror(errno));
	mark(fan, 0, FAN_MODIFY | FAN_CLOSE_WRITE, "watched");
	mark(fan, FAN_MARK_ONLYDIR, FAN_MODIFY | FAN_EVENT_ON_CHILD, "dir");
	/* no events from all the others on the mount: ignore masks only */
	mark(fan, FAN_MARK_MOUNT | FAN_MARK_IGNORED_MASK |
	     FAN_MARK_IGNORED_SURV_MODIFY, FAN_OPEN, ".");
	mark(fan, FAN_MARK_FILESYSTEM | FAN_MARK_IGNORED_MASK |
	     FAN_MARK_IGNORED_SURV_MODIFY, FAN_ACCESS, ".");
	fdinfo_lines(fan, "fanotify", 20, lines, sizeof(lines));
	fl = fcntl(fan, F_GETFL);
	test_ready();
	test_wait();

	fdinfo_lines(fan, "fanotify", 20, now, sizeof(now));
	if (strcmp(now, lines))
		fail("fanotify fdinfo: %s; was: %s", now, lines);
	if (fcntl(fan, F_GETFL) != fl)
		fail("flags %#x, were %#x", fcntl(fan, F_GETFL), fl);
	if (read(fan, buf, sizeof(buf)) >= 0 || errno != EAGAIN)
		fail("events queued after restore (or blocking read)");

	if (write(w, "hello", 5) != 5 || close(w))
		fail("write: %s", strerror(errno));
	snprintf(want, sizeof(want), "%s/watched", getcwd(path, sizeof(path)));
	if (!poll_fd(fan, POLLIN, 2000))
		fail("no fanotify event after writing the watched file");
	sleep_us(20000);
	n = read(fan, buf, sizeof(buf));
	for (int off = 0; n > 0 && off < n;) {
		struct fanotify_event_metadata *m = (void *)(buf + off);

		if (m->vers != FANOTIFY_METADATA_VERSION)
			fail("event version %d", m->vers);
		if (m->fd >= 0) {
			fd_link(m->fd, path, sizeof(path));
			if (strcmp(path, want))
				fail("event on %s, want %s", path, want);
			if ((fcntl(m->fd, F_GETFL) & O_ACCMODE) != O_RDONLY)
				fail("event fd not read-only");
			close(m->fd);
		}
		if (m->pid != getpid())
			fail("event from pid %d", m->pid);
		seen |= m->mask;
		off += m->event_len;
	}
	if ((seen & (FAN_MODIFY | FAN_CLOSE_WRITE)) !=
	    (FAN_MODIFY | FAN_CLOSE_WRITE))
		fail("events %#llx, want FAN_MODIFY|FAN_CLOSE_WRITE",
		     (unsigned long long)seen);
	pass();
}
