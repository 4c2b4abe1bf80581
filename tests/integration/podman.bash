# Podman helpers for the container tests (load after lib): an image made
# here (no registry), a network and containers of the test's own, all
# removed by podman_teardown. Podman 4.3 runs containers on this kind of
# host only with runc (crun refuses the hybrid cgroup layout) and without
# raised rlimits.

PODMAN=(podman --runtime runc)
CONTAINERS=()
PODMAN_NETS=()
PODMAN_IMAGES=()

# podman_ready: skip in a guest (no container runtime there), fail as a
# setup error where podman or runc is missing (tools/deps.sh installs them).
podman_ready() {
	[ -z "${PW_GUEST:-}" ] || skip "containers run on the host"
	command -v podman >/dev/null && command -v runc >/dev/null ||
		setup_error "podman and runc are needed (tools/deps.sh installs them)"
}

# client_image: an image holding busybox (static) and sockop (static), in
# $CLIENT_IMAGE; made once per test run from a tarball (podman import).
client_image() {
	local root=$BATS_TEST_TMPDIR/image c
	CLIENT_IMAGE=localhost/pwtest-client:$$
	"${PODMAN[@]}" image exists "$CLIENT_IMAGE" && return 0
	mkdir -p "$root/bin"
	cp /bin/busybox "$root/bin/"
	for c in sh sleep cat nc; do ln -s busybox "$root/bin/$c"; done
	cp "$TOP/build/tests/sockop-static" "$root/bin/sockop"
	tar -C "$root" -cf "$root.tar" .
	"${PODMAN[@]}" import -q "$root.tar" "$CLIENT_IMAGE" >/dev/null
	PODMAN_IMAGES+=("$CLIENT_IMAGE")
}

# container_net NAME SUBNET: a bridge network of the test's own, with the
# runtime's MASQUERADE for traffic leaving it; its name in $NET.
container_net() {
	NET=pwt-$1-$$
	"${PODMAN[@]}" network create --subnet "$2" "$NET" >/dev/null
	PODMAN_NETS+=("$NET")
}

# container_run NAME PODMAN_RUN_ARGS... -- COMMAND...: a detached container
# of $CLIENT_IMAGE named pwt-NAME-PID; sets CONTAINER (its name),
# CONTAINER_ID (64 hex) and CONTAINER_PID (its first process, host pid).
container_run() {
	local name=pwt-$1-$$ args=()
	shift
	while [ "$1" != -- ]; do
		args+=("$1")
		shift
	done
	shift
	CONTAINER_ID=$("${PODMAN[@]}" run -d --name "$name" \
		--ulimit nofile=20000:20000 --ulimit nproc=1000:1000 \
		"${args[@]}" "$CLIENT_IMAGE" "$@")
	CONTAINERS+=("$name")
	CONTAINER=$name
	CONTAINER_PID=$("${PODMAN[@]}" inspect -f '{{.State.Pid}}' "$name")
	[ "${CONTAINER_PID:-0}" -gt 0 ] || setup_error "container $name has no process"
}

# container_logs_wait NAME PATTERN: bounded wait (30 s) for PATTERN in the
# container's output.
container_logs_wait() {
	local i
	for ((i = 0; i < 300; i++)); do
		"${PODMAN[@]}" logs "$1" 2>&1 | grep -q -- "$2" && return 0
		sleep 0.1
	done
	setup_error "no '$2' in the output of container $1: $("${PODMAN[@]}" logs "$1" 2>&1 | tail -5)"
}

podman_teardown() {
	local c
	for c in "${CONTAINERS[@]}"; do
		"${PODMAN[@]}" rm -f -t 0 "$c" >/dev/null 2>&1 || true
	done
	for c in "${PODMAN_NETS[@]}"; do
		"${PODMAN[@]}" network rm -f "$c" >/dev/null 2>&1 || true
	done
	for c in "${PODMAN_IMAGES[@]}"; do
		"${PODMAN[@]}" rmi -f "$c" >/dev/null 2>&1 || true
	done
}
