# aarch64 cross build and qemu test rig, included by the top-level
# Makefile (paths are relative to the repository root).
#   make tests-aarch64    t/bin-aarch64/NAME.musl for each t/*.c, and t/run
#   make test-aarch64     run the suite on Debian's arm64 kernel in qemu
#   make test-kernel KVER=6.1   run it on Debian's amd64 kernel in qemu
#   make clean-aarch64
# clang, lld and llvm build static musl programs against a sysroot made
# of Debian's arm64 packages; the guest kernel and busybox are Debian's
# too.  Whatever is missing is installed with apt-get (as root).

# keep the including Makefile's default goal
_a64_goal := $(.DEFAULT_GOAL)

AARCH64_SYSROOT ?= build/aarch64-sysroot
AARCH64_SYSROOT_PKGS ?= musl-dev:arm64 linux-libc-dev:arm64 libgcc-12-dev:arm64
AARCH64_GUEST ?= build/aarch64-guest
AARCH64_KERNEL_PKG ?= linux-image-cloud-arm64:arm64
AARCH64_BUSYBOX_PKG ?= busybox-static:arm64
# built by the top-level Makefile
AARCH64_CR ?= build/aarch64/cr
# tests that are x86-64 assembly: on aarch64 a stand-in says SKIP
AARCH64_T_X86ONLY ?= regs-sse regs-avx512
# runner arguments in the guest: it has neither glibc, python nor bash
GUEST_T_ARGS ?= musl
# the whole guest run, in seconds: the suite took 24 min under TCG (with
# 33 of its 172 cases failing, several by timing out)
GUEST_TIMEOUT ?= 2400
GUEST_MEM ?= 2048

# A tool by its plain name, else its newest versioned name (ld.lld-14).
_a64_tool = $(or $(shell command -v $(1) 2>/dev/null),$(lastword $(shell ls -v /usr/bin/$(1)-[0-9]* 2>/dev/null)),$(1))
AARCH64_CLANG ?= $(call _a64_tool,clang)
AARCH64_LD ?= $(call _a64_tool,ld.lld)
AARCH64_OBJCOPY ?= $(call _a64_tool,llvm-objcopy)
AARCH64_READELF ?= $(call _a64_tool,llvm-readelf)
AARCH64_NM ?= $(call _a64_tool,llvm-nm)

# The UAPI headers (<linux/...>, <asm/...>) of linux-libc-dev:arm64.
_a64_sr = $(abspath $(AARCH64_SYSROOT))
_a64_uapi = -isystem $(_a64_sr)/usr/include/aarch64-linux-gnu \
	-isystem $(_a64_sr)/usr/include
# Static musl programs.  --gcc-toolchain: libgcc and crtbegin from the
# sysroot, never the host's cross gcc.
AARCH64_CC ?= $(AARCH64_CLANG) --target=aarch64-linux-musl \
	--sysroot=$(_a64_sr) --gcc-toolchain=$(_a64_sr)/usr \
	-fuse-ld=lld --ld-path=$(AARCH64_LD) \
	-Wno-unused-command-line-argument \
	-isystem $(_a64_sr)/usr/include/aarch64-linux-musl $(_a64_uapi) \
	-B$(_a64_sr)/usr/lib/aarch64-linux-musl \
	-L$(_a64_sr)/usr/lib/aarch64-linux-musl -static
# The freestanding restorer blob: UAPI headers and clang's own only.
AARCH64_BLOB_CC ?= $(AARCH64_CLANG) --target=aarch64-linux-gnu \
	-ffreestanding -nostdlib --sysroot=$(_a64_sr) \
	--gcc-toolchain=$(_a64_sr)/usr $(_a64_uapi)

# ---- toolchain and sysroot ----

aarch64-tools:
	@t/aarch64/need clang:clang ld.lld:lld llvm-objcopy:llvm \
		llvm-readelf:llvm llvm-nm:llvm

$(AARCH64_SYSROOT)/.stamp: | aarch64-tools
	@echo "  SYSROOT $(@D)"
	@rm -rf $(@D)
	@t/aarch64/fetch-debs $(@D) $(AARCH64_SYSROOT_PKGS)
	@touch $@

# ---- tests ----

AARCH64_T_NAMES := $(filter-out run,$(basename $(notdir $(wildcard t/*.c))))
AARCH64_T_BINS := $(AARCH64_T_NAMES:%=t/bin-aarch64/%.musl) t/bin-aarch64/run
_a64_stubs := $(filter $(AARCH64_T_X86ONLY:%=t/bin-aarch64/%.musl),$(AARCH64_T_BINS))
# t/t.mk's flags; its -m options (-mavx512f) are x86 ones
_a64_tflags = $(or $(T_CFLAGS),-O1 -g -Wall -Wextra -Werror)

tests-aarch64: $(AARCH64_T_BINS)

t/bin-aarch64/%.musl: t/%.c $(wildcard t/*.h) | $(AARCH64_SYSROOT)/.stamp
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(AARCH64_CC) $(_a64_tflags) $(filter-out -m%,$(T_XFLAGS_$*)) -o $@ $<

$(_a64_stubs): t/bin-aarch64/%.musl: t/aarch64/skip.c | $(AARCH64_SYSROOT)/.stamp
	@mkdir -p $(@D)
	@echo "  CC      $@ (stand-in: SKIP)"
	@$(AARCH64_CC) $(_a64_tflags) -o $@ $<

t/bin-aarch64/run: t/run.c | $(AARCH64_SYSROOT)/.stamp
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(AARCH64_CC) $(_a64_tflags) -o $@ $<

# ---- the guest ----

# In a build for another ARCH, the aarch64 cr comes from a sub-make.
ifneq ($(ARCH),aarch64)
build/aarch64/cr: _a64_always | $(AARCH64_SYSROOT)/.stamp
	@$(MAKE) --no-print-directory ARCH=aarch64 \
		AARCH64_SYSROOT=$(AARCH64_SYSROOT) build/aarch64/cr
endif

# apt-get runs one at a time, also under make -j
aarch64-guest-tools: | aarch64-tools
	@t/aarch64/need qemu-system-aarch64:qemu-system-arm cpio:cpio

$(AARCH64_GUEST)/vmlinuz: | $(AARCH64_SYSROOT)/.stamp
	@echo "  KERNEL  $(AARCH64_KERNEL_PKG)"
	@rm -rf $(@D)/kernel
	@t/aarch64/fetch-debs -p ./boot $(@D)/kernel $(AARCH64_KERNEL_PKG)
	@set -- $(@D)/kernel/boot/vmlinuz-*; cp "$$1" $@; \
		echo "          $${1##*/}"
	@rm -rf $(@D)/kernel

$(AARCH64_GUEST)/busybox: | $(AARCH64_GUEST)/vmlinuz
	@echo "  BUSYBOX $(AARCH64_BUSYBOX_PKG)"
	@rm -rf $(@D)/bb
	@t/aarch64/fetch-debs -p ./bin/busybox $(@D)/bb $(AARCH64_BUSYBOX_PKG)
	@cp $(@D)/bb/bin/busybox $@
	@rm -rf $(@D)/bb

# Packed anew each time: GUEST_T_ARGS is in it.
$(AARCH64_GUEST)/initramfs.cpio.gz: $(AARCH64_CR) $(AARCH64_T_BINS) \
		$(AARCH64_GUEST)/busybox t/aarch64/init _a64_always \
		| aarch64-guest-tools
	@echo "  CPIO    $@"
	@rm -rf $(@D)/t-bin && mkdir -p $(@D)/t-bin
	@cp $(filter %.musl,$(AARCH64_T_BINS)) $(@D)/t-bin/
	@t/aarch64/mkinitramfs -o $@ -b $(AARCH64_GUEST)/busybox \
		-c $(AARCH64_CR) -r t/bin-aarch64/run -t $(@D)/t-bin \
		-a "$(GUEST_T_ARGS)"
	@rm -rf $(@D)/t-bin

test-aarch64: $(AARCH64_GUEST)/vmlinuz $(AARCH64_GUEST)/initramfs.cpio.gz \
		| aarch64-guest-tools
	@GUEST_TIMEOUT=$(GUEST_TIMEOUT) GUEST_MEM=$(GUEST_MEM) \
		t/aarch64/boot aarch64 $(AARCH64_GUEST)/vmlinuz \
		$(AARCH64_GUEST)/initramfs.cpio.gz

# ---- the same on Debian's amd64 kernel (x86_64 cr, musl and glibc tests) ----

KVER ?= 6.1
KERNEL_GUEST ?= build/kernel-$(KVER)
KERNEL_CR ?= cr
GUEST_T_ARGS_X86 ?= musl glibc
# the newest image of that version that the archive has (6.1.0-56-amd64)
_kre = ^linux-image-$(subst .,\.,$(KVER))\.[0-9+a-z]*(-[0-9]+)?-amd64$$
_kpkg = apt-cache search --names-only '$(_kre)' 2>/dev/null | \
	sed 's/ .*//' | sort -V | tail -n 1

kernel-guest-tools:
	@t/aarch64/need qemu-system-x86_64:qemu-system-x86 cpio:cpio

$(KERNEL_GUEST)/vmlinuz: | kernel-guest-tools
	@pkg=$$($(_kpkg)); \
	if [ -z "$$pkg" ]; then \
		apt-get update -qq >/dev/null 2>&1; \
		pkg=$$($(_kpkg)); \
	fi; \
	if [ -z "$$pkg" ]; then \
		echo "test-kernel: no linux-image-$(KVER)*-amd64 in the archive"; \
		exit 1; \
	fi; \
	echo "  KERNEL  $$pkg"; \
	rm -rf $(@D)/kernel; \
	t/aarch64/fetch-debs -p ./boot $(@D)/kernel $$pkg
	@set -- $(@D)/kernel/boot/vmlinuz-*; cp "$$1" $@
	@rm -rf $(@D)/kernel

$(KERNEL_GUEST)/busybox: | $(KERNEL_GUEST)/vmlinuz
	@rm -rf $(@D)/bb
	@t/aarch64/fetch-debs -p ./bin/busybox $(@D)/bb busybox-static
	@cp $(@D)/bb/bin/busybox $@
	@rm -rf $(@D)/bb

$(KERNEL_GUEST)/initramfs.cpio.gz: $(KERNEL_CR) tests $(KERNEL_GUEST)/busybox \
		t/aarch64/init _a64_always | kernel-guest-tools
	@echo "  CPIO    $@"
	@t/aarch64/mkinitramfs -o $@ -b $(KERNEL_GUEST)/busybox -c $(KERNEL_CR) \
		-r t/run -t t/bin -a "$(GUEST_T_ARGS_X86)" -l

test-kernel: $(KERNEL_GUEST)/vmlinuz $(KERNEL_GUEST)/initramfs.cpio.gz \
		| kernel-guest-tools
	@GUEST_TIMEOUT=$(GUEST_TIMEOUT) GUEST_MEM=$(GUEST_MEM) \
		t/aarch64/boot x86_64 $(KERNEL_GUEST)/vmlinuz \
		$(KERNEL_GUEST)/initramfs.cpio.gz

clean-aarch64:
	rm -rf t/bin-aarch64 build/aarch64 $(AARCH64_GUEST) $(AARCH64_SYSROOT) \
		build/kernel-*

_a64_always:

.PHONY: aarch64-tools aarch64-guest-tools kernel-guest-tools tests-aarch64 \
	test-aarch64 test-kernel clean-aarch64 _a64_always

.DEFAULT_GOAL := $(_a64_goal)
