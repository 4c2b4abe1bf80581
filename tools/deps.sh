#!/bin/sh
# Install the Debian packages portwatch's build and tests need, only those
# missing, so `make run` and `make test` work on a fresh Debian 12.
# prometheus also brings promtool (the rules' and the scrapes' checks);
# qemu-system-arm brings qemu-system-aarch64 and gcc-aarch64-linux-gnu
# aarch64-linux-gnu-gcc (the arm64 cross build and guests).
set -eu

PKGS="make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libjson-c-dev
      libncurses-dev libevent-dev libcmocka-dev bats jq iproute2 nftables conntrack procps util-linux tmux
      qemu-system-x86 qemu-system-arm gcc-aarch64-linux-gnu libc6-dev-arm64-cross busybox-static
      cpio kmod xz-utils bpftrace gnuplot-nox net-tools time
      strace zstd graphviz podman runc catatonit scdoc man-db file python3-yaml prometheus curl"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing; run as root (sudo make deps)" >&2
	exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086 # word splitting is wanted
apt-get install -y -qq --no-install-recommends $missing >/dev/null
