//! The default demo: what `vimage` with no arguments shows.
//!
//! A script of ordinary commands, printed as a terminal session would show
//! them: a LAN on a bridge, three routers, a far host; ping, traceroute,
//! a capture of one link written to a pcap file, and TCP and UDP
//! throughput across the routers. Lines starting with `!` are expected to
//! fail (and are shown to).

use crate::host::Host;
use crate::kern::proc::Out;
use crate::userland::shell::Shell;

/// The file the demo captures the r1–r2 link into.
pub const PCAP: &str = "vimage-demo.pcap";

/// The demo script.
pub const SCRIPT: &str = r#"
# A lab of jails, each with its own network stack (vnet):
#
#   h1 --+
#        +-- [bridge0 in sw] -- r1 --2ms-- r2 --5ms-- r3 -- h3
#   h2 --+     10.1.0.0/24      10.0.12.0/24 10.0.23.0/24 10.3.0.0/24
#
jail -c name=lab children.max=16 persist host.hostname=lab
jail -c name=lab.sw vnet persist host.hostname=sw
jail -c name=lab.h1 vnet persist host.hostname=h1
jail -c name=lab.h2 vnet persist host.hostname=h2
jail -c name=lab.r1 vnet persist host.hostname=r1
jail -c name=lab.r2 vnet persist host.hostname=r2
jail -c name=lab.r3 vnet persist host.hostname=r3
jail -c name=lab.h3 vnet persist host.hostname=h3
jls
# Cables: epair(4) cross-over pairs, moved into the jails.
ifconfig epair0 create
ifconfig epair1 create
ifconfig epair2 create
ifconfig epair3 create
ifconfig epair4 create
ifconfig epair5 create
ifconfig epair0a vnet lab.h1
ifconfig epair0b vnet lab.sw
ifconfig epair1a vnet lab.h2
ifconfig epair1b vnet lab.sw
ifconfig epair2a vnet lab.r1
ifconfig epair2b vnet lab.sw
ifconfig epair3a vnet lab.r1
ifconfig epair3b vnet lab.r2
ifconfig epair4a vnet lab.r2
ifconfig epair4b vnet lab.r3
ifconfig epair5a vnet lab.r3
ifconfig epair5b vnet lab.h3
# The switch: a learning bridge.
jexec lab.sw ifconfig bridge0 create
jexec lab.sw ifconfig bridge0 addm epair0b addm epair1b addm epair2b up
jexec lab.sw ifconfig epair0b up
jexec lab.sw ifconfig epair1b up
jexec lab.sw ifconfig epair2b up
# Addresses, routers and routes.
jexec lab.h1 ifconfig epair0a inet 10.1.0.11/24 up
jexec lab.h2 ifconfig epair1a inet 10.1.0.12/24 up
jexec lab.r1 ifconfig epair2a inet 10.1.0.1/24 up
jexec lab.r1 ifconfig epair3a inet 10.0.12.1/24 up
jexec lab.r2 ifconfig epair3b inet 10.0.12.2/24 up
jexec lab.r2 ifconfig epair4a inet 10.0.23.2/24 up
jexec lab.r3 ifconfig epair4b inet 10.0.23.3/24 up
jexec lab.r3 ifconfig epair5a inet 10.3.0.1/24 up
jexec lab.h3 ifconfig epair5b inet 10.3.0.33/24 up
jexec lab.r1 sysctl net.inet.ip.forwarding=1
jexec lab.r2 sysctl net.inet.ip.forwarding=1
jexec lab.r3 sysctl net.inet.ip.forwarding=1
jexec lab.h1 route add default 10.1.0.1
jexec lab.h2 route add default 10.1.0.1
jexec lab.r1 route add default 10.0.12.2
jexec lab.r2 route add -net 10.1.0.0/24 10.0.12.1
jexec lab.r2 route add -net 10.3.0.0/24 10.0.23.3
jexec lab.r3 route add default 10.0.23.2
jexec lab.h3 route add default 10.3.0.1
# Link emulation (dummynet's words): delay on the router links.
jexec lab.r1 pipe epair3a config delay 2ms
jexec lab.r2 pipe epair3b config delay 2ms
jexec lab.r2 pipe epair4a config delay 5ms bw 100Mbit/s
jexec lab.r3 pipe epair4b config delay 5ms bw 100Mbit/s
# Capture the r1-r2 link while we ping and traceroute across the lab.
jexec lab.r2 tcpdump -i epair3b -w vimage-demo.pcap &
jexec lab.h1 ping -c 3 10.3.0.33
jexec lab.h1 traceroute 10.3.0.33
jexec lab.h2 ping -c 2 -q 10.1.0.11
jexec lab.r1 netstat -rn
jexec lab.h1 arp -an
jexec lab.sw ifconfig bridge0
jexec lab.r2 netstat -s -p icmp
# Errors are FreeBSD's: no route, and a host that does not answer ARP.
! jexec lab.h3 ping -c 1 -t 2 192.0.2.1
! jexec lab.r1 ping -c 1 -t 3 10.1.0.99
kill %1
wait
tcpdump -n -r vimage-demo.pcap
# TCP and UDP between jails, across three routers and the 100 Mbit/s link:
# iperf3 (it speaks iperf3's protocol: a Linux iperf3 can be either end).
jexec lab.h3 iperf3 -s &
jexec lab.h1 iperf3 -c 10.3.0.33 -t 3
jexec lab.h2 iperf3 -c 10.3.0.33 -u -b 20M -t 2
jexec lab.h3 sockstat -4
jexec lab.h1 netstat -ss -p tcp
kill %1
# Removing the lab removes its jails and destroys their vnets; the epairs
# that were moved into them come home to the host, as in FreeBSD.
jail -r lab
sysctl kern.vimage.vnets
ifconfig -l
"#;

/// Run the demo on `host`, writing the session to `out`; the status is
/// non-zero if any line did not do what it should.
pub fn run(host: &Host, out: &Out) -> i32 {
    let mut bad = 0;
    let mut sh = Shell::new(host, out.clone(), out.clone());
    for line in SCRIPT.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with('#') {
            out.write_fmt(format_args!("{line}\n"));
            continue;
        }
        let (expect_fail, cmd) = match line.strip_prefix('!') {
            Some(rest) => (true, rest.trim()),
            None => (false, line),
        };
        out.write_fmt(format_args!("vimage# {cmd}\n"));
        if sh.run_line(cmd) == expect_fail {
            out.write_fmt(format_args!("demo: unexpected result from: {cmd}\n"));
            bad += 1;
        }
    }
    out.write_fmt(format_args!(
        "\nThe capture of the r1-r2 link is in {PCAP} (open it in Wireshark).\n"
    ));
    (bad > 0) as i32
}
