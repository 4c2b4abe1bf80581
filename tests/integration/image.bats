#!/usr/bin/env bats
# The shipped forms of portwatch: `make install` (binary, portwatch(8), bash
# completion), the static binary in the FROM-scratch image under Podman with
# the capabilities the DaemonSet grants, and the DaemonSet's pod template
# played by `podman kube play`. Host only: no container runtime in a guest.

load lib
load podman

STATIC=$TOP/build/static/portwatch
DAEMONSET=$TOP/deploy/kubernetes/portwatch.yaml
# The capabilities of deploy/kubernetes/portwatch.yaml, as podman names them.
CAPS=SYS_ADMIN,SYS_PTRACE
COMMANDS="check drops latency ports probes serve top trace"

teardown() {
	[ -z "${POD_YAML:-}" ] || "${PODMAN[@]}" kube down "$POD_YAML" >/dev/null 2>&1 || true
	podman_teardown
	pw_teardown
}

# help_options COMMAND: the long options `portwatch COMMAND --help` lists, sorted.
help_options() {
	"$PORTWATCH" "$1" --help | grep -oE '^ +(-[a-zA-Z?], )?--[a-z0-9-]+' |
		sed -E 's/^ +(-., )?//' | sort
}

# complete WORD...: what the bash completion offers for the command line
# "portwatch WORD...", the last word being completed; one per line, sorted.
complete_words() {
	bash -c 'source "$1"; shift
		COMP_WORDS=(portwatch "$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		_portwatch; printf "%s\n" "${COMPREPLY[@]}"' \
		_ "$TOP/tools/portwatch.bash-completion" "$@" | sort
}

# image: the FROM-scratch image built by `make image`, named $PW_IMAGE.
image() {
	[ -x "$STATIC" ] || setup_error "no $STATIC: make static"
	PW_IMAGE=localhost/pwtest-portwatch:$$
	make -s -C "$TOP" image IMAGE="$PW_IMAGE" >/dev/null
	PODMAN_IMAGES+=("$PW_IMAGE")
}

@test "install: make install DESTDIR= PREFIX=/usr installs the binary, portwatch(8), the completion and the systemd unit, uninstall removes them" {
	host_only
	local root=$BATS_TEST_TMPDIR/root unit
	make -s -C "$TOP" install DESTDIR="$root" PREFIX=/usr
	[ "$(cd "$root" && find . ! -type d | sort)" = "./usr/lib/systemd/system/portwatch.service
./usr/sbin/portwatch
./usr/share/bash-completion/completions/portwatch
./usr/share/man/man8/portwatch.8" ]
	cmp "$root/usr/sbin/portwatch" "$PORTWATCH"
	cmp "$root/usr/share/bash-completion/completions/portwatch" "$TOP/tools/portwatch.bash-completion"
	[ "$(stat -c %a "$root/usr/sbin/portwatch")" = 755 ]
	[ "$(stat -c %a "$root/usr/share/man/man8/portwatch.8")" = 644 ]
	# The unit as in the tree, but for ExecStart naming the installed binary.
	unit=$root/usr/lib/systemd/system/portwatch.service
	[ "$(stat -c %a "$unit")" = 644 ]
	[ "$(grep '^ExecStart=' "$unit")" = "ExecStart=/usr/sbin/portwatch serve --listen 127.0.0.1:9477" ]
	[ "$(diff "$TOP/deploy/systemd/portwatch.service" "$unit" | grep -c '^[<>]')" -eq 2 ]
	make -s -C "$TOP" uninstall DESTDIR="$root" PREFIX=/usr
	[ -z "$(cd "$root" && find . ! -type d)" ]

	# SYSTEMD_UNIT_DIR moves the unit alone.
	make -s -C "$TOP" install DESTDIR="$root" PREFIX=/usr/local SYSTEMD_UNIT_DIR=/etc/systemd/system
	[ "$(grep '^ExecStart=' "$root/etc/systemd/system/portwatch.service")" = \
		"ExecStart=/usr/local/sbin/portwatch serve --listen 127.0.0.1:9477" ]
	make -s -C "$TOP" uninstall DESTDIR="$root" PREFIX=/usr/local SYSTEMD_UNIT_DIR=/etc/systemd/system
	[ -z "$(cd "$root" && find . ! -type d)" ]

	# STATIC=1: the static binary instead, and it is static.
	[ -x "$STATIC" ] || setup_error "no $STATIC: make static"
	make -s -C "$TOP" install DESTDIR="$root" PREFIX=/usr STATIC=1
	cmp "$root/usr/sbin/portwatch" "$STATIC"
	file -L "$root/usr/sbin/portwatch" | grep -q 'static-pie linked'
	run ldd "$root/usr/sbin/portwatch"
	[[ $output == *"statically linked"* ]] || [[ $output == *"not a dynamic executable"* ]]
}

@test "install: man -l renders portwatch(8) without warnings, every section and command, every option of --help in its source" {
	host_only
	make -s -C "$TOP" man
	local page=$TOP/build/portwatch.8 c o
	MANWIDTH=80 man --warnings -l "$page" >"$BATS_TEST_TMPDIR/man.txt" 2>"$BATS_TEST_TMPDIR/man.err"
	[ ! -s "$BATS_TEST_TMPDIR/man.err" ] || { cat "$BATS_TEST_TMPDIR/man.err"; return 1; }
	for s in NAME SYNOPSIS DESCRIPTION COMMANDS "EXIT STATUS" FILES EXAMPLES "SEE ALSO"; do
		grep -qx "$s" "$BATS_TEST_TMPDIR/man.txt" || { echo "no section $s"; return 1; }
	done
	for c in $COMMANDS; do
		grep -qE "^       $c \[OPTION\.\.\.\]$" "$BATS_TEST_TMPDIR/man.txt" ||
			{ echo "no command $c"; return 1; }
		for o in $(help_options "$c"); do
			grep -qF -- "*$o" "$TOP/docs/portwatch.8.scd" ||
				{ echo "$c's $o is not in the man page"; return 1; }
		done
	done
	[ "$(grep -c '^ *portwatch [a-z]' "$BATS_TEST_TMPDIR/man.txt")" -ge 11 ]
}

@test "install: the bash completion completes the 8 commands, each command's options as --help lists them, option values" {
	host_only
	[ "$(complete_words "")" = "$(tr ' ' '\n' <<<"$COMMANDS")" ]
	[ "$(complete_words t)" = "top
trace" ]
	for c in $COMMANDS; do
		[ "$(complete_words "$c" -- | sed 's/=$//')" = "$(help_options "$c")" ] ||
			{ echo "$c: completion $(complete_words "$c" -- | tr '\n' ' ') != --help $(help_options "$c" | tr '\n' ' ')"; return 1; }
	done
	[ "$(complete_words trace --drops = a)" = "all
attributed" ]
	[ "$(complete_words probes --attach "")" = "classic-tp
fentry
kprobe
tracepoint" ]
	[ "$(complete_words top --sort=u)" = util ]
	[ "$(complete_words drops --by = nat)" = nat_class ]
	[ "$(complete_words serve --labels=k)" = k8s_namespace ]
}

@test "image: FROM scratch, the static binary alone; under podman with host PID and network and 2 capabilities, trace names a client container's failing connects by host pid" {
	host_only
	podman_ready
	image
	# Nothing but the binary in the image.
	local mnt
	mnt=$("${PODMAN[@]}" image mount "$PW_IMAGE")
	[ "$(cd "$mnt" && find . | sort)" = ".
./usr
./usr/bin
./usr/bin/portwatch" ] || { "${PODMAN[@]}" image unmount "$PW_IMAGE" >/dev/null; return 1; }
	cmp "$mnt/usr/bin/portwatch" "$STATIC" || { "${PODMAN[@]}" image unmount "$PW_IMAGE" >/dev/null; return 1; }
	"${PODMAN[@]}" image unmount "$PW_IMAGE" >/dev/null

	CLIENT_IMAGE=$PW_IMAGE container_run pw --pid=host --network=host \
		--cap-drop all --cap-add "$CAPS" -v /sys/fs/cgroup:/sys/fs/cgroup:ro \
		-- trace --json --drops=none --comm pwimgcli
	local pw=$CONTAINER
	container_logs_wait "$pw" "Hit Ctrl-C to end."

	client_image
	container_run cli --network=none --sysctl net.ipv4.ip_local_port_range="40000 40001" \
		-- sockop comm pwimgcli listen 127.0.0.1 8080 connect 127.0.0.1 8080 4 hold
	container_logs_wait "$CONTAINER" "^holding"
	local logs ino n i
	logs=$("${PODMAN[@]}" logs "$CONTAINER")
	# In its own pid namespace, sockop is pid 1: the host knows it as CONTAINER_PID.
	grep -qx "pid 1" <<<"$logs"
	[ "$(grep -c 'err 99 EADDRNOTAVAIL' <<<"$logs")" -eq 2 ] ||
		setup_error "sockop's connects: $logs"
	ino=$(stat -L -c %i "/proc/$CONTAINER_PID/ns/net")

	for ((i = 0; i < 100; i++)); do
		n=$("${PODMAN[@]}" logs "$pw" 2>/dev/null | grep -c '"type":"port_alloc_fail"' || true)
		[ "$n" -ge 2 ] && break
		sleep 0.1
	done
	"${PODMAN[@]}" logs "$pw" 2>/dev/null | grep '^{' >"$BATS_TEST_TMPDIR/pw.json"
	[ "$(jq -s --argjson pid "$CONTAINER_PID" --argjson ino "$ino" '[.[] |
		select(.type == "port_alloc_fail" and .pid == $pid and .comm == "pwimgcli" and
			.netns == $ino and .op == "connect" and .proto == "tcp" and
			.errno == 99 and .error == "EADDRNOTAVAIL" and
			.daddr == "127.0.0.1" and .dport == 8080 and .port_range == [40000, 40001])] |
		length' "$BATS_TEST_TMPDIR/pw.json")" -eq 2 ] || { cat "$BATS_TEST_TMPDIR/pw.json"; return 1; }
	[ "$(jq -s '[.[] | select(.type == "port_alloc_fail")] | length' "$BATS_TEST_TMPDIR/pw.json")" -eq 2 ]

	# SIGINT: portwatch ends with status 0.
	"${PODMAN[@]}" kill -s INT "$pw" >/dev/null
	[ "$("${PODMAN[@]}" wait "$pw")" -eq 0 ]
}

@test "daemonset: its pod template serves on 0.0.0.0:9477 with probes and scrape annotations; played under podman kube play it serves a host process's failing connects, stops with status 0 and is removed" {
	host_only
	podman_ready
	command -v catatonit >/dev/null || setup_error "podman's pod infra container needs catatonit (tools/deps.sh installs it)"
	python3 -c 'import yaml' || setup_error "python3-yaml is needed (tools/deps.sh installs it)"
	image
	# The Pod the DaemonSet would create on a node, with the test's image.
	POD=pwt-pod-$$
	POD_YAML=$BATS_TEST_TMPDIR/pod.json
	python3 - "$DAEMONSET" "$POD" "$PW_IMAGE" >"$BATS_TEST_TMPDIR/template.json" <<'EOF'
import json, sys, yaml
path, name, image = sys.argv[1:]
ds = [d for d in yaml.safe_load_all(open(path)) if d and d["kind"] == "DaemonSet"]
assert len(ds) == 1, "one DaemonSet"
t = ds[0]["spec"]["template"]
spec = t["spec"]
assert len(spec["containers"]) == 1, "one container"
spec["containers"][0]["image"] = image
print(json.dumps({"apiVersion": "v1", "kind": "Pod",
                  "metadata": dict(t["metadata"], name=name), "spec": spec}))
EOF
	# serve on all addresses of the node, its port named metrics, probed on
	# /healthz there, and annotations naming that port and /metrics.
	[ "$(jq -c '[.spec.hostPID, .spec.hostNetwork, .metadata.annotations,
		.spec.containers[0].args, .spec.containers[0].ports,
		.spec.containers[0].livenessProbe.httpGet, .spec.containers[0].readinessProbe.httpGet,
		.spec.containers[0].securityContext.capabilities]' "$BATS_TEST_TMPDIR/template.json")" = \
		'[true,true,{"prometheus.io/scrape":"true","prometheus.io/port":"9477","prometheus.io/path":"/metrics"},["serve","--listen","0.0.0.0:9477"],[{"name":"metrics","containerPort":9477,"protocol":"TCP"}],{"path":"/healthz","port":"metrics"},{"path":"/healthz","port":"metrics"},{"drop":["ALL"],"add":["SYS_ADMIN","SYS_PTRACE"]}]' ]
	# Podman 4.3 refuses a container port with the host's network ("PortMappings
	# can only be used with Bridge or slirp4netns networking"); Kubernetes takes
	# it as the node's port, which host networking gives anyway. Its probes
	# would run as healthchecks inside the image, which has no HTTP client: the
	# test asks /healthz itself.
	jq 'del(.spec.containers[0].livenessProbe, .spec.containers[0].readinessProbe,
			.spec.containers[0].ports)' "$BATS_TEST_TMPDIR/template.json" >"$POD_YAML"

	# Podman's defaults here: runc, rlimits it can set (podman.bash), and
	# catatonit for the pod's infra container (an image podman makes locally).
	cat >"$BATS_TEST_TMPDIR/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=1000:1000"]
[engine]
runtime = "runc"
helper_binaries_dir = ["/usr/local/libexec/podman", "/usr/local/lib/podman", "/usr/libexec/podman", "/usr/lib/podman", "/usr/bin"]
EOF
	# kube play takes a directory named like the image in its working
	# directory for a build context: play it from the test's own.
	(cd "$BATS_TEST_TMPDIR" && CONTAINERS_CONF=$BATS_TEST_TMPDIR/containers.conf \
		"${PODMAN[@]}" kube play "$POD_YAML" >/dev/null)
	local c=$POD-portwatch
	container_logs_wait "$c" "Hit Ctrl-C to end."
	# What the container got: the host's network, the 2 capabilities, a
	# read-only root, the limits, every host path read-only. Not the host's
	# PID namespace: podman 4.3's kube play ignores hostPID (the template's
	# is checked above); portwatch's BPF programs see host pids regardless.
	[ "$("${PODMAN[@]}" inspect -f '{{.HostConfig.NetworkMode}} {{.EffectiveCaps}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.Memory}} {{.HostConfig.CpuQuota}}' "$c")" = \
		"host [CAP_SYS_ADMIN CAP_SYS_PTRACE] true 268435456 50000" ]
	[ "$("${PODMAN[@]}" inspect -f '{{range .Mounts}}{{.Destination}}:{{.RW}} {{end}}' "$c")" = \
		"/sys/kernel/btf:false /sys/kernel/tracing:false /sys/fs/cgroup:false /run/netns:false /run/containerd:false /run/containers:false /var/lib/containers/storage:false " ]

	# Serving on the node's port 9477: /healthz, then a host process's
	# connects fail for want of a port and the scrape counts them under its
	# comm and netns, with the netns's range. Bounded waits (20 s).
	local scrape=$BATS_TEST_TMPDIR/scrape
	scrape_until "$BATS_TEST_TMPDIR/healthz" true curl -sf --max-time 2 http://127.0.0.1:9477/healthz ||
		{ "${PODMAN[@]}" logs "$c"; return 1; }
	exhausted_ns pod
	sockop_hold "$NS" comm pwpodcli connect 127.0.0.1 8080 2
	grep -c 'err 99 EADDRNOTAVAIL' "$SOCKOP_OUT" | grep -qx 2 || setup_error "sockop: $(cat "$SOCKOP_OUT")"
	served() {
		[ "$(metric_sum portwatch_port_alloc_failures_total comm=pwpodcli netns="$INO" \
			proto=tcp op=connect error=EADDRNOTAVAIL daddr=127.0.0.1 dport=8080 <"$scrape")" -eq 2 ] &&
			[ "$(metric_sum portwatch_ephemeral_port_range_last netns="$INO" <"$scrape")" -eq 40001 ]
	}
	scrape_until "$scrape" served curl -sf --max-time 2 http://127.0.0.1:9477/metrics

	# Stopped (SIGTERM), portwatch ends with status 0; kube down removes it all.
	"${PODMAN[@]}" pod stop -t 10 "$POD" >/dev/null
	[ "$("${PODMAN[@]}" inspect -f '{{.State.ExitCode}}' "$c")" -eq 0 ]
	"${PODMAN[@]}" kube down "$POD_YAML" >/dev/null
	POD_YAML=
	! "${PODMAN[@]}" pod exists "$POD"
	! "${PODMAN[@]}" container exists "$c"
}
