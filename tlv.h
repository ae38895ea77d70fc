/*
 * tlv.h - the cr image format, and the restorer hand-off struct.
 *
 * Shared by cr.c (dump, show, restore) and restorer.c (the libc-free blob),
 * so it needs nothing but <stdint.h> and <stddef.h>, and holds only types,
 * constants and static inline helpers.
 *
 * ==== The stream ====
 * One image is one byte stream, written strictly front to back (it may go
 * into a pipe) and read the same way in one pass:
 *
 *	struct tlv_head                       64 bytes, see below
 *	record, record, ...                   each: struct tlv_rec + value
 *	END record                            crc32c and length of all before it
 *
 * A record is a 16-byte header { tag, zero, len } followed by len bytes of
 * value. All integers are little-endian and fixed width; cr only builds for
 * little-endian machines, so the structs below are the bytes on disk.
 * Records are not padded; a PAD record is inserted where the next value must
 * start at a page boundary (PAGES), so restore can read memory straight into
 * place with large reads.
 *
 * A tag's kind says how its value is laid out:
 *	NEST	a sequence of records (the value is itself records)
 *	ROWS	an array of rows; a row is a fixed list of u64 fields, named
 *		by the tag's field list below (cr show prints them by name)
 *	STR	a NUL-terminated string, the NUL counted in len
 *	BYTES	opaque bytes whose layout the tag's note describes
 *	PAGES	raw page contents, the value starts page-aligned in the stream
 *	PAD	filler, ignored
 * Bit 31 of a tag (TLV_OPTIONAL) tells an older reader that it may skip the
 * record if it does not know the tag; any other unknown tag makes the reader
 * reject the image.  Tag numbers are never reused.
 *
 * ==== Order of records (format version 1) ====
 *	PREDUMP? PARENT? PARENT_ID? TRACK?   image-level, see "Chains" below
 *	TASK*   nest, one per process, parents before their children:
 *	  PROC, then for a live process CREDS, GROUPS?, CWD, ROOT, MM,
 *	  AUXV, RLIMIT, SIGACT, EXE (nest: FSTAT, PATH), SHARE?, VMA* (nest),
 *	  FD* (nest), THREAD* (nest, the main thread first; with SECCOMP,
 *	  SC_FILTER?, SC_PROG? if it is in seccomp mode), then TIMES,
 *	  ITIMER?, PTIMER?, PRIV
 *	PIPE*   nest per pipe: PIPE_INFO, DATA?
 *	        (a VMA of a SysV shm segment holds SHMAT)
 *	OBJ*    nest per file object: shared anonymous memory, an unlinked
 *	        file, a memfd, a SysV shm segment: OBJ_INFO, PATH or NAME
 *	        or SYSV_SHM, HUGETLB? (it lives on hugetlbfs)
 *	TTY*    nest per pseudo-terminal: TTY_INFO, TERMIOS?, TTY_IN?, TTY_OUT?
 *	USK*    nest per unix socket: USK_INFO, USK_NAME?, PATH? (the
 *	        directory a relative name was bound in), USK_DATA?,
 *	        USK_MSGS?, USK_FROM?, USK_ICONS?, USK_PEER_NAME?, USK_FILTER?
 *	then for each TASK and OBJ with contents:
 *	PAGEMAP nest: OWNER, RUNS, IRUNS?, PRUNS?
 *	PAD?    so that the next value is page aligned
 *	PAGES   the pages of the runs of the PAGEMAP just before, in order
 *	PAGES_CRC? (240 | TLV_OPTIONAL) the CRC32C of that PAGES value alone:
 *	        restore --lazy-pages checks the END CRC with it instead of
 *	        reading the pages first, and checks the pages themselves
 *	        while the process runs (a mismatch kills it)
 *	MAC?    (221 | TLV_OPTIONAL) HMAC-SHA-256 (RFC 2104), right before END
 *	END     must be the last record, nothing may follow
 *
 * Chains (pre-copy): `cr pre-dump` writes a full image whose pages were
 * copied while the processes ran (PREDUMP), so it cannot be restored by
 * itself, and leaves a tracker in each process (TRACK).  A later pre-dump
 * or dump with --prev-images-dir names that image (PARENT, PARENT_ID) and
 * saves only pages written since: the present pages it does not save are
 * listed in PRUNS and come from the parent, or from its parent, and so on.
 *
 * The checksum in END is CRC32C (Castagnoli) over every byte from the start
 * of the header to the start of the END record.
 *
 * MAC, written by dump --sign KEYFILE: 32 bytes, HMAC-SHA-256 keyed with
 * the key file's bytes over every byte of the stream from the start of the
 * header to the start of the MAC record's own header; END follows it and
 * its CRC covers it.  The writer keeps the MAC running as it streams (no
 * seek, no second pass); so does the reader, which compares at the MAC
 * record.  restore/show --verify KEYFILE rejects an image without a MAC
 * or with one that differs; without --verify the MAC is not checked (only
 * its length and place).  The tag carries TLV_OPTIONAL: a reader that does
 * not know MAC may skip it and still read a signed image.
 *
 * PRIV: every live process has one; it is restored with exactly these
 * capability sets, never the restoring cr's; a restore refuses sets cr
 * could not give (beyond cr's own permitted or bounding set), and the
 * blob sets them in each thread last, after the steps that need cr's
 * privileges.  Tag 220 (CAPS, the same sets once more) is retired.
 */
#ifndef CR_TLV_H
#define CR_TLV_H

#include <stddef.h>
#include <stdint.h>

#define TLV_MAGIC	"CRIMAGE\n"
#define TLV_VERSION	1
#define TLV_OPTIONAL	0x80000000u

/* Architecture of the dumping machine (registers, open-flag encoding). */
#define TLV_ARCH_X86_64		1
#define TLV_ARCH_AARCH64	2

struct tlv_head {
	uint8_t magic[8];	/* TLV_MAGIC */
	uint32_t version;	/* TLV_VERSION */
	uint32_t arch;		/* TLV_ARCH_* */
	uint32_t page_size;	/* bytes; only 4096 is supported so far */
	uint32_t head_size;	/* sizeof(struct tlv_head) */
	uint64_t flags;		/* must be 0 in version 1 */
	char kernel[32];	/* dumping kernel's release, NUL padded */
};

struct tlv_rec {
	uint32_t tag;		/* TLV_* number, maybe | TLV_OPTIONAL */
	uint32_t zero;		/* must be 0 */
	uint64_t len;		/* bytes of value that follow */
};

/*
 * ==== Row layouts ====
 * Each list is X(field, "meaning"); it becomes a struct of uint64_t and the
 * field names cr show prints.  Fields keep their order forever; a new field
 * means a new tag.
 */
#define TLV_F_END(X) \
	X(crc, "crc32c of every byte before this record") \
	X(bytes, "number of bytes before this record")
#define TLV_F_PROC(X) \
	X(pid, "process id (in cr's pid namespace)") \
	X(ppid, "parent's pid at dump time") \
	X(pgid, "process group") \
	X(sid, "session") \
	X(umask, "file mode creation mask") \
	X(personality, "personality(2) flags") \
	X(flags, "TLV_PROC_*") \
	X(exit_signal, "signal sent to the parent at exit") \
	X(exit_status, "zombies: the status waitpid() returns") \
	X(pdeath_signal, "PR_SET_PDEATHSIG") \
	X(subreaper, "PR_SET_CHILD_SUBREAPER")
#define TLV_PROC_SHELL_JOB	1	/* dumped with --shell-job */
#define TLV_PROC_ZOMBIE		2	/* exited, not yet waited for: PROC only */
#define TLV_F_CREDS(X) \
	X(uid, "real uid") X(euid, "effective uid") X(suid, "saved uid") \
	X(fsuid, "filesystem uid") X(gid, "real gid") X(egid, "effective gid") \
	X(sgid, "saved gid") X(fsgid, "filesystem gid")
#define TLV_F_GROUP(X) \
	X(gid, "supplementary group")
#define TLV_F_MM(X) \
	X(start_code, "") X(end_code, "") X(start_data, "") X(end_data, "") \
	X(start_brk, "") X(brk, "current program break") \
	X(start_stack, "") X(arg_start, "") X(arg_end, "") \
	X(env_start, "") X(env_end, "")
#define TLV_F_AUXV(X) \
	X(key, "AT_* type") X(val, "value")
#define TLV_F_RLIMIT(X) \
	X(res, "RLIMIT_* number") X(cur, "soft limit, ~0 = unlimited") \
	X(max, "hard limit, ~0 = unlimited")
#define TLV_F_SIGACT(X) \
	X(sig, "signal number") X(handler, "sa_handler, 0=SIG_DFL 1=SIG_IGN") \
	X(flags, "sa_flags as the kernel holds them") \
	X(restorer, "sa_restorer") X(mask, "sa_mask, bit n-1 = signal n")
#define TLV_F_FSTAT(X) \
	X(mode, "st_mode") X(size, "st_size in bytes") \
	X(mtime_ns, "st_mtime in ns since the epoch") X(rdev, "st_rdev")
#define TLV_F_VMA(X) \
	X(start, "first byte") X(end, "first byte after") \
	X(prot, "PROT_* bits") \
	X(flags, "MAP_* bits: SHARED/PRIVATE, ANONYMOUS, GROWSDOWN, HUGETLB with MAP_HUGE_* (log2 of its page size << 26)") \
	X(pgoff, "file offset in bytes") X(kind, "TLV_VMA_*") \
	X(obj, "OBJ: id of the OBJ mapped") \
	X(inherit, "1: starts as the parent's copy (fork), see PAGEMAP IRUNS")
#define TLV_VMA_ANON	1	/* private anonymous memory */
#define TLV_VMA_FILE	2	/* a file mapping; PATH and FSTAT follow */
#define TLV_VMA_SPECIAL	3	/* kernel mapping found by NAME: [vdso], [vvar]... */
#define TLV_VMA_OBJ	4	/* a mapping of OBJ obj (shmem, unlinked file, memfd) */
#define TLV_F_FD(X) \
	X(fd, "descriptor number") X(kind, "TLV_FD_*") \
	X(flags, "open flags as in fdinfo, in the dumping arch's encoding") \
	X(pos, "file position") X(cloexec, "1 if FD_CLOEXEC") \
	X(ofd, "open file description: fds with one ofd share it (dup, fork)") \
	X(obj, "PIPE, FIFO: id of the PIPE; OBJ: id of the OBJ")
#define TLV_FD_REG	1	/* regular file: PATH, FSTAT */
#define TLV_FD_DIR	2	/* directory: PATH, FSTAT */
#define TLV_FD_CHR	3	/* character device such as /dev/null: PATH, FSTAT */
#define TLV_FD_STDIO	4	/* --shell-job: takes restore's own fd with this number */
#define TLV_FD_PIPE	5	/* one end of pipe obj, read or write by flags */
#define TLV_FD_EVENTFD	6	/* EVENTFD follows */
#define TLV_FD_SIGNALFD	7	/* SIGNALFD follows */
#define TLV_FD_TIMERFD	8	/* TIMERFD follows */
#define TLV_FD_EPOLL	9	/* EPOLL_TFD follows */
#define TLV_FD_INOTIFY	10	/* WATCH* follow */
#define TLV_FD_FIFO	11	/* a FIFO by PATH; its data in PIPE obj */
#define TLV_FD_OBJ	12	/* a file of OBJ obj (unlinked file, memfd) */
#define TLV_FD_UNIX	13	/* a unix socket: USK obj */
#define TLV_FD_INET	14	/* TCP/UDP socket: SOCK, SOCKOPT?, IFNAME?, MCAST?, DGRAMS?, TCP?, SNDQ?, RCVQ? */
#define TLV_FD_NETLINK	15	/* netlink socket: NETLINK, NL_GROUPS?, SOCKOPT? */
#define TLV_FD_PACKET	16	/* AF_PACKET socket: PACKET, SOCKOPT? */
#define TLV_FD_TTY	17	/* a terminal by PATH: /dev/ptmx (a pty's master),
				   /dev/pts/N (its slave) or /dev/tty; TTY obj, or
				   0 for a --shell-job's terminal: cr's /dev/tty */
#define TLV_FD_FANOTIFY	18	/* FANOTIFY, FAN_MARK* follow */
#define TLV_F_THREAD(X) \
	X(tid, "thread id") X(sigmask, "blocked signals, bit n-1 = signal n") \
	X(rseq_addr, "registered struct rseq, 0 if none") \
	X(rseq_len, "its length") X(rseq_sig, "its abort signature") \
	X(ss_sp, "sigaltstack base") X(ss_flags, "sigaltstack flags") \
	X(ss_size, "sigaltstack size") \
	X(robust_head, "set_robust_list head, 0 if none") \
	X(robust_len, "its length") \
	X(tid_addr, "set_tid_address (clear_child_tid)") \
	X(policy, "scheduling policy") X(rt_prio, "real-time priority") \
	X(nice, "nice value + 20 (0..39)")
#define TLV_F_SIGINFO(X) \
	X(shared, "1 if pending for the whole process, 0 for this thread") \
	X(w0, "siginfo bytes 0-7: signo, errno") X(w1, "bytes 8-15: code") \
	X(w2, "") X(w3, "") X(w4, "") X(w5, "") X(w6, "") X(w7, "") \
	X(w8, "") X(w9, "") X(w10, "") X(w11, "") X(w12, "") X(w13, "") \
	X(w14, "") X(w15, "bytes 120-127")
#define TLV_F_REGS_X86_64(X) \
	X(r15, "") X(r14, "") X(r13, "") X(r12, "") X(rbp, "") X(rbx, "") \
	X(r11, "") X(r10, "") X(r9, "") X(r8, "") X(rax, "") X(rcx, "") \
	X(rdx, "") X(rsi, "") X(rdi, "") \
	X(orig_rax, "syscall number if stopped in a syscall, else -1") \
	X(rip, "") X(cs, "") X(eflags, "") X(rsp, "") X(ss, "") \
	X(fs_base, "") X(gs_base, "") X(ds, "") X(es, "") X(fs, "") X(gs, "")
#define TLV_F_REGS_AARCH64(X) \
	X(x0, "") X(x1, "") X(x2, "") X(x3, "") X(x4, "") X(x5, "") X(x6, "") \
	X(x7, "") X(x8, "") X(x9, "") X(x10, "") X(x11, "") X(x12, "") \
	X(x13, "") X(x14, "") X(x15, "") X(x16, "") X(x17, "") X(x18, "") \
	X(x19, "") X(x20, "") X(x21, "") X(x22, "") X(x23, "") X(x24, "") \
	X(x25, "") X(x26, "") X(x27, "") X(x28, "") X(x29, "") X(x30, "") \
	X(sp, "") X(pc, "") X(pstate, "") X(tls, "tpidr_el0")
#define TLV_F_OWNER(X) \
	X(kind, "1: pages of TASK pid id, 2: contents of OBJ id") \
	X(id, "the pid or OBJ id")
#define TLV_F_PAGES_CRC(X) \
	X(crc, "CRC32C of the PAGES value just before (restore --lazy-pages checks it later)")
#define TLV_OWNER_TASK	1
#define TLV_OWNER_OBJ	2
#define TLV_F_PIPE(X) \
	X(id, "pipe id, referred to by FD obj") \
	X(size, "capacity in bytes (F_GETPIPE_SZ)")
#define TLV_F_OBJ(X) \
	X(id, "object id, referred to by VMA and FD obj") \
	X(kind, "TLV_OBJ_*") \
	X(size, "bytes") \
	X(mode, "st_mode (unlinked files)") \
	X(seals, "F_GET_SEALS (memfd)")
#define TLV_OBJ_SHMEM	1	/* shared anonymous memory ("/dev/zero (deleted)") */
#define TLV_OBJ_GHOST	2	/* an unlinked file, still open or mapped: PATH */
#define TLV_OBJ_MEMFD	3	/* memfd_create(): NAME */
#define TLV_OBJ_SYSV	200	/* a System V shm segment: SYSV_SHM */
#define TLV_F_EVENTFD(X) \
	X(count, "counter") X(semaphore, "1 if EFD_SEMAPHORE")
#define TLV_F_SIGNALFD(X) \
	X(mask, "signals it reads, bit n-1 = signal n")
#define TLV_F_TIMERFD(X) \
	X(clockid, "CLOCK_*") X(settime_flags, "TFD_TIMER_* at the last settime") \
	X(value_ns, "time left until it fires, 0 if disarmed") \
	X(interval_ns, "period") X(ticks, "expirations not read yet")
#define TLV_F_TIMERFD_AT(X) \
	X(realtime_ns, "CLOCK_REALTIME when TIMERFD was read: restore counts the time since")
#define TLV_F_LOCK(X) \
	X(kind, "TLV_LOCK_*") X(write, "1: write (exclusive) lock, 0: read (shared)") \
	X(start, "first byte, 0 for flock") X(len, "bytes, 0: to the end of the file, and on")
#define TLV_LOCK_FLOCK	1	/* flock(2): held by the open file description */
#define TLV_LOCK_POSIX	2	/* fcntl(F_SETLK): held by this process */
#define TLV_LOCK_OFD	3	/* fcntl(F_OFD_SETLK): held by the open file description */
#define TLV_F_FANOTIFY(X) \
	X(flags, "fanotify_init flags: FAN_CLASS_*, FAN_REPORT_*...") \
	X(event_flags, "fanotify_init event_f_flags: open flags of event fds")
#define TLV_F_FAN_MARK(X) \
	X(type, "TLV_FAN_*") X(mflags, "FAN_MARK_* flags the mark keeps") \
	X(mask, "FAN_* events reported") X(ignored_mask, "FAN_* events ignored")
#define TLV_FAN_INODE	1	/* a file or directory, by PATH */
#define TLV_FAN_MOUNT	2	/* the mount at PATH */
#define TLV_FAN_FS	3	/* the filesystem mounted at PATH */
#define TLV_F_FOWN(X) \
	X(type, "F_OWNER_TID, F_OWNER_PID or F_OWNER_PGRP") \
	X(pid, "who gets SIGIO (F_SETOWN_EX), a thread, process or group of the image") \
	X(sig, "F_SETSIG signal, 0 for SIGIO")
#define TLV_F_EPOLL_TFD(X) \
	X(tfd, "registered fd number") X(events, "EPOLL* mask") \
	X(data, "epoll_data")
#define TLV_F_WATCH(X) \
	X(wd, "watch descriptor") X(mask, "IN_* mask")
#define TLV_F_TTY(X) \
	X(id, "tty id, referred to by FD obj") \
	X(index, "pty number: N of /dev/pts/N") \
	X(kind, "TLV_TTY_*") \
	X(flags, "TLV_TTYF_*") \
	X(sid, "session it is the controlling terminal of, 0 if none") \
	X(pgrp, "its foreground process group (with sid)") \
	X(rows, "window size") X(cols, "") X(xpixel, "") X(ypixel, "") \
	X(ctime_ns, "EXTERN: ctime of /dev/pts/N, the same pty must be there")
#define TLV_TTY_PTY	1	/* master in the tree: made anew, with its state */
#define TLV_TTY_EXTERN	2	/* master outside the tree: /dev/pts/N reopened */
#define TLV_TTY_JOB	3	/* --shell-job: the modes the job left the shell's
				   terminal in (TERMIOS), set on cr's at restore */
#define TLV_TTYF_LOCKED	1	/* TIOCGPTLCK: the slave cannot be opened */
#define TLV_TTYF_EXCL	2	/* TIOCGEXCL on the slave */
#define TLV_TTYF_PKT	4	/* TIOCGPKT: the master reads in packet mode */
#define TLV_F_TERMIOS(X) \
	X(iflag, "c_iflag") X(oflag, "c_oflag") X(cflag, "c_cflag") \
	X(lflag, "c_lflag") X(line, "c_line, the line discipline") \
	X(cc0, "c_cc[0..7], c_cc[i] in bits 8i..8i+7") X(cc1, "c_cc[8..15]") \
	X(cc2, "c_cc[16..18]") X(ispeed, "c_ispeed") X(ospeed, "c_ospeed")
#define TLV_F_USK(X) \
	X(id, "socket id, referred to by FD obj") \
	X(type, "SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET") \
	X(state, "TLV_USK_*: unconnected, listening, connected") \
	X(peer, "connected: the peer's USK id, 0 if it is not in the image") \
	X(peer_kind, "TLV_USK_PEER_*") \
	X(listener, "USK id of the listener it was accepted from or waits in") \
	X(shutdown, "1: receive side shut down, 2: send side") \
	X(backlog, "listening: listen(2) backlog") \
	X(flags, "TLV_USK_F_*") \
	X(rcvbuf, "SO_RCVBUF as getsockopt reads it") \
	X(sndbuf, "SO_SNDBUF as getsockopt reads it") \
	X(peek_off, "SO_PEEK_OFF, ~0 if off") \
	X(rcvtimeo_us, "SO_RCVTIMEO in microseconds") \
	X(sndtimeo_us, "SO_SNDTIMEO in microseconds") \
	X(mode, "bound to a path: the socket file's mode") \
	X(uid, "bound to a path: the file's owner") \
	X(gid, "bound to a path: the file's group") \
	X(rcvlowat, "SO_RCVLOWAT")
#define TLV_USK_UNCONN		1
#define TLV_USK_LISTEN		2
#define TLV_USK_CONN		3
#define TLV_USK_PEER_NONE	0	/* not connected */
#define TLV_USK_PEER_TREE	1	/* peer is USK peer */
#define TLV_USK_PEER_DEAD	2	/* the peer was closed: connected to nothing */
#define TLV_USK_PEER_EXT	3	/* --ext-unix-sk: datagram to USK_PEER_NAME */
#define TLV_USK_PEER_QUEUED	4	/* waits, not accepted yet, in listener's queue */
#define TLV_USK_F_PASSCRED	1	/* SO_PASSCRED */
#define TLV_USK_F_PASSSEC	2	/* SO_PASSSEC */
#define TLV_USK_F_DELETED	4	/* bound file was unlinked: unlink after bind */
#define TLV_USK_F_PASSPIDFD	8	/* SO_PASSPIDFD */
#define TLV_USK_F_NORIGHTS	16	/* SO_PASSRIGHTS off: refuses SCM_RIGHTS */
#define TLV_USK_F_LOCKFILTER	32	/* SO_LOCK_FILTER */
#define TLV_F_USK_MSG(X) \
	X(len, "bytes of the message in USK_DATA") \
	X(from, "bytes of its sender's address in USK_FROM, 0: unnamed sender")
#define TLV_F_USK_ICON(X) \
	X(client, "USK id of the connecting socket, 0 if it was closed")
#define TLV_F_SOCK(X) \
	X(family, "AF_INET or AF_INET6") X(type, "SOCK_STREAM or SOCK_DGRAM") \
	X(proto, "IPPROTO_TCP or IPPROTO_UDP") \
	X(state, "TCP_* state (TCP_CLOSE for UDP, or --tcp-close)") \
	X(flags, "TLV_SOCK_*") X(backlog, "listen() backlog") \
	X(lport, "local port, 0 if not bound") X(rport, "peer port") \
	X(laddr0, "local address bytes 0-7 (IPv4: 0-3)") X(laddr1, "bytes 8-15") \
	X(raddr0, "peer address bytes 0-7") X(raddr1, "bytes 8-15") \
	X(lscope, "IPv6 scope id of the local address") \
	X(rscope, "IPv6 scope id of the peer address") \
	X(rflow, "IPv6 flow info of the peer address")
#define TLV_SOCK_BOUND		1	/* bind() to laddr:lport */
#define TLV_SOCK_CONNECTED	2	/* connect() to raddr:rport */
#define TLV_SOCK_LISTEN		4	/* listen(backlog) */
#define TLV_SOCK_REPAIR		8	/* an established TCP connection: TCP */
#define TLV_SOCK_SHUT_RD	16	/* shut down for reading (or FIN received) */
#define TLV_F_SOCKOPT(X) \
	X(level, "SOL_SOCKET, IPPROTO_TCP, IPPROTO_IP, IPPROTO_IPV6, SOL_NETLINK, SOL_PACKET") \
	X(name, "option number") \
	X(val, "int value; SO_LINGER: onoff | seconds << 32; SO_*TIMEO: microseconds")
#define TLV_F_TCP(X) \
	X(snd_seq, "write_seq: sequence number after the last byte queued") \
	X(rcv_seq, "rcv_nxt: sequence number after the last byte received") \
	X(sndq, "bytes in the send queue, unacknowledged included (SNDQ)") \
	X(unsent, "of those, not sent yet") X(rcvq, "bytes not read yet (RCVQ)") \
	X(mss, "TCP_MAXSEG") X(opts, "TCPI_OPT_* negotiated") \
	X(snd_wscale, "") X(rcv_wscale, "") \
	X(timestamp, "TCP_TIMESTAMP clock") \
	X(snd_wl1, "TCP_REPAIR_WINDOW") X(snd_wnd, "") X(max_window, "") \
	X(rcv_wnd, "") X(rcv_wup, "") \
	X(lock, "network lock: nftables table inet cr_lock_<hex> to delete, 0 if none")
#define TLV_F_MCAST(X) \
	X(ifindex, "interface") X(group0, "group address bytes 0-7 (IPv4: 0-3)") \
	X(group1, "bytes 8-15")
#define TLV_F_NETLINK(X) \
	X(proto, "NETLINK_* protocol") X(type, "SOCK_RAW or SOCK_DGRAM") \
	X(portid, "bound port id, 0 if not bound") \
	X(dst_portid, "connect()ed port id") X(dst_group, "connect()ed group")
#define TLV_F_NL_GROUP(X) \
	X(group, "multicast group joined")
#define TLV_F_PACKET(X) \
	X(type, "SOCK_RAW or SOCK_DGRAM") \
	X(proto, "ethernet protocol, network byte order") \
	X(ifindex, "bound interface, 0 if none")
#define TLV_F_SHARE(X) \
	X(files, "1: shares its parent's fd table (clone CLONE_FILES)") \
	X(fs, "1: shares its parent's cwd, root, umask (clone CLONE_FS)")
#define TLV_F_SYSV_SHM(X) \
	X(shmid, "segment id, the same after restore") \
	X(key, "IPC key, 0 = IPC_PRIVATE") \
	X(mode, "permission bits (shm_perm.mode & 0777)") \
	X(uid, "owner uid") X(gid, "owner gid") \
	X(removed, "1: IPC_RMID done, gone at the last detach (SHM_DEST)")
#define TLV_F_HUGETLB(X) \
	X(page_size, "huge page size in bytes (2 MiB, 1 GiB...)")
#define TLV_F_SHMAT(X) \
	X(flags, "SHM_RDONLY if attached read-only")
#define TLV_F_RUN(X) \
	X(addr, "first page") X(npages, "number of pages")
#define TLV_F_TRACK(X) \
	X(pid, "process whose memory changes are tracked") \
	X(fd, "descriptor number of the tracker (a userfaultfd) in it, or TLV_TRACK_SOFT_DIRTY") \
	X(ino, "the tracker's inode number, or for soft-dirty the process's start time, to recognise it next time")
/* TRACK fd of a process tracked by the kernel's soft-dirty bits (no fd) */
#define TLV_TRACK_SOFT_DIRTY 0xffffffffull
#define TLV_F_NETLOCK(X) \
	X(id, "network lock of the dump: nftables table inet cr_lock_<hex id> (listeners' SYNs, connections) that restore deletes")
#define TLV_F_PREDUMP(X) \
	X(live, "1: pages were copied while the processes ran") \
/* Section 5b: prctl state, scheduling, cgroups, memory advice (tags 140-159) */
#define TLV_F_KSTATE(X) \
	X(dumpable, "PR_GET_DUMPABLE (0 or 1)") \
	X(thp_disable, "PR_GET_THP_DISABLE: bit 0 disabled, bit 1 except advised") \
	X(mdwe, "PR_GET_MDWE: PR_MDWE_* bits") \
	X(mlockall, "MCL_FUTURE | MCL_ONFAULT in force (mlockall)") \
	X(oom_score_adj, "/proc/PID/oom_score_adj + 1000 (0..2000)") \
	X(memory_merge, "PR_GET_MEMORY_MERGE (KSM for the whole process)")
#define TLV_F_SPEC(X) \
	X(which, "PR_SPEC_* (store bypass, indirect branch, L1D flush)") \
	X(value, "PR_GET_SPECULATION_CTRL result, PR_SPEC_PRCTL bit: settable")
#define TLV_F_KTHREAD(X) \
	X(timerslack, "PR_GET_TIMERSLACK in ns") \
	X(ioprio, "ioprio_get(IOPRIO_WHO_PROCESS) value")
#define TLV_F_CPUS(X) \
	X(bits, "CPU affinity mask, row n = CPUs 64n..64n+63")
#define TLV_F_VMA_ADV(X) \
	X(advice, "TLV_ADV_* bits (madvise, mlock)") \
	X(pkey, "memory protection key")
#define TLV_ADV_DONTFORK	1	/* MADV_DONTFORK ("dc") */
#define TLV_ADV_WIPEONFORK	2	/* MADV_WIPEONFORK ("wf") */
#define TLV_ADV_HUGEPAGE	4	/* MADV_HUGEPAGE ("hg") */
#define TLV_ADV_NOHUGEPAGE	8	/* MADV_NOHUGEPAGE ("nh") */
#define TLV_ADV_DONTDUMP	16	/* MADV_DONTDUMP ("dd") */
#define TLV_ADV_MERGEABLE	32	/* MADV_MERGEABLE ("mg") */
#define TLV_ADV_LOCKED		64	/* mlock ("lo") */
#define TLV_ADV_ONFAULT		128	/* mlock2 MLOCK_ONFAULT ("lf") */
#define TLV_ADV_ALL		255
/* timers, clocks, credentials, seccomp */
#define TLV_F_TIMES(X) \
	X(realtime_ns, "CLOCK_REALTIME when the process was dumped") \
	X(monotonic_ns, "CLOCK_MONOTONIC then, as the process saw it") \
	X(boottime_ns, "CLOCK_BOOTTIME then, as the process saw it") \
	X(timens, "1 if it ran in a time namespace of its own")
#define TLV_F_ITIMER(X) \
	X(which, "ITIMER_REAL, _VIRTUAL or _PROF") \
	X(value_ns, "time left until it fires, 0 if disarmed") \
	X(interval_ns, "period")
#define TLV_F_PTIMER(X) \
	X(id, "timer id timer_create returned") X(clock, "clockid (int32)") \
	X(notify, "sigev_notify: SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD_ID|SIGNAL") \
	X(signo, "signal it sends") X(sigval, "sigev_value") \
	X(tid, "SIGEV_THREAD_ID: the thread it signals") \
	X(value_ns, "time left until it fires, 0 if disarmed") \
	X(interval_ns, "period") X(overrun, "timer_getoverrun() at dump") \
	X(pending, "1 if its signal was queued and not yet delivered")
#define TLV_F_PRIV(X) \
	X(inh, "inheritable capabilities (bit = CAP_*)") X(prm, "permitted") \
	X(eff, "effective") X(bnd, "bounding set") X(amb, "ambient") \
	X(securebits, "PR_GET_SECUREBITS, SECBIT_KEEP_CAPS included") \
	X(no_new_privs, "PR_GET_NO_NEW_PRIVS")
#define TLV_F_SECCOMP(X) \
	X(mode, "0 none, 1 strict, 2 filters") X(nfilters, "SC_FILTER rows")
#define TLV_F_SC_FILTER(X) \
	X(flags, "SECCOMP_FILTER_FLAG_LOG etc. (PTRACE_SECCOMP_GET_METADATA)") \
	X(ninsn, "its length in struct sock_filter (8 bytes) in SC_PROG")

#define TLV_FIELD(name, doc) uint64_t name;
struct tlv_end { TLV_F_END(TLV_FIELD) };
struct tlv_proc { TLV_F_PROC(TLV_FIELD) };
struct tlv_creds { TLV_F_CREDS(TLV_FIELD) };
struct tlv_group { TLV_F_GROUP(TLV_FIELD) };
struct tlv_mm { TLV_F_MM(TLV_FIELD) };
struct tlv_auxv { TLV_F_AUXV(TLV_FIELD) };
struct tlv_rlimit { TLV_F_RLIMIT(TLV_FIELD) };
struct tlv_sigact { TLV_F_SIGACT(TLV_FIELD) };
struct tlv_fstat { TLV_F_FSTAT(TLV_FIELD) };
struct tlv_vma { TLV_F_VMA(TLV_FIELD) };
struct tlv_fd { TLV_F_FD(TLV_FIELD) };
struct tlv_thread { TLV_F_THREAD(TLV_FIELD) };
struct tlv_siginfo { TLV_F_SIGINFO(TLV_FIELD) };
struct tlv_regs_x86_64 { TLV_F_REGS_X86_64(TLV_FIELD) };
struct tlv_regs_aarch64 { TLV_F_REGS_AARCH64(TLV_FIELD) };
struct tlv_owner { TLV_F_OWNER(TLV_FIELD) };
struct tlv_pages_crc { TLV_F_PAGES_CRC(TLV_FIELD) };
struct tlv_pipe { TLV_F_PIPE(TLV_FIELD) };
struct tlv_obj { TLV_F_OBJ(TLV_FIELD) };
struct tlv_eventfd { TLV_F_EVENTFD(TLV_FIELD) };
struct tlv_signalfd { TLV_F_SIGNALFD(TLV_FIELD) };
struct tlv_timerfd { TLV_F_TIMERFD(TLV_FIELD) };
struct tlv_timerfd_at { TLV_F_TIMERFD_AT(TLV_FIELD) };
struct tlv_lock { TLV_F_LOCK(TLV_FIELD) };
struct tlv_fanotify { TLV_F_FANOTIFY(TLV_FIELD) };
struct tlv_fown { TLV_F_FOWN(TLV_FIELD) };
struct tlv_fan_mark { TLV_F_FAN_MARK(TLV_FIELD) };
struct tlv_epoll_tfd { TLV_F_EPOLL_TFD(TLV_FIELD) };
struct tlv_watch { TLV_F_WATCH(TLV_FIELD) };
struct tlv_tty { TLV_F_TTY(TLV_FIELD) };
struct tlv_termios { TLV_F_TERMIOS(TLV_FIELD) };
struct tlv_run { TLV_F_RUN(TLV_FIELD) };
struct tlv_sock { TLV_F_SOCK(TLV_FIELD) };
struct tlv_sockopt { TLV_F_SOCKOPT(TLV_FIELD) };
struct tlv_tcp { TLV_F_TCP(TLV_FIELD) };
struct tlv_netlink { TLV_F_NETLINK(TLV_FIELD) };
struct tlv_mcast { TLV_F_MCAST(TLV_FIELD) };
struct tlv_nl_group { TLV_F_NL_GROUP(TLV_FIELD) };
struct tlv_packet { TLV_F_PACKET(TLV_FIELD) };
struct tlv_track { TLV_F_TRACK(TLV_FIELD) };
struct tlv_netlock { TLV_F_NETLOCK(TLV_FIELD) };
struct tlv_predump { TLV_F_PREDUMP(TLV_FIELD) };
struct tlv_kstate { TLV_F_KSTATE(TLV_FIELD) };
struct tlv_spec { TLV_F_SPEC(TLV_FIELD) };
struct tlv_kthread { TLV_F_KTHREAD(TLV_FIELD) };
struct tlv_cpus { TLV_F_CPUS(TLV_FIELD) };
struct tlv_vma_adv { TLV_F_VMA_ADV(TLV_FIELD) };
struct tlv_usk { TLV_F_USK(TLV_FIELD) };
struct tlv_usk_msg { TLV_F_USK_MSG(TLV_FIELD) };
struct tlv_usk_icon { TLV_F_USK_ICON(TLV_FIELD) };
struct tlv_share { TLV_F_SHARE(TLV_FIELD) };
struct tlv_sysv_shm { TLV_F_SYSV_SHM(TLV_FIELD) };
struct tlv_hugetlb { TLV_F_HUGETLB(TLV_FIELD) };
struct tlv_shmat { TLV_F_SHMAT(TLV_FIELD) };
struct tlv_times { TLV_F_TIMES(TLV_FIELD) };
struct tlv_itimer { TLV_F_ITIMER(TLV_FIELD) };
struct tlv_ptimer { TLV_F_PTIMER(TLV_FIELD) };
struct tlv_priv { TLV_F_PRIV(TLV_FIELD) };
struct tlv_seccomp { TLV_F_SECCOMP(TLV_FIELD) };
struct tlv_sc_filter { TLV_F_SC_FILTER(TLV_FIELD) };
#undef TLV_FIELD

/*
 * ==== The tag table ====
 * X(NAME, number, kind, row fields or NONE, "meaning").  It expands into
 * the TLV_* enum, the names cr show prints, and the validator's kind and
 * row size for each tag.
 */
#define TLV_F_NONE(X)
#define TLV_TAGS(X) \
	X(PAD, 1, PAD, NONE, "filler so that the next value is page aligned") \
	X(END, 2, ROWS, END, "trailer, must be last: checksum and length") \
	X(TASK, 16, NEST, NONE, "one process") \
	X(PROC, 17, ROWS, PROC, "ids and simple per-process state") \
	X(CREDS, 18, ROWS, CREDS, "user and group ids") \
	X(GROUPS, 19, ROWS, GROUP, "supplementary groups") \
	X(COMM, 20, STR, NONE, "thread's command name (comm)") \
	X(CWD, 21, STR, NONE, "working directory") \
	X(ROOT, 22, STR, NONE, "root directory") \
	X(MM, 23, ROWS, MM, "memory layout fields for PR_SET_MM_MAP") \
	X(AUXV, 24, ROWS, AUXV, "auxiliary vector, AT_NULL included") \
	X(RLIMIT, 25, ROWS, RLIMIT, "resource limits") \
	X(SIGACT, 26, ROWS, SIGACT, "signal dispositions, one row per signal") \
	X(EXE, 27, NEST, NONE, "the executable (/proc/PID/exe): FSTAT, PATH") \
	X(VMA, 28, NEST, NONE, "one mapping: VMA_INFO, then PATH+FSTAT or NAME") \
	X(VMA_INFO, 29, ROWS, VMA, "mapping range, protection and kind") \
	X(FD, 30, NEST, NONE, "one file descriptor: FD_INFO, PATH, FSTAT, its kind's state, LOCK, FOWN") \
	X(FD_INFO, 31, ROWS, FD, "descriptor number, kind, flags, position") \
	X(PATH, 32, STR, NONE, "absolute path of a file") \
	X(FSTAT, 33, ROWS, FSTAT, "what the file looked like at dump time") \
	X(NAME, 34, STR, NONE, "kernel mapping name or anonymous mapping name") \
	X(THREAD, 35, NEST, NONE, "one thread: THREAD_INFO, REGS_*, XSAVE, SIGINFO") \
	X(THREAD_INFO, 36, ROWS, THREAD, "per-thread state") \
	X(REGS_X86_64, 37, ROWS, REGS_X86_64, "x86-64 user_regs_struct") \
	X(XSAVE, 38, BYTES, NONE, "x86 XSAVE area, uabi (non-compacted) format") \
	X(SIGINFO, 39, ROWS, SIGINFO, "pending signals with their siginfo") \
	X(REGS_AARCH64, 40, ROWS, REGS_AARCH64, "aarch64 user_pt_regs + orig_x0, tls") \
	X(FPSIMD, 41, BYTES, NONE, "aarch64 user_fpsimd_state") \
	X(PAC_KEYS, 42, BYTES, NONE, "aarch64 pointer-auth keys: APIA APIB APDA APDB APGA (16 bytes each), enabled-keys mask (8)") \
	X(PAGEMAP, 48, NEST, NONE, "which pages the next PAGES record holds") \
	X(OWNER, 49, ROWS, OWNER, "whose pages: a TASK or an OBJ") \
	X(RUNS, 50, ROWS, RUN, "runs of consecutive pages saved, ascending") \
	X(PAGES, 51, PAGES, NONE, "page contents, page aligned in the stream") \
	X(IRUNS, 52, ROWS, RUN, "runs identical to the parent's (kept copy-on-write)") \
	X(PIPE, 56, NEST, NONE, "a pipe: PIPE_INFO, DATA") \
	X(PIPE_INFO, 57, ROWS, PIPE, "pipe id and capacity") \
	X(DATA, 58, BYTES, NONE, "bytes queued in the pipe, oldest first") \
	X(OBJ, 59, NEST, NONE, "a file object: OBJ_INFO, PATH (unlinked file) or NAME (memfd)") \
	X(OBJ_INFO, 60, ROWS, OBJ, "id, kind, size, mode, seals") \
	X(EVENTFD, 61, ROWS, EVENTFD, "an eventfd's state") \
	X(SIGNALFD, 62, ROWS, SIGNALFD, "a signalfd's mask") \
	X(TIMERFD, 63, ROWS, TIMERFD, "a timerfd's state") \
	X(EPOLL_TFD, 64, ROWS, EPOLL_TFD, "an epoll's registered fds") \
	X(WATCH, 65, NEST, NONE, "an inotify watch: WATCH_INFO, PATH") \
	X(WATCH_INFO, 66, ROWS, WATCH, "watch descriptor and mask") \
	X(TIMES, 120, ROWS, TIMES, "the clocks when the process was dumped") \
	X(ITIMER, 121, ROWS, ITIMER, "armed interval timers (setitimer, alarm)") \
	X(PTIMER, 122, ROWS, PTIMER, "POSIX timers (timer_create), ascending id") \
	X(PRIV, 123, ROWS, PRIV, "all thread credentials beyond ids: capability sets, securebits, no_new_privs") \
	X(SECCOMP, 124, ROWS, SECCOMP, "a thread's seccomp mode") \
	X(SC_FILTER, 125, ROWS, SC_FILTER, "its seccomp filters, oldest first") \
	X(SC_PROG, 126, BYTES, NONE, "the filters' BPF programs, concatenated") \
	X(HUGETLB, 127, ROWS, HUGETLB, "OBJ: on hugetlbfs (shared MAP_HUGETLB memory, SHM_HUGETLB, MFD_HUGETLB), its page size") \
	X(USK, 80, NEST, NONE, "a unix socket: USK_INFO, USK_NAME, PATH, USK_DATA, USK_MSGS, USK_FROM, USK_ICONS, USK_PEER_NAME, USK_FILTER") \
	X(USK_INFO, 81, ROWS, USK, "unix socket type, state, peer, options") \
	X(USK_NAME, 82, BYTES, NONE, "bound address: sun_path bytes, abstract ones start with NUL") \
	X(USK_DATA, 83, BYTES, NONE, "bytes queued for reading, oldest first") \
	X(USK_MSGS, 84, ROWS, USK_MSG, "datagram and seqpacket: the messages in USK_DATA") \
	X(USK_ICONS, 85, ROWS, USK_ICON, "listening: connections queued, not accepted, in order") \
	X(USK_PEER_NAME, 86, BYTES, NONE, "--ext-unix-sk: the outside peer's address") \
	X(USK_FILTER, 87, BYTES, NONE, "classic BPF socket filter: struct sock_filter[] (u16 code, u8 jt, u8 jf, u32 k)") \
	X(USK_FROM, 88, BYTES, NONE, "datagram: the senders' addresses of USK_MSGS, one after the other") \
	X(SOCK, 100, ROWS, SOCK, "an inet socket: family, type, state, addresses") \
	X(SOCKOPT, 101, ROWS, SOCKOPT, "socket options that differ from a new socket's") \
	X(IFNAME, 102, STR, NONE, "SO_BINDTODEVICE interface name") \
	X(TCP, 103, ROWS, TCP, "an established connection's TCP_REPAIR state") \
	X(SNDQ, 104, BYTES, NONE, "TCP send queue, oldest first, unacknowledged included") \
	X(RCVQ, 105, BYTES, NONE, "TCP receive queue, not read yet") \
	X(NETLINK, 106, ROWS, NETLINK, "a netlink socket") \
	X(NL_GROUPS, 107, ROWS, NL_GROUP, "netlink multicast groups joined") \
	X(PACKET, 108, ROWS, PACKET, "an AF_PACKET socket") \
	X(MCAST, 109, ROWS, MCAST, "multicast groups the socket joined (any source)") \
	X(DGRAMS, 110, BYTES, NONE, "UDP datagrams queued, oldest first; each: u64 family, port, addr0, addr1 (its source), len, then len bytes padded to 8") \
	X(NETLOCK, 111, ROWS, NETLOCK, "image: the dump's network lock, deleted at the end of the restore") \
	X(KSTATE, 140, ROWS, KSTATE, "TASK: prctl state, mlockall, oom_score_adj") \
	X(SPEC, 141, ROWS, SPEC, "TASK: speculation controls") \
	X(CGROUP, 142, STR, NONE, "TASK: its cgroup v2 path (0:: line of /proc/PID/cgroup)") \
	X(KTHREAD, 143, ROWS, KTHREAD, "THREAD: timer slack, io priority") \
	X(CPUS, 144, ROWS, CPUS, "THREAD: CPU affinity mask") \
	X(VMA_ADV, 145, ROWS, VMA_ADV, "VMA: madvise and mlock state, protection key") \
	X(TTY, 160, NEST, NONE, "a pseudo-terminal: TTY_INFO, TERMIOS?, TTY_IN?, TTY_OUT?") \
	X(TTY_INFO, 161, ROWS, TTY, "pty number, kind, modes, session, window size") \
	X(TERMIOS, 162, ROWS, TERMIOS, "the pty's termios2 (the master's is fixed raw)") \
	X(TTY_IN, 163, BYTES, NONE, "input queued for the slave's reader, oldest first") \
	X(TTY_OUT, 164, BYTES, NONE, "output queued for the master's reader, oldest first") \
	X(TIMERFD_AT, 180, ROWS, TIMERFD_AT, "when a timerfd's state was read") \
	X(LOCK, 181, ROWS, LOCK, "file locks this fd holds (dump --file-locks)") \
	X(FANOTIFY, 182, ROWS, FANOTIFY, "a fanotify group's flags") \
	X(FAN_MARK, 183, NEST, NONE, "a fanotify mark: FAN_MARK_INFO, PATH") \
	X(FAN_MARK_INFO, 184, ROWS, FAN_MARK, "what is marked, and for which events") \
	X(FOWN, 185, ROWS, FOWN, "who the fd signals for O_ASYNC I/O, and with which signal") \
	X(SHARE, 200, ROWS, SHARE, "what a process shares with its parent, not being its thread") \
	X(SYSV_SHM, 201, ROWS, SYSV_SHM, "a System V shm segment's id, key and owner") \
	X(SHMAT, 202, ROWS, SHMAT, "in a VMA of a System V shm segment: how it was attached") \
	X(MAC, 221, BYTES, NONE, "HMAC-SHA-256 of every byte before this record (--sign)") \
	X(PREDUMP, 230, ROWS, PREDUMP, "a pre-dump: memory only, a parent for a later dump") \
	X(PARENT, 231, STR, NONE, "parent image: pages not saved here are there (relative to this image's directory)") \
	X(PARENT_ID, 232, ROWS, END, "the parent image's END record, which identifies it") \
	X(TRACK, 233, ROWS, TRACK, "memory-change trackers left in the processes") \
	X(PRUNS, 234, ROWS, RUN, "runs present but unchanged since the parent image: their pages are there") \
	X(PAGES_CRC, 240, ROWS, PAGES_CRC, "right after PAGES: the CRC32C of its value alone")

enum tlv_kind { TLV_K_PAD = 1, TLV_K_ROWS, TLV_K_NEST, TLV_K_STR, TLV_K_BYTES,
		TLV_K_PAGES };

#define TLV_ENUM(name, num, kind, fields, doc) TLV_##name = num,
enum tlv_tag { TLV_TAGS(TLV_ENUM) };
#undef TLV_ENUM

#define TLV_COUNT1(name, doc) + 1
/* Number of u64 fields in a row of tag t (0 for tags that are not ROWS). */
static inline unsigned tlv_nfields(uint32_t t)
{
	switch (t) {
#define TLV_NF(name, num, kind, fields, doc) \
	case num: return 0 TLV_F_##fields(TLV_COUNT1);
	TLV_TAGS(TLV_NF)
#undef TLV_NF
	}
	return 0;
}

static inline enum tlv_kind tlv_kind(uint32_t t)
{
	switch (t) {
#define TLV_KD(name, num, kind, fields, doc) case num: return TLV_K_##kind;
	TLV_TAGS(TLV_KD)
#undef TLV_KD
	}
	return 0;
}

/* ==== CRC32C, bitwise-table form, shared by writer and reader ==== */
/* The table for the reflected polynomial 0x82f63b78 (Castagnoli). */
static inline void tlv_crc32c_table(uint32_t table[256])
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? c >> 1 ^ 0x82f63b78u : c >> 1;
		table[i] = c;
	}
}

static inline uint32_t tlv_crc32c_sw(uint32_t crc, const uint8_t *p, size_t n,
				     const uint32_t *table)
{
	crc = ~crc;
	while (n--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* For tools (t/run, fuzz): the checksum of an END record, table and all. */
static inline uint32_t tlv_crc32c(const uint8_t *p, size_t n)
{
	uint32_t table[256];

	tlv_crc32c_table(table);
	return tlv_crc32c_sw(0, p, n, table);
}

/*
 * ==== The restorer hand-off (not on disk) ====
 * cr fills one struct rst_args (followed by the arrays it points to) in the
 * restorer's area; the blob reads nothing else.  Every pointer is an
 * absolute address inside that area, already validated by cr.
 */
#define RST_MAX_SPECIAL	4	/* [vvar], [vvar_vclock], [vdso], spare */
#define RST_THREAD_STACK 16384	/* bytes of area stack per thread */

struct rst_vma {		/* one mapping of the image */
	uint64_t start, len;
	uint64_t prot;		/* final protection */
	uint64_t flags;		/* MAP_* without MAP_FIXED */
	uint64_t pgoff;		/* file offset in bytes */
	int64_t fd;		/* file or shmem to map here, -1 if premapped */
	uint64_t premap;	/* where cr built it, moved into place; 0 = map */
	uint64_t name;		/* address of anon name string, 0 if none */
	int64_t shmid;		/* >= 0: shmat() this SysV segment here */
	uint64_t shmflg;	/* its SHM_RDONLY, SHM_EXEC */
	uint64_t uffd_mode;	/* --lazy-pages: registered with args' uffd in
				 * this mode once in place; 0: not */
};

struct rst_special {		/* a kernel mapping ([vdso]...) to move */
	uint64_t cur, len;	/* where cr's copy is now */
	uint64_t park;		/* a spot inside the restorer area */
	uint64_t dst;		/* where the image had it, 0 = unmap */
};

struct rst_sig {		/* a pending signal to queue */
	uint64_t shared;	/* to the process, else to the thread */
	uint8_t info[128];	/* siginfo_t */
};

struct rst_lock {		/* a file lock to take (struct flock layout) */
	int64_t fd;
	int64_t cmd;		/* F_SETLK, F_OFD_SETLK, or 0: flock(fd, type) */
	int16_t type, whence;	/* F_RDLCK/F_WRLCK; flock: LOCK_SH/LOCK_EX|LOCK_NB */
	int32_t pad;
	int64_t start, len;
	int32_t pid, pad2;
};

struct rst_thread {		/* per thread; [0] is the main thread */
	uint64_t tid;
	uint64_t stack_top;	/* its stack in the area */
	uint64_t sigframe;	/* rt_sigreturn frame, arch layout */
	uint64_t tls[2];	/* arch TLS: fs_base/gs_base or tpidr_el0 */
	uint64_t rseq_addr, rseq_len, rseq_sig;
	uint64_t robust_head, robust_len;
	uint64_t tid_addr;
	uint64_t nsig, sigs;	/* struct rst_sig[] */
	char comm[16];
};

struct rst_adv {		/* advice for one mapping (5b) */
	uint64_t start, len, prot;
	uint64_t advice;	/* TLV_ADV_* */
	uint64_t pkey;		/* 0: the default key */
};

struct rst_args {
	uint64_t size;		/* sizeof(struct rst_args), checked by the blob */
	uint64_t stack_top;	/* offset 8 is used by the entry code: keep */
	uint64_t area, area_len;	/* the restorer area itself: kept */
	uint64_t task_size;	/* user address space end */
	int64_t status_fd;	/* step code goes here on failure */
	uint64_t pid;
	uint64_t nvmas, vmas;	/* struct rst_vma[], ascending */
	uint64_t nspecial;
	struct rst_special special[RST_MAX_SPECIAL];
	uint64_t mm_map;	/* struct prctl_mm_map, auxv pointer set */
	uint64_t mm_map_size;
	uint64_t nclose, close_fds;	/* int64_t[] closed before the end */
	uint64_t nthreads, threads;	/* struct rst_thread[] */
	uint64_t clone_flags;	/* for the threads */
	uint64_t fault_step;	/* tests: fail at this enum rst_step, 0 = never */
	uint64_t nlocks, locks;	/* struct rst_lock[], taken after the close */
	/* ---- memory advice, protection keys, mm-wide prctls ---- */
	uint64_t nadvs, advs;	/* struct rst_adv[], once mappings are final */
	uint64_t pkeys;		/* protection keys to allocate, bit n = key n */
	uint64_t mlockall;	/* MCL_* flags to set, 0 = none */
	uint64_t mdwe;		/* PR_SET_MDWE flags, set last; 0 = none */
	uint64_t dumpable;	/* PR_SET_DUMPABLE value + 1; 0 = leave */
	/* ---- end of the memory advice ---- */
	/* timers, credentials, seccomp (restorer.c, last steps) */
	uint64_t ntimers, timers;	/* struct rst_ptimer[], ascending id */
	uint64_t dump_realtime;	/* CLOCK_REALTIME at dump, ns: the downtime */
	uint64_t timer_ids_linear;	/* tests: skip PR_TIMER_CREATE_RESTORE_IDS */
	uint64_t creds;		/* struct rst_creds, 0: keep cr's */
	uint64_t seccomp;	/* struct rst_seccomp[nthreads], 0: none */
	uint64_t seccomp_common;	/* filters all threads share, made
					 * before the threads: they inherit them */
	uint64_t nitimers;	/* interval timers: */
	uint64_t itimer[3][3];	/* which, value_ns (less downtime if REAL), interval_ns */
	int64_t uffd;		/* --lazy-pages: the userfaultfd the lazy
				 * mappings are registered with (missing
				 * mode) once moved into place; -1: none */
};

/* what the blob sets last, see restorer.c */
struct rst_ptimer {		/* a POSIX timer, made with its id */
	int64_t id, clock;
	uint64_t notify, signo, sigval, tid;
	uint64_t armed;		/* 0: created disarmed */
	int64_t delta_ns;	/* first expiry: the clock's now + delta, */
	uint64_t wall;		/* less the downtime if 1 (not a CPU clock) */
	uint64_t interval_ns;
};

#define RST_CRED_SECBITS_TMP	1	/* keep caps over the id changes */
#define RST_CRED_INH		2	/* inheritable set, before ambient */
#define RST_CRED_AMB		4
#define RST_CRED_BND		8	/* drop bnd_drop from the bounding set */
#define RST_CRED_GROUPS		16
#define RST_CRED_IDS		32
#define RST_CRED_SECBITS	64
#define RST_CRED_CAPS		128	/* final capset */
#define RST_CRED_NNP		256
struct rst_creds {		/* every thread applies them to itself */
	uint64_t todo;		/* RST_CRED_* */
	uint64_t uid, euid, suid, fsuid, gid, egid, sgid, fsgid;
	uint64_t ngroups, groups;	/* uint32_t gid[] */
	uint64_t cur_eff, cur_prm;	/* the restoring process's own */
	uint64_t inh, prm, eff, amb, bnd_drop, securebits;
};

struct rst_filter {		/* one seccomp filter */
	uint64_t flags, len;	/* len: struct sock_filter count */
	uint64_t prog;		/* struct sock_filter[] */
};

struct rst_seccomp {		/* per thread, indexed like threads[] */
	uint64_t mode;		/* 0, 1 strict, 2 filters */
	uint64_t nfilters, filters;	/* struct rst_filter[], oldest first */
};

/* Step codes the blob reports; cr turns them into messages. */
#define RST_STEPS(X) \
	X(ARGS, "bad argument block") \
	X(PARK, "moving a kernel mapping aside") \
	X(MOVE, "moving a premapped mapping into place") \
	X(UNMAP, "unmapping cr") \
	X(MAP, "creating a mapping") \
	X(PROTECT, "setting the final protection") \
	X(NAME, "naming an anonymous mapping") \
	X(SPECIAL, "moving a kernel mapping into place") \
	X(MM, "prctl(PR_SET_MM_MAP)") \
	X(LAZY, "registering lazy memory with the page server's userfaultfd") \
	X(CLONE, "creating a thread") \
	X(RSEQ, "registering rseq") \
	X(TLS, "setting the thread pointer") \
	X(THREAD, "setting up a thread (robust list, tid address, name)") \
	X(SIGNAL, "queueing a pending signal") \
	X(CLOSE, "closing cr's descriptors") \
	X(SIGRETURN, "rt_sigreturn") \
	X(TIMERS, "creating POSIX timers with their ids") \
	X(CREDS, "setting ids, groups, capabilities, securebits") \
	X(SECCOMP, "installing seccomp filters") \
	X(PKEY, "allocating a protection key") \
	X(ADVISE, "madvise, mlock or pkey_mprotect of a mapping") \
	X(PRCTL, "mlockall, PR_SET_MDWE or PR_SET_DUMPABLE") \
	X(LOCK, "taking a file lock")
#define RST_STEP_ENUM(n, s) RST_STEP_##n,
enum rst_step { RST_STEP_NONE, RST_STEPS(RST_STEP_ENUM) };
#undef RST_STEP_ENUM

#define RST_STATUS_MAGIC 0x43525354u
struct rst_status {		/* written to status_fd on failure */
	uint32_t magic;		/* RST_STATUS_MAGIC */
	uint32_t step;		/* enum rst_step */
	int32_t err;		/* -errno, or 0 */
	uint64_t detail;	/* address or index the step was on */
};

#endif
