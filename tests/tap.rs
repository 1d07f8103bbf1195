//! The door to the real host: a vnet joined to a Linux network namespace
//! by a TAP device. Linux's own ping, traceroute and ARP are the peers.
//! Needs root and /dev/net/tun; skipped (with the reason) otherwise.

mod common;

use common::{Netns, drive, sh, spawn};
use vimage::{Config, Host};

#[test]
fn linux_pings_traceroutes_and_resolves_through_tap() {
    if !common::tap_with(&[
        ("ip", "iproute2"),
        ("ping", "iputils-ping"),
        ("traceroute", "traceroute"),
    ]) {
        return;
    }
    let pid = std::process::id();
    let ns = Netns(format!("vimg{pid}"));
    let dev = format!("vt{pid}");
    sh(&format!("ip netns add {}", ns.0));

    let host = common::real_host(&format!(
        "jail -c name=r1 vnet persist
         jail -c name=r2 vnet persist
         jail -c name=r3 vnet persist
         jail -c name=h vnet persist
         ifconfig tap0 create tapdev {dev}
         ifconfig tap0 vnet r1
         jexec r1 ifconfig tap0 inet 10.99.0.1/24 up
         ifconfig epair0 create
         ifconfig epair1 create
         ifconfig epair2 create
         ifconfig epair0a vnet r1
         ifconfig epair0b vnet r2
         ifconfig epair1a vnet r2
         ifconfig epair1b vnet r3
         ifconfig epair2a vnet r3
         ifconfig epair2b vnet h
         jexec r1 ifconfig epair0a inet 10.98.1.1/24 up
         jexec r2 ifconfig epair0b inet 10.98.1.2/24 up
         jexec r2 ifconfig epair1a inet 10.98.2.1/24 up
         jexec r3 ifconfig epair1b inet 10.98.2.2/24 up
         jexec r3 ifconfig epair2a inet 10.98.3.1/24 up
         jexec h ifconfig epair2b inet 10.98.3.2/24 up
         jexec r1 sysctl net.inet.ip.forwarding=1
         jexec r2 sysctl net.inet.ip.forwarding=1
         jexec r3 sysctl net.inet.ip.forwarding=1
         jexec r1 route add -net 10.98.0.0/16 10.98.1.2
         jexec r2 route add -net 10.98.3.0/24 10.98.2.2
         jexec r2 route add -net 10.99.0.0/24 10.98.1.1
         jexec r3 route add default 10.98.2.1
         jexec h route add default 10.98.3.1"
    ));
    let ns = &ns.0;
    sh(&format!("ip link set {dev} netns {ns}"));
    sh(&format!("ip -n {ns} link set lo up"));
    sh(&format!("ip -n {ns} addr add 10.99.0.2/24 dev {dev}"));
    sh(&format!("ip -n {ns} link set {dev} up"));
    sh(&format!("ip -n {ns} route add 10.98.0.0/16 via 10.99.0.1"));

    // vimage pings Linux.
    let o = host.exec("jexec r1 ping -c 3 -i 0.2 10.99.0.2");
    assert!(o.stdout.contains("3 packets transmitted, 3 packets received"), "{o:?}");

    // Linux pings vimage, and a host three routers away.
    let out = drive(
        &host,
        spawn(&format!("ip netns exec {ns} ping -c 3 -i 0.2 -W 2 10.99.0.1")),
    );
    assert!(out.contains("3 packets transmitted, 3 received"), "{out}");
    let out = drive(
        &host,
        spawn(&format!("ip netns exec {ns} ping -c 2 -i 0.2 -W 2 10.98.3.2")),
    );
    assert!(out.contains("2 packets transmitted, 2 received"), "{out}");
    assert!(out.contains("ttl=61"), "three routers on the way: {out}");

    // Linux's traceroute lists each vimage router.
    let out = drive(
        &host,
        spawn(&format!("ip netns exec {ns} traceroute -n -q 1 -w 2 10.98.3.2")),
    );
    let hops: Vec<&str> = out.lines().skip(1).collect();
    let want = ["10.99.0.1", "10.98.1.2", "10.98.2.2", "10.98.3.2"];
    for (i, addr) in want.iter().enumerate() {
        let l = hops.get(i).copied().unwrap_or("");
        assert!(
            l.trim_start().starts_with(&format!("{} ", i + 1)) && l.contains(addr),
            "hop {}: {out}",
            i + 1
        );
    }

    // ARP resolved both ways.
    let linux_mac = sh(&format!(
        "cat /sys/class/net/{dev}/address 2>/dev/null || ip netns exec {ns} cat /sys/class/net/{dev}/address"
    ));
    let linux_mac = linux_mac.trim();
    let o = host.exec("jexec r1 arp -an");
    assert!(
        o.stdout
            .contains(&format!("? (10.99.0.2) at {linux_mac} on tap0 expires in")),
        "{o:?} {linux_mac}"
    );
    let our_mac = host.exec("jexec r1 ifconfig tap0").stdout;
    let our_mac = our_mac
        .lines()
        .find_map(|l| l.trim().strip_prefix("ether "))
        .unwrap_or("?")
        .to_string();
    let neigh = sh(&format!("ip -n {ns} neigh show 10.99.0.1"));
    assert!(neigh.contains(&format!("lladdr {our_mac}")), "{neigh} vs {our_mac}");
}

#[test]
fn tap_needs_the_real_clock() {
    let host = Host::new(Config::default());
    let o = host.exec("ifconfig tap0 create");
    assert_eq!(o.status, 1);
    assert_eq!(
        o.stderr,
        "ifconfig: tap interfaces need the real clock (--clock real)\n"
    );
}
