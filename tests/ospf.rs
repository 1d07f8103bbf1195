//! ospfd (RFC 2328) under the virtual clock: adjacencies, DR/BDR
//! election on a shared LAN, routes through transit networks,
//! point-to-point links, redistributed networks as AS-external LSAs,
//! reconvergence after a link goes down and comes back, and malformed
//! packets counted and dropped.

mod common;

use std::net::Ipv4Addr;
use std::time::Duration;

use common::{CHAIN, ok, proc_in, route, routers, vtysh};
use vimage::Host;
use vimage::socket::RawSocket;

const CONF: &str = "router ospf\n network 10.0.0.0/8 area 0\n";

/// [`CHAIN`] with ospfd on each router.
fn chain(tag: &str, conf: &str) -> Host {
    routers(tag, "ospfd", conf, CHAIN, &["r1", "r2", "r3"])
}

#[test]
fn three_routers_become_full_and_route_through_each_other() {
    let h = chain("ospf-c0", CONF);
    h.run_for(Duration::from_secs(60));
    let nbr = vtysh(&h, "r2", "show ip ospf neighbor");
    assert_eq!(nbr.matches(" Full/").count(), 2, "{nbr}");
    // r3 (10.0.3.1) is DR on 10.0.2.0/24: higher router ID, same
    // priority; r1 only BDR, as the one that came second.
    assert!(nbr.contains("10.0.3.1          1 Full/DR "), "{nbr}");
    let db = vtysh(&h, "r1", "show ip ospf database");
    for lsa in [
        "       OSPF Router with ID (10.0.1.1)",
        "                Router Link States (Area 0.0.0.0)",
        "                Net Link States (Area 0.0.0.0)",
    ] {
        assert!(db.contains(lsa), "{db}");
    }
    assert_eq!(db.matches(" 0x8000000").count(), 5, "3 router and 2 network LSAs: {db}");
    assert_eq!(route(&h, "r1", "10.0.3.1"), ["10.0.3.1", "10.0.1.2", "UGH1", "epair0a"]);
    assert_eq!(
        route(&h, "r1", "10.0.2.0/24"),
        ["10.0.2.0/24", "10.0.1.2", "UG1", "epair0a"]
    );
    let rt = vtysh(&h, "r1", "show ip route ospf");
    assert!(
        rt.contains("O>* 10.0.3.1/32 [110/2] via 10.0.1.2, epair0a, weight 1, "),
        "{rt}"
    );
    assert!(
        rt.contains("O   10.0.1.0/24 [110/1] is directly connected, epair0a, weight 1, "),
        "{rt}"
    );
    let ping = ok(&h, "jexec r1 ping -c 1 10.0.3.1");
    assert!(ping.contains("1 packets received"), "{ping}");
    let tr = ok(&h, "jexec r1 traceroute -n 10.0.3.1");
    assert!(tr.contains(" 1  10.0.1.2 ") && tr.contains(" 2  10.0.3.1 "), "{tr}");
    // A stopped ospfd takes its routes from the kernel.
    h.tasks().kill_all();
    h.run_for(Duration::from_millis(10));
    assert!(route(&h, "r1", "10.0.3.1").is_empty());
}

#[test]
fn a_shared_lan_elects_dr_and_bdr_by_priority() {
    // r1, r2, r3 on one bridge (10.0.0.0/24); r2 priority 2 is DR, r3
    // priority 0 never can be, r1 is BDR.
    let conf = format!("interface epair1a\n ip ospf priority 2\ninterface epair2a\n ip ospf priority 0\n{CONF}");
    let lan = "jail -c name=sw vnet persist
         ifconfig bridge0 create vnet sw
         ifconfig epair0 create
         ifconfig epair1 create
         ifconfig epair2 create
         ifconfig epair0a vnet r1
         ifconfig epair1a vnet r2
         ifconfig epair2a vnet r3
         ifconfig epair0b vnet sw
         ifconfig epair1b vnet sw
         ifconfig epair2b vnet sw
         jexec sw ifconfig bridge0 addm epair0b addm epair1b addm epair2b up
         jexec sw ifconfig epair0b up
         jexec sw ifconfig epair1b up
         jexec sw ifconfig epair2b up
         jexec r1 ifconfig epair0a inet 10.0.0.1/24
         jexec r2 ifconfig epair1a inet 10.0.0.2/24
         jexec r3 ifconfig epair2a inet 10.0.0.3/24
         jexec r3 ifconfig lo0 inet 10.0.3.1/32 alias";
    let h = routers("ospf-lan", "ospfd", &conf, lan, &["r1", "r2", "r3"]);
    h.run_for(Duration::from_secs(60));
    let at_r3 = vtysh(&h, "r3", "show ip ospf neighbor");
    assert!(at_r3.contains("10.0.0.1          1 Full/Backup "), "{at_r3}");
    assert!(at_r3.contains("10.0.0.2          2 Full/DR "), "{at_r3}");
    let at_r1 = vtysh(&h, "r1", "show ip ospf neighbor");
    assert!(at_r1.contains("10.0.3.1          0 Full/DROther "), "{at_r1}");
    // The DR speaks for the LAN: one network LSA, by r2, naming all
    // three.
    let db = vtysh(&h, "r1", "show ip ospf database");
    let nets: Vec<&str> = db.lines().skip_while(|l| !l.contains("Net Link States")).collect();
    assert!(nets.iter().any(|l| l.starts_with("10.0.0.2       10.0.0.2 ")), "{db}");
    assert_eq!(route(&h, "r1", "10.0.3.1"), ["10.0.3.1", "10.0.0.3", "UGH1", "epair0a"]);
}

#[test]
fn point_to_point_links_need_no_dr() {
    let conf = format!(
        "interface epair0a\n ip ospf network point-to-point\ninterface epair0b\n ip ospf network point-to-point\n\
         interface epair1a\n ip ospf network point-to-point\ninterface epair1b\n ip ospf network point-to-point\n{CONF}"
    );
    let h = chain("ospf-p2p", &conf);
    h.run_for(Duration::from_secs(30));
    let nbr = vtysh(&h, "r2", "show ip ospf neighbor");
    assert_eq!(nbr.matches(" Full/-").count(), 2, "{nbr}");
    let db = vtysh(&h, "r1", "show ip ospf database");
    assert!(!db.contains("Net Link States"), "{db}");
    assert_eq!(route(&h, "r1", "10.0.3.1"), ["10.0.3.1", "10.0.1.2", "UGH1", "epair0a"]);
}

#[test]
fn redistributed_networks_are_external_type_2() {
    // Only the links are OSPF's; r3's lo0 comes in by redistribution.
    let conf = "router ospf\n network 10.0.1.0/24 area 0\n network 10.0.2.0/24 area 0\n redistribute connected\n";
    let h = chain("ospf-e2", conf);
    h.run_for(Duration::from_secs(60));
    let rt = vtysh(&h, "r1", "show ip route ospf");
    assert!(
        rt.contains("O>* 10.0.3.1/32 [110/20] via 10.0.1.2, epair0a, weight 1, "),
        "{rt}"
    );
    let db = vtysh(&h, "r1", "show ip ospf database");
    assert!(db.contains("AS External Link States"), "{db}");
    assert!(db.contains("E2 10.0.3.1/32"), "{db}");
    let general = vtysh(&h, "r1", "show ip ospf");
    assert!(
        general.contains(" OSPF Routing Process, Router ID: 10.0.1.1\n"),
        "{general}"
    );
    // Metric type 1 adds the path's cost: 20 + 2.
    ok(
        &h,
        "jexec r3 vtysh -c 'conf t' -c 'router ospf' -c 'redistribute connected metric-type 1'",
    );
    h.run_for(Duration::from_secs(10));
    let rt = vtysh(&h, "r1", "show ip route ospf");
    assert!(
        rt.contains("O>* 10.0.3.1/32 [110/22] via 10.0.1.2, epair0a, weight 1, "),
        "{rt}"
    );
}

#[test]
fn a_failed_link_reroutes_and_its_return_restores() {
    // A triangle: r1 -- r3 directly costs 10, through r2 costs 2.
    let conf = format!("interface epair2a\n ip ospf cost 10\ninterface epair2b\n ip ospf cost 10\n{CONF}");
    let script = format!(
        "{CHAIN}
         ifconfig epair2 create
         ifconfig epair2a vnet r1
         ifconfig epair2b vnet r3
         jexec r1 ifconfig epair2a inet 10.0.4.1/24
         jexec r3 ifconfig epair2b inet 10.0.4.3/24"
    );
    let h = routers("ospf-fail", "ospfd", &conf, &script, &["r1", "r2", "r3"]);
    h.run_for(Duration::from_secs(60));
    assert_eq!(route(&h, "r1", "10.0.3.1"), ["10.0.3.1", "10.0.1.2", "UGH1", "epair0a"]);
    // r2's side goes down: r2's new router LSA reaches r1 by r3 at once,
    // long before r1's neighbour r2 would be declared dead.
    ok(&h, "jexec r2 ifconfig epair0b down");
    h.run_for(Duration::from_secs(6));
    assert_eq!(route(&h, "r1", "10.0.3.1"), ["10.0.3.1", "10.0.4.3", "UGH1", "epair2a"]);
    let rt = vtysh(&h, "r1", "show ip route ospf");
    assert!(
        rt.contains("O>* 10.0.3.1/32 [110/10] via 10.0.4.3, epair2a, weight 1, "),
        "{rt}"
    );
    h.run_for(Duration::from_secs(40));
    let nbr = vtysh(&h, "r1", "show ip ospf neighbor");
    assert!(!nbr.contains("10.0.2.1 "), "r2 dead after 40 s: {nbr}");
    ok(&h, "jexec r2 ifconfig epair0b up");
    h.run_for(Duration::from_secs(60));
    assert_eq!(route(&h, "r1", "10.0.3.1"), ["10.0.3.1", "10.0.1.2", "UGH1", "epair0a"]);
}

#[test]
fn malformed_packets_are_counted_and_dropped() {
    let h = chain("ospf-bad", CONF);
    h.run_for(Duration::from_secs(60));
    let before = vtysh(&h, "r2", "show ip ospf");
    let p = proc_in(&h, "r1");
    let s = RawSocket::new(&p, false, 89).expect("raw socket");
    // A truncated header, a bad checksum, a wrong version, an unknown
    // type, a Hello claiming more neighbours than it carries, an LSU whose
    // count lies.
    let hello = {
        let mut v = vec![2, 1, 0, 48, 10, 0, 9, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        v.extend_from_slice(&[0; 6]);
        v.extend_from_slice(&[255, 255, 255, 0, 0, 10, 2, 1, 0, 0, 0, 40]);
        v.extend_from_slice(&[0; 12]);
        v
    };
    let mut bad_sum = fix(hello.clone());
    bad_sum[12] ^= 0xff;
    let mut v3 = hello.clone();
    v3[0] = 3;
    let mut type9 = hello.clone();
    type9[1] = 9;
    let lsu = vec![
        2, 4, 0, 28, 10, 0, 9, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 99,
    ];
    let packets = vec![
        vec![2u8, 1, 0],
        bad_sum,
        fix(v3),
        fix(type9),
        fix(hello[..40].to_vec()),
        fix(lsu),
    ];
    let n = packets.len();
    h.tasks().spawn(Box::pin(async move {
        for m in packets {
            let _ = s.send_to(&m, (Ipv4Addr::new(10, 0, 1, 2), 0).into()).await;
        }
        0
    }));
    h.run_for(Duration::from_secs(1));
    let after = vtysh(&h, "r2", "show ip ospf");
    let dropped = |s: &str| -> u64 {
        s.rsplit("misaddressed ")
            .next()
            .and_then(|x| x.trim().parse().ok())
            .unwrap_or(u64::MAX)
    };
    assert_eq!(dropped(&after) - dropped(&before), n as u64, "{before}{after}");
    let nbr = vtysh(&h, "r2", "show ip ospf neighbor");
    assert_eq!(nbr.matches(" Full/").count(), 2, "{nbr}");
}

/// `v` with its OSPF checksum right (§D.4: the Internet checksum, the
/// authentication field left out; ours is empty).
fn fix(mut v: Vec<u8>) -> Vec<u8> {
    v[12..14].fill(0);
    let mut sum: u32 = v
        .chunks(2)
        .map(|c| u32::from(c[0]) << 8 | u32::from(*c.get(1).unwrap_or(&0)))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    v[12..14].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    v
}

#[test]
fn an_area_border_router_summarises_each_area_into_the_other() {
    // r1 in area 1 only, r3 in the backbone only, r2 the ABR between.
    let conf = "router ospf\n network 10.0.1.0/24 area 1\n network 10.0.2.0/24 area 0\n network 10.0.3.1/32 area 0\n";
    let h = chain("ospf-abr", conf);
    h.run_for(Duration::from_secs(60));
    let rt = vtysh(&h, "r1", "show ip route ospf");
    assert!(
        rt.contains("O>* 10.0.3.1/32 [110/2] via 10.0.1.2, epair0a, weight 1, "),
        "{rt}"
    );
    assert!(
        rt.contains("O>* 10.0.2.0/24 [110/2] via 10.0.1.2, epair0a, weight 1, "),
        "{rt}"
    );
    let rt = vtysh(&h, "r3", "show ip route ospf");
    assert!(
        rt.contains("O>* 10.0.1.0/24 [110/2] via 10.0.2.1, epair1b, weight 1, "),
        "{rt}"
    );
    // r1's database: area 1 only, r3's router LSA not in it, r2's
    // summaries of the backbone instead.
    let db = vtysh(&h, "r1", "show ip ospf database");
    assert!(db.contains("Summary Link States (Area 0.0.0.1)"), "{db}");
    assert!(db.contains(" 10.0.3.1/32\n"), "{db}");
    assert!(!db.contains("10.0.3.1       10.0.3.1 "), "{db}");
    let ping = ok(&h, "jexec r1 ping -c 1 10.0.3.1");
    assert!(ping.contains("1 packets received"), "{ping}");
}
