#!/usr/bin/env bats
# The shipped forms of portwatch: `make install` (binary, portwatch(8), bash
# completion). Host only: the same on every kernel.

load lib

STATIC=$TOP/build/static/portwatch
COMMANDS="check drops latency ports probes top trace"

teardown() {
	pw_teardown
}

# help_options COMMAND: the long options `portwatch COMMAND --help` lists, sorted.
help_options() {
	"$PORTWATCH" "$1" --help | grep -oE '^ +(-[a-zA-Z?], )?--[a-z-]+' |
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

@test "install: make install DESTDIR= PREFIX=/usr installs the binary, portwatch(8) and the completion, uninstall removes them" {
	host_only
	local root=$BATS_TEST_TMPDIR/root
	make -s -C "$TOP" install DESTDIR="$root" PREFIX=/usr
	[ "$(cd "$root" && find . ! -type d | sort)" = "./usr/sbin/portwatch
./usr/share/bash-completion/completions/portwatch
./usr/share/man/man8/portwatch.8" ]
	cmp "$root/usr/sbin/portwatch" "$PORTWATCH"
	cmp "$root/usr/share/bash-completion/completions/portwatch" "$TOP/tools/portwatch.bash-completion"
	[ "$(stat -c %a "$root/usr/sbin/portwatch")" = 755 ]
	[ "$(stat -c %a "$root/usr/share/man/man8/portwatch.8")" = 644 ]
	make -s -C "$TOP" uninstall DESTDIR="$root" PREFIX=/usr
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

@test "install: the bash completion completes the 7 commands, each command's options as --help lists them, option values" {
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
}
