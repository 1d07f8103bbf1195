//! ripd (RFC 2453) under the virtual clock: convergence, FRR's `show`
//! layouts, a failed link timing out and coming back, split horizon,
//! count to infinity bounded at 16 without it, malformed messages counted and dropped, vtysh changing
//! the running configuration, and a stopped daemon taking its routes.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::{CHAIN, ok, proc_in};
use vimage::Host;
use vimage::socket::{BindOpts, UdpSocket};
use vimage::wire::rip::{RIP_RESPONSE, RipEntry, RipRepr};

const CONF: &str = "router rip\n network 10.0.0.0/8\n";

/// r1 -- r2 -- r3 (10.0.1.0/24, 10.0.2.0/24), r3 with 10.0.3.1/32 on
/// lo0; each runs ripd with `conf` (written in directory `tag`).
fn chain(tag: &str, conf: &str) -> Host {
    chain_with(tag, conf, &["r1", "r2", "r3"])
}

/// As [`chain`], ripd running only on `daemons`.
fn chain_with(tag: &str, conf: &str, daemons: &[&str]) -> Host {
    routers(tag, conf, CHAIN, daemons)
}

/// Forwarding jails r1, r2 and r3 wired by `script`; those in `daemons`
/// run ripd with `conf` (written in directory `tag`).
fn routers(tag: &str, conf: &str, script: &str, daemons: &[&str]) -> Host {
    common::routers(tag, "ripd", conf, script, daemons)
}

/// The lines of `show ip rip` in `jail` after the header.
fn rip_table(h: &Host, jail: &str) -> Vec<String> {
    ok(h, &format!("jexec {jail} vtysh -c 'show ip rip'"))
        .lines()
        .skip(6)
        .map(str::to_string)
        .collect()
}

#[test]
fn three_routers_converge_and_show_it_as_frr_does() {
    let h = chain("rip-c0", CONF);
    h.run_for(Duration::from_secs(10));
    let show = ok(&h, "jexec r1 vtysh -c 'show ip rip'");
    assert!(
        show.starts_with(
            "Codes: R - RIP, C - connected, S - Static, O - OSPF, B - BGP\n\
             Sub-codes:\n      (n) - normal, (s) - static, (d) - default, (r) - redistribute,\n      \
             (i) - interface\n\n     Network            Next Hop         Metric From            Tag Time\n"
        ),
        "{show}"
    );
    let t = rip_table(&h, "r1");
    assert_eq!(t.len(), 3, "{show}");
    assert_eq!(
        t[0],
        "C(i) 10.0.1.0/24        0.0.0.0               1 self              0"
    );
    assert!(
        t[1].starts_with("R(n) 10.0.2.0/24        10.0.1.2              2 10.0.1.2          0 02:5"),
        "{show}"
    );
    assert!(
        t[2].starts_with("R(n) 10.0.3.1/32        10.0.1.2              3 10.0.1.2          0 02:5"),
        "{show}"
    );
    let route = ok(&h, "jexec r1 vtysh -c 'show ip route'");
    assert!(
        route.contains("\nC>* 10.0.1.0/24 is directly connected, epair0a, 00:00:10\n"),
        "{route}"
    );
    assert!(
        route.contains("\nR>* 10.0.3.1/32 [120/3] via 10.0.1.2, epair0a, weight 1, 00:00:0"),
        "{route}"
    );
    let rib = ok(&h, "jexec r1 netstat -rn -f inet");
    assert!(
        rib.contains("10.0.3.1           10.0.1.2           UGH1    epair0a"),
        "{rib}"
    );
    assert!(ok(&h, "jexec r1 ping -c 1 10.0.3.1").contains("1 packets received"));
    let status = ok(&h, "jexec r2 vtysh -c 'show ip rip status'");
    assert!(
        status.contains("    epair0b          2     2      \n    epair1a          2     2      \n"),
        "{status}"
    );
    assert!(
        status.contains("  Passive Interface(s):\n    lo0\n") || !status.contains("lo0"),
        "{status}"
    );
}

#[test]
fn a_failed_link_times_out_and_comes_back() {
    let h = chain("rip-c1", CONF);
    h.run_for(Duration::from_secs(10));
    ok(&h, "jexec r3 ifconfig epair1b down");
    // r2 hears nothing from r3 for 180 s, then tells r1 at once.
    h.run_for(Duration::from_secs(160));
    assert!(ok(&h, "jexec r1 netstat -rn -f inet").contains("10.0.3.1"));
    h.run_for(Duration::from_secs(30));
    let t = rip_table(&h, "r1");
    assert!(
        t.iter()
            .any(|l| l.starts_with("R(n) 10.0.3.1/32        10.0.1.2             16 ")),
        "{t:?}"
    );
    assert!(!ok(&h, "jexec r1 netstat -rn -f inet").contains("10.0.3.1"));
    // Sent at 16 for the garbage time, then gone.
    h.run_for(Duration::from_secs(125));
    assert!(!rip_table(&h, "r1").iter().any(|l| l.contains("10.0.3.1")));
    ok(&h, "jexec r3 ifconfig epair1b up");
    h.run_for(Duration::from_secs(8));
    assert!(
        rip_table(&h, "r1")
            .iter()
            .any(|l| l.starts_with("R(n) 10.0.3.1/32        10.0.1.2              3 "))
    );
    assert!(ok(&h, "jexec r1 ping -c 1 10.0.3.1").contains("1 packets received"));
}

#[test]
fn split_horizon_keeps_a_lost_route_from_looping() {
    // A triangle: r1, r2, r3 each on a link with both others; r3's stub
    // 10.0.9.1 goes, and r1 and r2 may tell each other of it.
    let h = routers(
        "rip-triangle",
        CONF,
        "ifconfig epair0 create
         ifconfig epair1 create
         ifconfig epair2 create
         ifconfig epair0a vnet r1
         ifconfig epair0b vnet r2
         ifconfig epair1a vnet r2
         ifconfig epair1b vnet r3
         ifconfig epair2a vnet r3
         ifconfig epair2b vnet r1
         jexec r1 ifconfig epair0a inet 10.0.12.1/24
         jexec r2 ifconfig epair0b inet 10.0.12.2/24
         jexec r2 ifconfig epair1a inet 10.0.23.2/24
         jexec r3 ifconfig epair1b inet 10.0.23.3/24
         jexec r3 ifconfig epair2a inet 10.0.13.3/24
         jexec r1 ifconfig epair2b inet 10.0.13.1/24
         jexec r3 ifconfig lo0 inet 10.0.9.1/32 alias",
        &["r1", "r2", "r3"],
    );
    h.run_for(Duration::from_secs(10));
    assert!(ok(&h, "jexec r1 netstat -rn -f inet").contains("10.0.9.1           10.0.13.3"));
    ok(&h, "jexec r3 ifconfig lo0 -alias 10.0.9.1");
    let (s, worst) = until_gone(&h, "10.0.9.1");
    eprintln!("split horizon: 10.0.9.1 left every kernel {s} s after it went (metrics up to {worst})");
    assert!(s <= 10, "poisoning and triggered updates tell at once: {s} s");
}

#[test]
fn counting_to_infinity_stops_at_sixteen() {
    // Split horizon off between r1 and r2, and r1 not ripd but a
    // neighbour whose news crossed r2's: it says it reaches 10.0.3.1 at one more than r2 last
    // told it, and r2, whose route through r3 went, believes it, and so
    // on up to 16 (RFC 2453 §3.4.1).
    let conf = format!("{CONF}interface epair0b\n no ip rip split-horizon\n");
    let h = chain_with("rip-count", &conf, &["r2", "r3"]);
    let p = proc_in(&h, "r1");
    let s = UdpSocket::bind_with(&p, SocketAddr::from(([0, 0, 0, 0], 520)), BindOpts::reuseaddr()).expect("bind");
    s.join_multicast_v4(Ipv4Addr::new(224, 0, 0, 9), Ipv4Addr::new(10, 0, 1, 1))
        .expect("join");
    h.tasks().spawn(Box::pin(async move {
        let mut buf = [0u8; 600];
        let mut last = None;
        let mut crossed = false;
        while let Ok((n, from)) = s.recv_from(&mut buf).await {
            let Ok(m) = RipRepr::parse(&buf[..n]) else { continue };
            let Some(e) = m.entries.iter().find(|e| e.addr == 0x0a00_0301) else {
                continue;
            };
            let say = match e.metric {
                16 if !crossed && last.is_some() => {
                    crossed = true;
                    last.map(|m: u32| m + 1)
                }
                16 => None,
                m => {
                    last = Some(m);
                    crossed.then_some(m + 1)
                }
            };
            if let Some(metric) = say {
                let r = RipRepr {
                    command: RIP_RESPONSE,
                    version: 2,
                    entries: vec![RipEntry::route(0x0a00_0301, 32, metric.min(16))],
                };
                let _ = s.try_send_to(&r.emit(), from);
            }
        }
        0
    }));
    h.run_for(Duration::from_secs(40));
    ok(&h, "jexec r3 ifconfig lo0 -alias 10.0.3.1");
    let (s, worst) = until_gone(&h, "10.0.3.1");
    eprintln!("count to infinity: 10.0.3.1 left every kernel {s} s after it went (metrics up to {worst})");
    assert!(worst >= 10, "r2 counted up: {worst}");
    assert!(s <= 80, "bounded by 16 and the triggered updates' pace: {s} s");
}

/// Run until no kernel of r1, r2, r3 has a route to `dst`, checking
/// every second that no metric passes 16: how long it took, and the
/// highest metric below 16 seen.
fn until_gone(h: &Host, dst: &str) -> (u32, u32) {
    let mut worst = 0;
    for s in 1..=400 {
        h.run_for(Duration::from_secs(1));
        for r in ["r1", "r2"] {
            let Some(t) = h
                .exec(&format!("jexec {r} vtysh -c 'show ip rip'"))
                .success()
                .then(|| rip_table(h, r))
            else {
                continue;
            };
            for l in t.iter().filter(|l| l.contains(&format!("{dst}/32"))) {
                let metric: u32 = l[45..47].trim().parse().expect("metric");
                assert!(metric <= 16, "{l}");
                if metric < 16 {
                    worst = worst.max(metric);
                }
            }
        }
        let anywhere = ["r1", "r2", "r3"]
            .iter()
            .any(|r| ok(h, &format!("jexec {r} netstat -rn -f inet")).contains(&format!("{dst} ")));
        if !anywhere {
            return (s, worst);
        }
    }
    panic!("{dst} never went");
}

#[test]
fn malformed_messages_are_counted_and_dropped() {
    let h = chain("rip-c2", CONF);
    h.run_for(Duration::from_secs(5));
    // r1 speaks for itself, from the RIP port (ripd's socket shares it).
    let s = UdpSocket::bind_with(
        &proc_in(&h, "r1"),
        SocketAddr::from(([10, 0, 1, 1], 520)),
        BindOpts::reuseaddr(),
    )
    .expect("bind");
    let to = SocketAddr::from(([10, 0, 1, 2], 520));
    let entry = |afi: u16, addr: [u8; 4], mask: [u8; 4], metric: u32| {
        let mut e = afi.to_be_bytes().to_vec();
        e.extend([0, 0]);
        e.extend(addr);
        e.extend(mask);
        e.extend([0; 4]);
        e.extend(metric.to_be_bytes());
        e
    };
    let full = [255, 255, 0, 0];
    let mut bad_routes = vec![2, 2, 0, 0];
    for e in [
        entry(7, [10, 70, 0, 0], full, 1),
        entry(2, [10, 71, 0, 0], full, 0),
        entry(2, [10, 72, 0, 0], full, 17),
        entry(2, [127, 0, 0, 0], [255, 0, 0, 0], 1),
        entry(2, [224, 0, 0, 0], [240, 0, 0, 0], 1),
        entry(2, [10, 73, 0, 1], full, 1),
        entry(2, [10, 74, 0, 0], [255, 0, 255, 0], 1),
        entry(2, [10, 77, 0, 0], full, 1),
    ] {
        bad_routes.extend(e);
    }
    for m in [
        &[2u8, 2, 0][..],
        &[2, 1, 0, 0],
        &[7, 2, 0, 0],
        &bad_routes[..],
        &[2, 2, 0, 0, 1, 2],
    ] {
        s.try_send_to(m, to).expect("send");
    }
    h.run_for(Duration::from_secs(1));
    let status = ok(&h, "jexec r2 vtysh -c 'show ip rip status'");
    let line = status
        .lines()
        .find(|l| l.trim_start().starts_with("10.0.1.1"))
        .expect(&status);
    let n: Vec<&str> = line.split_whitespace().collect();
    assert_eq!((n[1], n[2]), ("4", "7"), "bad packets, bad routes: {status}");
    let t = rip_table(&h, "r2");
    assert!(
        t.iter()
            .any(|l| l.starts_with("R(n) 10.77.0.0/16       10.0.1.1              2 ")),
        "{t:?}"
    );
    assert!(!t.iter().any(|l| l.contains("10.7") && !l.contains("10.77")), "{t:?}");
}

#[test]
fn vtysh_configures_the_running_daemons() {
    let h = chain("rip-c3", "router rip\n");
    h.run_for(Duration::from_secs(5));
    assert!(rip_table(&h, "r1").is_empty());
    for r in ["r1", "r2", "r3"] {
        ok(
            &h,
            &format!("jexec {r} vtysh -c 'configure terminal' -c 'router rip' -c 'network 10.0.0.0/8'"),
        );
    }
    h.run_for(Duration::from_secs(8));
    assert!(rip_table(&h, "r1").iter().any(|l| l.starts_with("R(n) 10.0.3.1/32")));
    let run = ok(&h, "jexec r1 vtysh -c 'show running-config'");
    assert!(run.contains("router rip\n network 10.0.0.0/8\nexit\n"), "{run}");
    let bad = h.exec("jexec r1 vtysh -c 'conf t' -c 'router rip' -c 'network 10.0.0.0/99'");
    assert_eq!(
        (bad.status, bad.stderr.as_str()),
        (1, "% Malformed prefix: 10.0.0.0/99\n")
    );
    let bad = h.exec("jexec r1 vtysh -c 'show ip bogus'");
    assert_eq!(
        (bad.status, bad.stderr.as_str()),
        (1, "% Unknown command: show ip bogus\n")
    );
    ok(&h, "jail -c name=empty vnet persist");
    let none = h.exec("jexec empty vtysh -c 'show ip rip'");
    assert_eq!(
        (none.status, none.stderr.as_str()),
        (1, "Exiting: failed to connect to any daemons.\n")
    );
    let twice = h.exec("jexec r1 ripd -d");
    assert_eq!(twice.status, 1, "{twice:?}");
}

#[test]
fn a_stopped_daemon_takes_its_routes() {
    let h = chain("rip-c4", CONF);
    h.run_for(Duration::from_secs(10));
    assert!(ok(&h, "jexec r1 netstat -rn -f inet").contains("UGH1"));
    h.tasks().kill_all();
    h.run_for(Duration::from_millis(10));
    let rib = ok(&h, "jexec r1 netstat -rn -f inet");
    assert!(!rib.contains("UG"), "{rib}");
    let none = h.exec("jexec r1 vtysh -c 'show ip rip'");
    assert_eq!(none.status, 1, "the jail's daemons are gone: {none:?}");
}

#[test]
fn show_ipv6_route_lists_the_kernels_ipv6_routes() {
    let h = chain("rib6", CONF);
    ok(&h, "jexec r1 ifconfig epair0a inet6 2001:db8:1::1/64");
    ok(&h, "jexec r1 route -6 add -net 2001:db8:9::/48 2001:db8:1::2");
    h.run_for(Duration::from_secs(2));
    let out = ok(&h, "jexec r1 vtysh -c 'show ipv6 route'");
    assert!(
        out.starts_with("Codes: K - kernel route, C - connected, S - static, R - RIPng,\n"),
        "{out}"
    );
    let routes: Vec<&str> = out.lines().skip(7).collect();
    assert_eq!(routes.len(), 2, "{out}");
    assert!(
        routes[0].starts_with("C>* 2001:db8:1::/64 is directly connected, epair0a, "),
        "{out}"
    );
    assert!(
        routes[1].starts_with("K>* 2001:db8:9::/48 [0/0] via 2001:db8:1::2, epair0a, "),
        "{out}"
    );
    let ip = ok(&h, "jexec r1 vtysh -c 'show ip route connected'");
    assert!(!ip.contains("2001:db8"), "{ip}");
    let k = ok(&h, "jexec r1 vtysh -c 'show ipv6 route kernel'");
    assert_eq!(k.lines().skip(7).count(), 1, "{k}");
}

#[test]
fn the_ipv6_rib_writes_its_routes_to_the_kernel() {
    use vimage::routing::rib::{Proto, Rib, RibRoute};
    let h = chain("rib6k", CONF);
    ok(&h, "jexec r1 ifconfig epair0a inet6 2001:db8:1::1/64");
    h.run_for(Duration::from_secs(2));
    let p = proc_in(&h, "r1");
    let rs = vimage::socket::RouteSocket::open(&p, Some(true)).expect("routing socket");
    let mut rib: Rib<u128> = Rib::new(h.now());
    let prefix = (
        u128::from("2001:db8:5::".parse::<std::net::Ipv6Addr>().expect("v6")),
        48,
    );
    let gw = u128::from("2001:db8:1::2".parse::<std::net::Ipv6Addr>().expect("v6"));
    let ifindex = p
        .vnet(|_, v| v.builtin(vimage::net::ifnet::IF).by_name("epair0a").map(|i| i.index))
        .expect("vnet")
        .expect("epair0a");
    let route = RibRoute {
        proto: Proto::Rip,
        distance: 120,
        metric: 2,
        gateway: gw,
        ifindex,
        since: h.now(),
    };
    rib.update(prefix, route);
    rib.sync(&p, &rs);
    assert_eq!(rib.installed(), 1);
    let n = ok(&h, "jexec r1 netstat -rn -f inet6");
    let line = n
        .lines()
        .find(|l| l.starts_with("2001:db8:5::/48"))
        .unwrap_or_else(|| panic!("{n}"));
    assert!(line.contains("2001:db8:1::2") && line.contains("UG1"), "{line}");
    let shown = rib.show(&p, Some(Proto::Rip));
    assert!(
        shown.contains("R>* 2001:db8:5::/48 [120/2] via 2001:db8:1::2, epair0a, weight 1, "),
        "{shown}"
    );
    rib.withdraw(prefix, Proto::Rip);
    rib.sync(&p, &rs);
    assert_eq!(rib.installed(), 0);
    assert!(!ok(&h, "jexec r1 netstat -rn -f inet6").contains("2001:db8:5::"));
}

/// staticd: `ip route` and `ipv6 route` of FRR's language go to the
/// kernel through the RIB while their gateway is reachable, show as FRR
/// shows them, leave with it, and ripd redistributes them.
#[test]
fn static_routes_are_installed_shown_and_redistributed() {
    let rip = "router rip\n network 10.0.0.0/8\n redistribute static\n";
    let h = chain("static-c0", rip);
    ok(&h, "jexec r1 ifconfig epair0a inet6 2001:db8:1::1/64");
    let dir = common::tmpdir("static-c0-r1");
    let f = dir.join("frr.conf");
    // One integrated frr.conf, as FRR's daemons share it.
    std::fs::write(
        &f,
        rip.to_string()
            + "ip route 10.9.0.0/16 10.0.1.2\nip route 10.8.0.0/16 10.0.1.99 5\nipv6 route 2001:db8:9::/48 2001:db8:1::2\nip route 10.7.0.0/16 10.5.5.5\n",
    )
    .expect("conf");
    ok(&h, &format!("jexec r1 staticd -d -f {}", f.display()));
    h.run_for(Duration::from_secs(10));
    let route = ok(&h, "jexec r1 vtysh -c 'show ip route static'");
    assert!(
        route.contains("\nS>* 10.9.0.0/16 [1/0] via 10.0.1.2, epair0a, weight 1, 00:00:1"),
        "{route}"
    );
    // On the link, though no one answers there: it stays.
    assert!(
        route.contains("S>* 10.8.0.0/16 [5/0] via 10.0.1.99, epair0a"),
        "{route}"
    );
    // A gateway with no route to it: not installed.
    assert!(!route.contains("10.7.0.0"), "{route}");
    let rib = ok(&h, "jexec r1 netstat -rn -f inet");
    assert!(rib.contains("10.9.0.0/16        10.0.1.2           UG1"), "{rib}");
    let rib6 = ok(&h, "jexec r1 netstat -rn -f inet6");
    assert!(
        rib6.lines()
            .any(|l| l.starts_with("2001:db8:9::/48") && l.contains("2001:db8:1::2") && l.contains("UG1")),
        "{rib6}"
    );
    let v6 = ok(&h, "jexec r1 vtysh -c 'show ipv6 route static'");
    assert!(
        v6.contains("S>* 2001:db8:9::/48 [1/0] via 2001:db8:1::2, epair0a"),
        "{v6}"
    );
    // r3 hears of them from r1's ripd.
    let t = rip_table(&h, "r3");
    assert!(t.iter().any(|l| l.starts_with("R(n) 10.9.0.0/16")), "{t:?}");
    let run = ok(&h, "jexec r1 vtysh -c 'show running-config'");
    assert!(
        run.contains("ip route 10.9.0.0/16 10.0.1.2\nip route 10.8.0.0/16 10.0.1.99 5\nip route 10.7.0.0/16 10.5.5.5\nipv6 route 2001:db8:9::/48 2001:db8:1::2\n"),
        "{run}"
    );
    // Taken back: gone from the kernel, and from r3 in time.
    ok(
        &h,
        "jexec r1 vtysh -c 'configure terminal' -c 'no ip route 10.9.0.0/16 10.0.1.2'",
    );
    h.run_for(Duration::from_secs(1));
    assert!(!ok(&h, "jexec r1 netstat -rn -f inet").contains("10.9.0.0/16"));
    let bad = h.exec("jexec r1 vtysh -c 'conf t' -c 'ip route 10.6.0.0/16 Null0'");
    assert_eq!(bad.status, 1, "{bad:?}");
    assert!(bad.stderr.contains("go through a gateway address"), "{bad:?}");
}
