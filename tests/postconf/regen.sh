#!/bin/bash
# regen.sh — record what Postfix's own postconf(1) prints for the corpus
#
# Usage: tests/postconf/regen.sh [POSTCONF]
#
# Runs every line of tests/postconf/commands with Postfix's postconf
# (default /usr/sbin/postconf; the files under expected/ come from Postfix
# 3.7.11 as Debian 12 ships it) on a fresh copy of the case directory, and
# stores under expected/CASE/ what it printed: NAME.out (stdout), NAME.err
# (stderr), NAME.rc (exit status) and, when the command changed them,
# NAME.main.cf and NAME.master.cf. crates/postconf/tests/golden.rs runs the
# same commands with our postconf and compares, after the same
# normalization, which keeps the stored files free of anything that
# depends on the machine:
#
# - the program is run as "postconf" (argv[0] is the message prefix);
# - the copy's directory is shown as @DIR@;
# - the values that Postfix computes from the host or the build are shown
#   as @MYHOSTNAME@, @MYDOMAIN@, @MYNETWORKS@ (for commands with -d, and
#   otherwise only when the case's main.cf does not set them),
#   @MAIL_VERSION@, @MAIL_RELEASE_DATE@, @DAEMON_DIRECTORY@ (Debian's
#   /usr/lib/postfix/sbin) and @PID@ (process_id, also where -x expands it
#   into debugger_command);
# - Postfix reports undefined and unused parameters in the order of a hash
#   table that changes from run to run, so each run of such warnings is
#   sorted: main.cf undefined/read-only/database-file warnings together,
#   main.cf unused ones, and master.cf unused ones.
#
# In the case files, @DIR@ stands for the directory of the copy too (the
# ISP case names its MySQL table files by absolute path).
#
# The corpus must not use the domain of the machine that runs the tests
# (it uses names under .example and .test), and its files get an old
# modification time first: Postfix reads a main.cf changed within the
# last second several times and repeats its warnings.
#
# Run it as any user that can read the corpus; it writes only expected/.

set -eu
here=$(cd "$(dirname "$0")" && pwd)
real=${1:-/usr/sbin/postconf}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/bin" "$work/empty"
ln -s "$real" "$work/bin/postconf"

# normalize FILE CASE_DIR DEFAULTS: rewrite FILE in place (see above).
normalize() {
    local file=$1 dir=$2 defaults=$3
    local vals myhostname mydomain mynetworks
    if [ "$defaults" = yes ]; then
        vals=$(cd "$dir" && PATH="$work/bin:/usr/bin:/bin" postconf -c . -d -h \
            myhostname mydomain mynetworks 2>/dev/null || true)
    else
        vals=$(cd "$dir" && PATH="$work/bin:/usr/bin:/bin" postconf -c . -x -h \
            myhostname mydomain mynetworks 2>/dev/null || true)
    fi
    myhostname=$(sed -n 1p <<<"$vals")
    mydomain=$(sed -n 2p <<<"$vals")
    mynetworks=$(sed -n 3p <<<"$vals")
    if [ "$defaults" != yes ]; then
        grep -q '^myhostname[[:space:]]*=' "$dir/main.cf" 2>/dev/null && myhostname=
        grep -q '^mydomain[[:space:]]*=' "$dir/main.cf" 2>/dev/null && mydomain=
        grep -q '^mynetworks[[:space:]]*=' "$dir/main.cf" 2>/dev/null && mynetworks=
    fi
    local version release daemon
    version=$(PATH="$work/bin:/usr/bin:/bin" postconf -c "$work/empty" -d -h mail_version 2>/dev/null)
    release=$(PATH="$work/bin:/usr/bin:/bin" postconf -c "$work/empty" -d -h mail_release_date 2>/dev/null)
    daemon=$(PATH="$work/bin:/usr/bin:/bin" postconf -c "$work/empty" -d -h daemon_directory 2>/dev/null)
    DIR=$dir MYHOSTNAME=$myhostname MYDOMAIN=$mydomain MYNETWORKS=$mynetworks \
    VERSION=$version RELEASE=$release DAEMON=$daemon \
    perl -e '
        my @lines = <STDIN>;
        my $t = join("", @lines);
        sub lit { my ($v, $p) = @_; $t =~ s/\Q$v\E/$p/g if length $v; }
        lit($ENV{DIR}, "\@DIR\@");
        lit($ENV{MYHOSTNAME}, "\@MYHOSTNAME\@");
        my $d = $ENV{MYDOMAIN};
        $t =~ s/(?<![A-Za-z0-9-])\Q$d\E(?![A-Za-z0-9-])/\@MYDOMAIN\@/g if length $d;
        lit($ENV{MYNETWORKS}, "\@MYNETWORKS\@");
        lit($ENV{VERSION}, "\@MAIL_VERSION\@");
        lit($ENV{RELEASE}, "\@MAIL_RELEASE_DATE\@");
        lit($ENV{DAEMON}, "\@DAEMON_DIRECTORY\@");
        lit("/usr/lib/postfix/sbin", "\@DAEMON_DIRECTORY\@");
        $t =~ s/^process_id = \d+$/process_id = \@PID\@/mg;
        $t =~ s/postconf \d+ & sleep/postconf \@PID\@ & sleep/g;
        # Sort each run of warnings that Postfix prints in hash order.
        sub class {
            my $l = shift;
            if ($l =~ /: warning: (\S+): unused parameter: /) {
                return "B" if $1 =~ /main\.cf$/;
                return "C" if $1 =~ /master\.cf$/;
                return "A";
            }
            return "A" if $l =~ /: warning: (\S+: (undefined parameter|read-only parameter assignment): |open "[a-z]+" configuration )/;
            return "";
        }
        my @out; my @run; my $cur = "";
        for my $l (split /(?<=\n)/, $t) {
            my $c = class($l);
            if ($c ne $cur) { push @out, sort @run; @run = (); $cur = $c; }
            if ($c eq "") { push @out, $l } else { push @run, $l }
        }
        push @out, sort @run;
        print join("", @out);
    ' <"$file" >"$file.new"
    mv "$file.new" "$file"
}

set -f  # no pathname expansion of the arguments
rm -rf "$here/expected"
while read -r case name rest; do
    case "$case" in ''|'#'*) continue ;; esac
    dir="$work/$case-$name"
    mkdir "$dir"
    cp -R "$here/cases/$case/." "$dir/"
    sed -i "s|@DIR@|$dir|g" "$dir/main.cf" "$dir/master.cf"
    cp "$dir/main.cf" "$work/orig.main.cf"
    cp "$dir/master.cf" "$work/orig.master.cf"
    find "$dir" -exec touch -h -d '2001-01-01 00:00:00' {} +
    eval "set -- $rest"
    envs=() args=() defaults=no
    for a in "$@"; do
        a=${a//@DIR@/$dir}
        case "$a" in
            env:*) envs+=("${a#env:}") ;;
            *) args+=("$a") ;;
        esac
        case "$a" in -*d*) [ "${a#--}" = "$a" ] && [[ "$a" =~ ^-[a-zA-Z#]*d ]] && defaults=yes ;; esac
    done
    out="$here/expected/$case"
    mkdir -p "$out"
    rc=0
    (cd "$dir" && env -u MAIL_CONFIG PATH="$work/bin:/usr/bin:/bin" ${envs[@]+"${envs[@]}"} \
        postconf ${args[@]+"${args[@]}"} >"$work/out" 2>"$work/err") || rc=$?
    normalize "$work/out" "$dir" "$defaults"
    normalize "$work/err" "$dir" "$defaults"
    cp "$work/out" "$out/$name.out"
    cp "$work/err" "$out/$name.err"
    echo "$rc" >"$out/$name.rc"
    for f in main.cf master.cf; do
        if ! cmp -s "$work/orig.$f" "$dir/$f"; then
            sed "s|$dir|@DIR@|g" "$dir/$f" >"$out/$name.$f"
        fi
    done
done <"$here/commands"
echo "regen.sh: $(find "$here/expected" -name '*.rc' | wc -l) commands recorded"
