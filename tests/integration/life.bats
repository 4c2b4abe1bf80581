#!/usr/bin/env bats
# portwatch's life beside others: killed, it leaves nothing behind; several
# instances at once each see every event.

load lib

teardown() {
	pw_teardown
}

# mounts FILE: "mount point, type" of each line of a mountinfo file, for
# the types portwatch mounts (user/util.c: tracefs, cgroup2) and anything
# under /run/portwatch. Others' mounts are left out: deleting a network
# namespace elsewhere unlinks its /run/netns file, which detaches that mount
# in every namespace, this one too.
mounts() {
	awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { t = $(i + 1); break } }
	     t == "tracefs" || t == "cgroup2" || index($5, "/run/portwatch") == 1 { print $5, t }' "$1"
}

# killed_in_own_mountns COMMAND ARGS...: portwatch COMMAND in a mount
# namespace of its own whose cgroup2 mounts are gone (it must then make its
# own to attach sockops), SIGKILLed once it traces: none of the programs and
# links it held stays, and the namespace's mounts are those before it started.
killed_in_own_mountns() {
	local dir=$BATS_TEST_TMPDIR/mntns shell pid progs links
	mkdir -p "$dir"
	# The shell stays in the namespace after portwatch dies, so that its
	# /proc/PID/mountinfo shows the namespace. tracefs first, as portwatch
	# would mount it: a tracefs at its standard place is meant to stay.
	cat >"$dir/inner" <<-'EOF'
		dir=$1
		shift
		# The qemu guest has no umount binary, only busybox's.
		um=umount
		command -v umount >/dev/null || um="busybox umount"
		awk '$3 == "cgroup2" { print $2 }' /proc/self/mounts | tac | xargs -r -n1 $um -l
		[ -d /sys/kernel/tracing/events ] || mount -t tracefs nodev /sys/kernel/tracing
		cp /proc/self/mountinfo "$dir/before"
		"$@" >"$dir/pw.out" 2>"$dir/pw.err" &
		echo $! >"$dir/pid"
		wait $!
		echo $? >"$dir/rc"
		exec sleep infinity
	EOF
	unshare -m --propagation private bash "$dir/inner" "$dir" "$PORTWATCH" "$@" "${PW_ATTACH_ARGS[@]}" &
	shell=$!
	PIDS+=("$shell")
	wait_for_line "$dir/pw.err" "Hit Ctrl-C to end." "$shell"
	pid=$(cat "$dir/pid")
	# Not the shell's child once it is sleep: teardown must stop it itself.
	PIDS+=("$pid")
	[ "$(mounts "$dir/before" | awk '$2 == "cgroup2"' | wc -l)" -eq 0 ] ||
		setup_error "cgroup2 is still mounted in the namespace: $(mounts "$dir/before")"
	progs=$(bpf_ids "$pid" prog)
	links=$(bpf_ids "$pid" link)
	echo "portwatch $pid holds programs $(echo $progs), links $(echo $links)"
	[ -n "$progs" ]
	[ -n "$links" ]
	# sock_release (and sockops, tcp_connect's tracepoint rung) are attached
	# to the cgroup root without a cgroup2 mount in sight.
	local want=1
	[ "$("$PORTWATCH" probes "${PW_ATTACH_ARGS[@]}" | awk '/^tcp_connect:/ { getline; print $2 }')" != tracepoint ] ||
		want=2
	[ "$(grep -l '^link_type:[[:space:]]*cgroup$' /proc/"$pid"/fdinfo/* | wc -l)" -eq "$want" ]

	kill -KILL "$pid"
	wait_for_line "$dir/rc" . "$shell"
	[ "$(cat "$dir/rc")" -eq 137 ]
	wait_bpf_gone prog "$progs"
	wait_bpf_gone link "$links"
	# No diff in the qemu guest: compare the lists whole, show both.
	before=$(mounts "$dir/before")
	after=$(mounts /proc/"$shell"/mountinfo)
	echo "mounts before: $(echo $before); after: $(echo $after)"
	[ "$after" = "$before" ]
}

@test "trace SIGKILLed: none of its BPF programs and links stays, nor a mount of its own" {
	killed_in_own_mountns trace --json
}

@test "drops SIGKILLed: none of its BPF programs and links stays, nor a mount of its own" {
	killed_in_own_mountns drops --json
}

# A namespace whose 2-port range is held by a listener's peer: connects to
# 127.0.0.1:8080 fail with EADDRNOTAVAIL. The client, gated, makes 5; sets
# INO and CLIENT.
full_range_ns() {
	netns_new "$1"
	INO=$(netns_inode "$NS")
	port_range "$NS" 40000 40001
	sockop_hold "$NS" listen 127.0.0.1 8080 connect 127.0.0.1 8080 2
	sockop_gated "$NS" connect 127.0.0.1 8080 5
	CLIENT=$GATED_PID
}

run_client() {
	release "$CLIENT"
	[ "$(grep -c ' err 99 EADDRNOTAVAIL' "$BATS_TEST_TMPDIR/gated.$CLIENT")" -eq 5 ] ||
		setup_error "the client did not fail 5 connects: $(cat "$BATS_TEST_TMPDIR/gated.$CLIENT")"
}

@test "two traces at once: each reports the same 5 failed connects, both exit 0 on SIGINT" {
	full_range_ns twotrace
	pw_start --netns "$INO"
	pw_start_second trace --netns "$INO"
	run_client
	pw_stop
	pw_stop "$PW2_PID" "$PW2_ERR"

	for out in "$PW_OUT" "$PW2_OUT"; do
		cat "$out"
		[ "$(jq -s "[.[] | select(.type == \"port_alloc_fail\" and .pid == $CLIENT and .errno == 99
			and .op == \"connect\" and .daddr == \"127.0.0.1\" and .dport == 8080
			and .port_range == [40000, 40001] and $(tcp_rung))] | length" "$out")" -eq 5 ]
		[ "$(jq -s 'length' "$out")" -eq 5 ]
	done
	# The same records, field by field (ts aside: each converts clocks itself).
	[ "$(jq -sc 'map(del(.ts))' "$PW_OUT")" = "$(jq -sc 'map(del(.ts))' "$PW2_OUT")" ]
}

@test "two drops at once: each counts every drop of an nftables rule, == its counter" {
	netns_new twodrops
	ino=$(netns_inode "$NS")
	ip netns exec "$NS" nft add table inet acl
	ip netns exec "$NS" nft add chain inet acl out '{ type filter hook output priority 0; }'
	ip netns exec "$NS" nft add rule inet acl out udp dport 9999 counter drop
	pw_start_cmd drops --by reason,netns,process
	pw_start_second drops --by reason,netns,process
	sockop "$NS" udp sendn 127.0.0.1 9999 3000
	grep -q 'sendn 127.0.0.1 9999 sent 0 failed 3000' "$SOCKOP_OUT" ||
		setup_error "the rule did not fail every send: $(cat "$SOCKOP_OUT")"
	pw_stop
	pw_stop "$PW2_PID" "$PW2_ERR"

	rule=$(ip netns exec "$NS" nft -j list ruleset |
		jq '[.nftables[] | select(.rule) | .rule.expr[] | select(.counter) | .counter.packets] | add')
	[ "$rule" -eq 3000 ]
	for out in "$PW_OUT" "$PW2_OUT"; do
		ours=$(jq -s "[.[] | select(.type == \"drops\" and .netns == $ino and .pid == $SOCKOP_PID
			and .reason == \"$NF_DROP\") | .count] | add" "$out")
		all=$(jq -s "[.[] | select(.type == \"drops\" and .netns == $ino) | .count] | add" "$out")
		echo "$out: rule $rule, the sender's $ours, the netns's $all"
		[ "$ours" -eq "$rule" ]
		[ "$all" -eq "$rule" ]
		[ "$(jq -s '[.[] | select(.type == "lost")] | length' "$out")" -eq 0 ]
	done
}

@test "top beside trace: both see the 5 failed connects, both exit 0 on SIGINT" {
	full_range_ns toptrace
	pw_start --netns "$INO"
	out=$BATS_TEST_TMPDIR/top.out
	"$PORTWATCH" top -i 1 --pid "$CLIENT" "${PW_ATTACH_ARGS[@]}" >"$out" 2>"$BATS_TEST_TMPDIR/top.err" &
	top=$!
	PIDS+=("$top")
	wait_for_line "$BATS_TEST_TMPDIR/top.err" "Hit Ctrl-C" "$top"
	run_client
	# PID COMM CONN/s FAIL/s FAILS: 5 failures since top started.
	wait_for_line "$out" "^$CLIENT  *sockop  *[0-9]*  *[0-9]*  *5 " "$top"
	kill -INT "$top"
	rc=0
	wait "$top" || rc=$?
	cat "$BATS_TEST_TMPDIR/top.err"
	[ "$rc" -eq 0 ]
	pw_stop

	# Its last snapshot still says 5: no failure counted twice.
	[ "$(grep "^$CLIENT " "$out" | tail -1 | awk '{ print $2, $5 }')" = "sockop 5" ]
	[ "$(events ".type == \"port_alloc_fail\" and .pid == $CLIENT and .errno == 99
		and .daddr == \"127.0.0.1\" and .dport == 8080 and $(tcp_rung)")" -eq 5 ]
	[ "$(events true)" -eq 5 ]
}
