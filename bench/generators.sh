#!/usr/bin/env bash
# Time and memory to build each generated topology at 1,000, 10,000 and
# 100,000 nodes, and to converge: the first ping from the first node to
# the last one (routes are static, so that ping is ARP along the path).
# Usage: bench/generators.sh [SIZES...]   (default: 1000 10000 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=("${@:-1000 10000 100000}")
read -r -a SIZES <<<"${SIZES[*]}"
cargo build --release --quiet
VIMAGE=$PWD/target/release/vimage
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

printf '%-8s %8s %9s %10s %10s %10s  %s\n' kind nodes routes "build ms" "heap MB" "total s" "first ping from the first node"
for n in "${SIZES[@]}"; do
    side=$(awk -v n="$n" 'BEGIN { printf "%d", sqrt(n) + 0.5 }')
    for kind in chain star tree grid random; do
        # The far end, or as far as a TTL of 255 reaches.
        size=$n first=n0 last=n$((n - 1 < 250 ? n - 1 : 250)) routes=auto
        if [ "$kind" = grid ]; then
            far=$((side - 1 < 125 ? side - 1 : 125))
            size="[$side, $side]" first=n0_0 last=n${far}_${far}
        fi
        # Shortest paths on a random graph are nodes x links routes.
        if [ "$kind" = random ] && ((n > 2000)); then routes=none; fi
        {
            printf 'routes = "%s"\n[topology]\nkind = "%s"\nsize = %s\n' "$routes" "$kind" "$size"
            printf 'sysctl = { "net.inet.ip.ttl" = 255 }\n'
            if [ "$routes" = auto ]; then
                printf '[[event]]\nat = "1s"\nnode = "%s"\nrun = "ping -c 1 -m 255 %s"\n' "$first" "$last"
            fi
        } >"$WORK/lab.toml"
        start=$(date +%s%N)
        "$VIMAGE" run "$WORK/lab.toml" >"$WORK/out" 2>"$WORK/err" || true
        total=$(awk -v s="$start" -v e="$(date +%s%N)" 'BEGIN { printf "%.2f", (e - s) / 1e9 }')
        nodes=$(sed -n 's/.*: \([0-9]*\) nodes.*/\1/p' "$WORK/out" | head -1)
        nroutes=$(sed -n 's/.*links, \([0-9]*\) routes.*/\1/p' "$WORK/out" | head -1)
        built=$(sed -n 's/.*built in \([0-9.]*\) ms.*/\1/p' "$WORK/err")
        heap=$(sed -n 's/.*heap \([0-9.]*\) MB.*/\1/p' "$WORK/err")
        ttl=$(sed -n 's/.* bytes from .* ttl=\([0-9]*\) .*/\1/p' "$WORK/out" | head -1)
        if [ -n "$ttl" ]; then ping="to $last: ok, $((256 - ttl)) hops"; else ping="to $last: FAILED"; fi
        [ "$routes" = none ] && ping="(routes = \"none\")"
        printf '%-8s %8s %9s %10s %10s %10s  %s\n' "$kind" "${nodes:-?}" "${nroutes:-?}" "${built:-?}" "${heap:-?}" "$total" "$ping"
    done
done
