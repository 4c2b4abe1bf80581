# SPDX-License-Identifier: GPL-2.0
# portwatch: BPF objects -> one linked object -> skeleton -> ./portwatch.

OUTPUT ?= build
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= cc
HOST_ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
ARCH ?= $(HOST_ARCH)
VMLINUX := vmlinux/$(ARCH)/vmlinux.h

# System include dirs clang needs for -target bpf (asm/types.h and friends).
CLANG_BPF_SYS_INCLUDES ?= $(shell $(CLANG) -v -E - </dev/null 2>&1 \
	| sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')

# `make V=1` shows every command.
ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

HARDENING := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror $(HARDENING) -I$(OUTPUT) -Ibpf -Iuser
LDFLAGS += -pie -Wl,-z,relro,-z,now
LDLIBS := -lbpf -lelf -lz -ljson-c -lncurses -levent_extra -levent_core
PORTWATCH := portwatch
TOOLS := $(OUTPUT)/sockop

# `make ARCH=arm64` on an x86_64 machine cross-builds build/arm64/portwatch,
# sockop and tests/ethstat, statically linked (what the arm64 vmtest guests
# run), with Debian's aarch64-linux-gnu-gcc against Debian's arm64 -dev
# packages unpacked into a sysroot of the build's own (tools/debarchive): the
# machine's dpkg needs no foreign architecture.
ifneq ($(ARCH),$(HOST_ARCH))
ifneq ($(ARCH)-$(HOST_ARCH),arm64-x86)
$(error ARCH=$(ARCH) on $(HOST_ARCH): the cross build is arm64 on x86 only)
endif
OUTPUT := build/arm64
CC := aarch64-linux-gnu-gcc
SYSROOT := $(OUTPUT)/sysroot
SYSROOT_STAMP := $(SYSROOT)/.unpacked
SYSROOT_PKGS := libbpf-dev libelf-dev zlib1g-dev libjson-c-dev libncurses-dev libevent-dev
CFLAGS += -idirafter $(SYSROOT)/usr/include
LDFLAGS := -static-pie -Wl,-z,relro,-z,now -L$(SYSROOT)/usr/lib/aarch64-linux-gnu
LDLIBS += -ltinfo
PORTWATCH := $(OUTPUT)/portwatch
TOOLS := $(OUTPUT)/sockop $(OUTPUT)/tests/ethstat
endif

BPF_SRCS := bpf/common.bpf.c bpf/portalloc.bpf.c bpf/connfail.bpf.c bpf/owner.bpf.c \
	bpf/portsearch.bpf.c bpf/drops.bpf.c bpf/ports.bpf.c
BPF_HDRS := $(wildcard bpf/*.h) $(VMLINUX)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/bpf/%.bpf.o,$(BPF_SRCS))

# Userspace: the library part (everything but main) is shared with the unit tests.
USER_LIB_SRCS := user/record.c user/filter.c user/util.c user/rungs.c user/progs.c user/session.c \
	user/cli.c user/hist.c user/dropreason.c user/ksyms.c user/dropctx.c user/netns.c \
	user/natclass.c user/ports.c user/conntrack.c user/ethtool.c user/container.c \
	user/metrics.c user/http.c
USER_CMD_SRCS := user/portwatch.c user/cmd_trace.c user/cmd_probes.c user/cmd_latency.c \
	user/cmd_drops.c user/cmd_ports.c user/cmd_check.c user/cmd_top.c user/cmd_serve.c
USER_LIB_OBJS := $(patsubst user/%.c,$(OUTPUT)/user/%.o,$(USER_LIB_SRCS))
USER_CMD_OBJS := $(patsubst user/%.c,$(OUTPUT)/user/%.o,$(USER_CMD_SRCS))
SKELS := $(OUTPUT)/portwatch.skel.h $(OUTPUT)/probe.skel.h

UNIT_TESTS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(wildcard tests/unit/test_*.c))
TEST_HELPERS := $(OUTPUT)/tests/ethstat $(OUTPUT)/tests/sockop-static
BENCH_HELPERS := $(OUTPUT)/bench/connloop

.PHONY: all clean deps run test vmtest vmtest-arm64 vmlinux format bench bench-smoke docs static man \
	install uninstall image
.DELETE_ON_ERROR:
.SECONDARY: $(SKELS) $(OUTPUT)/portwatch.bpf.o $(OUTPUT)/probe.bpf.o $(BPF_OBJS)

all: $(PORTWATCH) $(TOOLS)

$(OUTPUT)/bpf $(OUTPUT)/user $(OUTPUT)/tests:
	mkdir -p $@

$(OUTPUT)/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) | $(OUTPUT)/bpf
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_$(ARCH) \
		-I$(dir $(VMLINUX)) -Ibpf $(CLANG_BPF_SYS_INCLUDES) -c $< -o $@

$(OUTPUT)/portwatch.bpf.o: $(BPF_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(BPFTOOL) gen object $@ $^

$(OUTPUT)/probe.bpf.o: $(OUTPUT)/bpf/probe.bpf.o
	$(call msg,LINK,$@)
	$(Q)$(BPFTOOL) gen object $@ $^

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

$(OUTPUT)/user/%.o: user/%.c $(wildcard user/*.h) bpf/portwatch.h $(SKELS) | $(OUTPUT)/user $(SYSROOT_STAMP)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(PORTWATCH): $(USER_LIB_OBJS) $(USER_CMD_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(OUTPUT)/tests/test_%: tests/unit/test_%.c $(USER_LIB_OBJS) | $(OUTPUT)/tests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -lcmocka -o $@

# test_netns stands in for setns() to fail the way back from a netns.
$(OUTPUT)/tests/test_netns: LDFLAGS += -Wl,--wrap=setns

$(OUTPUT)/tests/ethstat: tests/ethstat.c $(OUTPUT)/user/ethtool.o | $(OUTPUT)/tests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@

$(OUTPUT)/bench:
	mkdir -p $@

$(OUTPUT)/bench/connloop: bench/connloop.c | $(OUTPUT)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $< -lpthread -o $@

# The arm64 sysroot: the .debs alone (headers and .a archives), no dependencies.
$(SYSROOT_STAMP):
	$(call msg,SYSROOT,$(SYSROOT))
	$(Q)tools/debarchive update
	$(Q)tools/debarchive download $(SYSROOT)/debs $(addsuffix :arm64,$(SYSROOT_PKGS))
	$(Q)tools/debarchive unpack $(SYSROOT) $(SYSROOT)/debs/*.deb
	$(Q)touch $@

# sockop: scripted socket calls, for tools/natlab and the tests.
$(OUTPUT)/sockop: tools/sockop.c | $(OUTPUT)/bpf
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $< -o $@

# The same, static: the client of the container tests' images (no libc in them).
$(OUTPUT)/tests/sockop-static: tools/sockop.c | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -static $< -o $@

# One statically linked binary (static PIE) against Debian's .a archives, the
# BPF object embedded as in ./portwatch: what the FROM-scratch image holds.
# The same objects as ./portwatch; -ltinfo because libncurses.a needs it.
STATIC_BIN := $(OUTPUT)/static/portwatch

static: $(STATIC_BIN)

$(STATIC_BIN): $(USER_LIB_OBJS) $(USER_CMD_OBJS)
	$(Q)mkdir -p $(dir $@)
	$(call msg,STATIC,$@)
	$(Q)$(CC) -static-pie -Wl,-z,relro,-z,now $^ $(LDLIBS) -ltinfo -o $@

# portwatch(8), from its scdoc source.
MAN := $(OUTPUT)/portwatch.8

man: $(MAN)

$(MAN): docs/portwatch.8.scd
	$(call msg,SCDOC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)scdoc < $< > $@

# `make install` installs ./portwatch (dynamically linked), `make install
# STATIC=1` the static binary instead; both with the man page, the bash
# completion and the systemd unit, whose ExecStart names the installed binary
# (@SBINDIR@ in its source). DESTDIR for staged installs.
PREFIX ?= /usr/local
SBINDIR := $(PREFIX)/sbin
MAN8DIR := $(PREFIX)/share/man/man8
COMPLETIONDIR := $(PREFIX)/share/bash-completion/completions
SYSTEMD_UNIT_DIR ?= $(PREFIX)/lib/systemd/system
INSTALL_BIN := $(if $(STATIC),$(STATIC_BIN),portwatch)

install: $(INSTALL_BIN) $(MAN)
	install -D -m 0755 $(INSTALL_BIN) $(DESTDIR)$(SBINDIR)/portwatch
	install -D -m 0644 $(MAN) $(DESTDIR)$(MAN8DIR)/portwatch.8
	install -D -m 0644 tools/portwatch.bash-completion $(DESTDIR)$(COMPLETIONDIR)/portwatch
	install -d $(DESTDIR)$(SYSTEMD_UNIT_DIR)
	sed 's|@SBINDIR@|$(SBINDIR)|g' deploy/systemd/portwatch.service \
		> $(DESTDIR)$(SYSTEMD_UNIT_DIR)/portwatch.service
	chmod 0644 $(DESTDIR)$(SYSTEMD_UNIT_DIR)/portwatch.service

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/portwatch $(DESTDIR)$(MAN8DIR)/portwatch.8 \
		$(DESTDIR)$(COMPLETIONDIR)/portwatch $(DESTDIR)$(SYSTEMD_UNIT_DIR)/portwatch.service

# The FROM-scratch image (Containerfile): the static binary alone, built
# locally with podman; nothing is pulled.
IMAGE ?= localhost/portwatch:latest

image: $(STATIC_BIN)
	podman build --runtime runc -q -f Containerfile -t $(IMAGE) .

# Install the Debian packages the build and the tests need (only those missing).
deps:
	tools/deps.sh

# Build (installing what is missing), then trace until Ctrl-C.
run:
	tools/deps.sh
	$(MAKE) portwatch
	./portwatch trace

# The whole suite: unit tests, integration tests in namespaces on this kernel,
# then on stock Debian kernels under qemu per rung (PW_VMTEST=0 skips those).
test:
	tools/deps.sh
	$(MAKE) all static man $(UNIT_TESTS) $(TEST_HELPERS) $(BENCH_HELPERS)
	tests/run $(UNIT_TESTS)

# Only the integration tests on stock kernels under qemu (part of `make test`).
vmtest:
	tools/deps.sh
	$(MAKE) all $(TEST_HELPERS)
	tests/vmtest

# The same on arm64 kernels under qemu-system-aarch64 (not part of `make
# test`: emulating another processor takes longer than its time budget).
vmtest-arm64:
	tools/deps.sh
	$(MAKE) ARCH=arm64 all
	tests/vmtest -a arm64

# The benchmarks (BENCHMARKS.md): full, rewriting its results; or tiny, once.
bench:
	tools/deps.sh
	$(MAKE) all $(BENCH_HELPERS)
	bench/run --update

bench-smoke:
	tools/deps.sh
	$(MAKE) all $(BENCH_HELPERS)
	bench/run --quick --out $(OUTPUT)/bench/smoke

# Regenerate the committed vmlinux.h from the running kernel's BTF.
vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $(VMLINUX)
	@echo "regenerated $(VMLINUX) from $$(uname -r); update vmlinux/README.md"

# The architecture picture, drawn from its committed source.
docs: docs/architecture.svg

docs/architecture.svg: docs/architecture.dot
	dot -Tsvg $< -o $@

format:
	clang-format -i bpf/*.c bpf/*.h user/*.c user/*.h tests/unit/*.c tests/*.c

clean:
	rm -rf $(OUTPUT) portwatch
