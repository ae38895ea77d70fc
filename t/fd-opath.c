/* O_PATH fds on things other than regular files and directories (a symlink itself, a FIFO, /dev/null, a socket file) come back referring to the same inode, still O_PATH. */
#include "fdlib.h"
#include <sys/socket.h>
#include <sys/un.h>

enum { LNK, FIFO, DEVNULL, SOCK, NFD };
static const char *const names[NFD] = {
	"symlink", "FIFO", "/dev/null", "socket file",
};

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat was[NFD], now;
	char link[512], links[NFD][512];
	int fds[NFD], i, s;

	test_init(argc, argv);
	if (symlink("target", "lnk") || mkfifo("fifo", 0600))
		fail("symlink, mkfifo: %s", strerror(errno));
	/* a socket file whose socket is gone: only its inode is left */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "sock");
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) || close(s))
		fail("socket file: %s", strerror(errno));
	fds[LNK] = open("lnk", O_PATH | O_NOFOLLOW);
	fds[FIFO] = open("fifo", O_PATH);
	fds[DEVNULL] = open("/dev/null", O_PATH | O_CLOEXEC);
	fds[SOCK] = open("sock", O_PATH);
	for (i = 0; i < NFD; i++) {
		if (fds[i] < 0 || fstat(fds[i], &was[i]))
			fail("%s: %s", names[i], strerror(errno));
		fd_link(fds[i], links[i], sizeof(links[i]));
	}
	test_ready();
	test_wait();

	for (i = 0; i < NFD; i++) {
		if (fstat(fds[i], &now) || now.st_ino != was[i].st_ino ||
		    now.st_dev != was[i].st_dev ||
		    now.st_mode != was[i].st_mode)
			fail("%s is another file (mode %o, was %o)", names[i],
			     now.st_mode, was[i].st_mode);
		expect_fl(fds[i], O_PATH | O_ACCMODE, O_PATH, names[i]);
		if (strcmp(fd_link(fds[i], link, sizeof(link)), links[i]))
			fail("%s is %s, was %s", names[i], link, links[i]);
	}
	expect_cloexec(fds[DEVNULL], 1, names[DEVNULL]);
	expect_cloexec(fds[FIFO], 0, names[FIFO]);
	if (readlinkat(fds[LNK], "", link, sizeof(link)) != 6 ||
	    memcmp(link, "target", 6))
		fail("symlink: readlinkat gives another target");
	pass();
}
