//! IPv6 (issue 10, part 2): addresses and their routes, neighbour
//! discovery, ICMPv6 echo and errors, forwarding, fragments, TCP and UDP
//! over IPv6, checked by the commands' output, the counters and the
//! bytes on the wire (tshark); and Linux as the peer through a TAP
//! device.

mod common;

use common::{Netns, drive, ok, sh, spawn};
use vimage::{Config, Host};

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
         jexec b route add -inet6 default 2001:db8:2::1
         sleep 2",
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
    // Tentative while duplicate address detection runs (RFC 4862 §5.4),
    // then the interface's.
    assert!(
        o.contains(&format!("\tinet6 {ll}%epair0a prefixlen 64 tentative scopeid 0x")),
        "{o} {ll}"
    );
    ok(&h, "sleep 2");
    let o = ok(&h, "ifconfig epair0a inet6");
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
    // Four probes of DAD (two interfaces, two addresses each), one to
    // resolve a neighbour.
    assert!(nd.contains("nsout = 5,") && nd.contains("nain = 1,"), "{nd}");
    let s = ok(&h, "jexec r netstat -s -p ip6");
    // And four probes of neighbours' DAD and two listener reports (the
    // others went before r's ends were up), to groups r is not in.
    assert!(s.starts_with("ip6:\n\t12 total packets received\n"), "{s}");
    assert!(s.contains("\t4 packets forwarded\n"), "{s}");
    assert!(s.contains("\t6 multicast packets which we don't join\n"), "{s}");
    let s = ok(&h, "jexec a netstat -s -p icmp6");
    assert!(
        s.contains("\tOutput histogram:\n\t\techo: 2\n\t\tneighbor solicitation: 3\n"),
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
fn packet_too_big_teaches_the_path_mtu_for_an_hour() {
    // a — r — b with the far link at IPv6's minimum MTU: r cannot
    // forward what a sends at 1500 and says so; a learns 1280 for b and
    // fragments at it from then on (RFC 8201), TCP included.
    let h = routed6();
    common::run(
        &h,
        "jexec r ifconfig epair1a mtu 1280
         jexec b ifconfig epair1b mtu 1280",
    );
    let o = h.exec("jexec a ping6 -c 3 -s 1400 2001:db8:2::2");
    assert!(
        o.stdout.contains("bytes from 2001:db8:1::2: Packet too big mtu = 1280"),
        "{o:?}"
    );
    assert!(
        o.stdout
            .contains("3 packets transmitted, 2 packets received, 33.3% packet loss"),
        "{o:?}"
    );
    assert!(ok(&h, "jexec a netstat -s -p icmp6").contains("\t1 path MTU change\n"));
    assert_eq!(ok(&h, "jexec a sysctl -n net.inet.tcp.hostcache.count"), "1\n");
    let frags = |h: &Host| {
        let st = ok(h, "jexec a sysctl net.inet6.ip6.stats");
        st.split("ofragments = ")
            .nth(1)
            .and_then(|x| x.split(',').next())
            .map(str::to_string)
    };
    assert_eq!(frags(&h).as_deref(), Some("4"), "two echoes in two fragments each");
    // A TCP connection starts at the path's MSS: no more "too big".
    let (st, out, err) = common::script(
        &h,
        "jexec b nc -6 -l 5000 > /dev/null &
         sleep 0.1
         jot 20000 | jexec a nc -6 -N 2001:db8:2::2 5000
         sleep 1",
    );
    assert_eq!(st, 0, "{out} {err}");
    let st = ok(&h, "jexec r netstat -s -p icmp6");
    assert!(st.contains("\t\tpacket too big: 1\n"), "{st}");
    // It is forgotten after net.inet.tcp.hostcache.expire, and learned again.
    common::run(
        &h,
        "jexec a sysctl net.inet.tcp.hostcache.expire=60
         sleep 3601",
    );
    let o = h.exec("jexec a ping6 -c 1 -s 1400 2001:db8:2::2");
    assert!(o.stdout.contains("Packet too big mtu = 1280"), "{o:?}");
    assert!(ok(&h, "jexec a netstat -s -p icmp6").contains("\t2 path MTU changes\n"));
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
    if !common::tap_with(&[("ip", "iproute2"), ("ping", "iputils-ping"), ("nc", "netcat-openbsd")]) {
        return;
    }
    let pid = std::process::id();
    let ns = Netns(format!("vim6{pid}"));
    let dev = format!("v6t{pid}");
    sh(&format!("ip netns add {}", ns.0));
    let host = common::real_host(&format!(
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
    ));
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
    // traceroute6 both ways through the three routers.
    if common::ensure_tool("traceroute", "traceroute") {
        let out = drive(
            &host,
            spawn(&format!(
                "ip netns exec {ns} traceroute -6 -n -q 1 -w 2 -m 6 2001:db8:3::2"
            )),
        );
        let hops: Vec<&str> = out.lines().skip(1).collect();
        assert_eq!(hops.len(), 4, "{out}");
        assert!(hops[0].trim_start().starts_with("1  2001:db8:99::1 "), "{out}");
        assert!(hops[3].trim_start().starts_with("4  2001:db8:3::2 "), "{out}");
    }
    let o = host.exec("jexec h traceroute6 -n -q 1 -w 2 2001:db8:99::2");
    let hops: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(hops.len(), 4, "{o:?}");
    assert!(hops[0].trim_start().starts_with("1  2001:db8:3::1 "), "{o:?}");
    assert!(hops[3].trim_start().starts_with("4  2001:db8:99::2 "), "{o:?}");
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
    // curl -6 fetches a page a vimage nc serves.
    let dir = common::tmpdir("tap6-http");
    let page = dir.join("response");
    std::fs::write(&page, "HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\nhello, curl\n").expect("page");
    let o = host.exec(&format!("jexec h nc -6 -N -l 8080 < {} > /dev/null &", page.display()));
    assert!(o.success(), "{o:?}");
    if common::ensure_tool("curl", "curl") {
        let out = drive(
            &host,
            spawn(&format!(
                "ip netns exec {ns} curl -6 -s -m 10 http://[2001:db8:3::2]:8080/"
            )),
        );
        assert_eq!(out, "hello, curl\n");
    }
    // iperf3 -6 both ways: Linux's client to vimage's server, and back.
    if !common::ensure_tool("iperf3", "iperf3") {
        return;
    }
    let o = host.exec("jexec h iperf3 -s -1 > /dev/null &");
    assert!(o.success(), "{o:?}");
    let out = drive(
        &host,
        spawn(&format!("ip netns exec {ns} iperf3 -6 -c 2001:db8:3::2 -t 1")),
    );
    assert!(out.contains("receiver") && out.contains("iperf Done."), "{out}");
    let _server = Killed(spawn(&format!("exec ip netns exec {ns} iperf3 -s -1")));
    host.run_for(std::time::Duration::from_millis(500));
    let o = host.exec("jexec r1 iperf3 -6 -c 2001:db8:99::2 -t 1");
    assert!(
        o.stdout.contains("Connecting to host 2001:db8:99::2, port 5201") && o.stdout.contains("iperf Done."),
        "{o:?}"
    );
}

#[test]
fn duplicate_addresses_are_detected_and_never_used() {
    let h = Host::new(Config::default());
    common::run(
        &h,
        "jail -c name=a vnet persist
         jail -c name=b vnet persist
         ifconfig epair0 create
         ifconfig epair0a vnet a
         ifconfig epair0b vnet b
         jexec a ifconfig epair0a inet6 2001:db8::1/64
         jexec a ifconfig epair0a inet6 2001:db8::9/64
         sleep 2
         jexec b ifconfig epair0b inet6 2001:db8::1/64",
    );
    // While DAD runs the address is no source: nothing to send from.
    let o = h.exec("jexec b ping6 -c 1 2001:db8::7");
    assert!(o.stderr.contains("Can't assign requested address"), "{o:?}");
    ok(&h, "sleep 2");
    assert!(
        ok(&h, "jexec b ifconfig epair0b inet6").contains("\tinet6 2001:db8::1 prefixlen 64 duplicated\n"),
        "a answered b's probe"
    );
    assert!(ok(&h, "jexec a ifconfig epair0a inet6").contains("\tinet6 2001:db8::1 prefixlen 64\n"));
    let d = ok(&h, "dmesg");
    assert!(
        d.contains("epair0b: DAD detected duplicate IPv6 address 2001:db8::1: NS in/out/loopback=0/1/0, NA in=1\n"),
        "{d}"
    );
    // no_dad: the address is used at once (as FreeBSD's own tests do).
    ok(&h, "jexec b ifconfig epair0b inet6 2001:db8::2/64 no_dad");
    let o = ok(&h, "jexec b ifconfig epair0b");
    assert!(o.contains("\tinet6 2001:db8::2 prefixlen 64\n"), "{o}");
    assert!(o.contains("nd6 options=121<PERFORMNUD,AUTO_LINKLOCAL,NO_DAD>"), "{o}");
    assert!(ok(&h, "jexec b ping6 -c 1 2001:db8::9").contains("1 packets received"));
    // dad_count: as many probes as asked for.
    ok(&h, "jexec a sysctl net.inet6.ip6.dad_count=3");
    ok(&h, "jexec a ndp -c");
    let before = ok(&h, "jexec a sysctl -n net.inet6.icmp6.nd6_stats");
    ok(&h, "jexec a ifconfig epair0a inet6 2001:db8::3/64");
    ok(&h, "sleep 5");
    let after = ok(&h, "jexec a sysctl -n net.inet6.icmp6.nd6_stats");
    let nsout = |s: &str| {
        s.split(", ")
            .find_map(|f| f.trim_start_matches("{ ").strip_prefix("nsout = "))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    assert_eq!(nsout(&after) - nsout(&before), 3, "{before} {after}");
}

/// r advertises 2001:db8:1::/64 with rtadvd; h takes an address in it
/// and a default route through r.
#[test]
fn hosts_configure_themselves_from_rtadvd() {
    let h = Host::new(Config::default());
    common::run(
        &h,
        "jail -c name=r vnet persist
         jail -c name=h vnet persist
         ifconfig epair0 create
         ifconfig epair0a vnet r
         ifconfig epair0b vnet h
         jexec r ifconfig epair0a inet6 2001:db8:1::1/64",
    );
    // A host may not advertise itself as a router.
    let o = h.exec("jexec r rtadvd epair0a");
    assert!(
        o.stderr.contains("non zero router lifetime is specified for epair0a"),
        "{o:?}"
    );
    ok(&h, "jexec r sysctl net.inet6.ip6.forwarding=1");
    ok(&h, "jexec r rtadvd epair0a");
    // Not accepted until the interface says so.
    ok(&h, "jexec h ifconfig epair0b up");
    let o = h.exec("jexec h rtsol epair0b");
    assert!(o.stderr.contains("accept_rtadv is off"), "{o:?}");
    assert!(!ok(&h, "jexec h netstat -rn -f inet6").contains("default"));
    ok(&h, "jexec h ifconfig epair0b inet6 accept_rtadv");
    ok(&h, "jexec h rtsol epair0b");
    let mac = ok(&h, "jexec h ifconfig epair0b ether");
    let mac = mac
        .lines()
        .find_map(|l| l.trim().strip_prefix("ether "))
        .unwrap_or("?")
        .to_string();
    let b: Vec<u8> = mac.split(':').map(|x| u8::from_str_radix(x, 16).unwrap_or(0)).collect();
    let mut o = [0u8; 16];
    o[..6].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 1]);
    o[8..].copy_from_slice(&[b[0] ^ 2, b[1], b[2], 0xff, 0xfe, b[3], b[4], b[5]]);
    let slaac = std::net::Ipv6Addr::from(o);
    let i = ok(&h, "jexec h ifconfig epair0b inet6");
    assert!(
        i.contains(&format!("\tinet6 {slaac} prefixlen 64 tentative autoconf\n")),
        "{i}"
    );
    ok(&h, "sleep 2");
    let i = ok(&h, "jexec h ifconfig epair0b");
    assert!(i.contains(&format!("\tinet6 {slaac} prefixlen 64 autoconf\n")), "{i}");
    assert!(
        i.contains("nd6 options=23<PERFORMNUD,ACCEPT_RTADV,AUTO_LINKLOCAL>"),
        "{i}"
    );
    let t = ok(&h, "jexec h netstat -rn -f inet6");
    let rll = ok(&h, "jexec r ifconfig epair0a inet6");
    let rll = rll
        .split_whitespace()
        .skip_while(|w| *w != "inet6")
        .nth(1)
        .unwrap_or("")
        .replace("%epair0a", "%epair0b");
    assert!(
        t.lines()
            .any(|l| l.starts_with("default") && l.contains(&rll) && l.contains("UG")),
        "{t} {rll}"
    );
    assert!(t.contains("2001:db8:1::/64                   link#"), "{t}");
    // The router is known as one.
    let n = ok(&h, "jexec h ndp -an");
    assert!(n.lines().any(|l| l.starts_with(&rll) && l.ends_with(" R")), "{n}");
    let o = ok(&h, "jexec h ping6 -c 1 2001:db8:1::1");
    assert!(
        o.contains(&format!("PING6(56=40+8+8 bytes) {slaac} --> 2001:db8:1::1")),
        "{o}"
    );
    assert!(o.contains("1 packets received"), "{o}");
    let s = ok(&h, "jexec h sysctl -n net.inet6.icmp6.nd6_stats");
    assert!(
        s.contains("rsout = 2,") && s.contains("rain = 1,") && s.contains("raignored = 1 "),
        "{s}"
    );
    let s = ok(&h, "jexec r netstat -s -p icmp6");
    assert!(s.contains("router advertisement: "), "{s}");
    // A router that stops advertising is forgotten when its lifetime
    // (rtadvd.conf's rltime) is over; the address lives on.
    h.tasks().kill_all();
    ok(&h, "jexec r ifconfig epair0a inet6 2001:db8:2::1/64");
    let dir = common::tmpdir("rtadvd-conf");
    let conf = dir.join("rtadvd.conf");
    std::fs::write(
        &conf,
        "# short-lived\nepair0a:\\\n\t:maxinterval#4:mininterval#3:rltime#10:\\\n\t:addr=\"2001:db8:2::\":prefixlen#64:\n",
    )
    .expect("conf");
    ok(&h, &format!("jexec r rtadvd -c {} epair0a", conf.display()));
    ok(&h, "sleep 5");
    let i = ok(&h, "jexec h ifconfig epair0b inet6");
    assert!(i.contains("\tinet6 2001:db8:2::"), "the configured prefix only: {i}");
    assert!(ok(&h, "jexec h netstat -rn -f inet6").contains("default"));
    h.tasks().kill_all();
    ok(&h, "sleep 11");
    let t = ok(&h, "jexec h netstat -rn -f inet6");
    assert!(!t.contains("default"), "{t}");
    assert!(ok(&h, "jexec h ifconfig epair0b inet6").contains(&format!("inet6 {slaac} prefixlen 64 autoconf")));
}

/// A Linux process killed however the test ends.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Run the engine (real time) until `f` holds, for at most `secs`.
fn wait_for(host: &Host, secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(secs) {
        if f() {
            return true;
        }
        host.run_for(std::time::Duration::from_millis(200));
    }
    f()
}

/// SLAAC through TAP with Linux both ways: vimage takes an address and
/// a default route from Linux's radvd (the Debian package), and Linux
/// takes one from vimage's rtadvd.
#[test]
fn slaac_with_linux_both_ways_through_tap() {
    if !common::tap_with(&[("ip", "iproute2"), ("ping", "iputils-ping"), ("radvd", "radvd")]) {
        return;
    }
    let pid = std::process::id();
    let (ns1, ns2) = (Netns(format!("vra{pid}")), Netns(format!("vrb{pid}")));
    let (dev1, dev2) = (format!("vra{pid}"), format!("vrb{pid}"));
    sh(&format!("ip netns add {}", ns1.0));
    sh(&format!("ip netns add {}", ns2.0));
    let host = common::real_host(&format!(
        "jail -c name=h vnet persist
         jail -c name=r vnet persist
         ifconfig tap0 create tapdev {dev1}
         ifconfig tap0 vnet h
         ifconfig tap1 create tapdev {dev2}
         ifconfig tap1 vnet r
         jexec r sysctl net.inet6.ip6.forwarding=1
         jexec r ifconfig tap1 inet6 2001:db8:72::1/64 up"
    ));
    let (ns1, ns2) = (&ns1.0, &ns2.0);
    // Linux's radvd advertises 2001:db8:71::/64 to h.
    sh(&format!("ip link set {dev1} netns {ns1}"));
    sh(&format!(
        "ip netns exec {ns1} sysctl -qw net.ipv6.conf.all.forwarding=1"
    ));
    sh(&format!("ip -n {ns1} addr add 2001:db8:71::1/64 dev {dev1} nodad"));
    sh(&format!("ip -n {ns1} link set {dev1} up"));
    let dir = common::tmpdir("radvd");
    let conf = dir.join("radvd.conf");
    std::fs::write(
        &conf,
        format!(
            "interface {dev1} {{\n AdvSendAdvert on;\n MinRtrAdvInterval 3;\n MaxRtrAdvInterval 4;\n \
             prefix 2001:db8:71::/64 {{ AdvOnLink on; AdvAutonomous on; }};\n}};\n"
        ),
    )
    .expect("radvd.conf");
    let _radvd = Killed(spawn(&format!(
        "exec ip netns exec {ns1} radvd -n -C {} -p {} -m stderr",
        conf.display(),
        dir.join("radvd.pid").display()
    )));
    let o = host.exec("jexec h ifconfig tap0 inet6 accept_rtadv up");
    assert!(o.success(), "{o:?}");
    let o = host.exec("jexec h rtsol tap0");
    assert!(o.success(), "{o:?}");
    let got = wait_for(&host, 15, || {
        let i = host.exec("jexec h ifconfig tap0 inet6").stdout;
        i.lines()
            .any(|l| l.contains("inet6 2001:db8:71:") && l.ends_with("prefixlen 64 autoconf"))
    });
    assert!(got, "{:?}", host.exec("jexec h ifconfig tap0"));
    let t = host.exec("jexec h netstat -rn -f inet6").stdout;
    assert!(
        t.lines()
            .any(|l| l.starts_with("default") && l.contains("fe80::") && l.contains("%tap0")),
        "{t}"
    );
    let o = host.exec("jexec h ping6 -c 2 -i 0.2 2001:db8:71::1");
    assert!(o.stdout.contains("2 packets received"), "{o:?}");

    // vimage's rtadvd advertises 2001:db8:72::/64 to Linux.
    let o = host.exec("jexec r rtadvd tap1");
    assert!(o.success(), "{o:?}");
    sh(&format!("ip link set {dev2} netns {ns2}"));
    sh(&format!(
        "ip netns exec {ns2} sysctl -qw net.ipv6.conf.{dev2}.accept_ra=2"
    ));
    sh(&format!(
        "ip netns exec {ns2} sysctl -qw net.ipv6.conf.{dev2}.autoconf=1"
    ));
    sh(&format!("ip -n {ns2} link set {dev2} up"));
    let got = wait_for(&host, 20, || {
        let a = sh(&format!("ip -n {ns2} -6 addr show dev {dev2} scope global"));
        a.contains("inet6 2001:db8:72:") && !a.contains("tentative")
    });
    assert!(got, "{}", sh(&format!("ip -n {ns2} -6 addr show dev {dev2}")));
    let r = sh(&format!("ip -n {ns2} -6 route show default"));
    assert!(r.contains("via fe80::") && r.contains("proto ra"), "{r}");
    let out = drive(
        &host,
        spawn(&format!("ip netns exec {ns2} ping -6 -c 2 -i 0.2 -W 2 2001:db8:72::1")),
    );
    assert!(out.contains("2 packets transmitted, 2 received"), "{out}");
}

/// Listener reports (MLDv2) reach a Linux bridge that snoops: it learns
/// each vimage host's solicited-node groups on its port, and neighbour
/// discovery crosses it.
#[test]
fn a_snooping_linux_bridge_learns_our_groups() {
    if !common::tap_with(&[("ip", "iproute2"), ("bridge", "iproute2")]) {
        return;
    }
    let pid = std::process::id();
    let ns = Netns(format!("vmld{pid}"));
    let (da, db) = (format!("vma{pid}"), format!("vmb{pid}"));
    sh(&format!("ip netns add {}", ns.0));
    let host = common::real_host(&format!(
        "jail -c name=a vnet persist
         jail -c name=b vnet persist
         ifconfig tap0 create tapdev {da}
         ifconfig tap0 vnet a
         ifconfig tap1 create tapdev {db}
         ifconfig tap1 vnet b"
    ));
    let ns = &ns.0;
    sh(&format!("ip link set {da} netns {ns}"));
    sh(&format!("ip link set {db} netns {ns}"));
    sh(&format!(
        "ip -n {ns} link add br0 type bridge mcast_snooping 1 mcast_querier 1"
    ));
    for d in [&da, &db] {
        sh(&format!("ip -n {ns} link set {d} master br0"));
        sh(&format!("ip -n {ns} link set {d} up"));
    }
    sh(&format!("ip -n {ns} link set br0 up"));
    for line in [
        "jexec a ifconfig tap0 inet6 2001:db8:5::1/64 no_dad up",
        "jexec b ifconfig tap1 inet6 2001:db8:5::2/64 no_dad up",
    ] {
        let o = host.exec(line);
        assert!(o.success(), "{line}: {o:?}");
    }
    host.run_for(std::time::Duration::from_millis(500));
    let mdb = sh(&format!("bridge -n {ns} mdb show"));
    for (port, grp) in [(&da, "ff02::1:ff00:1"), (&db, "ff02::1:ff00:2")] {
        assert!(
            mdb.lines()
                .any(|l| l.contains(&format!("port {port} ")) && l.contains(grp)),
            "{port} {grp}: {mdb}"
        );
    }
    let o = host.exec("jexec a ping6 -c 2 -i 0.2 2001:db8:5::2");
    assert!(o.stdout.contains("2 packets received"), "{o:?}");
}

/// a and b on one link with both families: 10.0.0.0/24 and 2001:db8::/64.
fn dual_pair() -> Host {
    let h = common::pair_lab("10.0.0.1/24", "10.0.0.2/24");
    common::run(
        &h,
        "jexec a ifconfig epair0a inet6 2001:db8::1/64 no_dad
         jexec b ifconfig epair0b inet6 2001:db8::2/64 no_dad",
    );
    h
}

/// A socket of both families (IPV6_V6ONLY off).
const DUAL: vimage::socket::BindOpts = vimage::socket::BindOpts {
    reuseaddr: false,
    v6only: Some(false),
};

/// `[::]:port`.
fn any6(port: u16) -> std::net::SocketAddr {
    (std::net::Ipv6Addr::UNSPECIFIED, port).into()
}

#[test]
fn a_dual_socket_takes_ipv4_as_mapped_addresses_and_v6only_keeps_it_out() {
    use futures::future::join;
    use vimage::socket::{TcpListener, TcpStream, UdpSocket};
    let h = dual_pair();
    let (pa, pb) = (common::proc_in(&h, "a"), common::proc_in(&h, "b"));
    let l = TcpListener::bind_with(&pb, any6(7000), 8, DUAL).expect("bind");
    let only6 = TcpListener::bind(&pb, any6(7001)).expect("bind v6only");
    // netstat and sockstat name the dual one tcp46, and sockstat -4 lists it.
    let o = ok(&h, "jexec b netstat -an -p tcp");
    assert!(o.contains("tcp46      0      0 *.7000 "), "{o}");
    assert!(o.contains("tcp6       0      0 *.7001 "), "{o}");
    let o = ok(&h, "jexec b sockstat -4 -l");
    assert!(o.contains("tcp46  *:7000"), "{o}");
    assert!(!o.contains(":7001"), "{o}");
    // An IPv4 client and an IPv6 one, to the one socket.
    let server = async {
        let (mut seen, mut conns) = (Vec::new(), Vec::new());
        for _ in 0..2 {
            let (mut s, peer) = l.accept().await.expect("accept");
            let mut b = [0u8; 2];
            s.read_exact(&mut b).await.expect("read");
            let local = s.local_addr().expect("local");
            seen.push(format!("{} {local} {}", peer.ip(), String::from_utf8_lossy(&b)));
            conns.push(s);
        }
        (seen, conns)
    };
    let client = async {
        for (to, msg) in [("10.0.0.2:7000", b"v4"), ("[2001:db8::2]:7000", b"v6")] {
            let mut s = TcpStream::connect(&pa, to.parse().expect("addr"))
                .await
                .expect("connect");
            s.write_all(msg).await.expect("write");
        }
        // IPV6_V6ONLY: the other listener refuses IPv4 (a RST).
        let e = TcpStream::connect(&pa, "10.0.0.2:7001".parse().expect("addr")).await;
        e.err().map(|e| e.kind())
    };
    let ((seen, _conns), refused) = h.block_on(join(server, client)).expect("ran");
    assert_eq!(
        seen,
        [
            "::ffff:10.0.0.1 [::ffff:10.0.0.2]:7000 v4",
            "2001:db8::1 [2001:db8::2]:7000 v6"
        ]
    );
    assert_eq!(refused, Some(std::io::ErrorKind::ConnectionRefused));
    drop(only6);
    // The IPv4 connection is tcp4 in netstat, its ends IPv4.
    let o = ok(&h, "jexec b netstat -an -p tcp");
    assert!(
        o.contains("tcp4       0      0 10.0.0.2.7000          10.0.0.1."),
        "{o}"
    );

    // UDP: a dual socket hears IPv4 as mapped and answers to the mapped
    // address over IPv4; an IPv6-only socket refuses a mapped address.
    let u = UdpSocket::bind_with(&pb, any6(7002), DUAL).expect("bind");
    let server = async {
        let mut b = [0u8; 16];
        let (n, from) = u.recv_from(&mut b).await.expect("recv");
        u.send_to(&b[..n], from).await.expect("echo");
        from.ip()
    };
    let client = async {
        let s = UdpSocket::bind(&pa, "0.0.0.0:0".parse().expect("addr")).expect("bind");
        s.send_to(b"ping", "10.0.0.2:7002".parse().expect("addr"))
            .await
            .expect("send");
        let mut b = [0u8; 16];
        let (n, from) = s.recv_from(&mut b).await.expect("recv");
        let s6 = UdpSocket::bind(&pa, any6(0)).expect("bind");
        let refused = s6.send_to(b"x", "[::ffff:10.0.0.2]:7002".parse().expect("addr")).await;
        let refused = refused.err().map(|e| e.to_string());
        format!("{} {from} {refused:?}", String::from_utf8_lossy(&b[..n]))
    };
    let (from, answer) = h.block_on(join(server, client)).expect("ran");
    assert_eq!(from.to_string(), "::ffff:10.0.0.1");
    assert_eq!(answer, "ping 10.0.0.2:7002 Some(\"Invalid argument\")");

    // net.inet6.ip6.v6only=0 makes every new IPv6 socket dual (nc -6 -l).
    let (st, out, err) = common::script(
        &h,
        "jexec b sysctl net.inet6.ip6.v6only=0
         jexec b nc -6 -l 7003 > /tmp/vimage-dual.txt &
         sleep 0.1
         jexec b sockstat -l -p 7003
         echo over four | jexec a nc -N 10.0.0.2 7003
         sleep 1
         cat /tmp/vimage-dual.txt",
    );
    assert_eq!(st, 0, "{out} {err}");
    assert!(out.contains("tcp46  *:7003"), "{out}");
    assert!(out.ends_with("over four\n"), "{out}");
}

#[test]
fn a_dual_socket_shares_its_port_only_with_ipv4s_wildcard() {
    use futures::future::join;
    use vimage::socket::{TcpListener, TcpStream};
    let h = dual_pair();
    let (pa, pb) = (common::proc_in(&h, "a"), common::proc_in(&h, "b"));
    let err = |r: std::io::Result<TcpListener>| r.err().map(|e| e.to_string());
    // An IPv4 address on the port is taken by the dual socket's ::, as is
    // the other way round; IPv4's own wildcard may sit beside it, and
    // takes IPv4 before it (in6_pcbbind_avail, local_wild_mapped).
    let v4 = TcpListener::bind(&pb, "10.0.0.2:7010".parse().expect("addr")).expect("bind");
    let e = err(TcpListener::bind_with(&pb, any6(7010), 8, DUAL));
    assert_eq!(e.as_deref(), Some("Address already in use"));
    let d = TcpListener::bind_with(&pb, any6(7011), 8, DUAL).expect("bind");
    let e = err(TcpListener::bind(&pb, "10.0.0.2:7011".parse().expect("addr")));
    assert_eq!(e.as_deref(), Some("Address already in use"));
    let w4 = TcpListener::bind(&pb, "0.0.0.0:7011".parse().expect("addr")).expect("IPv4's wildcard beside it");
    let server = async { w4.accept().await.expect("accept").0.local_addr().expect("local") };
    let client = async {
        TcpStream::connect(&pa, "10.0.0.2:7011".parse().expect("addr"))
            .await
            .expect("connect")
    };
    let (local, _c) = h.block_on(join(server, client)).expect("ran");
    assert_eq!(local.to_string(), "10.0.0.2:7011");
    drop((v4, d));
}

#[test]
fn raw_sockets_of_both_families_send_and_hear_icmp() {
    use futures::future::join;
    use vimage::socket::RawSocket;
    let h = dual_pair();
    let pa = common::proc_in(&h, "a");
    // ICMPv6: the kernel fills in the checksum and strips the header.
    let s6 = RawSocket::new(&pa, true, 58).expect("raw6");
    s6.set_icmp6_filter(&[129]);
    let echo6 = [128, 0, 0, 0, 0x12, 0x34, 0, 1, b'h', b'i'];
    let mut b = [0u8; 64];
    let ((), got) = h
        .block_on(join(
            async {
                s6.send_to(&echo6, "[2001:db8::2]:0".parse().expect("addr"))
                    .await
                    .expect("send");
            },
            s6.recv_from(&mut b),
        ))
        .expect("ran");
    let (n, from) = got.expect("recv");
    assert_eq!(from.ip().to_string(), "2001:db8::2");
    assert_eq!(
        (b[0], &b[4..n]),
        (129, &[0x12, 0x34, 0, 1, b'h', b'i'][..]),
        "an echo reply"
    );
    // ICMP: the sender's checksum, the reply with its IP header.
    let s4 = RawSocket::new(&pa, false, 1).expect("raw4");
    let mut echo4 = [8u8, 0, 0, 0, 0x56, 0x78, 0, 1];
    let mut sum = echo4
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum::<u32>();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let sum = !(sum as u16);
    echo4[2..4].copy_from_slice(&sum.to_be_bytes());
    let ((), got) = h
        .block_on(join(
            async {
                s4.send_to(&echo4, "10.0.0.2:0".parse().expect("addr"))
                    .await
                    .expect("send");
            },
            s4.recv_from(&mut b),
        ))
        .expect("ran");
    let (n, from) = got.expect("recv");
    assert_eq!(from.to_string(), "10.0.0.2:0");
    assert_eq!((n, b[0], b[20], &b[24..28]), (28, 0x45, 0, &[0x56, 0x78, 0, 1][..]));
    // A family the socket is not: EAFNOSUPPORT.
    let e = h
        .block_on(s6.send_to(&echo6, "10.0.0.2:0".parse().expect("addr")))
        .expect("ran");
    assert_eq!(e.err().map(|e| e.kind()), Some(std::io::ErrorKind::Unsupported));
}

/// a, r and c on one bridge (2001:db8:1::/64); a's default router is r
/// (fe80::1: r's only link-local address, so the one it sends from), r's
/// way to 2001:db8:9::/64 is c (fe80::3) and to 2001:db8:7::/64 straight
/// out of the same link.
fn redirect_lab(cfg: Config) -> Host {
    let h = common::bridged3(
        cfg,
        "jexec r sysctl net.inet6.ip6.auto_linklocal=0
         jexec c sysctl net.inet6.ip6.auto_linklocal=0",
    );
    common::run(
        &h,
        "jexec a ifconfig epair0a inet6 2001:db8:1::2/64 no_dad
         jexec r ifconfig epair1a inet6 2001:db8:1::1/64 no_dad
         jexec r ifconfig epair1a inet6 fe80::1/64 alias
         jexec r ifconfig epair1a inet6 2001:db8:7::1/64 alias
         jexec c ifconfig epair2a inet6 2001:db8:1::3/64 no_dad
         jexec c ifconfig epair2a inet6 fe80::3/64 alias
         jexec c ifconfig epair2a inet6 2001:db8:7::3/64 alias
         jexec c ifconfig lo0 inet6 2001:db8:9::1/128 alias
         jexec r sysctl net.inet6.ip6.forwarding=1
         jexec r route -6 add 2001:db8:9::/64 fe80::3%epair1a
         jexec a route -6 add default fe80::1%epair0a",
    );
    h
}

/// A counter of a jail's IPv6 statistics.
fn ip6_stat(h: &Host, jail: &str, name: &str) -> u64 {
    let o = ok(h, &format!("jexec {jail} sysctl -n net.inet6.ip6.stats"));
    o.split([',', '{', '}'])
        .find_map(|f| {
            f.trim()
                .strip_prefix(&format!("{name} = "))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or_else(|| panic!("{name} in {o}"))
}

#[test]
fn a_router_redirects_a_host_to_the_better_first_hop_for_ten_minutes() {
    let dir = common::tmpdir("inet6-redirect");
    let pcap = dir.join("redirect.pcap");
    let h = redirect_lab(Config::default());
    ok(&h, &format!("jexec a tcpdump -i epair0a -w {} &", pcap.display()));
    // Through r, which sends it back out to c and tells a so (RFC 4861 §8.2).
    assert!(ok(&h, "jexec a ping6 -c 1 2001:db8:9::1").contains("1 packets received"));
    assert_eq!(ip6_stat(&h, "r", "redirectsent"), 1);
    let rt = ok(&h, "jexec a netstat -rn -f inet6");
    let line = rt.lines().find(|l| l.starts_with("2001:db8:9::1 ")).unwrap_or_default();
    assert!(line.contains("fe80::3%epair0a") && line.contains("UGHD"), "{rt}");
    let st = ok(&h, "jexec a netstat -s -p icmp6");
    assert!(st.contains("\t\tredirect: 1\n"), "{st}");
    // Now a goes to c itself: r forwards nothing more.
    let fwd = ip6_stat(&h, "r", "forward");
    assert!(ok(&h, "jexec a ping6 -c 2 2001:db8:9::1").contains("2 packets received"));
    assert_eq!(ip6_stat(&h, "r", "forward"), fwd);
    let nd = ok(&h, "jexec a ndp -an");
    assert!(nd.lines().any(|l| l.starts_with("fe80::3%epair0a")), "{nd}");
    // The destination itself is on the link: a is told to go straight.
    assert!(ok(&h, "jexec a ping6 -c 1 2001:db8:7::3").contains("1 packets received"));
    let rt = ok(&h, "jexec a netstat -rn -f inet6");
    let line = rt.lines().find(|l| l.starts_with("2001:db8:7::3 ")).unwrap_or_default();
    assert!(line.contains("link#") && line.contains("UHD"), "{rt}");
    let fwd = ip6_stat(&h, "r", "forward");
    assert!(ok(&h, "jexec a ping6 -c 1 2001:db8:7::3").contains("1 packets received"));
    assert_eq!(ip6_stat(&h, "r", "forward"), fwd);
    // Ten minutes on, both routes are gone.
    h.run_for(std::time::Duration::from_secs(601));
    let rt = ok(&h, "jexec a netstat -rn -f inet6");
    assert!(!rt.contains("2001:db8:9::1 ") && !rt.contains("2001:db8:7::3 "), "{rt}");
    // With net.inet6.icmp6.rediraccept=0 a takes none, and r, a router,
    // never does.
    common::run(
        &h,
        "jexec a sysctl net.inet6.icmp6.rediraccept=0
         jexec a ping6 -c 1 2001:db8:9::1",
    );
    assert_eq!(ip6_stat(&h, "r", "redirectsent"), 3);
    assert!(!ok(&h, "jexec a netstat -rn -f inet6").contains("2001:db8:9::1 "));
    // With net.inet6.ip6.redirect=0 r sends none.
    common::run(
        &h,
        "jexec r sysctl net.inet6.ip6.redirect=0
         jexec a ping6 -c 1 2001:db8:9::1",
    );
    assert_eq!(ip6_stat(&h, "r", "redirectsent"), 3);
    h.tasks().kill_all();
    let Some(bad) = common::tshark_problems(&pcap) else {
        return;
    };
    assert_eq!(bad, "", "tshark finds no malformed packet or bad checksum");
    let Some(r) = common::tshark_frames(
        &pcap,
        "icmpv6.type == 137",
        &[
            "icmpv6.nd.rd.target_address",
            "icmpv6.rd.na.destination_address",
            "icmpv6.opt.type",
        ],
    ) else {
        return;
    };
    assert!(r.contains("fe80::3\t2001:db8:9::1"), "{r}");
    assert!(r.contains("2001:db8:7::3\t2001:db8:7::3"), "{r}");
}

/// Linux, a host on that link, takes vimage's redirect: its route to
/// 2001:db8:9::1 goes through c after the first ping, and r forwards no
/// more of them.
#[test]
fn linux_takes_a_redirect_from_a_vimage_router() {
    if !common::tap_with(&[("ip", "iproute2"), ("ping", "iputils-ping")]) {
        return;
    }
    let pid = std::process::id();
    let ns = Netns(format!("vrd{pid}"));
    let dev = format!("vrd{pid}");
    sh(&format!("ip netns add {}", ns.0));
    let host = redirect_lab(Config {
        clock: vimage::ClockKind::Real,
        ..Config::default()
    });
    common::run(
        &host,
        &format!(
            "ifconfig tap0 create tapdev {dev}
             ifconfig tap0 vnet sw
             jexec sw ifconfig bridge0 addm tap0
             jexec sw ifconfig tap0 up"
        ),
    );
    let ns = &ns.0;
    sh(&format!("ip link set {dev} netns {ns}"));
    sh(&format!("ip -n {ns} addr add 2001:db8:1::4/64 dev {dev} nodad"));
    sh(&format!("ip -n {ns} link set {dev} up"));
    sh(&format!("ip -n {ns} -6 route add default via fe80::1 dev {dev}"));
    let ping = |n: u32| {
        drive(
            &host,
            spawn(&format!("ip netns exec {ns} ping -6 -c {n} -i 0.2 -W 2 2001:db8:9::1")),
        )
    };
    let out = ping(1);
    assert!(out.contains("1 packets transmitted, 1 received"), "{out}");
    assert_eq!(ip6_stat(&host, "r", "redirectsent"), 1);
    let r = sh(&format!("ip -n {ns} -6 route get 2001:db8:9::1"));
    assert!(r.contains("via fe80::3"), "{r}");
    let fwd = ip6_stat(&host, "r", "forward");
    let out = ping(2);
    assert!(out.contains("2 packets transmitted, 2 received"), "{out}");
    assert_eq!(ip6_stat(&host, "r", "forward"), fwd);
}
