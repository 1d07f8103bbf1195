//! The data path, mechanism by mechanism: ARP, IPv4 input checks,
//! forwarding, fragments, routes, ICMP, broadcasts — asserting on
//! commands' output, counters and the bytes on the wire.

use vimage::Host;
use vimage::kern::mbuf::Mbuf;
use vimage::net::ifnet::{IF, netisr_queue};
use vimage::netinet::ip::Ipv4Hdr;
use vimage::wire::checksum::in_cksum;

mod common;
use common::{ok, run, vnet};

/// a (10.0.1.2) -- r -- b (10.0.2.2), r forwarding.
fn lab() -> Host {
    common::routed_lab(0)
}

fn ifindex(h: &Host, jail: &str, name: &str) -> u32 {
    let v = vnet(h, jail);
    let mut k = h.kernel();
    k.vnet(v)
        .expect("vnet")
        .builtin(IF)
        .by_name(name)
        .expect("interface")
        .index
}

/// Hand a frame to an interface as if it came off the wire.
fn inject(h: &Host, jail: &str, ifname: &str, frame: &[u8]) {
    let i = ifindex(h, jail, ifname);
    netisr_queue(&mut h.kernel(), i, Mbuf::from_slice(frame));
    h.run_for(std::time::Duration::ZERO);
}

fn mac(h: &Host, jail: &str, ifname: &str) -> [u8; 6] {
    let v = vnet(h, jail);
    let mut k = h.kernel();
    k.vnet(v).expect("vnet").builtin(IF).by_name(ifname).expect("if").lladdr
}

fn stat(h: &Host, jail: &str, name: &str) -> u64 {
    let out = ok(h, &format!("jexec {jail} sysctl -n {name}"));
    out.trim().parse().unwrap_or(u64::MAX)
}

/// A field of a statistics structure (`net.inet.ip.stats` and the like).
fn field(h: &Host, jail: &str, node: &str, f: &str) -> u64 {
    let out = ok(h, &format!("jexec {jail} sysctl -n {node}"));
    let key = format!("{f} = ");
    out.split([',', '{', '}'])
        .map(str::trim)
        .find_map(|p| p.strip_prefix(&key))
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX)
}

/// An Ethernet frame to `dst` from 02:..:ee carrying IPv4 `ip`.
fn ether(dst: [u8; 6], ip: &[u8]) -> Vec<u8> {
    let mut f = dst.to_vec();
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0xee, 0x08, 0x00]);
    f.extend_from_slice(ip);
    f
}

#[test]
fn arp_resolves_caches_and_holds_a_bounded_queue() {
    let h = lab();
    ok(&h, "jexec a ping -c 1 10.0.1.1");
    let r_mac = vimage::net::ethernet::ether_ntoa(&mac(&h, "r", "epair0b"));
    let arp = ok(&h, "jexec a arp -an");
    assert!(
        arp.contains(&format!(
            "? (10.0.1.1) at {r_mac} on epair0a expires in 1200 seconds [ethernet]"
        )),
        "{arp}"
    );
    assert!(
        arp.contains("? (10.0.1.2) at "),
        "own address is listed permanent: {arp}"
    );
    // RFC 826: the target learned the sender from the request.
    assert!(ok(&h, "jexec r arp -n 10.0.1.2").contains("(10.0.1.2) at"));
    // An entry expires after net.link.ether.inet.max_age.
    ok(&h, "jexec a sysctl net.link.ether.inet.max_age=60");
    ok(&h, "jexec a arp -d 10.0.1.1");
    ok(&h, "jexec a ping -c 1 10.0.1.1");
    h.run_for(std::time::Duration::from_secs(61));
    assert_eq!(
        h.exec("jexec a arp -n 10.0.1.1").stdout,
        "10.0.1.1 (10.0.1.1) -- no entry\n"
    );
    // A static entry.
    ok(&h, "jexec a arp -s 10.0.1.77 02:aa:bb:cc:dd:ee");
    assert!(ok(&h, "jexec a arp -an").contains("? (10.0.1.77) at 02:aa:bb:cc:dd:ee on epair0a permanent [ethernet]"));
    assert_eq!(ok(&h, "jexec a arp -d 10.0.1.77"), "10.0.1.77 (10.0.1.77) deleted\n");
    let o = h.exec("jexec a arp -d 10.0.1.77");
    assert_eq!(
        (o.status, o.stderr.as_str()),
        (1, "arp: delete 10.0.1.77: No such file or directory\n")
    );
    // Nobody at 10.0.1.99: 16 packets held at most, the rest dropped and
    // counted; after five requests the host is down.
    let before = field(&h, "a", "net.link.ether.arp.stats", "dropped");
    let o = h.exec("jexec a ping -c 20 -i 0.01 -t 1 10.0.1.99");
    assert!(o.stdout.contains("20 packets transmitted, 0 packets received"), "{o:?}");
    assert_eq!(field(&h, "a", "net.link.ether.arp.stats", "dropped") - before, 4);
    h.run_for(std::time::Duration::from_secs(5));
    assert!(field(&h, "a", "net.link.ether.arp.stats", "timeouts") >= 1);
    let o = h.exec("jexec a ping -c 1 -t 1 10.0.1.99");
    assert!(o.stderr.contains("ping: sendto: Host is down"), "{o:?}");
    assert!(ok(&h, "jexec a arp -an").contains("? (10.0.1.99) at (incomplete) on epair0a expired [ethernet]"));
}

#[test]
fn arp_entries_are_bounded_by_max_entries() {
    let h = lab();
    ok(&h, "jexec a sysctl net.link.ether.inet.max_entries=3");
    for i in 10..20 {
        let _ = h.exec(&format!("jexec a ping -c 1 -t 1 10.0.1.{i}"));
    }
    let n = ok(&h, "jexec a arp -an")
        .lines()
        .filter(|l| !l.contains("permanent"))
        .count();
    assert_eq!(n, 3);
}

#[test]
fn gratuitous_arp_and_a_duplicate_address_warning() {
    let h = lab();
    // b's side: announce 10.0.2.1, r's address, on their link.
    ok(&h, "jexec r tcpdump -i epair1a -c 1 arp &");
    let o = h.exec("jexec b ifconfig epair1b inet 10.0.2.1/24 alias");
    assert!(o.success(), "{o:?}");
    let log = ok(&h, "dmesg");
    let b_mac = vimage::net::ethernet::ether_ntoa(&mac(&h, "b", "epair1b"));
    assert!(
        log.contains(&format!("arp: {b_mac} is using my IP address 10.0.2.1 on epair1a!")),
        "{log}"
    );
    assert_eq!(field(&h, "r", "net.link.ether.arp.stats", "dupips"), 1);
}

#[test]
fn malformed_datagrams_are_dropped_and_counted() {
    let h = lab();
    let dst = mac(&h, "r", "epair0b");
    let good = {
        let mut p = vec![0u8; 28];
        Ipv4Hdr::new(0x0a00_0102, 0x0a00_0101, 17, 64, 1, 28).write(&mut p);
        p
    };
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut bad = good.clone();
    bad[10] ^= 1;
    cases.push(("badsum", bad));
    cases.push(("toosmall", good[..12].to_vec()));
    let mut bad = good.clone();
    bad[0] = 0x65;
    cases.push(("badvers", bad));
    let mut bad = good.clone();
    bad[0] = 0x44;
    cases.push(("badhlen", bad));
    let mut bad = good.clone();
    bad[2..4].copy_from_slice(&200u16.to_be_bytes());
    let s = in_cksum(&{
        let mut x = bad[..20].to_vec();
        x[10] = 0;
        x[11] = 0;
        x
    });
    bad[10..12].copy_from_slice(&s.to_be_bytes());
    cases.push(("badlen", bad));
    for (counter, ip) in cases {
        let before = field(&h, "r", "net.inet.ip.stats", counter);
        inject(&h, "r", "epair0b", &ether(dst, &ip));
        assert_eq!(field(&h, "r", "net.inet.ip.stats", counter), before + 1, "{counter}");
    }
    // Frames for another MAC, and runts, are dropped at Ethernet.
    let counters = |h: &Host| -> (String, String) {
        let i = ok(h, "jexec r netstat -i");
        let row = i
            .lines()
            .find(|l| l.starts_with("epair0b") && l.contains("Link"))
            .unwrap_or("")
            .to_string();
        let cols: Vec<String> = row.split_whitespace().map(String::from).collect();
        (
            cols.get(5).cloned().unwrap_or_default(),
            cols.get(6).cloned().unwrap_or_default(),
        )
    };
    let (ierrs, idrop) = counters(&h);
    inject(&h, "r", "epair0b", &ether([0x02, 9, 9, 9, 9, 9], &good));
    inject(&h, "r", "epair0b", &[1, 2, 3]);
    let n = |s: &str| s.parse::<u64>().unwrap_or(u64::MAX);
    let (ierrs2, idrop2) = counters(&h);
    assert_eq!(
        (n(&ierrs2) - n(&ierrs), n(&idrop2) - n(&idrop)),
        (1, 1),
        "Ierrs and Idrop"
    );
}

#[test]
fn forwarding_decrements_ttl_and_is_off_by_default() {
    let h = lab();
    let o = ok(&h, "jexec a ping -c 1 10.0.2.2");
    assert!(o.contains("ttl=63"), "one router on the way: {o}");
    assert_eq!(field(&h, "r", "net.inet.ip.stats", "forward"), 2);
    ok(&h, "jexec r sysctl net.inet.ip.forwarding=0");
    let o = h.exec("jexec a ping -c 1 -t 2 10.0.2.2");
    assert_eq!(o.status, 2, "{o:?}");
    assert!(field(&h, "r", "net.inet.ip.stats", "cantforward") >= 1);
    // TTL 1 dies at the router, which says so.
    ok(&h, "jexec r sysctl net.inet.ip.forwarding=1");
    let o = h.exec("jexec a ping -c 1 -m 1 -t 2 10.0.2.2");
    assert!(o.stdout.contains("bytes from 10.0.1.1: Time to live exceeded"), "{o:?}");
}

#[test]
fn fragments_on_the_way_and_reassembly_at_the_end() {
    let h = lab();
    ok(&h, "jexec r ifconfig epair1a mtu 576");
    ok(&h, "jexec b ifconfig epair1b mtu 576");
    let o = ok(&h, "jexec a ping -c 1 -s 3000 10.0.2.2");
    assert!(o.contains("3008 bytes from 10.0.2.2: icmp_seq=0"), "{o}");
    assert!(field(&h, "r", "net.inet.ip.stats", "fragmented") >= 1);
    assert!(field(&h, "b", "net.inet.ip.stats", "reassembled") >= 1);
    assert!(
        field(&h, "a", "net.inet.ip.stats", "reassembled") >= 1,
        "the reply came in pieces too"
    );
    // With DF the router refuses and says why (RFC 1191: with the MTU).
    let o = h.exec("jexec a ping -c 1 -D -s 1000 -t 2 10.0.2.2");
    assert!(o.stdout.contains("frag needed and DF set (MTU 576)"), "{o:?}");
    // Too many fragments for one datagram: dropped.
    ok(&h, "jexec b sysctl net.inet.ip.maxfragsperpacket=3");
    let o = h.exec("jexec a ping -c 1 -s 3000 -t 2 10.0.2.2");
    assert_eq!(o.status, 2, "{o:?}");
    assert!(field(&h, "b", "net.inet.ip.stats", "fragdropped") >= 4);
}

#[test]
fn a_lone_fragment_times_out_with_an_icmp_error() {
    let h = lab();
    let dst = mac(&h, "b", "epair1b");
    let mut p = vec![0u8; 20 + 16];
    let mut hd = Ipv4Hdr::new(0x0a00_0102, 0x0a00_0202, 17, 64, 77, 36);
    hd.off = vimage::netinet::ip::IP_MF;
    hd.write(&mut p);
    ok(&h, "jexec b tcpdump -i epair1b -c 1 icmp > /dev/null &");
    inject(&h, "b", "epair1b", &ether(dst, &p));
    h.run_for(std::time::Duration::from_secs(31));
    assert_eq!(field(&h, "b", "net.inet.ip.stats", "fragtimeout"), 1);
    let icmp = ok(&h, "jexec b netstat -s -p icmp");
    assert!(icmp.contains("\t\ttime exceeded: 1"), "{icmp}");
}

#[test]
fn routes_reject_blackhole_change_and_errors() {
    let h = lab();
    assert_eq!(
        ok(&h, "jexec a route add -net 192.0.2.0/24 10.0.1.1 -reject"),
        "add net 192.0.2.0/24: gateway 10.0.1.1\n"
    );
    let o = h.exec("jexec a ping -c 1 -t 1 192.0.2.1");
    assert!(o.stderr.contains("ping: sendto: No route to host"), "{o:?}");
    ok(&h, "jexec r route add -net 198.51.100.0/24 10.0.2.2 -blackhole");
    let o = h.exec("jexec a ping -c 1 -t 2 198.51.100.1");
    assert!(o.stdout.contains("1 packets transmitted, 0 packets received") && !o.stdout.contains("Unreachable"));
    let o = h.exec("jexec a route add default 10.0.1.1");
    assert_eq!(o.stderr, "route: message indicates error: File exists\n");
    assert_eq!(
        o.stdout,
        "add net default: gateway 10.0.1.1 fib 0: route already in table\n"
    );
    let o = h.exec("jexec a route delete -net 203.0.113.0/24");
    assert_eq!(
        (o.stderr.as_str(), o.stdout.as_str()),
        (
            "route: route has not been found\n",
            "delete net 203.0.113.0/24 fib 0: not in table\n"
        )
    );
    let o = h.exec("jexec a route add -net 203.0.113.0/24 10.9.9.9");
    assert!(o.stdout.ends_with("fib 0: Network is unreachable\n"), "{o:?}");
    assert_eq!(h.exec("jexec a route add -net bogus 10.0.1.1").status, 68);
    assert_eq!(
        ok(&h, "jexec a route change default 10.0.1.3"),
        "change net default: gateway 10.0.1.3\n"
    );
    assert!(ok(&h, "jexec a route get 8.8.8.8").contains("    gateway: 10.0.1.3\n"));
    assert_eq!(h.exec("jexec b route get 1.2.3.4").status, 0, "b has a default route");
    let o = h.exec("jexec r route get 1.2.3.4");
    assert_eq!(
        (o.status, o.stderr.as_str()),
        (255, "route: route has not been found\n")
    );
    let rn = ok(&h, "jexec a netstat -rn");
    assert!(
        rn.contains("default            10.0.1.3           UGS     epair0a\n"),
        "{rn}"
    );
    assert!(
        rn.contains("192.0.2.0/24       10.0.1.1           UGRS    epair0a\n"),
        "{rn}"
    );
}

#[test]
fn a_hundred_thousand_routes() {
    let h = Host::new(Default::default());
    run(&h, "ifconfig epair0 create\nifconfig epair0a inet 10.0.0.1/24 up");
    let v = h.kernel().vnet0();
    let mut k = h.kernel();
    let t = k.vnet(v).expect("vnet0").builtin(vimage::net::route::ROUTE);
    for i in 0..100_000u32 {
        let e = vimage::net::route::Rtentry {
            dst: 0x2000_0000 + (i << 8),
            plen: 24,
            gateway: vimage::net::route::Gateway::Inet(0x0a00_0002),
            ifindex: 2,
            flags: vimage::net::route::RTF_STATIC,
            mtu: 0,
        };
        t.add(e).expect("add");
    }
    assert_eq!(t.len(), 100_000 + 3);
    for i in (0..100_000u32).step_by(997) {
        let r = t.lookup(0x2000_0000 + (i << 8) + 5).expect("route");
        assert_eq!(r.dst, 0x2000_0000 + (i << 8));
    }
    assert!(t.lookup(0x3000_0000).is_none());
}

#[test]
fn icmp_errors_are_rate_limited_and_never_about_broadcasts() {
    let h = lab();
    ok(&h, "jexec b sysctl net.inet.icmp.icmplim=5");
    let dst = mac(&h, "b", "epair1b");
    for i in 0..20u16 {
        let mut p = vec![0u8; 28];
        Ipv4Hdr::new(0x0a00_0201, 0x0a00_0202, 17, 64, i, 28).write(&mut p);
        p[20..22].copy_from_slice(&1000u16.to_be_bytes());
        p[22..24].copy_from_slice(&2000u16.to_be_bytes());
        p[24..26].copy_from_slice(&8u16.to_be_bytes());
        inject(&h, "b", "epair1b", &ether(dst, &p));
    }
    let s = ok(&h, "jexec b netstat -s -p icmp");
    assert!(s.contains("\t\tdestination unreachable: 5\n"), "{s}");
    assert!(s.contains("\t15 responses suppressed by icmplim\n"), "{s}");
    // To the broadcast address: no echo reply unless bmcastecho.
    let o = h.exec("jexec a ping -c 1 -t 2 10.0.1.255");
    assert!(o.stdout.contains("0 packets received"), "{o:?}");
    assert_eq!(field(&h, "r", "net.inet.icmp.stats", "bmcastecho"), 1);
    ok(&h, "jexec r sysctl net.inet.icmp.bmcastecho=1");
    let o = h.exec("jexec a ping -c 1 -t 2 10.0.1.255");
    assert!(o.stdout.contains("64 bytes from 10.0.1.1"), "{o:?}");
    // UDP to a closed port on a broadcast address: no unreachable.
    assert_eq!(stat(&h, "r", "net.inet.icmp.icmplim"), 200);
}

#[test]
fn interfaces_move_and_come_home_when_the_vnet_dies() {
    let h = Host::new(Default::default());
    run(
        &h,
        "jail -c name=j vnet persist
         ifconfig epair0 create
         ifconfig epair0b vnet j
         jexec j ifconfig epair0b inet 10.5.0.1/24 up
         jexec j ifconfig epair1 create",
    );
    assert_eq!(ok(&h, "jexec j ifconfig -l"), "lo0 epair0b epair1a epair1b\n");
    assert_eq!(ok(&h, "ifconfig -l"), "lo0 epair0a\n");
    let o = h.exec("ifconfig epair0b vnet j");
    assert_eq!(o.stderr, "ifconfig: interface epair0b does not exist\n");
    ok(&h, "ifconfig epair0b -vnet j");
    assert_eq!(ok(&h, "ifconfig -l"), "lo0 epair0a epair0b\n");
    assert!(
        !ok(&h, "ifconfig epair0b").contains("inet "),
        "addresses purged on the move"
    );
    ok(&h, "ifconfig epair0b vnet j");
    ok(&h, "jail -r j");
    // epair0b came home; epair1, born in j, went with it.
    assert_eq!(ok(&h, "ifconfig -l"), "lo0 epair0a epair0b\n");
    assert_eq!(ok(&h, "ifconfig epair create"), "epair1a\n", "its unit is free again");
    let o = h.exec("ifconfig lo0 destroy");
    assert_eq!(o.stderr, "ifconfig: SIOCIFDESTROY: Invalid argument\n");
    ok(&h, "ifconfig epair0a destroy");
    assert_eq!(ok(&h, "ifconfig -l"), "lo0 epair1a epair1b\n", "both ends go");
}

#[test]
fn no_frame_reaches_a_destroyed_vnet() {
    let h = Host::new(Default::default());
    run(
        &h,
        "jail -c name=j vnet persist
         ifconfig epair0 create
         ifconfig epair0b vnet j
         ifconfig epair0a inet 10.6.0.1/24 up
         jexec j ifconfig epair0b inet 10.6.0.2/24 up
         pipe epair0a config delay 100ms",
    );
    // A frame is in flight for 100 ms when the jail goes.
    let t = h.spawn(
        vec![
            "ping".into(),
            "-c".into(),
            "1".into(),
            "-t".into(),
            "1".into(),
            "10.6.0.2".into(),
        ],
        vimage::Stdio {
            stdin: vimage::In::null(),
            stdout: vimage::Out::null(),
            stderr: vimage::Out::null(),
        },
    );
    h.run_for(std::time::Duration::from_millis(50));
    ok(&h, "jail -r j");
    assert_eq!(h.wait(t), Ok(2));
    assert_eq!(h.kernel().vnets().len(), 1);
}

/// Frames a test module took (its netisr handler cannot capture).
static TAKEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[test]
fn a_module_can_add_an_ethertype_and_take_it_away() {
    use vimage::{Module, Prio};
    let h = lab();
    let to_r = mac(&h, "r", "epair0b");
    // IEEE 802 local experimental ethertype 1.
    let mut frame = to_r.to_vec();
    frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 0x88, 0xb5]);
    frame.extend_from_slice(b"hello, netisr");
    inject(&h, "r", "epair0b", &frame);
    let noproto = |h: &Host| {
        let v = vnet(h, "r");
        let mut k = h.kernel();
        k.vnet(v)
            .expect("vnet")
            .builtin(IF)
            .by_name("epair0b")
            .expect("if")
            .counters
            .noproto
    };
    assert_eq!(noproto(&h), 1, "nobody speaks 0x88b5 yet");
    let key = h
        .kernel()
        .module_register(
            Module::new("exp1", Prio::new(0x0f00000, 0), |_, _| ()).netisr(0x88b5, |_, _, _, m, bcast| {
                assert_eq!(
                    (m.data(), bcast),
                    (&b"hello, netisr"[..], false),
                    "the payload, header off"
                );
                TAKEN.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }),
        )
        .expect("register");
    inject(&h, "r", "epair0b", &frame);
    assert_eq!(TAKEN.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(noproto(&h), 1);
    // Unregistered, its handler goes with it.
    h.kernel().module_unregister(key).expect("unregister");
    inject(&h, "r", "epair0b", &frame);
    assert_eq!(TAKEN.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(noproto(&h), 2);
    // IP and ARP are registered the same way and still work.
    assert!(ok(&h, "jexec a ping -c 1 10.0.2.2").contains("1 packets received"));
}

static PROTO_TAKEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[test]
fn a_transport_can_be_added_to_the_protocol_switch() {
    use vimage::netinet::protosw::{ipproto_register, ipproto_unregister};
    let h = lab();
    let to_r = mac(&h, "r", "epair0b");
    // Protocol 253 (RFC 3692 experimentation), 10.0.1.2 -> r.
    let mut p = vec![0u8; 28];
    Ipv4Hdr::new(0x0a00_0102, 0x0a00_0101, 253, 64, 9, 28).write(&mut p);
    p[20..].copy_from_slice(b"exp-253!");
    let frame = ether(to_r, &p);
    let noproto = |h: &Host| field(h, "r", "net.inet.ip.stats", "noproto");
    inject(&h, "r", "epair0b", &frame);
    assert_eq!(noproto(&h), 1, "nobody speaks 253 yet");
    ipproto_register(&mut h.kernel(), 253, |_, _, m, f| {
        assert_eq!(
            (&m.data()[f.off..f.end], f.src, f.proto, f.bcast),
            (&b"exp-253!"[..], "10.0.1.2".parse().expect("address"), 253, false)
        );
        PROTO_TAKEN.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        None
    });
    inject(&h, "r", "epair0b", &frame);
    assert_eq!(
        (PROTO_TAKEN.load(std::sync::atomic::Ordering::SeqCst), noproto(&h)),
        (1, 1)
    );
    ipproto_unregister(&mut h.kernel(), 253);
    inject(&h, "r", "epair0b", &frame);
    assert_eq!(
        (PROTO_TAKEN.load(std::sync::atomic::Ordering::SeqCst), noproto(&h)),
        (1, 2)
    );
}

#[test]
fn a_router_redirects_to_a_better_first_hop_on_the_same_link() {
    // a, r and c on one bridge; r's way to 10.0.9.0/24 is c, back out of
    // the interface a's datagram came in on (RFC 1812 §5.2.7.2).
    let h = common::bridged3(vimage::Config::default(), "");
    run(
        &h,
        "jexec a ifconfig epair0a inet 10.0.1.2/24
         jexec r ifconfig epair1a inet 10.0.1.1/24
         jexec c ifconfig epair2a inet 10.0.1.3/24
         jexec c ifconfig lo0 inet 10.0.9.1/32 alias
         jexec r sysctl net.inet.ip.forwarding=1
         jexec r route add -net 10.0.9.0/24 10.0.1.3
         jexec a route add default 10.0.1.1",
    );
    assert!(ok(&h, "jexec a ping -c 1 10.0.9.1").contains("1 packets received"));
    assert_eq!(field(&h, "r", "net.inet.ip.stats", "redirectsent"), 1);
    // a took it whole: its checksum held, so it was counted by type.
    let st = ok(&h, "jexec a netstat -s -p icmp");
    assert!(st.contains("\t0 messages with bad checksum\n"), "{st}");
    assert!(st.contains("\t\trouting redirect: 1\n"), "{st}");
}

/// Interfaces each ifattach hook saw: (vnet serial, index).
static ATTACHED: std::sync::Mutex<Vec<(u64, u32)>> = std::sync::Mutex::new(Vec::new());

#[test]
fn a_module_hears_of_interfaces_arriving_and_leaving() {
    use vimage::{Module, Prio};
    let h = Host::new(vimage::Config::default());
    run(&h, "jail -c name=j vnet persist");
    let key = h
        .kernel()
        .module_register(
            Module::new("watch", Prio::new(0x0f00000, 0), |_, _| ())
                .ifattach(|_, v, index| ATTACHED.lock().expect("lock").push((v.id().serial(), index)))
                .ifdetach(|_, v, index| {
                    ATTACHED
                        .lock()
                        .expect("lock")
                        .retain(|&e| e != (v.id().serial(), index))
                }),
        )
        .expect("register");
    let host = vimage::VnetId::VNET0.serial();
    let jv = vnet(&h, "j").serial();
    run(&h, "ifconfig epair create");
    let index = |name: &str| {
        let mut k = h.kernel();
        k.vnet(vimage::VnetId::VNET0)
            .expect("vnet0")
            .builtin(IF)
            .by_name(name)
            .expect("interface")
            .index
    };
    let (a, b) = (index("epair0a"), index("epair0b"));
    assert_eq!(
        *ATTACHED.lock().expect("lock"),
        vec![(host, a), (host, b)],
        "both ends, as made"
    );
    run(&h, "ifconfig epair0b vnet j");
    assert_eq!(
        *ATTACHED.lock().expect("lock"),
        vec![(host, a), (jv, b)],
        "b left the host for j"
    );
    h.kernel().module_unregister(key).expect("unregister");
    run(&h, "ifconfig epair0a destroy");
    assert_eq!(ATTACHED.lock().expect("lock").len(), 2, "its hooks went with it");
}
