//! IPv4 and IPv6 multicast (ip(4), ip6(4)): group membership per socket
//! and per interface, delivery only to members, the group's MAC on the
//! wire, TTL 1 by default, the loopback copy, and leaving on close.

mod common;

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use common::{bridged3, ok, proc_in, run};
use vimage::Host;
use vimage::socket::UdpSocket;

const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 9);

/// a (10.0.0.1), r (10.0.0.2) and c (10.0.0.3) on one bridged LAN.
fn lan() -> Host {
    let h = bridged3(Default::default(), "");
    run(
        &h,
        "jexec a ifconfig epair0a inet 10.0.0.1/24
         jexec r ifconfig epair1a inet 10.0.0.2/24
         jexec c ifconfig epair2a inet 10.0.0.3/24",
    );
    h
}

/// A socket on `port` in `jail` that writes down what it receives
/// ("payload from address").
fn listen(h: &Host, jail: &str, port: u16) -> (Rc<UdpSocket>, Rc<RefCell<Vec<String>>>) {
    listen_at(h, jail, SocketAddr::from(([0, 0, 0, 0], port)))
}

/// As [`listen`], on `at`.
fn listen_at(h: &Host, jail: &str, at: SocketAddr) -> (Rc<UdpSocket>, Rc<RefCell<Vec<String>>>) {
    let p = proc_in(h, jail);
    let s = Rc::new(UdpSocket::bind(&p, at).expect("bind"));
    let got = Rc::new(RefCell::new(Vec::new()));
    let (s2, g2) = (s.clone(), got.clone());
    h.tasks().spawn(Box::pin(async move {
        let mut b = [0u8; 1500];
        while let Ok((n, from)) = s2.recv_from(&mut b).await {
            g2.borrow_mut()
                .push(format!("{} from {}", String::from_utf8_lossy(&b[..n]), from.ip()));
        }
        0
    }));
    (s, got)
}

fn stat(h: &Host, jail: &str, name: &str) -> u64 {
    let o = ok(h, &format!("jexec {jail} sysctl -n net.inet.ip.stats"));
    let at = o.find(&format!(" {name} = ")).expect("counter") + name.len() + 4;
    o[at..]
        .split([',', ' '])
        .next()
        .and_then(|n| n.parse().ok())
        .expect("number")
}

#[test]
fn only_members_receive_and_the_wire_carries_the_groups_mac() {
    let dir = common::tmpdir("mcast-wire");
    let pcap = dir.join("m.pcap");
    let h = lan();
    ok(&h, &format!("jexec c tcpdump -i epair2a -w {} &", pcap.display()));
    let (rs, r_got) = listen(&h, "r", 520);
    let (_cs, c_got) = listen(&h, "c", 520);
    rs.join_multicast_v4(GROUP, Ipv4Addr::new(10, 0, 0, 2)).expect("join");
    assert_eq!(
        rs.join_multicast_v4(GROUP, Ipv4Addr::new(10, 0, 0, 2))
            .expect_err("twice")
            .kind(),
        std::io::ErrorKind::AddrInUse
    );
    let a = UdpSocket::bind(&proc_in(&h, "a"), SocketAddr::from(([10, 0, 0, 1], 520))).expect("a");
    a.set_multicast_if_v4(Ipv4Addr::new(10, 0, 0, 1)).expect("if");
    let c_notmember = stat(&h, "c", "notmember");
    a.try_send_to(b"hello", SocketAddr::from((GROUP, 520))).expect("send");
    h.run_for(Duration::from_millis(10));
    assert_eq!(*r_got.borrow(), ["hello from 10.0.0.1"]);
    assert!(c_got.borrow().is_empty(), "c did not join");
    assert_eq!(stat(&h, "c", "notmember"), c_notmember + 1);
    // A socket on the port that did not join gets nothing either, though
    // its interface did.
    let (_r2, r2_got) = listen(&h, "r", 521);
    a.try_send_to(b"x", SocketAddr::from((GROUP, 521))).expect("send");
    h.run_for(Duration::from_millis(10));
    assert!(r2_got.borrow().is_empty());
    // Left: no more.
    rs.leave_multicast_v4(GROUP, Ipv4Addr::new(10, 0, 0, 2)).expect("leave");
    a.try_send_to(b"again", SocketAddr::from((GROUP, 520))).expect("send");
    h.run_for(Duration::from_millis(10));
    assert_eq!(r_got.borrow().len(), 1);
    h.tasks().kill_all();
    let Some(f) = common::tshark_frames(&pcap, "udp.port == 520", &["eth.dst", "ip.dst", "ip.ttl"]) else {
        return;
    };
    assert!(f.lines().count() >= 2, "{f}");
    for l in f.lines() {
        assert!(l.ends_with("01:00:5e:00:00:09\t224.0.0.9\t1"), "{l}");
    }
}

#[test]
fn a_sender_that_joined_hears_its_own_unless_loop_is_off() {
    let h = lan();
    let (s, got) = listen(&h, "a", 520);
    s.join_multicast_v4(GROUP, Ipv4Addr::UNSPECIFIED)
        .expect("join by the route");
    // No route to the group: a multicast needs its interface named.
    assert_eq!(
        s.try_send_to(b"zero", SocketAddr::from((GROUP, 520)))
            .expect_err("no route")
            .kind(),
        std::io::ErrorKind::NetworkUnreachable
    );
    s.set_multicast_if_v4(Ipv4Addr::new(10, 0, 0, 1)).expect("if");
    let (rs, r_got) = listen(&h, "r", 520);
    rs.join_multicast(IpAddr::V4(GROUP), 0).expect("join");
    s.set_multicast_ttl(4).expect("ttl");
    s.try_send_to(b"one", SocketAddr::from((GROUP, 520))).expect("send");
    h.run_for(Duration::from_millis(10));
    assert_eq!(*got.borrow(), ["one from 10.0.0.1"]);
    s.set_multicast_loop(false).expect("loop");
    s.try_send_to(b"two", SocketAddr::from((GROUP, 520))).expect("send");
    h.run_for(Duration::from_millis(10));
    assert_eq!(got.borrow().len(), 1, "no copy with IP_MULTICAST_LOOP off");
    assert_eq!(*r_got.borrow(), ["one from 10.0.0.1", "two from 10.0.0.1"]);
    h.tasks().kill_all();
}

#[test]
fn closing_a_socket_leaves_its_groups() {
    let h = lan();
    let p = proc_in(&h, "r");
    let members = |h: &Host| {
        let v = common::vnet(h, "r");
        h.kernel()
            .with_vnet(v, |_, v| {
                let ifs = v.builtin(vimage::net::ifnet::IF);
                ifs.list.iter().map(|i| i.multiaddrs.len()).sum::<usize>()
            })
            .expect("vnet")
    };
    {
        let s1 = UdpSocket::bind(&p, SocketAddr::from(([0, 0, 0, 0], 520))).expect("bind");
        let s2 = UdpSocket::bind_reuseaddr(&p, SocketAddr::from(([0, 0, 0, 0], 0))).expect("bind");
        s1.join_multicast_v4(GROUP, Ipv4Addr::UNSPECIFIED).expect("join");
        s2.join_multicast_v4(GROUP, Ipv4Addr::UNSPECIFIED).expect("join");
        s2.join_multicast_v4(Ipv4Addr::new(224, 0, 0, 5), Ipv4Addr::UNSPECIFIED)
            .expect("join");
        assert_eq!(members(&h), 2, "two groups on epair1a, one counted twice");
        assert_eq!(
            s1.join_multicast_v4(Ipv4Addr::new(10, 0, 0, 9), Ipv4Addr::UNSPECIFIED)
                .expect_err("not a group")
                .kind(),
            std::io::ErrorKind::InvalidInput
        );
        assert_eq!(
            s1.leave_multicast_v4(Ipv4Addr::new(224, 0, 0, 6), Ipv4Addr::UNSPECIFIED)
                .expect_err("not joined")
                .kind(),
            std::io::ErrorKind::AddrNotAvailable
        );
    }
    assert_eq!(members(&h), 0);
}

#[test]
fn ipv6_groups_are_joined_by_index() {
    let h = lan();
    run(
        &h,
        "jexec a ifconfig epair0a inet6 2001:db8::1/64
         jexec r ifconfig epair1a inet6 2001:db8::2/64",
    );
    h.run_for(Duration::from_secs(3));
    let (rs, got) = listen_at(&h, "r", "[::]:521".parse().expect("addr"));
    let g: IpAddr = "ff02::9".parse().expect("group");
    rs.join_multicast(g, ifindex(&h, "r", "epair1a")).expect("join ff02::9");
    let a = UdpSocket::bind(&proc_in(&h, "a"), "[::]:521".parse().expect("addr")).expect("a");
    a.set_multicast_if(ifindex(&h, "a", "epair0a")).expect("if");
    a.try_send_to(b"ripng", "[ff02::9]:521".parse().expect("addr"))
        .expect("send");
    h.run_for(Duration::from_millis(10));
    let got = got.borrow();
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].starts_with("ripng from fe80::"), "{got:?}");
}

/// The index of interface `name` in `jail`'s vnet.
fn ifindex(h: &Host, jail: &str, name: &str) -> u32 {
    let v = common::vnet(h, jail);
    h.kernel()
        .with_vnet(v, |_, v| {
            v.builtin(vimage::net::ifnet::IF).by_name(name).map(|i| i.index)
        })
        .expect("vnet")
        .expect("interface")
}
