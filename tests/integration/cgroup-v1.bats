#!/usr/bin/env bats
# Container identity where the runtime keeps a container's processes in
# cgroup v1 hierarchies only (their cgroup v2 cgroup is the root's): found
# through the owner's mount namespace, which the kernel records with every
# owner, and the v1 path of a process in it, cached so that the process may
# exit before its record is read.

load lib

setup() {
	V1=$BATS_TEST_TMPDIR/v1
	V1_NAME=pwt-$$
	mkdir "$V1"
	CTR_ID=$(printf '%064x' $((0x5eed0000 + $$)))
	# a named v1 hierarchy of the test's own, without controllers
	in_v1 "mkdir -p '$V1/docker/$CTR_ID'" || setup_error "cannot make a cgroup v1 hierarchy"
	V1_MADE=1
	V2_ROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
	[ -n "$V2_ROOT" ] || setup_error "no cgroup2 mount"
	exhausted_ns v1
}

teardown() {
	pw_teardown
	# the hierarchy goes away with its last cgroup: nothing stays mounted
	[ -z "${V1_MADE:-}" ] || in_v1 "rmdir '$V1/docker/$CTR_ID' '$V1/docker' 2>/dev/null; true"
}

# in_v1 SCRIPT: sh SCRIPT with the test's v1 hierarchy mounted at $V1, in a
# mount namespace of its own that goes away with it.
in_v1() {
	unshare -m --propagation private sh -c \
		"mount -t cgroup -o none,name=$V1_NAME cgroup '$V1' && $1"
}

# v1_client ARGS...: sockop in $NS (the last netns_new), in the v2 root cgroup and the v1
# container cgroup, waiting for SIGUSR1 before ARGS; sets CLIENT_PID.
v1_client() {
	CLIENT_OUT=$BATS_TEST_TMPDIR/client.out
	ip netns exec "$NS" "$SOCKOP" wait "$@" >"$CLIENT_OUT" &
	CLIENT_PID=$!
	PIDS+=("$CLIENT_PID")
	wait_for_line "$CLIENT_OUT" "^waiting" "$CLIENT_PID"
	echo "$CLIENT_PID" >"$V2_ROOT/cgroup.procs"
	in_v1 "echo $CLIENT_PID > '$V1/docker/$CTR_ID/cgroup.procs'"
	grep -q "^0::/$" "/proc/$CLIENT_PID/cgroup" ||
		setup_error "the client is not in the cgroup v2 root: $(cat "/proc/$CLIENT_PID/cgroup")"
	grep -q "name=$V1_NAME:/docker/$CTR_ID$" "/proc/$CLIENT_PID/cgroup" ||
		setup_error "the client is not in the v1 container cgroup"
}

@test "cgroup v1: a container known only by its v1 cgroup is named through the mount namespace, after the client exited; --container keeps it" {
	v1_client connect 127.0.0.1 8080 1
	pw_start --drops=none
	pw_start_second trace --drops=none --container "${CTR_ID:0:12}"
	# portwatch reads nothing until the client and its v1 cgroup are gone
	kill -STOP "$PW_PID" "$PW2_PID"
	kill -USR1 "$CLIENT_PID"
	wait "$CLIENT_PID" || true
	[ "$(grep -c 'err 99 EADDRNOTAVAIL' "$CLIENT_OUT")" -eq 1 ] ||
		setup_error "the client did not fail once: $(cat "$CLIENT_OUT")"
	in_v1 "rmdir '$V1/docker/$CTR_ID'"
	kill -CONT "$PW_PID" "$PW2_PID"
	wait_for_line "$PW_OUT" port_alloc_fail "$PW_PID"
	wait_for_line "$PW2_OUT" port_alloc_fail "$PW2_PID"
	pw_stop
	pw_stop "$PW2_PID" "$PW2_ERR"
	[ "$(events ".type == \"port_alloc_fail\" and .pid == $CLIENT_PID and .errno == 99 and .container_id == \"$CTR_ID\" and .runtime == \"docker\" and .container == null and .pod == null")" -eq 1 ]
	PW_OUT=$PW2_OUT
	[ "$(events true)" -eq 1 ]
	[ "$(events ".pid == $CLIENT_PID and .container_id == \"$CTR_ID\"")" -eq 1 ]
}

@test "cgroup v1: ports names a live client's container through its mount namespace; --container keeps its row" {
	host_only
	netns_new v1b
	v1_client listen 127.0.0.1 9090 connect 127.0.0.1 9090 1 hold
	kill -USR1 "$CLIENT_PID"
	wait_for_line "$CLIENT_OUT" "^holding" "$CLIENT_PID"
	run "$PORTWATCH" ports --json --container "$CTR_ID"
	[ "$status" -eq 0 ]
	[ "$(jq -s '[.[] | select(.type == "port")] | length' <<<"$output")" -eq 1 ]
	[ "$(jq -s "[.[] | select(.type == \"port\" and .pid == $CLIENT_PID and .container_id == \"$CTR_ID\" and .runtime == \"docker\" and .daddr == \"127.0.0.1\" and .dport == 9090 and .established == 1)] | length" <<<"$output")" -eq 1 ]
}
