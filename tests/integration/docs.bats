#!/usr/bin/env bats
# docs/ARCHITECTURE.md stays true to the tree: its picture is drawn from the
# committed source, and every source file it names exists.

load lib

@test "docs: architecture.svg is what graphviz draws from architecture.dot" {
	host_only
	dot -Tsvg "$TOP/docs/architecture.dot" | cmp - "$TOP/docs/architecture.svg"
}

@test "docs: every source file the architecture page and its picture name exists" {
	host_only
	# The picture's labels break lines with a literal \n.
	names=$(sed 's/\\n/ /g' "$TOP/docs/ARCHITECTURE.md" "$TOP/docs/architecture.dot" |
		grep -oP '(?<![.*a-z_])[a-z_]+\.(bpf\.c|bpf\.h|c|h)\b' | sort -u)
	[ "$(wc -l <<<"$names")" -ge 20 ] || setup_error "the page names only: $names"
	for f in $names; do
		[ -e "$TOP/bpf/$f" ] || [ -e "$TOP/user/$f" ] || [ -e "$TOP/tests/unit/$f" ] ||
			{ echo "named but missing: $f"; return 1; }
	done
}
