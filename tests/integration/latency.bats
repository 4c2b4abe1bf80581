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

# The text label of the forced rung's source, or any when none is forced.
expected_label() {
	case "${PW_ATTACH:-}" in
	fentry) echo 'fexit __inet_hash_connect' ;;
	kprobe) echo 'kretprobe __inet_hash_connect' ;;
	tracepoint) echo 'ESTIMATE: whole connect\(\) syscall' ;;
	*) echo '(fexit __inet_hash_connect|kretprobe __inet_hash_connect|ESTIMATE: whole connect\(\) syscall)' ;;
	esac
}

@test "latency text: one histogram at Ctrl-C whose counts add up to the connects made" {
	host_only
	netns_new lattext
	port_range "$NS" 40000 40003
	PW_FORMAT=text pw_start_cmd latency --netns "$(netns_inode "$NS")"
	sockop "$NS" listen 127.0.0.1 8080 connect 127.0.0.1 8080 6
	[ "$(grep -c 'connect 127.0.0.1 8080 ok' "$SOCKOP_OUT")" -eq 4 ] || setup_error "4 connects"
	[ "$(grep -c 'connect 127.0.0.1 8080 err 99' "$SOCKOP_OUT")" -eq 2 ] || setup_error "2 failures"
	pw_stop
	cat "$PW_OUT"

	[[ "$(sed -n 1p "$PW_OUT")" =~ ^[0-9]{2}:[0-9]{2}:[0-9]{2}\ port\ search\ per\ connect\(\)\ \($(expected_label)\):\ 6\ connects,\ 2\ found\ no\ free\ port,\ average\ [0-9]+\ ns$ ]]
	[ "$(sed -n 2p "$PW_OUT")" = "$(printf '%25s : %-10s distribution' ns count)" ]
	# The slots: contiguous log2 bounds, first and last not empty, bars
	# scaled to the fullest (40 stars), counts adding up to the 6 connects.
	awk 'NR > 2 {
		bar = $0; sub(/^[^|]*\|/, "", bar); sub(/\|$/, "", bar)
		if ($0 !~ /^ +[0-9]+ -> [0-9]+ +: [0-9]+ +\|[* ]+\|$/ || length(bar) != 40) {
			print "bad line: " $0; bad = 1; exit 1 }
		lo[NR] = $1; hi[NR] = $3; n[NR] = $5
		stars[NR] = gsub(/\*/, "", bar); if ($5 > max) max = $5; last = NR }
		END { if (bad) exit 1
		      total = 0
		      for (i = 3; i <= last; i++) {
			total += n[i]
			if (i > 3 && lo[i] != hi[i - 1] + 1) { print "gap before " lo[i]; exit 1 }
			if (hi[i] != 2 * lo[i] - 1 && lo[i] != 0) { print "not log2: " lo[i] "-" hi[i]; exit 1 }
			if (stars[i] != int(n[i] * 40 / max)) { print "bar of " n[i] ": " stars[i]; exit 1 } }
		      if (last < 3 || n[3] == 0 || n[last] == 0) { print "empty edge slot"; exit 1 }
		      if (total != 6) { print "total " total; exit 1 } }' "$PW_OUT"
	[ "$(grep -c 'port search per connect()' "$PW_OUT")" -eq 1 ]
}
