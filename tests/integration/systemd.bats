#!/usr/bin/env bats
# deploy/systemd/portwatch.service: systemd accepts it and rates its exposure,
# and its sandbox lets portwatch do its work: with exactly the unit's
# capabilities and no new privileges portwatch reaches what it needs and
# without any one of them it does not; every system call and socket family it
# uses is one the unit allows. PID 1 here is not systemd, so the sandbox is
# played with setpriv, the system calls are checked with strace against
# systemd's own expansion of the unit's filter, and the whole unit runs under
# the host's systemd booted in a podman container.

load lib
load podman

UNIT=$TOP/deploy/systemd/portwatch.service

setup() {
	host_only
	command -v systemd-analyze >/dev/null || setup_error "no systemd-analyze (Debian's systemd)"
}

teardown() {
	podman_teardown
	pw_teardown
}

# sysd_exec COMMAND...: COMMAND in the $SYSD container.
sysd_exec() {
	"${PODMAN[@]}" exec "$SYSD" "$@"
}

# sysd_boot: the host's systemd as PID 1 of a podman container (named in
# $SYSD) whose root is an overlay of the host's (writes stay in the
# container), without a network, and with only the test's units in
# /etc/systemd/system ($SYSD_UNITS): pwtest.target, which it boots into and
# which wants nothing, and the installed portwatch unit. Nothing of the
# host's services starts. The tree ($TOP: portwatch, sockop) is bound in
# read-only, as it may be under /tmp, which the container has a tmpfs of.
sysd_boot() {
	local prefix=$BATS_TEST_TMPDIR/prefix i state
	SYSD=pwt-systemd-$$
	SYSD_UNITS=$BATS_TEST_TMPDIR/units
	mkdir -p "$SYSD_UNITS/portwatch.service.d"
	printf '[Unit]\nDescription=portwatch test: nothing else\nDefaultDependencies=no\n' \
		>"$SYSD_UNITS/pwtest.target"
	make -s -C "$TOP" install PREFIX="$prefix" >/dev/null
	cp "$prefix/lib/systemd/system/portwatch.service" "$SYSD_UNITS/"
	"${PODMAN[@]}" run -d --name "$SYSD" --privileged --systemd=always --network=none \
		--ulimit nofile=20000:20000 --ulimit nproc=1000:1000 \
		--tmpfs /tmp:rw,notmpcopyup --tmpfs /run:rw,notmpcopyup \
		--tmpfs /run/lock:rw,notmpcopyup --tmpfs /var/log/journal:rw,notmpcopyup \
		-v "$SYSD_UNITS:/etc/systemd/system" -v "$TOP:$TOP:ro" --rootfs /:O \
		/lib/systemd/systemd --unit=pwtest.target >/dev/null
	CONTAINERS+=("$SYSD")
	for ((i = 0; i < 300; i++)); do
		state=$(sysd_exec systemctl is-system-running 2>/dev/null || true)
		[ "$state" = running ] && return 0
		sleep 0.1
	done
	setup_error "systemd in $SYSD is $state: $(sysd_exec systemctl --failed --no-legend 2>&1)"
}

# sysd_run_unit COMMAND...: the installed unit, its ExecStart replaced by
# COMMAND (a drop-in, as `systemctl edit` makes), started without waiting.
sysd_run_unit() {
	printf '[Service]\nRestart=no\nExecStart=\nExecStart=%s\n' "$*" \
		>"$SYSD_UNITS/portwatch.service.d/test.conf"
	sysd_exec systemctl daemon-reload
	sysd_exec systemctl start --no-block portwatch.service
}

# sysd_wait_unit: bounded wait (30 s) for the unit to end; its main
# process's exit status in $UNIT_STATUS, its output in $UNIT_LOG.
sysd_wait_unit() {
	local i
	for ((i = 0; i < 300; i++)); do
		sysd_exec systemctl is-active -q portwatch.service || break
		sleep 0.1
	done
	UNIT_STATUS=$(sysd_exec systemctl show -P ExecMainStatus portwatch.service)
	UNIT_LOG=$BATS_TEST_TMPDIR/unit.log
	sysd_exec journalctl -u portwatch.service -o cat --no-pager >"$UNIT_LOG"
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
# under PREFIX; status 0 when all of it worked: serve attaches its programs
# (bpf(), perf_event_open() on some rungs, the cgroup socket programs) and
# its scrape holds the range of $OTHER_INO, which it reads through another
# user's process (/proc/PID/ns/net, setns()). Bounded wait (20 s) for that
# scrape; then serve gets SIGTERM (through PREFIX's child when PREFIX forks,
# as strace does) and must exit 0.
unit_probe() {
	local listen=127.0.0.1:$((30000 + $$ % 5000)) out=$BATS_TEST_TMPDIR/probe.metrics
	local want="portwatch_ephemeral_port_range_first{netns=\"$OTHER_INO\"} 40000" pid i found=1
	"$@" "$PORTWATCH" serve --listen "$listen" --ports-interval 1 "${PW_ATTACH_ARGS[@]}" \
		>"$BATS_TEST_TMPDIR/probe.err" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		if curl -sf --max-time 2 "http://$listen/metrics" >"$out" && grep -qxF "$want" "$out"; then
			found=0
			break
		fi
		sleep 0.1
	done
	pkill -TERM -P "$pid" || kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" && [ "$found" -eq 0 ]
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
	unit_probe sandboxed "$caps" || { cat "$BATS_TEST_TMPDIR/probe.err"; return 1; }
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
	# (an AF_INET one for ethtool, netlink for the interfaces) that serve
	# does not.
	unit_probe strace -f -qq -A -o "$BATS_TEST_TMPDIR/strace" ||
		{ cat "$BATS_TEST_TMPDIR/probe.err"; return 1; }
	strace -f -qq -A -o "$BATS_TEST_TMPDIR/strace" \
		"$PORTWATCH" check --netns "$OTHER_INO" --interval 1 >/dev/null 2>&1 ||
		setup_error "portwatch check --netns $OTHER_INO failed"
	calls=$(sed -E 's/^[0-9]+ +//' "$BATS_TEST_TMPDIR/strace" | grep -oE '^[a-z_0-9]+\(' | tr -d '(' | sort -u)
	[ "$(wc -l <<<"$calls")" -ge 20 ] || setup_error "strace saw only: $calls"
	# (perf_event_open only on the rungs that attach through perf events:
	# kprobes and classic tracepoints, not this host's raw tracepoints)
	grep -qx bpf <<<"$calls" && grep -qx setns <<<"$calls" ||
		setup_error "strace did not see bpf and setns: $(paste -sd ' ' <<<"$calls")"
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

@test "systemd unit: under the host's systemd, the unit's command serves a failing connect and a netns's range on /metrics, stops cleanly, with the unit's capabilities and seccomp" {
	podman_ready
	[ -x /lib/systemd/systemd ] || setup_error "no /lib/systemd/systemd (Debian's systemd)"
	sysd_boot
	# In the container: a netns whose 2 ports nobody's sockop holds.
	sysd_exec ip netns add pwsd
	sysd_exec ip -n pwsd link set lo up
	sysd_exec ip netns exec pwsd sysctl -qw net.ipv4.ip_local_port_range="40000 40001"
	"${PODMAN[@]}" exec -d "$SYSD" ip netns exec pwsd setpriv --reuid 65534 --regid 65534 \
		--clear-groups sh -c "exec $SOCKOP listen 127.0.0.1 8080 connect 127.0.0.1 8080 2 hold >/tmp/holder" \
		>/dev/null
	local i ino
	# bounded at 60 s: podman exec is slow on a loaded machine
	for ((i = 0; i < 600; i++)); do
		sysd_exec grep -q '^holding' /tmp/holder 2>/dev/null && break
		sleep 0.1
	done
	[ "$(sysd_exec grep -c 'ok' /tmp/holder)" -eq 3 ] || setup_error "holder: $(sysd_exec cat /tmp/holder)"
	ino=$(sysd_exec stat -L -c %i /run/netns/pwsd)

	# The unit's own command line, its binary this tree's copied into the
	# container's /usr/local/sbin (the unit's PrivateTmp hides /tmp, where a
	# tree or an install prefix may be): serve on 127.0.0.1:9477, attached
	# once /healthz answers.
	sysd_exec install -m 0755 "$PORTWATCH" /usr/local/sbin/portwatch
	sysd_run_unit "/usr/local/sbin/portwatch $(unit_value ExecStart | sed 's|^@SBINDIR@/portwatch ||')"
	scrape_until "$BATS_TEST_TMPDIR/healthz" true \
		sysd_exec curl -sf --max-time 2 http://127.0.0.1:9477/healthz ||
		{ sysd_exec journalctl -u portwatch.service -o cat --no-pager; return 1; }
	sysd_exec ip netns exec pwsd "$SOCKOP" comm pwsdcli connect 127.0.0.1 8080 2 >"$BATS_TEST_TMPDIR/cli.out"
	[ "$(grep -c 'err 99 EADDRNOTAVAIL' "$BATS_TEST_TMPDIR/cli.out")" -eq 2 ] ||
		setup_error "the client's connects: $(cat "$BATS_TEST_TMPDIR/cli.out")"
	# Its scrape: both failures, labelled; the netns's range, read through
	# nobody's holder.
	local scrape=$BATS_TEST_TMPDIR/scrape
	served() {
		[ "$(metric_sum portwatch_port_alloc_failures_total comm=pwsdcli netns="$ino" \
			proto=tcp op=connect error=EADDRNOTAVAIL daddr=127.0.0.1 dport=8080 <"$scrape")" -eq 2 ] &&
			[ "$(metric_sum portwatch_ephemeral_port_range_first netns="$ino" <"$scrape")" -eq 40000 ]
	}
	scrape_until "$scrape" served sysd_exec curl -sf --max-time 2 http://127.0.0.1:9477/metrics
	# SIGTERM (systemctl stop) ends it cleanly.
	sysd_exec systemctl stop portwatch.service
	sysd_wait_unit
	[ "$UNIT_STATUS" -eq 0 ] || { cat "$UNIT_LOG"; return 1; }

	# What the unit's process had: the bounding set, effective, no new
	# privileges, a seccomp filter.
	sysd_run_unit "/bin/grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status"
	sysd_wait_unit
	[ "$(grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' "$UNIT_LOG" | tr -s '\t ' ' ')" = \
		"CapEff: $(sandboxed "$(unit_caps)" awk '/^CapEff:/ { print $2 }' /proc/self/status)
CapBnd: $(sandboxed "$(unit_caps)" awk '/^CapBnd:/ { print $2 }' /proc/self/status)
NoNewPrivs: 1
Seccomp: 2" ] || { cat "$UNIT_LOG"; return 1; }
}
