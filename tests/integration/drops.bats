#!/usr/bin/env bats
# portwatch drops: drop reasons from the kernel's BTF, counts from the kernel.

load lib

teardown() {
	pw_teardown
	[ -z "${CT_MAX_SAVED:-}" ] || sysctl -qw net.netfilter.nf_conntrack_max="$CT_MAX_SAVED"
}

# drop_rule_netns NAME: a netns $NS whose output hook drops UDP to port 9999,
# counted by the rule; rule_count reads the counter.
drop_rule_netns() {
	netns_new "$1"
	ip netns exec "$NS" nft -f - <<-NFT
	table inet acl {
		chain out {
			type filter hook output priority 0;
			udp dport 9999 counter drop
		}
	}
	NFT
}

rule_count() {
	ip netns exec "$1" nft -j list ruleset |
		jq '[.nftables[] | select(.rule) | .rule.expr[] | select(.counter) | .counter.packets] | add'
}

@test "drop reason names from BTF match the kernel's own kfree_skb format" {
	fmt=/sys/kernel/tracing/events/skb/kfree_skb/format
	[ -r "$fmt" ] || mount -t tracefs nodev /sys/kernel/tracing
	# print fmt: ... __print_symbolic(REC->reason, { 2, "NOT_SPECIFIED" }, ...)
	grep -o '{ [0-9]*, "[A-Z0-9_]*" }' "$fmt" | sed 's/{ \([0-9]*\), "\(.*\)" }/\1 \2/' \
		>"$BATS_TEST_TMPDIR/expected"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/expected")" -gt 10 ]
	"$PORTWATCH" drops --reasons >"$BATS_TEST_TMPDIR/ours"
	# Every reason the tracepoint names, portwatch names the same.
	while read -r value name; do
		grep -qx "$value $name" "$BATS_TEST_TMPDIR/ours" || {
			echo "tracepoint says $value $name; portwatch: $(grep "^$value " "$BATS_TEST_TMPDIR/ours")"
			return 1
		}
	done <"$BATS_TEST_TMPDIR/expected"
}

@test "drops by an nftables rule are counted exactly: == the rule's own counter" {
	drop_rule_netns acl
	ino=$(netns_inode "$NS")
	pw_start_cmd drops -i 1 --by reason,netns,proto
	sockop "$NS" udp sendn 127.0.0.1 9999 5000
	grep -q 'sendn 127.0.0.1 9999 sent 0 failed 5000' "$SOCKOP_OUT"
	pw_stop

	rule=$(rule_count "$NS")
	ours=$(jq -s "[.[] | select(.type == \"drops\" and .reason == \"NETFILTER_DROP\"
		and .netns == $ino and .proto == \"ipv4/udp\") | .count] | add" "$PW_OUT")
	echo "rule $rule portwatch $ours"
	[ "$rule" -eq 5000 ]
	[ "$ours" -eq "$rule" ]
	[ "$(jq -s '[.[] | select(.type == "lost")] | length' "$PW_OUT")" -eq 0 ]
}

@test "drops: bad --by names the problem" {
	run "$PORTWATCH" drops --by reason,color
	[ "$status" -eq 2 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" == *"invalid --by 'reason,color'"* ]]
}

@test "a drop storm on a veth is counted exactly, and portwatch still stops on SIGINT" {
	# PW_STORM_PACKETS: fewer under qemu's emulation, where a packet costs ~50x more.
	packets=${PW_STORM_PACKETS:-2000000}
	netns_new stormtx
	tx=$NS
	netns_new stormrx
	rx=$NS
	ip link add pwstorm0 netns "$tx" type veth peer name pwstorm1 netns "$rx"
	ip -n "$tx" addr add 192.0.2.1/24 dev pwstorm0
	ip -n "$rx" addr add 192.0.2.2/24 dev pwstorm1
	ip -n "$tx" link set pwstorm0 up
	ip -n "$rx" link set pwstorm1 up
	ip netns exec "$rx" nft -f - <<-NFT
	table inet acl {
		chain in {
			type filter hook input priority 0;
			udp dport 9999 counter drop
		}
	}
	NFT
	# The neighbour entry first, so that every datagram leaves the sender.
	ip -n "$tx" neigh replace 192.0.2.2 lladdr "$(ip -n "$rx" -j link show pwstorm1 | jq -r '.[0].address')" dev pwstorm0
	pw_start_cmd drops -i 1 --by reason,netns,ifname
	# trace with its default rate limit next to it: records held back, counted.
	pw_start_second trace
	# pw_stop fails unless portwatch exits within 30 s of SIGINT.
	sockop "$tx" udp sendn 192.0.2.2 9999 "$packets"
	grep -q "sendn 192.0.2.2 9999 sent $packets failed 0" "$SOCKOP_OUT"
	pw_stop
	pw_stop "$PW2_PID" "$PW2_ERR"
	records=$(jq -s "[.[] | select(.type == \"drop\" and .netns == $(netns_inode "$rx"))] | length" "$PW2_OUT")
	suppressed=$(jq -s '[.[] | select(.type == "lost") | .drops_suppressed] | add // 0' "$PW2_OUT")
	lost=$(jq -s '[.[] | select(.type == "lost") | .records] | add // 0' "$PW2_OUT")
	echo "trace: $records records of the storm, $suppressed suppressed, $lost lost"
	[ "$suppressed" -gt 0 ]
	[ "$lost" -eq 0 ]
	[ "$records" -lt "$packets" ]
	# Each of the storm's drops got a record or was counted as suppressed (the
	# count is global: other drops of the host may be in it too).
	[ "$((records + suppressed))" -ge "$packets" ]

	rule=$(rule_count "$rx")
	ours=$(jq -s "[.[] | select(.type == \"drops\" and .reason == \"NETFILTER_DROP\"
		and .netns == $(netns_inode "$rx") and .ifname == \"pwstorm1\") | .count] | add" "$PW_OUT")
	echo "sent $packets, rule $rule, portwatch $ours"
	[ "$ours" -eq "$rule" ]
	# Every datagram reached the rule (veth does not drop on its own here).
	[ "$rule" -eq "$packets" ]
	[ "$(jq -s '[.[] | select(.type == "lost")] | length' "$PW_OUT")" -eq 0 ]
}

@test "histogram totals == the per-packet records trace gets without a rate limit" {
	drop_rule_netns hist
	ino=$(netns_inode "$NS")
	pw_start --drop-rate=0
	pw_start_second drops --by reason,netns,process
	sockop "$NS" udp sendn 127.0.0.1 9999 3000
	pw_stop
	pw_stop "$PW2_PID" "$PW2_ERR"

	rule=$(rule_count "$NS")
	records=$(events ".type == \"drop\" and .netns == $ino")
	total=$(jq -s "[.[] | select(.type == \"drops\" and .netns == $ino) | .count] | add" "$PW2_OUT")
	echo "rule $rule, trace records $records, drops total $total"
	[ "$rule" -eq 3000 ]
	[ "$records" -eq "$total" ]
	[ "$total" -eq "$rule" ]
	# Dropped in the sender's own output path: attributed through skb->sk.
	[ "$(events ".type == \"drop\" and .netns == $ino and .pid == $SOCKOP_PID
		and .attribution == \"socket\" and .reason == \"NETFILTER_DROP\" and .nat.class == \"filter\"
		and .proto == \"udp\" and .daddr == \"127.0.0.1\" and .dport == 9999")" -eq "$rule" ]
	[ "$(jq -s "[.[] | select(.type == \"drops\" and .netns == $ino and .pid == $SOCKOP_PID) | .count] | add" "$PW2_OUT")" -eq "$rule" ]
	[ "$(events ".type == \"lost\"")" -eq 0 ]
}

@test "trace's drop-rate limit: records + suppressed == drops, suppressed reported" {
	drop_rule_netns rate
	# Only attributed drops pass the filter, so unrelated drops elsewhere on
	# the host cannot use up or inflate the budget.
	pw_start --drops=attributed --drop-rate=100
	sockop "$NS" udp sendn 127.0.0.1 9999 5000
	pw_stop

	rule=$(rule_count "$NS")
	records=$(events ".type == \"drop\"")
	suppressed=$(jq -s '[.[] | select(.type == "lost") | .drops_suppressed] | add // 0' "$PW_OUT")
	echo "rule $rule, records $records, suppressed $suppressed"
	[ "$rule" -eq 5000 ]
	[ "$suppressed" -gt 0 ]
	[ "$((records + suppressed))" -eq "$rule" ]
	[ "$(events ".type == \"drop\" and .pid != $SOCKOP_PID")" -eq 0 ]
}

@test "drops on the classic-tp rung count the same as the rule" {
	drop_rule_netns classic
	ino=$(netns_inode "$NS")
	PW_ATTACH_ARGS=(--attach=classic-tp)
	pw_start_cmd drops --by reason,netns,process
	sockop "$NS" udp sendn 127.0.0.1 9999 1000
	pw_stop
	[ "$(rule_count "$NS")" -eq 1000 ]
	[ "$(jq -s "[.[] | select(.type == \"drops\" and .netns == $ino and .reason == \"NETFILTER_DROP\"
		and .pid == $SOCKOP_PID) | .count] | add" "$PW_OUT")" -eq 1000 ]
}

@test "conntrack_full: drops of a full conntrack table are classed so, == conntrack's drop counter" {
	# nf_conntrack_max is global: lower it only on a host that tracks nothing.
	[ -r /proc/sys/net/netfilter/nf_conntrack_max ] || skip "no conntrack in this kernel"
	[ "$(cat /proc/sys/net/netfilter/nf_conntrack_count)" -eq 0 ] ||
		skip "the host tracks connections: a lower nf_conntrack_max would hurt it"
	netns_new ctfull
	ino=$(netns_inode "$NS")
	# A ct expression turns conntrack on in the netns.
	ip netns exec "$NS" nft add table inet t
	ip netns exec "$NS" nft add chain inet t out '{ type filter hook output priority 0; }'
	ip netns exec "$NS" nft add rule inet t out ct state new counter
	sockop_hold "$NS" listen 127.0.0.1 8080
	pw_start --drop-rate=0
	CT_MAX_SAVED=$(cat /proc/sys/net/netfilter/nf_conntrack_max)
	sysctl -qw net.netfilter.nf_conntrack_max=2
	# Two connections fill the table with assured entries (early drop spares
	# those), the third one's SYNs find no room.
	sockop "$NS" syncnt 1 connect 127.0.0.1 8080 3
	sysctl -qw net.netfilter.nf_conntrack_max="$CT_MAX_SAVED"
	pw_stop

	[ "$(grep -c ' ok ' "$SOCKOP_OUT")" -eq 2 ]
	ct_drop=$(ip netns exec "$NS" conntrack -S | tr ' ' '\n' | awk -F= '$1 == "drop" { n += $2 } END { print n + 0 }')
	full=$(events ".type == \"drop\" and .netns == $ino and .nat.class == \"conntrack_full\"")
	echo "conntrack drop $ct_drop, portwatch conntrack_full $full"
	[ "$ct_drop" -ge 1 ]
	[ "$full" -eq "$ct_drop" ]
	[ "$(events ".type == \"drop\" and .netns == $ino and .nat.class == \"conntrack_full\"
		and .pid == $SOCKOP_PID and .attribution == \"socket\" and .dport == 8080")" -eq "$full" ]
}

@test "invalid: segments conntrack refuses are classed so, == the rule's counter" {
	[ -r /proc/sys/net/netfilter/nf_conntrack_max ] || skip "no conntrack in this kernel"
	netns_new invalid
	ino=$(netns_inode "$NS")
	sockop_hold "$NS" listen 127.0.0.1 8080
	# A connection established before conntrack runs in the netns: with
	# nf_conntrack_tcp_loose 0 its next segment is invalid to conntrack.
	out=$BATS_TEST_TMPDIR/client
	ip netns exec "$NS" "$SOCKOP" connect 127.0.0.1 8080 1 wait write hold >"$out" &
	client=$!
	PIDS+=("$client")
	wait_for_line "$out" "^waiting" "$client"
	ip netns exec "$NS" sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0
	ip netns exec "$NS" nft add table inet t
	ip netns exec "$NS" nft add chain inet t out '{ type filter hook output priority 0; }'
	ip netns exec "$NS" nft add rule inet t out ct state invalid counter drop
	pw_start --drop-rate=0
	kill -USR1 "$client"
	wait_for_line "$out" "^holding" "$client"
	grep -q "write ok" "$out"
	# Abort the connection: its RST is the last packet it sends (dropped too).
	ip netns exec "$NS" ss -K -t dst 127.0.0.1 dport = 8080 >/dev/null
	pw_stop

	rule=$(rule_count "$NS")
	invalid=$(events ".type == \"drop\" and .netns == $ino and .nat.class == \"invalid\"")
	echo "rule $rule, portwatch invalid $invalid"
	[ "$rule" -ge 2 ]
	[ "$invalid" -eq "$rule" ]
	[ "$(events ".type == \"drop\" and .netns == $ino and .nat.class == \"invalid\"
		and .pid == $client and .attribution == \"socket\" and .dport == 8080")" -eq "$rule" ]
}

# Two senders whose UDP datagrams rules of their own namespaces drop on
# output: A (comm pwdropa, a copy of sockop) in $NSA and cgroup $CGA toward
# 127.0.0.1:$PA, B (sockop) in $NSB and $CGB toward [::1]:$PB.
two_droppers() {
	netns_new dropa
	NSA=$NS INOA=$(netns_inode "$NS")
	netns_new dropb
	NSB=$NS INOB=$(netns_inode "$NS")
	PA=9917 PB=9918 NA=30 NB=20
	ip netns exec "$NSA" nft add table inet acl
	ip netns exec "$NSA" nft add chain inet acl out '{ type filter hook output priority 0; }'
	ip netns exec "$NSA" nft add rule inet acl out udp dport $PA counter drop
	ip netns exec "$NSB" nft add table inet acl
	ip netns exec "$NSB" nft add chain inet acl out '{ type filter hook output priority 0; }'
	ip netns exec "$NSB" nft add rule inet acl out udp dport $PB counter drop
	cgroup_new dropa
	CGA=$CG
	cgroup_new dropb
	CGB=$CG
	DROPA=$BATS_TEST_TMPDIR/pwdropa
	cp "$SOCKOP" "$DROPA"
}

# filtered_drops 'OPTIONS' KEPT: A sends $NA datagrams, B $NB, under trace
# --drop-rate=0 OPTIONS (which may name $A and $B); KEPT (A, B or AB) says
# whose drops the filter keeps: exactly those are reported, each rule's
# counter's worth, and none of the other's.
filtered_drops() {
	local before_a before_b ra rb want_a=0 want_b=0
	SOCKOP=$DROPA sockop_gated "$NSA" udp sendn 127.0.0.1 $PA $NA
	A=$GATED_PID
	sockop_gated "$NSB" udp sendn ::1 $PB $NB
	B=$GATED_PID
	echo "$A" >"$CGA/cgroup.procs"
	echo "$B" >"$CGB/cgroup.procs"
	before_a=$(rule_count "$NSA")
	before_b=$(rule_count "$NSB")
	eval "pw_start --drop-rate=0 $1"
	release "$A"
	release "$B"
	pw_stop
	grep -q "sendn 127.0.0.1 $PA sent 0 failed $NA" "$BATS_TEST_TMPDIR/gated.$A" ||
		setup_error "A's sends were not all dropped: $(cat "$BATS_TEST_TMPDIR/gated.$A")"
	grep -q "sendn ::1 $PB sent 0 failed $NB" "$BATS_TEST_TMPDIR/gated.$B" ||
		setup_error "B's sends were not all dropped: $(cat "$BATS_TEST_TMPDIR/gated.$B")"
	ra=$(($(rule_count "$NSA") - before_a))
	rb=$(($(rule_count "$NSB") - before_b))
	if [[ $2 == *A* ]]; then want_a=$ra; fi
	if [[ $2 == *B* ]]; then want_b=$rb; fi
	got_a=$(events ".type == \"drop\" and .netns == $INOA")
	got_b=$(events ".type == \"drop\" and .netns == $INOB")
	echo "filtered_drops '$1': A=$A B=$B rules $ra $rb, kept $got_a $got_b, want $want_a $want_b"
	[ "$ra" -eq "$NA" ]
	[ "$rb" -eq "$NB" ]
	[ "$got_a" -eq "$want_a" ]
	[ "$got_b" -eq "$want_b" ]
	# What is kept is the sender's own, with the packet's tuple.
	[ "$(events ".type == \"drop\" and .netns == $INOA and .pid == $A and .comm == \"pwdropa\"
		and .attribution == \"socket\" and .cgroup_id == $(stat -c %i "$CGA")
		and .reason == \"NETFILTER_DROP\" and .proto == \"udp\" and .family == \"ipv4\"
		and .daddr == \"127.0.0.1\" and .dport == $PA")" -eq "$want_a" ]
	[ "$(events ".type == \"drop\" and .netns == $INOB and .pid == $B and .comm == \"sockop\"
		and .attribution == \"socket\" and .cgroup_id == $(stat -c %i "$CGB")
		and .reason == \"NETFILTER_DROP\" and .proto == \"udp\" and .family == \"ipv6\"
		and .daddr == \"::1\" and .dport == $PB")" -eq "$want_b" ]
}

@test "trace's filters on drop records keep exactly the matching drops" {
	two_droppers
	# Drops elsewhere on the host are not counted: only these two namespaces'.
	filtered_drops "" AB
	filtered_drops '--netns $INOA' A
	filtered_drops '--netns /run/netns/$NSB' B
	filtered_drops '--pid $A' A
	filtered_drops '-p $B' B
	filtered_drops '--comm pwdropa' A
	filtered_drops '--comm sockop' B
	filtered_drops '--cgroup $CGA' A
	filtered_drops '--cgroup $CGB' B
	filtered_drops '--dport $PA' A
	filtered_drops '--dport $PB' B
	filtered_drops '--daddr 127.0.0.1' A
	filtered_drops '--daddr ::1' B
	filtered_drops '--netns $INOA --dport $PB' ""
}
