//! ripngd (RFC 2080) under the virtual clock: three routers converging
//! over link-local next hops, FRR's `show ipv6 ripng` layout, the bytes
//! on the wire (version 1, port 521, from a link-local address),
//! malformed messages counted and dropped, and a stopped daemon taking
//! its routes.

mod common;

use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

use common::{linklocal, ok, proc_in};
use vimage::Host;
use vimage::socket::{BindOpts, UdpSocket};
use vimage::wire::ripng::{RipngRepr, Rte};

const CONF: &str = "router ripng\n network 2001:db8::/32\n";

/// r1 -- r2 -- r3 over IPv6 (2001:db8:1::/64, 2001:db8:2::/64), r3
/// with 2001:db8:3::1/128 on lo0, IPv6 forwarding on.
const CHAIN6: &str = "ifconfig epair0 create
     ifconfig epair1 create
     ifconfig epair0a vnet r1
     ifconfig epair0b vnet r2
     ifconfig epair1a vnet r2
     ifconfig epair1b vnet r3
     jexec r1 ifconfig epair0a inet6 2001:db8:1::1/64
     jexec r2 ifconfig epair0b inet6 2001:db8:1::2/64
     jexec r2 ifconfig epair1a inet6 2001:db8:2::1/64
     jexec r3 ifconfig epair1b inet6 2001:db8:2::2/64
     jexec r3 ifconfig lo0 inet6 2001:db8:3::1/128 alias
     jexec r1 sysctl net.inet6.ip6.forwarding=1
     jexec r2 sysctl net.inet6.ip6.forwarding=1
     jexec r3 sysctl net.inet6.ip6.forwarding=1";

fn chain(tag: &str, daemons: &[&str]) -> Host {
    common::routers(tag, "ripngd", CONF, CHAIN6, daemons)
}

/// The lines of `show ipv6 ripng` in `jail` after the header, a route's
/// two lines joined.
fn ripng_table(h: &Host, jail: &str) -> Vec<String> {
    let out = ok(h, &format!("jexec {jail} vtysh -c 'show ipv6 ripng'"));
    let rows: Vec<&str> = out.lines().skip(6).collect();
    rows.chunks(2).map(|c| c.join("|")).collect()
}

#[test]
fn three_routers_converge_over_link_local_next_hops() {
    let h = chain("ripng-c0", &["r1", "r2", "r3"]);
    h.run_for(Duration::from_secs(10));
    let show = ok(&h, "jexec r1 vtysh -c 'show ipv6 ripng'");
    assert!(
        show.starts_with(
            "Codes: R - RIPng, C - connected, S - Static, O - OSPF, B - BGP\n\
             Sub-codes:\n      (n) - normal, (s) - static, (d) - default, (r) - redistribute,\n      \
             (i) - interface, (a/S) - aggregated/Suppressed\n\n   \
             Network      Next Hop                      Via     Metric Tag Time\n"
        ),
        "{show}"
    );
    let gw = linklocal(&h, "r2", "epair0b");
    let t = ripng_table(&h, "r1");
    assert_eq!(t.len(), 3, "{show}");
    assert_eq!(
        t[0],
        "C(i) 2001:db8:1::/64 |                  ::                          self       1    0  "
    );
    let row =
        |prefix: &str, metric: u32| format!("R(n) {prefix} |                  {gw:<28}epair0a    {metric}    0  02:5");
    assert!(t[1].starts_with(&row("2001:db8:2::/64", 2)), "{show}");
    assert!(t[2].starts_with(&row("2001:db8:3::1/128", 3)), "{show}");
    let route = ok(&h, "jexec r1 vtysh -c 'show ipv6 route ripng'");
    assert!(
        route.contains(&format!(
            "\nR>* 2001:db8:3::1/128 [120/3] via {gw}, epair0a, weight 1, 00:00:0"
        )),
        "{route}"
    );
    let rib = ok(&h, "jexec r1 netstat -rn -f inet6");
    let line = rib
        .lines()
        .find(|l| l.starts_with("2001:db8:3::1 "))
        .unwrap_or_else(|| panic!("{rib}"));
    assert!(
        line.contains(&format!("{gw}%epair0a")) && line.contains("UGH1"),
        "{line}"
    );
    let ping = ok(&h, "jexec r1 ping6 -c 1 2001:db8:3::1");
    assert!(ping.contains("1 packets received"), "{ping}");
    let status = ok(&h, "jexec r2 vtysh -c 'show ipv6 ripng status'");
    assert!(status.starts_with("Routing Protocol is \"RIPng\"\n"), "{status}");
    assert!(status.contains("\n    epair0b          1     1  \n"), "{status}");
    assert!(
        status.contains("  Routing for Networks:\n    2001:db8::/32\n"),
        "{status}"
    );
}

/// A socket in r1 on the RIPng port, sending from its link-local address
/// to r2's epair0b.
fn neighbour(h: &Host) -> (UdpSocket, SocketAddr, u32) {
    let p = proc_in(h, "r1");
    let index = p
        .vnet(|_, v| v.builtin(vimage::net::ifnet::IF).by_name("epair0a").map(|i| i.index))
        .expect("vnet")
        .expect("epair0a");
    let any = SocketAddr::from((Ipv6Addr::UNSPECIFIED, 521));
    let s = UdpSocket::bind_with(&p, any, BindOpts::reuseaddr()).expect("bind");
    let r2: Ipv6Addr = linklocal(h, "r2", "epair0b").parse().expect("v6");
    (s, SocketAddr::V6(SocketAddrV6::new(r2, 521, 0, index)), index)
}

#[test]
fn updates_are_rfc_2080s_bytes() {
    let h = chain("ripng-c1", &["r2"]);
    let (s, _, index) = neighbour(&h);
    let group: Ipv6Addr = "ff02::9".parse().expect("v6");
    s.join_multicast(group.into(), index).expect("join");
    let mut buf = [0u8; 1500];
    let (m, from) = loop {
        let (n, from, _) = h.block_on(s.recv_from_if(&mut buf)).expect("ran").expect("recv");
        if let Ok(m) = RipngRepr::parse(&buf[..n])
            && m.command == 2
        {
            break (m, from);
        }
    };
    let SocketAddr::V6(from) = from else { panic!("{from}") };
    assert_eq!(from.port(), 521);
    assert_eq!(from.ip().to_string(), linklocal(&h, "r2", "epair0b"));
    assert_eq!(from.scope_id(), index, "{from}");
    // Split horizon: r2 does not tell r1 of r1's own link.
    assert_eq!(
        m.rtes,
        vec![Rte {
            prefix: u128::from("2001:db8:2::".parse::<Ipv6Addr>().expect("v6")),
            tag: 0,
            plen: 64,
            metric: 1
        }]
    );
}

#[test]
fn malformed_messages_are_counted_and_dropped() {
    let h = chain("ripng-c2", &["r2"]);
    h.run_for(Duration::from_secs(3));
    let (s, to, _) = neighbour(&h);
    let rte = |prefix: &str, plen: u8, metric: u8| Rte {
        prefix: u128::from(prefix.parse::<Ipv6Addr>().expect("v6")),
        tag: 0,
        plen,
        metric,
    };
    let bad_routes = RipngRepr {
        command: 2,
        rtes: vec![
            rte("2001:db8:70::", 48, 0),
            rte("2001:db8:71::", 48, 17),
            rte("fe80::", 64, 1),
            rte("ff02::", 16, 1),
            rte("2001:db8:72::1", 48, 1),
            rte("2001:db8:73::", 129, 1),
            rte("2001:db8:77::", 48, 1),
        ],
    }
    .emit();
    for m in [
        &[2u8, 1, 0][..],
        &[2, 2, 0, 0],
        &[7, 1, 0, 0],
        &bad_routes[..],
        &[2, 1, 0, 0, 1],
    ] {
        s.try_send_to(m, to).expect("send");
    }
    h.run_for(Duration::from_secs(1));
    let status = ok(&h, "jexec r2 vtysh -c 'show ipv6 ripng status'");
    // FRR's layout: the address, then its counters on the next line.
    let line = status
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("fe80::"))
        .nth(1)
        .unwrap_or_else(|| panic!("{status}"));
    let n: Vec<&str> = line.split_whitespace().collect();
    assert_eq!((n[0], n[1]), ("4", "6"), "bad packets, bad routes: {status}");
    let t = ripng_table(&h, "r2");
    assert!(t.iter().any(|l| l.starts_with("R(n) 2001:db8:77::/48 ")), "{t:?}");
    assert!(
        !t.iter().any(|l| l.contains("2001:db8:7") && !l.contains(":77::")),
        "{t:?}"
    );
    // Not from a link-local address: not a neighbour's.
    let global = UdpSocket::bind_with(
        &proc_in(&h, "r1"),
        SocketAddr::from(("2001:db8:1::1".parse::<Ipv6Addr>().expect("v6"), 521)),
        BindOpts::reuseaddr(),
    )
    .expect("bind");
    let spoof = RipngRepr {
        command: 2,
        rtes: vec![rte("2001:db8:88::", 48, 1)],
    };
    global
        .try_send_to(
            &spoof.emit(),
            SocketAddr::from(("2001:db8:1::2".parse::<Ipv6Addr>().expect("v6"), 521)),
        )
        .expect("send");
    h.run_for(Duration::from_secs(1));
    assert!(!ripng_table(&h, "r2").iter().any(|l| l.contains("2001:db8:88::")));
}

#[test]
fn a_stopped_daemon_takes_its_routes() {
    let h = chain("ripng-c3", &["r1", "r2", "r3"]);
    h.run_for(Duration::from_secs(10));
    assert!(ok(&h, "jexec r1 netstat -rn -f inet6").contains("UGH1"));
    h.tasks().kill_all();
    h.run_for(Duration::from_millis(10));
    let rib = ok(&h, "jexec r1 netstat -rn -f inet6");
    assert!(!rib.contains("UG"), "{rib}");
}

#[test]
fn the_configuration_reads_and_writes_as_frrs() {
    let h = chain("ripng-c4", &["r1"]);
    ok(
        &h,
        "jexec r1 vtysh -c 'configure terminal' -c 'interface epair0a' -c 'ipv6 ripng split-horizon poisoned-reverse' \
         -c 'router ripng' -c 'timers basic 10 60 40' -c 'redistribute connected'",
    );
    let run = ok(&h, "jexec r1 vtysh -c 'show running-config'");
    assert!(
        run.contains("interface epair0a\n ipv6 ripng split-horizon poisoned-reverse\nexit\n"),
        "{run}"
    );
    assert!(
        run.contains("router ripng\n network 2001:db8::/32\n redistribute connected\n timers basic 10 60 40\nexit\n"),
        "{run}"
    );
    let bad = h.exec("jexec r1 vtysh -c 'conf t' -c 'router ripng' -c 'network 2001:db8::/129'");
    assert_eq!(
        (bad.status, bad.stderr.as_str()),
        (1, "% Malformed prefix: 2001:db8::/129\n")
    );
    let bad = h.exec("jexec r1 vtysh -c 'conf t' -c 'router ripng' -c 'neighbor 10.0.0.1'");
    assert_eq!(bad.status, 1, "RIPng has no neighbor command: {bad:?}");
}

/// What ripngd sends is RIPng as Wireshark reads it: requests and
/// responses, version 1, hop limit 255, from link-local addresses,
/// nothing malformed, every checksum right.
#[test]
fn the_wire_is_what_wireshark_reads() {
    let h = chain("ripng-wire", &[]);
    let pcap = common::tmpdir("ripng-wire").join("ripng.pcap");
    ok(&h, &format!("jexec r1 tcpdump -i epair0a -w {} &", pcap.display()));
    let conf = common::tmpdir("ripng-wire-conf").join("frr.conf");
    std::fs::write(&conf, CONF).expect("conf");
    for r in ["r1", "r2", "r3"] {
        ok(&h, &format!("jexec {r} ripngd -d -f {}", conf.display()));
    }
    h.run_for(Duration::from_secs(40));
    h.tasks().kill_all();
    let Some(bad) = common::tshark_bad_packets(&pcap) else {
        return;
    };
    assert_eq!(bad, "", "tshark finds nothing malformed, no bad checksum");
    let Some(f) = common::tshark_frames(
        &pcap,
        "ripng",
        &[
            "ripng.cmd",
            "ripng.version",
            "ipv6.hlim",
            "ipv6.src",
            "ipv6.dst",
            "udp.srcport",
        ],
    ) else {
        return;
    };
    let rows: Vec<Vec<&str>> = f.lines().map(|l| l.split('\t').collect()).collect();
    assert!(rows.len() >= 4, "{f}");
    for r in &rows {
        assert_eq!(&r[2..4], ["1", "255"], "{f}");
        assert!(r[4].starts_with("fe80::") && r[6] == "521", "{f}");
    }
    assert!(rows.iter().any(|r| r[1] == "1" && r[5] == "ff02::9"), "a request: {f}");
    assert!(rows.iter().any(|r| r[1] == "2" && r[5] == "ff02::9"), "a response: {f}");
    let Some(rtes) = common::tshark_frames(
        &pcap,
        "ripng.cmd == 2",
        &["ripng.rte.ipv6_prefix", "ripng.rte.prefix_length", "ripng.rte.metric"],
    ) else {
        return;
    };
    assert!(
        rtes.lines()
            .any(|l| l.ends_with("\t2001:db8:2::,2001:db8:3::1\t64,128\t1,2")),
        "r2 tells r1 of r3's loopback at 2: {rtes}"
    );
}
