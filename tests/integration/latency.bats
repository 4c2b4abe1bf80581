#!/usr/bin/env bats
# portwatch latency: the connect-time port search, one sample per connect().

load lib

teardown() {
	pw_teardown
}

# The source the forced rung must report, or any when none is forced.
expected_source() {
	case "${PW_ATTACH:-}" in
	fentry) echo '.source == "fexit"' ;;
	kprobe) echo '.source == "kretprobe"' ;;
	tracepoint) echo '.source == "estimate"' ;;
	*) echo true ;;
	esac
}

@test "latency: exactly one port-search sample per connect(), failed searches counted" {
	netns_new lat
	port_range "$NS" 40000 40003
	pw_start_cmd latency -i 1 --netns "$(netns_inode "$NS")"
	sockop "$NS" listen 127.0.0.1 8080 listen ::1 8081 \
		connect 127.0.0.1 8080 6 connect ::1 8081 2
	[ "$(grep -c 'connect 127.0.0.1 8080 ok' "$SOCKOP_OUT")" -eq 4 ]
	[ "$(grep -c 'connect 127.0.0.1 8080 err 99' "$SOCKOP_OUT")" -eq 2 ]
	[ "$(grep -c 'connect ::1 8081 ok' "$SOCKOP_OUT")" -eq 2 ]
	# A connect in another namespace is left out by --netns.
	netns_new other
	sockop "$NS" listen 127.0.0.1 8080 connect 127.0.0.1 8080 1
	grep -q 'connect 127.0.0.1 8080 ok' "$SOCKOP_OUT"
	pw_stop

	cat "$PW_OUT"
	# Interval histograms are deltas: their sums are the run's totals.
	[ "$(jq -s '[.[].count] | add' "$PW_OUT")" -eq 8 ]
	[ "$(jq -s '[.[].failed] | add' "$PW_OUT")" -eq 2 ]
	[ "$(jq -s '[.[].buckets[].count] | add' "$PW_OUT")" -eq 8 ]
	[ "$(jq -s "[.[] | select(.type == \"port_search_hist\" and .unit == \"ns\"
		and $(expected_source))] | length" "$PW_OUT")" -eq "$(wc -l <"$PW_OUT")" ]
}
