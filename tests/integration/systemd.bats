#!/usr/bin/env bats
# deploy/systemd/portwatch.service: systemd accepts it and rates its exposure,
# and its sandbox lets portwatch do its work: with exactly the unit's
# capabilities and no new privileges portwatch reaches what it needs and
# without any one of them it does not; every system call and socket family it
# uses is one the unit allows. PID 1 here is not systemd, so the sandbox is
# played with setpriv, and the system calls are checked with strace against
# systemd's own expansion of the unit's filter.

load lib

UNIT=$TOP/deploy/systemd/portwatch.service

setup() {
	host_only
	command -v systemd-analyze >/dev/null || setup_error "no systemd-analyze (Debian's systemd)"
}

teardown() {
	pw_teardown
}

# unit_value KEY: the value of the unit's (last) KEY= line.
unit_value() {
	sed -n "s/^$1=//p" "$UNIT" | tail -n 1
}

# unit_caps [DROP]: the unit's CapabilityBoundingSet as setpriv's list
# (+sys_admin,+sys_ptrace), without capability DROP (CAP_X).
unit_caps() {
	unit_value CapabilityBoundingSet | tr ' ' '\n' | grep -vx "${1:-}" |
		sed 's/^CAP_/+/' | tr '[:upper:]' '[:lower:]' | paste -sd,
}

# sandboxed CAPS COMMAND...: COMMAND as root with only CAPS (setpriv's list)
# in its bounding set, nothing inheritable or ambient, and no new privileges
# when the unit says so: what systemd makes of the unit for a root service.
sandboxed() {
	local caps=$1 nnp=()
	shift
	[ "$(unit_value NoNewPrivileges)" = yes ] && nnp=(--no-new-privs)
	setpriv --bounding-set=-all${caps:+,$caps} --inh-caps=-all --ambient-caps=-all "${nnp[@]}" "$@"
}

# other_user_netns: a network namespace, range 40000-40009, that only a
# process of another user (nobody) holds, with one connection: no
# /run/netns entry, so reading it takes that process's /proc/PID/ns/net.
# Sets OTHER_INO.
other_user_netns() {
	local out=$BATS_TEST_TMPDIR/other.out pid
	unshare --net -- sh -c 'ip link set lo up &&
		sysctl -qw net.ipv4.ip_local_port_range="40000 40009" &&
		exec setpriv --reuid 65534 --regid 65534 --clear-groups "$1" \
			listen 127.0.0.1 8080 connect 127.0.0.1 8080 1 hold' _ "$SOCKOP" >"$out" &
	PIDS+=("$!")
	wait_for_line "$out" "^holding" "$!" || setup_error "sockop as nobody: $(cat "$out")"
	pid=$(awk '/^pid/ { print $2 }' "$out")
	[ "$(stat -c %u "/proc/$pid")" -eq 65534 ] || setup_error "sockop $pid does not run as nobody"
	OTHER_INO=$(stat -L -c %i "/proc/$pid/ns/net")
	[ "$OTHER_INO" != "$(stat -L -c %i /proc/self/ns/net)" ] || setup_error "sockop is in this netns"
}

# unit_probe PREFIX...: what the unit's command needs of the kernel, run
# under PREFIX; status 0 when all of it worked. Until `serve` exists: trace
# attaches its programs (bpf(), perf_event_open(), the cgroup socket
# programs), and ports reads the range of $OTHER_INO through another user's
# process (/proc/PID/ns/net, setns()). Once serve exists, its run replaces
# this body: serve under PREFIX, then its scrape has
# portwatch_ephemeral_port_range_first{netns="$OTHER_INO"} 40000.
unit_probe() {
	"$@" "$PORTWATCH" trace --duration 1 "${PW_ATTACH_ARGS[@]}" >/dev/null 2>&1 || return 1
	"$@" "$PORTWATCH" ports --json --netns "$OTHER_INO" >"$BATS_TEST_TMPDIR/probe.json" 2>&1 || return 1
	[ "$(jq -sc '[.[] | select(.type == "netns") | [.netns, .range_lo, .range_hi]]' \
		"$BATS_TEST_TMPDIR/probe.json")" = "[[$OTHER_INO,40000,40009]]" ]
}

# syscall_group WORD: the system calls of a SystemCallFilter word, one a
# line: a call names itself, a @group its members, groups within it expanded.
syscall_group() {
	local w
	if [[ $1 != @* ]]; then
		echo "$1"
		return
	fi
	for w in $(systemd-analyze syscall-filter "$1" | sed -n 's/^    \([@a-z_0-9-]*\)$/\1/p'); do
		syscall_group "$w"
	done
}

@test "systemd unit: systemd-analyze verify accepts the installed unit without a warning" {
	local prefix=$BATS_TEST_TMPDIR/prefix
	# Installed without DESTDIR, so that its ExecStart names a binary that exists.
	make -s -C "$TOP" install PREFIX="$prefix" >/dev/null
	run systemd-analyze verify --man=no "$prefix/lib/systemd/system/portwatch.service"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "systemd unit: systemd-analyze security rates its exposure OK (at most 3.5 of 10)" {
	local prefix=$BATS_TEST_TMPDIR/prefix
	make -s -C "$TOP" install PREFIX="$prefix" >/dev/null
	run systemd-analyze security --offline=yes --threshold=35 \
		"$prefix/lib/systemd/system/portwatch.service"
	echo "$output" | tail -n 3
	[ "$status" -eq 0 ]
	[[ $output =~ "Overall exposure level for portwatch.service: "[0-3]\.[0-9]" OK" ]]
}

@test "systemd unit: portwatch runs with exactly the unit's capabilities and no new privileges, and fails without any one of them" {
	local caps cap status_file
	caps=$(unit_caps)
	[ -n "$caps" ] || setup_error "no CapabilityBoundingSet in $UNIT"
	[ "$(unit_value NoNewPrivileges)" = yes ]
	# What the process gets: those capabilities, effective, and nothing more.
	status_file=$(sandboxed "$caps" cat /proc/self/status)
	[ "$(awk '/^CapBnd:/ { print $2 }' <<<"$status_file")" = \
		"$(awk '/^CapEff:/ { print $2 }' <<<"$status_file")" ]
	[ "$(capsh --decode="$(awk '/^CapEff:/ { print $2 }' <<<"$status_file")" |
		sed 's/.*=//' | tr , '\n' | sort)" = \
		"$(unit_value CapabilityBoundingSet | tr '[:upper:] ' '[:lower:]\n' | sort)" ]
	grep -qx 'NoNewPrivs:	1' <<<"$status_file"

	other_user_netns
	unit_probe sandboxed "$caps" || { cat "$BATS_TEST_TMPDIR/probe.json"; return 1; }
	for cap in $(unit_value CapabilityBoundingSet); do
		if unit_probe sandboxed "$(unit_caps "$cap")"; then
			echo "portwatch did all without $cap: the unit need not grant it"
			return 1
		fi
	done
}

@test "systemd unit: every system call portwatch makes is in the unit's SystemCallFilter, every socket family in RestrictAddressFamilies, setns() only of network namespaces" {
	local allowed word calls families bad
	other_user_netns
	[ -n "$(unit_value SystemCallFilter)" ]
	# The filter as systemd expands it: its groups, and the calls named.
	for word in $(unit_value SystemCallFilter); do
		syscall_group "$word"
	done | sort -u >"$BATS_TEST_TMPDIR/allowed"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/allowed")" -ge 100 ] ||
		setup_error "the filter expands to $(wc -l <"$BATS_TEST_TMPDIR/allowed") calls"
	# -A: the probe's commands append to one trace; check opens the sockets
	# (an AF_INET one for ethtool, netlink for the interfaces) that trace and
	# ports do not.
	unit_probe strace -f -qq -A -o "$BATS_TEST_TMPDIR/strace" ||
		{ cat "$BATS_TEST_TMPDIR/probe.json"; return 1; }
	strace -f -qq -A -o "$BATS_TEST_TMPDIR/strace" \
		"$PORTWATCH" check --netns "$OTHER_INO" --interval 1 >/dev/null 2>&1 ||
		setup_error "portwatch check --netns $OTHER_INO failed"
	calls=$(sed -E 's/^[0-9]+ +//' "$BATS_TEST_TMPDIR/strace" | grep -oE '^[a-z_0-9]+\(' | tr -d '(' | sort -u)
	[ "$(wc -l <<<"$calls")" -ge 20 ] || setup_error "strace saw only: $calls"
	grep -qx bpf <<<"$calls" && grep -qx setns <<<"$calls" && grep -qx perf_event_open <<<"$calls" ||
		setup_error "strace did not see bpf, setns and perf_event_open: $calls"
	bad=$(grep -vxF -f "$BATS_TEST_TMPDIR/allowed" <<<"$calls" || true)
	[ -z "$bad" ] || { echo "not in SystemCallFilter: $bad"; return 1; }

	families=$(grep -oE '\bsocket\(AF_[A-Z0-9]+' "$BATS_TEST_TMPDIR/strace" | sed 's/socket(//' | sort -u)
	[ -n "$families" ] || setup_error "strace saw no socket()"
	for word in $families; do
		grep -qw -- "$word" <<<"$(unit_value RestrictAddressFamilies)" ||
			{ echo "$word is not in RestrictAddressFamilies"; return 1; }
	done

	[ "$(unit_value RestrictNamespaces)" = net ]
	! grep -E '\bsetns\(' "$BATS_TEST_TMPDIR/strace" | grep -v 'CLONE_NEWNET)'
}
