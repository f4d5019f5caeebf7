#!/bin/sh
# Records the expected outputs of mailq, postqueue -p/-j, postsuper and
# postcat from the installed Postfix 3.7 into tests/queue/golden/, for
# the golden tests in tests/queue_ops.rs (same scenario, our suite) and
# crates/postqueue (the listing formatter fed with Postfix's own -j data).
#
#   sudo scripts/dev/queue-golden.sh [--tmpfs]
#
# Runs a private Postfix instance under a temporary directory (root is
# needed for postfix start), never touching /etc/postfix. --tmpfs puts
# the queue on a tmpfs so that inode numbers, and so short queue IDs,
# are short (IDs of 7 to 11 characters show the column widths).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out="$top/tests/queue/golden"
tmpfs=no
[ "${1:-}" = --tmpfs ] && tmpfs=yes
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
R=$(mktemp -d /tmp/queue-golden.XXXXXX)
chmod 755 "$R"
mkdir -p "$R/etc" "$R/spool" "$R/log"
if [ $tmpfs = yes ]; then mount -t tmpfs -o size=100m tmpfs "$R/spool"; fi
chmod 755 "$R/etc" "$R/spool" "$R/log"
export MAIL_CONFIG="$R/etc" TZ=UTC
cleanup() {
    postfix -c "$R/etc" stop >/dev/null 2>&1 || true
    sleep 1
    [ $tmpfs = yes ] && umount "$R/spool" 2>/dev/null
    rm -rf "$R"
}
trap cleanup EXIT
cat >"$R/etc/main.cf" <<EOF
compatibility_level = 3.7
config_directory = $R/etc
queue_directory = $R/spool
data_directory = $R/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
mail_owner = postfix
setgid_group = postdrop
maillog_file = $R/log/maillog
maillog_file_prefixes = $R/log
myhostname = test.example
mydestination = localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
alias_maps =
alias_database =
biff = no
default_transport = retry:4.4.1 host is down
EOF
cat >"$R/etc/master.cf" <<'EOF'
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
flush     unix  n       -       n       1000?   0       flush
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
postfix -c "$R/etc" start
sleep 2
idof() { postqueue -j | python3 -c "
import sys, json
for l in sys.stdin:
    j = json.loads(l)
    if j['sender'] == sys.argv[1]: print(j['queue_id'])" "$1"; }
waitq() {
    n=0
    while [ "$(postqueue -j | grep -c '"delay_reason"' || true)" -lt "$1" ] && [ $n -lt 100 ]; do
        sleep 0.2; n=$((n + 1))
    done
}
# The scenario (tests/queue_ops.rs replays it on our suite).
printf 'Subject: test\n\nhello\n' | sendmail -f sender@example.com a@far.example b@far.example
printf 'Subject: bounce\n\nhello\n' | sendmail -f '' x@far.example
printf 'Subject: held\n\nhello\n' | sendmail -f held@example.com h@far.example
printf 'Subject: expire\n\nhello\n' | sendmail -f exp@example.com e@far.example
python3 -c "print('Subject: big\n'); [print('x' * 100) for _ in range(600)]" |
    sendmail -f big@example.com b1@far.example b2@far.example b3@far.example
waitq 5
held=$(idof held@example.com)
exp=$(idof exp@example.com)
first=$(idof sender@example.com)
postsuper -h "$held" 2>"$out/postsuper-hold.txt"
postsuper -e "$exp" 2>"$out/postsuper-expire.txt"
postqueue -p >"$out/scenario-p.txt"
postqueue -j >"$out/scenario-j.txt"
mailq >"$out/scenario-mailq.txt"
postcat -q "$first" >"$out/scenario-postcat.txt"
postcat -bq "$first" >"$out/scenario-postcat-b.txt"
postcat -hq "$first" >"$out/scenario-postcat-h.txt"
printf '%s\n%s\n%s\n' "$held" "$exp" "$first" >"$out/scenario-ids.txt"
postsuper -d 12345ABCDE 2>"$out/postsuper-unknown.txt" || true
postsuper -d bad/id 2>"$out/postsuper-bad.txt" || true
postsuper -x 2>"$out/postsuper-usage.txt" || echo "exit $?" >>"$out/postsuper-usage.txt"
postsuper -d ALL 2>"$out/postsuper-delete-all.txt"
postqueue -p >"$out/empty-p.txt"
postqueue -j >"$out/empty-j.txt"
postconf -t "" >"$out/postconf-t.txt"
postconf -b "" >"$out/postconf-b.txt"

# A richer queue for the formatter: several reasons per message, long
# ones, hold, forced expiry on hold, UTF-8, maildrop, long queue IDs.
cat >"$R/etc/transport" <<'EOF'
a.example retry:4.4.1 a.example is down
b.example retry:4.7.1 this is a very long deferral reason text that goes on and on beyond the width of a terminal line for sure
d.example retry:4.4.1 x
EOF
postconf -e "transport_maps = texthash:$R/etc/transport"
postfix -c "$R/etc" reload
sleep 1
python3 -c "print('Subject: big\n'); [print('x' * 100) for _ in range(2000)]" |
    sendmail -f verylongsenderaddress.with.many.parts@some.very.long.domain.example.org \
        u1@a.example u2@b.example u3@a.example u4@far.example
printf 'Subject: t\n\nx\n' | sendmail -f 'sénder@exämple.com' r1@d.example
printf 'Subject: t\n\nx\n' | sendmail -f '' r2@d.example
printf 'Subject: t\n\nx\n' | sendmail -f h1@example.com r3@d.example
printf 'Subject: t\n\nx\n' | sendmail -f h2@example.com r4@d.example
waitq 8
postsuper -h "$(idof h1@example.com)" 2>/dev/null
postsuper -h "$(idof h2@example.com)" 2>/dev/null
postsuper -e "$(idof h2@example.com)" 2>/dev/null
postsuper -e "$(idof '"sénder"@exämple.com')" 2>/dev/null || postsuper -e "$(idof 'sénder@exämple.com')" 2>/dev/null
postconf -e enable_long_queue_ids=yes
postfix -c "$R/etc" reload
sleep 1
printf 'Subject: t\n\nx\n' | sendmail -f long@example.com r5@d.example r6@far.example
waitq 10
postqueue -j >"$out/formatter-long-j.txt"
postqueue -p >"$out/formatter-long-p.txt"
postconf -e enable_long_queue_ids=no
postqueue -p >"$out/formatter-short-p.txt"
postqueue -j >"$out/formatter-short-j.txt"
echo "recorded in $out"
