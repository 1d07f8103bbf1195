//! The link layer: the learning bridge, link emulation, and captures that
//! repeat exactly under the virtual clock.

mod common;

use vimage::net::ifnet::IF;
use vimage::net::ifnet::IfKind;
use vimage::{Config, Host};

use common::{ok, run, vnet};

/// Three hosts on a bridge in jail sw.
fn lan() -> Host {
    let h = Host::new(Default::default());
    run(&h, "jail -c name=sw vnet persist");
    for i in 1..=3 {
        run(
            &h,
            &format!(
                "jail -c name=h{i} vnet persist
                 ifconfig epair{i} create
                 ifconfig epair{i}a vnet h{i}
                 ifconfig epair{i}b vnet sw
                 jexec sw ifconfig epair{i}b up
                 jexec h{i} ifconfig epair{i}a inet 10.9.0.{i}/24 up"
            ),
        );
    }
    run(
        &h,
        "jexec sw ifconfig bridge0 create\njexec sw ifconfig bridge0 addm epair1b addm epair2b addm epair3b up",
    );
    // The hosts' link-local addresses are checked (DAD) before we count.
    ok(&h, "sleep 2");
    h
}

fn opackets(h: &Host, jail: &str, ifname: &str) -> u64 {
    let v = vnet(h, jail);
    let mut k = h.kernel();
    k.vnet(v)
        .expect("vnet")
        .builtin(IF)
        .by_name(ifname)
        .expect("if")
        .counters
        .opackets
}

#[test]
fn the_bridge_learns_floods_unknowns_and_forwards_knowns() {
    let h = lan();
    assert!(ok(&h, "jexec h1 ping -c 1 10.9.0.2").contains("1 packets received"));
    // All three are learned (from their DAD probes: RFC 4862 §5.4); h3
    // saw only the flooded ARP request of the ping.
    let table_len = {
        let v = vnet(&h, "sw");
        let mut k = h.kernel();
        let ifs = k.vnet(v).expect("vnet").builtin(IF);
        match &ifs.by_name("bridge0").expect("bridge0").kind {
            IfKind::Bridge(b) => b.table.len(),
            _ => 0,
        }
    };
    assert_eq!(table_len, 3);
    let to_h3 = opackets(&h, "sw", "epair3b");
    assert!(ok(&h, "jexec h1 ping -c 5 10.9.0.2").contains("5 packets received"));
    assert_eq!(
        opackets(&h, "sw", "epair3b"),
        to_h3,
        "known unicast is not flooded to h3"
    );
    // Never back out of the port a frame came in on.
    let back = opackets(&h, "sw", "epair1b");
    let _ = h.exec("jexec h1 ping -c 1 -t 1 10.9.0.200");
    assert_eq!(
        opackets(&h, "sw", "epair1b"),
        back,
        "h1's broadcasts do not come back to h1"
    );
    // A member taken out stops hearing the LAN.
    ok(&h, "jexec sw ifconfig bridge0 deletem epair3b");
    let o = h.exec("jexec h1 ping -c 1 -t 2 10.9.0.3");
    assert!(o.stdout.contains("0 packets received"), "{o:?}");
    let o = h.exec("jexec sw ifconfig bridge0 addm lo0");
    assert_eq!(o.stderr, "ifconfig: BRDGADD lo0: Invalid argument\n");
    let o = h.exec("jexec sw ifconfig bridge0 addm epair1b");
    assert_eq!(o.stderr, "ifconfig: BRDGADD epair1b: File exists\n");
}

/// Two hosts on one epair.
fn pair(seed: u64) -> Host {
    let h = Host::new(Config {
        seed,
        ..Config::default()
    });
    run(
        &h,
        "jail -c name=a vnet persist
         jail -c name=b vnet persist
         ifconfig epair0 create
         ifconfig epair0a vnet a
         ifconfig epair0b vnet b
         jexec a ifconfig epair0a inet 10.8.0.1/24 up
         jexec b ifconfig epair0b inet 10.8.0.2/24 up
         sleep 2",
    );
    h
}

#[test]
fn delay_and_bandwidth_shape_the_round_trip() {
    let h = pair(1);
    ok(&h, "jexec a pipe epair0a config delay 10ms");
    ok(&h, "jexec b pipe epair0b config delay 15ms");
    ok(&h, "jexec a ping -c 1 10.8.0.2"); // ARP
    let o = ok(&h, "jexec a ping -c 2 10.8.0.2");
    assert!(o.contains("time=25.000 ms"), "{o}");
    ok(&h, "jexec a pipe epair0a config bw 1Mbit/s delay 0");
    ok(&h, "jexec b pipe epair0b config bw 1Mbit/s delay 0");
    let o = ok(&h, "jexec a ping -c 1 -s 972 10.8.0.2");
    // 1014-byte frames: 8.112 ms each way at 1 Mbit/s.
    assert!(
        o.contains("980 bytes from 10.8.0.2: icmp_seq=0 ttl=64 time=16.224 ms"),
        "{o}"
    );
    assert!(ok(&h, "jexec a pipe epair0a show").starts_with("epair0a: bw 1Mbit/s delay 0ms queue 50\n"));
    ok(&h, "jexec a pipe epair0a delete");
    assert_eq!(ok(&h, "jexec a pipe show"), "");
    let o = h.exec("jexec a pipe epair0a config plr 7");
    assert_eq!(o.stderr, "pipe: invalid probability '7' (0 to 1)\n");
}

#[test]
fn loss_is_seeded_and_counted() {
    let run_once = |seed| {
        let h = pair(seed);
        ok(&h, "jexec a ping -c 1 10.8.0.2"); // ARP, before the loss
        ok(&h, "jexec a pipe epair0a config plr 0.3");
        let o = h.exec("jexec a ping -c 100 -i 0.01 -q 10.8.0.2");
        let stats = ok(&h, "jexec a pipe epair0a show");
        (o.stdout, stats)
    };
    let (a1, s1) = run_once(7);
    let (a2, s2) = run_once(7);
    assert_eq!((a1.clone(), s1.clone()), (a2, s2), "same seed, same losses");
    let lost: u64 = s1
        .split(", ")
        .find_map(|p| p.strip_suffix(" lost"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!((15..=45).contains(&lost), "about 30% of 100: {lost}");
    assert!(
        a1.contains(&format!("100 packets transmitted, {} packets received", 100 - lost)),
        "{a1}"
    );
    let (a3, _) = run_once(8);
    assert_ne!(a1, a3, "another seed, other losses");
}

#[test]
fn duplication_and_a_full_queue() {
    let h = pair(3);
    ok(&h, "jexec a ping -c 1 10.8.0.2");
    ok(&h, "jexec b pipe epair0b config dup 1");
    let o = ok(&h, "jexec a ping -c 2 10.8.0.2");
    assert!(o.contains("(DUP!)"), "{o}");
    assert!(o.contains("+1 duplicates"), "{o}");
    ok(&h, "jexec b pipe epair0b delete");
    // 64 kbit/s with room for 2 frames: a burst overflows.
    ok(&h, "jexec a pipe epair0a config bw 64Kbit/s queue 2");
    let o = h.exec("jexec a ping -c 10 -i 0.001 -q 10.8.0.2");
    let s = ok(&h, "jexec a pipe epair0a show");
    assert!(s.contains(" 8 queue drops"), "{s} {o:?}");
}

#[test]
fn the_same_lab_writes_byte_identical_pcaps() {
    let dir = common::tmpdir("pcap-determinism");
    let capture = |name: &str| {
        let h = pair(11);
        run(
            &h,
            "jexec a pipe epair0a config delay 3ms jitter 2ms normal plr 0.1
             jexec b pipe epair0b config delay 4ms jitter 1ms",
        );
        let file = dir.join(name);
        ok(&h, &format!("jexec b tcpdump -i epair0b -w {} &", file.display()));
        let _ = h.exec("jexec a ping -c 20 -i 0.05 10.8.0.2");
        drop(h);
        std::fs::read(&file).expect("pcap")
    };
    let a = capture("a.pcap");
    let b = capture("b.pcap");
    assert!(a.len() > 24 + 30 * 60, "{} bytes", a.len());
    assert_eq!(a, b);
    if let Some(problems) = common::tshark_problems(&dir.join("a.pcap")) {
        assert_eq!(problems, "");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
