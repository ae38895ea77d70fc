# cr: one static binary built with musl, plus the restorer blob inside it.
#   make            build ./cr
#   make test       build cr and the tests, run the suite (as root)
#   make demo       dump and restore a small demo process
#   make test-glibc build build/cr-glibc (static, glibc) and run restores with it
ARCH     ?= x86_64
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror
# The blob is freestanding and position independent; see restorer.c.
BLOB_CFLAGS := -O2 -std=gnu11 -ffreestanding -nostdlib -fPIE -fvisibility=hidden \
	-fno-stack-protector -fno-asynchronous-unwind-tables -fno-unwind-tables \
	-fno-jump-tables -fno-builtin -Wall -Wextra -Werror

.DEFAULT_GOAL := all

# Test builds and the aarch64 cross tools (variables used by rules below).
-include t/t.mk
-include t/aarch64.mk
-include bench/bench.mk
-include fuzz/fuzz.mk

ifeq ($(ARCH),x86_64)
B        := build
OUT      := cr
CC       := musl-gcc
CFLAGS   += -isystem $(B)/include
BLOB_CC  ?= gcc
BLOB_CFLAGS += -fno-reorder-blocks-and-partition -fcf-protection=none
LD       := ld
OBJCOPY  := objcopy
READELF  := readelf
NM       := nm
HEADERS  := $(B)/include/.stamp
else ifeq ($(ARCH),aarch64)
# Cross build with clang and a musl sysroot from Debian's arm64 packages
# (t/aarch64.mk makes it).
B        := build/aarch64
OUT      := $(B)/cr
CC        = $(AARCH64_CC)
BLOB_CC   = $(AARCH64_BLOB_CC)
BLOB_CFLAGS += -mgeneral-regs-only
LD        = $(AARCH64_LD)
OBJCOPY   = $(AARCH64_OBJCOPY)
READELF   = $(AARCH64_READELF)
NM        = $(AARCH64_NM)
HEADERS   = $(AARCH64_SYSROOT)/.stamp
else
$(error ARCH must be x86_64 or aarch64)
endif

all: $(OUT)

# Linux UAPI headers (Debian's linux-libc-dev) for musl-gcc, which does
# not search /usr/include.
$(B)/include/.stamp:
	mkdir -p $(B)/include
	ln -sfn /usr/include/linux $(B)/include/linux
	ln -sfn /usr/include/asm-generic $(B)/include/asm-generic
	ln -sfn /usr/include/$(shell $(BLOB_CC) -dumpmachine)/asm $(B)/include/asm
	touch $@

$(B)/restorer.o: restorer.c tlv.h | $(HEADERS)
	@mkdir -p $(B)
	$(BLOB_CC) $(BLOB_CFLAGS) -c restorer.c -o $@

$(B)/arch.o: arch_$(ARCH).S | $(HEADERS)
	@mkdir -p $(B)
	$(BLOB_CC) $(BLOB_CFLAGS) -c $< -o $@

# Linked as PIE so that any absolute address would show up as a dynamic
# relocation; the checks fail the build on relocations, writable data, or
# code the flat binary would not hold.
$(B)/restorer.elf: $(B)/arch.o $(B)/restorer.o
	$(LD) -pie --no-dynamic-linker -z norelro -z noseparate-code --build-id=none \
		-e rst_entry $^ -o $@
	@$(READELF) -rW $@ | grep -q 'There are no relocations' || \
		{ echo "restorer blob has relocations:"; $(READELF) -rW $@; rm -f $@; exit 1; }
	@! $(READELF) -SW $@ | grep -E '\.(data|bss|got|rodata|tdata|tbss|init_array)' || \
		{ echo "restorer blob has data sections (not allowed)"; rm -f $@; exit 1; }

$(B)/restorer.bin: $(B)/restorer.elf
	$(OBJCOPY) -O binary -j .text $< $@

# The blob as bytes in cr, with the entry point's offset.  It is copied to
# a page boundary, so it keeps .text's offset in its page: aarch64 code
# addresses by page (adrp).
$(B)/blob.o: $(B)/restorer.bin $(B)/restorer.elf Makefile
	text=$$($(READELF) -SW $(B)/restorer.elf | awk '{ for (i = 1; i < NF; i++) if ($$i == ".text") print $$(i + 2) }'); \
	entry=$$($(NM) $(B)/restorer.elf | awk '$$3 == "rst_entry" { print $$1 }'); \
	printf '.section .rodata\n.balign 64\n.globl restorer_blob, restorer_blob_end, restorer_entry_off\nrestorer_blob:\n.skip 0x%s & 0xfff\n.incbin "%s"\nrestorer_blob_end:\n.balign 8\n.globl restorer_blob_size\nrestorer_blob_size:\n.quad restorer_blob_end - restorer_blob\nrestorer_entry_off:\n.quad 0x%s - (0x%s & ~0xfff)\n.section .note.GNU-stack,"",%%progbits\n' \
		$$text $(B)/restorer.bin $$entry $$text > $(B)/blob.S
	$(CC) -c $(B)/blob.S -o $@

$(OUT): cr.c tlv.h $(B)/blob.o | $(HEADERS)
	$(CC) $(CFLAGS) -static cr.c $(B)/blob.o -o $@.tmp
	mv $@.tmp $@
	@echo "$@: $$(wc -c < $@) bytes, $(ARCH), static"


# Packages from Debian's archive, installed only when something is missing.
PKGS := musl-tools gcc libc6-dev make binutils linux-libc-dev python3 procps tmux iproute2 redis-server nginx-light
deps:
	@if ! command -v musl-gcc >/dev/null || ! command -v gcc >/dev/null || \
	   ! command -v python3 >/dev/null || ! command -v top >/dev/null || \
	   ! command -v tmux >/dev/null || ! command -v ip >/dev/null || \
	   ! command -v redis-server >/dev/null || ! command -v nginx >/dev/null || \
	   [ ! -e /usr/include/linux/ptrace.h ] || \
	   [ ! -e /usr/lib/$$(gcc -dumpmachine)/libc.a ]; then \
		echo "installing $(PKGS)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq $(PKGS) >/dev/null; \
	fi

test: deps
	$(MAKE) cr tests
	t/run
	CR=./cr bash t/check-tree.sh
	CR=./cr bash t/predump.sh
	CR=./cr bash t/migrate.sh
	CR=./cr bash t/cgroup-manage.sh
	CR=./cr bash t/tty-tmux.sh
	CR=./cr bash t/nonroot.sh
	CR=./cr bash t/hugetlb-pool.sh
	CR=./cr bash t/sign.sh
	CR=./cr bash t/lazy.sh
	$(MAKE) test-glibc

# cr built with glibc instead of musl (static; the C library registers
# rseq for cr's thread, which a restore must drop before the blob runs),
# tried on a few restores of every kind.
GLIBC_CASES ?= -m dump,snap,twice,pipe,fg counter. thread-2. rseq. tree-pipe. fd-shared.
$(B)/cr-glibc: cr.c tlv.h $(B)/blob.o | $(HEADERS)
	$(CC_GLIBC) $(CFLAGS) -static cr.c $(B)/blob.o -o $@
test-glibc: $(B)/cr-glibc tests
	CR=$(B)/cr-glibc t/run $(GLIBC_CASES)

# A bounded aarch64 run for CI (a few minutes under qemu's emulation):
# every kind of state once, in dump and chain modes.  The whole suite:
# make test-aarch64.
AARCH64_QUICK := -m dump,chain counter.musl mm-file-private.musl mm-prot-none.musl mm-brk.musl mm-stack-deep.musl sig-actions.musl sig-pending.musl rlimits.musl cwd-umask.musl fd-files.musl sleep-restart.musl rseq.musl proc-misc.musl thread-2.musl thread-blocked.musl thread-state.musl tree-depth.musl tree-sid-pgid.musl tree-zombie.musl tree-pipe.musl shm-anon.musl fd-shared.musl
test-aarch64-quick:
	$(MAKE) test-aarch64 GUEST_T_ARGS="$(AARCH64_QUICK)"

# Everything test-aarch64 fetches and installs, without running it.
aarch64-prep: aarch64-guest-tools $(AARCH64_GUEST)/vmlinuz $(AARCH64_GUEST)/busybox

# A shell loop is dumped (and killed), shown, restored with its PID, and
# asked to stop; it says how far it counted.  One bash runs it all, so the
# dumped process is its child and is reaped at once, freeing its PID.
demo: deps
	$(MAKE) cr
	@bash -c 'for fd in $$(ls /proc/$$$$/fd); do [ $$fd -gt 2 ] && eval "exec $$fd>&-"; done; \
	set -e; D=/tmp/cr-demo; rm -rf $$D; mkdir -p $$D; \
	echo "--- start a counting loop"; \
	setsid bash -c "i=0; trap \"echo stopped at \\\$$i; exit 0\" TERM; while :; do i=\$$((i+1)); done" </dev/null >$$D/out 2>&1 & \
	P=$$!; sleep 1; \
	echo "--- cr dump -t $$P -D $$D"; ./cr dump -t $$P -D $$D; \
	wait $$P || true; echo "--- pid $$P is gone: $$(kill -0 $$P 2>&1)"; \
	echo "--- cr show $$D (start of it)"; ./cr show $$D | head -6; \
	echo "--- cr restore -D $$D -d"; ./cr restore -D $$D -d --pidfile $$D/pid; \
	echo "--- running again as pid $$(cat $$D/pid), state $$(cut -d" " -f3 /proc/$$P/stat)"; \
	sleep 1; kill -TERM $$P; sleep 0.5; echo "--- its output: $$(cat $$D/out)"'

clean: clean-tests
	rm -rf $(B) cr

.PHONY: all deps test test-glibc demo clean test-aarch64-quick aarch64-prep
