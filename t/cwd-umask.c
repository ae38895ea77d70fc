/* The working directory and the umask are restored: getcwd, stat(".") and new file modes match. */
#include "lib.h"
#include <limits.h>
#include <sys/stat.h>

int main(int argc, char **argv)
{
	char cwd[PATH_MAX], now[PATH_MAX];
	struct stat dot, st;
	mode_t old;
	int fd;

	test_init(argc, argv);
	if (mkdir("sub.d", 0755) && errno != EEXIST)
		fail("mkdir: %s", strerror(errno));
	if (chdir("sub.d") || !getcwd(cwd, sizeof(cwd)) || stat(".", &dot))
		fail("chdir: %s", strerror(errno));
	umask(027);

	test_ready();
	test_wait();

	if (!getcwd(now, sizeof(now)))
		fail("getcwd: %s", strerror(errno));
	if (strcmp(now, cwd))
		fail("cwd is %s, want %s", now, cwd);
	if (stat(".", &st) || st.st_ino != dot.st_ino ||
	    st.st_dev != dot.st_dev)
		fail("\".\" is not the same directory");
	if (proc_status("Umask", 8) != 027)
		fail("/proc/self/status Umask %llo", proc_status("Umask", 8));
	old = umask(027);
	if (old != 027)
		fail("umask %03o, want 027", (unsigned)old);
	fd = open("new", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0 || fstat(fd, &st))
		fail("create: %s", strerror(errno));
	if ((st.st_mode & 0777) != 0640)
		fail("new file mode %03o, want 640", st.st_mode & 0777);
	close(fd);
	unlink("new");
	pass();
}
