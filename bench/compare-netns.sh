#!/usr/bin/env bash
# The same chains built with Linux network namespaces + veth (via ip) and
# with vimage, measured side by side in one run:
#   - time to build a chain of 10, 100 and 1,000 nodes (addresses, routes,
#     forwarding on), and the memory it took;
#   - ping RTT from one end of the chain to the other (250 hops at most);
#   - TCP throughput over the 10-node chain at MTU 1500, offloads off
#     (Linux: iperf3 between the end namespaces; vimage: `vimage bench
#     tcp`, the same chain in one process on one core).
#
# Run as root (namespaces need it; vimage does not). Installs iproute2,
# iperf3, ethtool and iputils-ping if missing. Usage:
#   bench/compare-netns.sh [SIZES...]        (default: 10 100 1000)
set -euo pipefail

cd "$(dirname "$0")/.."
SIZES=("${@:-10 100 1000}")
read -r -a SIZES <<<"${SIZES[*]}"
PREFIX=vcmp
WORK=$(mktemp -d)
trap 'cleanup; rm -rf "$WORK"' EXIT

if [ "$(id -u)" != 0 ]; then
    echo "compare-netns: run as root (Linux namespaces need it)" >&2
    exit 2
fi

need=()
command -v ip >/dev/null || need+=(iproute2)
command -v iperf3 >/dev/null || need+=(iperf3)
command -v ethtool >/dev/null || need+=(ethtool)
command -v ping >/dev/null || need+=(iputils-ping)
if [ ${#need[@]} -gt 0 ]; then
    echo "compare-netns: installing ${need[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

cargo build --release --quiet
VIMAGE=$PWD/target/release/vimage

# The address of end `h` (1 or 2) of link `k`: 10.0.0.0/30 per link, as
# vimage numbers a generated chain.
addr() {
    local v=$(($1 * 4 + $2))
    echo "10.$((v >> 16 & 255)).$((v >> 8 & 255)).$((v & 255))"
}

now_ms() { date +%s%3N; }

# The node a ping goes to: the far end, or node 250 (TTL is at most 255).
far() { echo $(($1 - 1 < 250 ? $1 - 1 : 250)); }

# Memory in use on the machine (kB): total less available.
mem_used_kb() {
    awk '/^MemTotal/ {t=$2} /^MemAvailable/ {a=$2} END {print t-a}' /proc/meminfo
}

cleanup() {
    local ns
    for ns in $(ip netns list 2>/dev/null | awk -v p="$PREFIX" 'index($1, p) == 1 {print $1}'); do
        ip netns delete "$ns" 2>/dev/null || true
    done
}

# A chain of $1 namespaces: veth per link, /30 addresses, forwarding on,
# routes to both ends of the chain (enough for end-to-end traffic). What
# Mininet or IMUNES do, with ip.
linux_chain() {
    local n=$1 i
    for ((i = 0; i < n; i++)); do
        ip netns add "$PREFIX$i"
        ip -n "$PREFIX$i" link set lo up
        ip netns exec "$PREFIX$i" sysctl -qw net.ipv4.ip_forward=1
    done
    for ((i = 0; i < n - 1; i++)); do
        ip link add "v${i}a" netns "$PREFIX$i" type veth peer name "v${i}b" netns "$PREFIX$((i + 1))"
        ip -n "$PREFIX$i" addr add "$(addr "$i" 1)/30" dev "v${i}a"
        ip -n "$PREFIX$((i + 1))" addr add "$(addr "$i" 2)/30" dev "v${i}b"
        ip -n "$PREFIX$i" link set "v${i}a" up
        ip -n "$PREFIX$((i + 1))" link set "v${i}b" up
    done
    for ((i = 0; i < n; i++)); do
        # Toward the far end by default (the last node: back); n0's link
        # to the left.
        if ((i < n - 1)); then
            ip -n "$PREFIX$i" route add default via "$(addr "$i" 2)"
        else
            ip -n "$PREFIX$i" route add default via "$(addr $((i - 1)) 1)"
        fi
        if ((i > 1 && i < n - 1)); then
            ip -n "$PREFIX$i" route add 10.0.0.0/30 via "$(addr $((i - 1)) 1)"
        fi
    done
}

# The ping RTT average (ms) from $1 lines of ping output.
rtt_avg() { sed -n 's|.*= [0-9.]*/\([0-9.]*\)/.*|\1|p' | head -1; }

# The same chain as a vimage lab under the real clock, with a ping from
# one end to the other; prints "build_ms heap_mb rtt_ms".
vimage_chain() {
    local n=$1 lab=$WORK/chain$1.toml
    cat >"$lab" <<EOF
name = "chain of $n"
routes = "auto"
clock = "real"
[topology]
kind = "chain"
size = $n
sysctl = { "net.inet.ip.ttl" = 255 }
[[event]]
at = "100ms"
node = "n0"
run = "ping -c 5 -i 0.2 -m 255 -q n$(far "$n")"
EOF
    "$VIMAGE" run "$lab" >"$WORK/out" 2>"$WORK/err" || true
    local built heap rtt
    built=$(sed -n 's/.*built in \([0-9.]*\) ms.*/\1/p' "$WORK/err")
    heap=$(sed -n 's/.*heap \([0-9.]*\) MB.*/\1/p' "$WORK/err")
    rtt=$(rtt_avg <"$WORK/out")
    echo "${built:-?} ${heap:-?} ${rtt:-n/a}"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a+0 > 0 && b+0 > 0) printf "%.1fx", a / b; else print "-" }'; }

rows=()
row() { rows+=("$(printf '%-34s %16s %16s %12s' "$@")"); }

for n in "${SIZES[@]}"; do
    cleanup
    echo "compare-netns: chain of $n ..." >&2
    sync
    m0=$(mem_used_kb)
    t0=$(now_ms)
    linux_chain "$n"
    t1=$(now_ms)
    sleep 1
    m1=$(mem_used_kb)
    lin_build=$((t1 - t0))
    lin_mem=$(awk -v k=$((m1 - m0)) 'BEGIN { if (k < 1024) print "<1"; else printf "%.1f", k / 1024 }')
    last=$(addr $((n - 2)) 2)
    # Replies start with TTL 64: more hops need more (as in vimage's lab).
    for ((i = 0; i <= $(far "$n"); i++)); do
        ip netns exec "$PREFIX$i" sysctl -qw net.ipv4.ip_default_ttl=255
    done
    lin_rtt=$(ip netns exec "${PREFIX}0" ping -c 5 -i 0.2 -t 255 -q "$(addr $(($(far "$n") - 1)) 2)" 2>/dev/null |
        rtt_avg || true)
    if ((n == 10)); then
        for ((i = 0; i < n - 1; i++)); do
            ip netns exec "$PREFIX$i" ethtool -K "v${i}a" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
            ip netns exec "$PREFIX$((i + 1))" ethtool -K "v${i}b" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
        done
        ip netns exec "$PREFIX$((n - 1))" iperf3 -s -1 -D >/dev/null
        sleep 0.5
        lin_tcp=$(ip netns exec "${PREFIX}0" iperf3 -c "$last" -t 5 -f g 2>/dev/null |
            awk '/receiver/ {print $(NF-2)}' || true)
    fi
    cleanup
    read -r vim_build vim_heap vim_rtt < <(vimage_chain "$n")
    row "build a chain of $n (ms)" "$lin_build" "$vim_build" "$(ratio "$lin_build" "$vim_build")"
    row "memory, chain of $n (MB)" "$lin_mem" "$vim_heap" "$(ratio "$lin_mem" "$vim_heap")"
    row "ping RTT n0 -> n$(far "$n") (ms, avg of 5)" "${lin_rtt:-?}" "$vim_rtt" "$(ratio "${lin_rtt:-0}" "$vim_rtt")"
    if ((n == 10)); then
        vim_tcp=$("$VIMAGE" bench tcp 1024 10 1500 | sed -n 's/.*: \([0-9.]*\) Gbit\/s.*/\1/p')
        row "TCP over 10 nodes, MTU 1500 (Gbit/s)" "${lin_tcp:-?}" "$vim_tcp" "$(ratio "$vim_tcp" "${lin_tcp:-0}")"
    fi
done

echo
printf '%-34s %16s %16s %12s\n' "" "Linux netns+veth" "vimage" "ratio"
printf '%s\n' "${rows[@]}"
echo
echo "ratio: Linux / vimage (how many times better vimage is), TCP: vimage / Linux."
echo "Memory: Linux's is the machine's MemAvailable drop, vimage's its heap."
echo "Ping: to the far end, or 250 hops on (an IPv4 TTL is at most 255)."
