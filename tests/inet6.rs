//! IPv6 (issue 10, part 2): addresses and their routes, neighbour
//! discovery, ICMPv6 echo and errors, forwarding, fragments, TCP and UDP
//! over IPv6, checked by the commands' output, the counters and the
//! bytes on the wire (tshark); and Linux as the peer through a TAP
//! device.

mod common;

use common::{Netns, drive, ok, sh, spawn};
use vimage::{ClockKind, Config, Host};

/// a — r — b: 2001:db8:1::/64 and 2001:db8:2::/64, r forwarding, a and
/// b with default routes through it.
fn routed6() -> Host {
    let h = Host::new(Config::default());
    common::run(
        &h,
        "jail -c name=a vnet persist
         jail -c name=r vnet persist
         jail -c name=b vnet persist
         ifconfig epair0 create
         ifconfig epair1 create
         ifconfig epair0a vnet a
         ifconfig epair0b vnet r
         ifconfig epair1a vnet r
         ifconfig epair1b vnet b
         jexec a ifconfig epair0a inet6 2001:db8:1::1/64
         jexec r ifconfig epair0b inet6 2001:db8:1::2 prefixlen 64
         jexec r ifconfig epair1a inet6 2001:db8:2::1/64
         jexec b ifconfig epair1b inet6 2001:db8:2::2/64
         jexec r sysctl net.inet6.ip6.forwarding=1
         jexec a route -6 add default 2001:db8:1::2
         jexec b route add -inet6 default 2001:db8:2::1",
    );
    h
}

#[test]
fn lo0_answers_on_its_two_addresses_from_the_start() {
    let h = Host::new(Config::default());
    ok(&h, "jail -c name=j vnet persist");
    assert_eq!(
        ok(&h, "jexec j ifconfig lo0 inet6"),
        "lo0: flags=1008049<UP,LOOPBACK,RUNNING,MULTICAST,LOWER_UP> metric 0 mtu 16384\n\
         \toptions=680003<RXCSUM,TXCSUM,LINKSTATE,RXCSUM_IPV6,TXCSUM_IPV6>\n\
         \tinet6 ::1 prefixlen 128\n\
         \tinet6 fe80::1%lo0 prefixlen 64 scopeid 0x2\n"
    );
    let o = ok(&h, "jexec j ping6 -c 2 ::1");
    assert!(
        o.starts_with("PING6(56=40+8+8 bytes) ::1 --> ::1\n16 bytes from ::1, icmp_seq=0 hlim=64 time="),
        "{o}"
    );
    assert!(
        o.contains("--- ::1 ping6 statistics ---\n2 packets transmitted, 2 packets received, 0.0% packet loss\n"),
        "{o}"
    );
    let o = ok(&h, "jexec j ping -6 -c 1 fe80::1%lo0");
    assert!(o.contains("16 bytes from fe80::1%lo0, icmp_seq=0 hlim=64"), "{o}");
    let t = ok(&h, "jexec j netstat -rn -f inet6");
    assert_eq!(
        t,
        "Routing tables\n\nInternet6:\n\
         Destination                       Gateway                       Flags     Netif Expire\n\
         ::1                               link#2                        UHS         lo0\n\
         fe80::%lo0/64                     link#2                        U           lo0\n\
         fe80::1%lo0                       link#2                        UHS         lo0\n"
    );
}

#[test]
fn interfaces_get_a_link_local_address_when_they_come_up() {
    let h = Host::new(Config::default());
    ok(&h, "ifconfig epair0 create");
    assert!(!ok(&h, "ifconfig epair0a").contains("inet6"), "down: none yet");
    ok(&h, "ifconfig epair0a up");
    let o = ok(&h, "ifconfig epair0a inet6");
    let mac = ok(&h, "ifconfig epair0a ether");
    let mac = mac
        .lines()
        .find_map(|l| l.trim().strip_prefix("ether "))
        .unwrap_or("?")
        .to_string();
    // Modified EUI-64 (RFC 4291 App. A): the U/L bit flipped, ff:fe inside.
    let b: Vec<u8> = mac.split(':').map(|x| u8::from_str_radix(x, 16).unwrap_or(0)).collect();
    assert_eq!(b.len(), 6, "{mac}");
    let ll = std::net::Ipv6Addr::from([
        0xfe,
        0x80,
        0,
        0,
        0,
        0,
        0,
        0,
        b[0] ^ 2,
        b[1],
        b[2],
        0xff,
        0xfe,
        b[3],
        b[4],
        b[5],
    ]);
    assert!(
        o.contains(&format!("\tinet6 {ll}%epair0a prefixlen 64 scopeid 0x")),
        "{o} {ll}"
    );
    // ifdisabled: IPv6 off; -ifdisabled: on again.
    ok(&h, "ifconfig epair0a inet6 ifdisabled");
    assert!(ok(&h, "ifconfig epair0a").contains("nd6 options=29<PERFORMNUD,IFDISABLED,AUTO_LINKLOCAL>"));
    ok(&h, "ifconfig epair0a inet6 -ifdisabled");
    assert!(ok(&h, "ifconfig epair0a").contains("nd6 options=21<PERFORMNUD,AUTO_LINKLOCAL>"));
    // An address and its removal, with the prefix route.
    ok(&h, "ifconfig epair0a inet6 2001:db8::1/64");
    assert!(ok(&h, "netstat -rn -f inet6").contains("2001:db8::/64                     link#"));
    ok(&h, "ifconfig epair0a inet6 2001:db8::1 -alias");
    assert!(!ok(&h, "netstat -rn -f inet6").contains("2001:db8::"));
    let o = h.exec("ifconfig epair0a inet6 2001:db8::1 -alias");
    assert_eq!(
        o.stderr,
        "ifconfig: ioctl (SIOCDIFADDR_IN6): Can't assign requested address\n"
    );
}

#[test]
fn neighbours_are_solicited_and_ping6_crosses_a_router() {
    let h = routed6();
    let o = ok(&h, "jexec a ping6 -c 2 2001:db8:2::2");
    assert!(
        o.starts_with("PING6(56=40+8+8 bytes) 2001:db8:1::1 --> 2001:db8:2::2\n16 bytes from 2001:db8:2::2, icmp_seq=0 hlim=63 time="),
        "{o}"
    );
    assert!(
        o.contains("2 packets transmitted, 2 packets received, 0.0% packet loss"),
        "{o}"
    );
    // The router learnt both neighbours: one it solicited (REACHABLE),
    // one that solicited it (STALE, then DELAY once used).
    let n = ok(&h, "jexec r ndp -an");
    let row = |a: &str| {
        n.lines()
            .find(|l| l.starts_with(&format!("{a} ")))
            .unwrap_or("")
            .to_string()
    };
    assert!(row("2001:db8:2::2").ends_with(" R"), "{n}");
    assert!(row("2001:db8:1::1").contains(" epair0 "), "{n}");
    assert!(row("2001:db8:1::2").contains("permanent R"), "{n}");
    let st = ok(&h, "jexec r sysctl -n net.inet6.ip6.stats");
    assert!(
        st.contains("forward = 4,"),
        "two echoes and two replies forwarded: {st}"
    );
    let nd = ok(&h, "jexec r sysctl net.inet6.icmp6.nd6_stats");
    assert!(nd.contains("nsout = 1,") && nd.contains("nain = 1,"), "{nd}");
    let s = ok(&h, "jexec r netstat -s -p ip6");
    assert!(s.starts_with("ip6:\n\t6 total packets received\n"), "{s}");
    assert!(s.contains("\t4 packets forwarded\n"), "{s}");
    let s = ok(&h, "jexec a netstat -s -p icmp6");
    assert!(
        s.contains("\tOutput histogram:\n\t\techo: 2\n\t\tneighbor solicitation: 1\n"),
        "{s}"
    );
    assert!(s.contains("\tInput histogram:\n\t\techo reply: 2\n"), "{s}");
}

#[test]
fn errors_say_why_time_exceeded_no_route_and_port_unreachable() {
    let h = routed6();
    let o = h.exec("jexec a ping6 -c 1 -m 1 2001:db8:2::2");
    assert!(
        o.stdout.contains("bytes from 2001:db8:1::2: Time to live exceeded"),
        "{o:?}"
    );
    let o = h.exec("jexec a ping6 -c 1 2001:db8:9::1");
    assert!(
        o.stdout.contains("bytes from 2001:db8:1::2: No Route to Destination"),
        "{o:?}"
    );
    // UDP to a port nobody has: ICMPv6 port unreachable.
    h.exec("echo x | jexec a nc -6 -u -w 1 2001:db8:2::2 9");
    let st = ok(&h, "jexec b sysctl net.inet6.icmp6.stats");
    assert!(st.contains("error = 1,"), "{st}");
    let st = ok(&h, "jexec b sysctl net.inet.udp.stats");
    assert!(st.contains("noport = 1,"), "{st}");
}

#[test]
fn traceroute6_lists_the_router_and_arrives() {
    let h = routed6();
    let o = h.exec("jexec a traceroute6 -n -q 2 2001:db8:2::2");
    assert_eq!(o.status, 0, "{o:?}");
    assert_eq!(
        o.stderr,
        "traceroute6 to 2001:db8:2::2 (2001:db8:2::2), 64 hops max, 20 byte packets\n"
    );
    let hops: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(hops.len(), 2, "{}", o.stdout);
    assert!(
        hops[0].starts_with(" 1  2001:db8:1::2  ") && hops[0].ends_with(" ms"),
        "{}",
        o.stdout
    );
    assert!(hops[1].starts_with(" 2  2001:db8:2::2  "), "{}", o.stdout);
    let o = h.exec("jexec a traceroute6 -I -n -q 1 2001:db8:2::2");
    assert_eq!(o.stdout.lines().count(), 2, "{o:?}");
    let o = h.exec("jexec a traceroute6 -n -q 1 -m 3 2001:db8:7::1");
    assert!(
        o.stdout.starts_with(" 1  2001:db8:1::2  ") && o.stdout.contains(" !N"),
        "{o:?}"
    );
}

#[test]
fn tcp_and_udp_over_ipv6_carry_data_through_the_router() {
    let h = routed6();
    let (st, out, err) = common::script(
        &h,
        "jexec b nc -6 -l 5000 > /tmp/vimage-inet6-tcp.txt &
         sleep 0.1
         jexec b sockstat -6 -l
         jexec b sockstat -4 -l
         echo over six | jexec a nc -N 2001:db8:2::2 5000
         sleep 1
         cat /tmp/vimage-inet6-tcp.txt
         jexec a netstat -an -p tcp",
    );
    assert_eq!(st, 0, "{out} {err}");
    assert!(out.contains("over six\n"), "{out}");
    assert_eq!(
        out.lines().filter(|l| l.contains("tcp6   *:5000")).count(),
        1,
        "listening once, on IPv6 only: {out}"
    );
    assert!(out.contains("tcp6       0      0 2001:db8:1::1."), "{out}");
    let (st, out, err) = common::script(
        &h,
        "jexec b nc -6 -u -l 5001 > /tmp/vimage-inet6-udp.txt &
         sleep 0.1
         echo datagram | jexec a nc -6 -u -w 1 2001:db8:2::2 5001
         sleep 1
         cat /tmp/vimage-inet6-udp.txt",
    );
    assert_eq!(st, 0, "{out} {err}");
    assert!(out.contains("datagram\n"), "{out}");
}

#[test]
fn big_echoes_are_fragmented_at_the_source_and_reassembled() {
    let h = routed6();
    let o = ok(&h, "jexec a ping6 -c 1 -s 4000 2001:db8:2::2");
    assert!(o.contains("4008 bytes from 2001:db8:2::2, icmp_seq=0"), "{o}");
    let a = ok(&h, "jexec a sysctl net.inet6.ip6.stats");
    assert!(
        a.contains("fragmented = 1,") && a.contains("ofragments = 3,") && a.contains("reassembled = 1,"),
        "{a}"
    );
    // A router never fragments: too big for its next link is an error.
    ok(&h, "jexec r ifconfig epair1a mtu 1280");
    let o = h.exec("jexec a ping6 -c 1 -s 1400 2001:db8:2::2");
    assert!(
        o.stdout.contains("bytes from 2001:db8:1::2: Packet too big mtu = 1280"),
        "{o:?}"
    );
}

#[test]
fn the_wire_is_clean_ipv6_to_tshark() {
    let dir = common::tmpdir("inet6-wire");
    let pcap = dir.join("v6.pcap");
    let h = routed6();
    ok(&h, &format!("jexec r tcpdump -i epair0b -w {} &", pcap.display()));
    ok(&h, "jexec a ping6 -c 2 -s 3000 2001:db8:2::2");
    h.exec("jexec a ping6 -c 1 -m 1 2001:db8:2::2");
    let ll = ok(&h, "jexec r ifconfig epair0b inet6");
    let ll = ll
        .split_whitespace()
        .skip_while(|w| *w != "inet6")
        .nth(1)
        .unwrap_or("")
        .to_string();
    let ll = ll.replace("%epair0b", "%epair0a");
    assert!(ok(&h, &format!("jexec a ping6 -c 1 {ll}")).contains("1 packets received"));
    common::run(
        &h,
        "jexec b nc -6 -l 5000 > /dev/null &
         echo tcp | jexec a nc -N 2001:db8:2::2 5000",
    );
    h.run_for(std::time::Duration::from_secs(1));
    h.tasks().kill_all();
    let Some(bad) = common::tshark_problems(&pcap) else {
        return;
    };
    assert_eq!(bad, "", "tshark finds no malformed packet or bad checksum");
    let Some(types) = common::tshark_frames(&pcap, "icmpv6", &["icmpv6.type"]) else {
        return;
    };
    for t in ["135", "136", "128", "129", "3"] {
        assert!(
            types
                .lines()
                .any(|l| l.split('\t').nth(1).is_some_and(|f| f.split(',').any(|x| x == t))),
            "ICMPv6 type {t} on the wire: {types}"
        );
    }
    let Some(tcp) = common::tshark_frames(&pcap, "tcp.flags.syn == 1", &["ipv6.src", "tcp.checksum.status"]) else {
        return;
    };
    assert!(tcp.contains("2001:db8:1::1"), "{tcp}");
}

#[test]
fn linux_pings_and_talks_tcp_over_ipv6_through_tap() {
    if !common::can_tap() {
        return;
    }
    for (tool, pkg) in [("ip", "iproute2"), ("ping", "iputils-ping"), ("nc", "netcat-openbsd")] {
        if !common::ensure_tool(tool, pkg) {
            return;
        }
    }
    let pid = std::process::id();
    let ns = Netns(format!("vim6{pid}"));
    let dev = format!("v6t{pid}");
    sh(&format!("ip netns add {}", ns.0));
    let host = Host::new(Config {
        clock: ClockKind::Real,
        ..Config::default()
    });
    let script = format!(
        "jail -c name=r1 vnet persist
         jail -c name=r2 vnet persist
         jail -c name=r3 vnet persist
         jail -c name=h vnet persist
         ifconfig tap0 create tapdev {dev}
         ifconfig tap0 vnet r1
         jexec r1 ifconfig tap0 inet6 2001:db8:99::1/64 up
         ifconfig epair0 create
         ifconfig epair1 create
         ifconfig epair2 create
         ifconfig epair0a vnet r1
         ifconfig epair0b vnet r2
         ifconfig epair1a vnet r2
         ifconfig epair1b vnet r3
         ifconfig epair2a vnet r3
         ifconfig epair2b vnet h
         jexec r1 ifconfig epair0a inet6 2001:db8:1::1/64
         jexec r2 ifconfig epair0b inet6 2001:db8:1::2/64
         jexec r2 ifconfig epair1a inet6 2001:db8:2::1/64
         jexec r3 ifconfig epair1b inet6 2001:db8:2::2/64
         jexec r3 ifconfig epair2a inet6 2001:db8:3::1/64
         jexec h ifconfig epair2b inet6 2001:db8:3::2/64
         jexec r1 sysctl net.inet6.ip6.forwarding=1
         jexec r2 sysctl net.inet6.ip6.forwarding=1
         jexec r3 sysctl net.inet6.ip6.forwarding=1
         jexec r1 route -6 add default 2001:db8:1::2
         jexec r2 route -6 add 2001:db8:3::/64 2001:db8:2::2
         jexec r2 route -6 add 2001:db8:99::/64 2001:db8:1::1
         jexec r3 route -6 add default 2001:db8:2::1
         jexec h route -6 add default 2001:db8:3::1"
    );
    for line in script.lines() {
        let o = host.exec(line.trim());
        assert!(o.success(), "{line}: {o:?}");
    }
    let ns = &ns.0;
    sh(&format!("ip link set {dev} netns {ns}"));
    sh(&format!("ip -n {ns} link set lo up"));
    sh(&format!(
        "ip netns exec {ns} sysctl -qw net.ipv6.conf.{dev}.accept_dad=0"
    ));
    sh(&format!("ip -n {ns} addr add 2001:db8:99::2/64 dev {dev} nodad"));
    sh(&format!("ip -n {ns} link set {dev} up"));
    sh(&format!("ip -n {ns} -6 route add 2001:db8::/32 via 2001:db8:99::1"));

    // Linux pings vimage, and a host three routers away.
    let out = drive(
        &host,
        spawn(&format!("ip netns exec {ns} ping -6 -c 3 -i 0.2 -W 2 2001:db8:99::1")),
    );
    assert!(out.contains("3 packets transmitted, 3 received"), "{out}");
    let out = drive(
        &host,
        spawn(&format!("ip netns exec {ns} ping -6 -c 2 -i 0.2 -W 2 2001:db8:3::2")),
    );
    assert!(out.contains("2 packets transmitted, 2 received"), "{out}");
    assert!(out.contains("ttl=61"), "three routers on the way: {out}");
    // vimage pings Linux, on its global and its link-local address.
    let o = host.exec("jexec r1 ping6 -c 2 -i 0.2 2001:db8:99::2");
    assert!(o.stdout.contains("2 packets transmitted, 2 packets received"), "{o:?}");
    let ll = sh(&format!("ip -n {ns} -6 addr show dev {dev} scope link"));
    let ll = ll
        .split_whitespace()
        .skip_while(|w| *w != "inet6")
        .nth(1)
        .and_then(|a| a.split('/').next())
        .unwrap_or("")
        .to_string();
    let o = host.exec(&format!("jexec r1 ping6 -c 1 {ll}%tap0"));
    assert!(o.stdout.contains("1 packets received"), "{ll}: {o:?}");
    // Neighbour discovery both ways.
    let linux_mac = sh(&format!("ip netns exec {ns} cat /sys/class/net/{dev}/address"));
    let n = host.exec("jexec r1 ndp -an").stdout;
    assert!(
        n.lines()
            .any(|l| l.starts_with("2001:db8:99::2 ") && l.contains(linux_mac.trim())),
        "{n} {linux_mac}"
    );
    let neigh = sh(&format!("ip -n {ns} -6 neigh show 2001:db8:99::1"));
    assert!(neigh.contains("lladdr"), "{neigh}");
    // TCP from Linux's nc to a vimage server three routers away.
    let o = host.exec("jexec h nc -6 -l 7000 > /tmp/vimage-tap6.txt &");
    assert!(o.success(), "{o:?}");
    let out = drive(
        &host,
        spawn(&format!(
            "echo from linux | ip netns exec {ns} nc -6 -N -w 5 2001:db8:3::2 7000"
        )),
    );
    host.run_for(std::time::Duration::from_millis(300));
    let got = std::fs::read_to_string("/tmp/vimage-tap6.txt").unwrap_or_default();
    assert_eq!(got, "from linux\n", "{out}");
}
