#!/usr/bin/env bash
# Drive vimage the way a FreeBSD admin drives VNET jails: a daemon keeps
# the stacks alive, and every line below is a separate command.
#   examples/daemon.sh [path/to/vimage]
set -euo pipefail
VIMAGE=${1:-vimage}
vimage() { "$VIMAGE" "$@"; }

export VIMAGE_SOCKET=${VIMAGE_SOCKET:-$(mktemp -d)/vimage.sock}
vimage daemon
trap 'vimage daemon stop' EXIT

# Two hosts and a router between them.
for j in h1 r h2; do
    vimage jail -c name=$j host.hostname=$j vnet persist
done
left=$(vimage ifconfig epair create)    # epair0a; its peer is epair0b
right=$(vimage ifconfig epair create)
vimage ifconfig "$left" vnet h1
vimage ifconfig "${left%a}b" vnet r
vimage ifconfig "$right" vnet r
vimage ifconfig "${right%a}b" vnet h2
vimage jexec h1 ifconfig "$left" inet 10.0.1.2/24 up
vimage jexec r ifconfig "${left%a}b" inet 10.0.1.1/24 up
vimage jexec r ifconfig "$right" inet 10.0.2.1/24 up
vimage jexec h2 ifconfig "${right%a}b" inet 10.0.2.2/24 up
vimage jexec h1 route -q add default 10.0.1.1
vimage jexec h2 route -q add default 10.0.2.1
vimage jexec r sysctl net.inet.ip.forwarding=1
vimage jexec r pipe "$right" config delay 10ms

vimage jexec h1 ping -c 2 10.0.2.2
vimage jexec h1 traceroute -n 10.0.2.2

# A file across, through the commands' standard input and output.
vimage jexec h2 nc -l 8080 > "${VIMAGE_SOCKET%.sock}.got" &
until vimage jexec h2 sockstat -l | grep -q ':8080'; do sleep 0.05; done
seq 1 20000 | vimage jexec h1 nc -N 10.0.2.2 8080
wait
echo "received $(wc -l < "${VIMAGE_SOCKET%.sock}.got") lines"
vimage jls
