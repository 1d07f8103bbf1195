//! bgpd (RFC 4271) under the virtual clock: eBGP and iBGP sessions
//! established, routes learned, chosen and passed on as the decision
//! process and FRR's rules say, policies applied, sessions ending on a
//! NOTIFICATION or a dead link with their routes withdrawn, and a hostile
//! peer's malformed UPDATEs handled as RFC 7606 says.

mod common;

use std::time::Duration;

use common::{CHAIN, linklocal, ok, route, routers, vtysh};
use vimage::Host;

/// [`CHAIN`] with bgpd on each router, each with its own configuration.
fn chain(tag: &str, confs: [&str; 3]) -> Host {
    let h = routers(tag, "true", "", CHAIN, &[]);
    let dir = common::tmpdir(tag);
    for (i, conf) in confs.iter().enumerate() {
        let f = dir.join(format!("r{}.conf", i + 1));
        std::fs::write(&f, conf).expect("conf");
        ok(&h, &format!("jexec r{} bgpd -d -f {}", i + 1, f.display()));
    }
    h
}

const R1: &str = "router bgp 65001
 no bgp ebgp-requires-policy
 neighbor 10.0.1.2 remote-as 65002
 address-family ipv4 unicast
  network 10.0.1.0/24
  redistribute connected
 exit-address-family
";
const R2: &str = "router bgp 65002
 no bgp ebgp-requires-policy
 neighbor 10.0.1.1 remote-as 65001
 neighbor 10.0.2.2 remote-as external
";
const R3: &str = "router bgp 65003
 no bgp ebgp-requires-policy
 neighbor 10.0.2.1 remote-as 65002
 network 10.0.3.1/32
 network 10.0.2.0/24
";

#[test]
fn an_ebgp_chain_learns_and_passes_routes_on() {
    let h = chain("bgp-chain", [R1, R2, R3]);
    h.run_for(Duration::from_secs(20));
    let sum = vtysh(&h, "r2", "show bgp summary");
    assert!(
        sum.starts_with(
            "\nIPv4 Unicast Summary (VRF default):\nBGP router identifier 10.0.2.1, local AS number 65002 vrf-id 0\n"
        ),
        "{sum}"
    );
    assert!(
        sum.contains(
            "Neighbor        V         AS   MsgRcvd   MsgSent   TblVer  InQ OutQ  Up/Down State/PfxRcd   PfxSnt Desc\n"
        ),
        "{sum}"
    );
    let line = sum
        .lines()
        .find(|l| l.starts_with("10.0.2.2 "))
        .unwrap_or_default()
        .to_string();
    assert!(line.starts_with("10.0.2.2        4      65003 "), "{sum}");
    assert!(line.ends_with(" 00:00:19            2        3 N/A"), "{sum}");
    assert!(sum.ends_with("\nTotal number of neighbors 2\n"), "{sum}");
    assert_eq!(route(&h, "r1", "10.0.3.1"), ["10.0.3.1", "10.0.1.2", "UGH1", "epair0a"]);
    let t = vtysh(&h, "r1", "show bgp ipv4 unicast");
    assert!(
        t.contains("\n*> 10.0.3.1/32      10.0.1.2                               0 65002 65003 i\n"),
        "{t}"
    );
    // Our network and our redistributed connected route, the first best
    // by its ORIGIN (IGP).
    assert!(
        t.contains(
            "\n*> 10.0.1.0/24      0.0.0.0                  0         32768 i\n\
             *                   0.0.0.0                  0         32768 ?\n"
        ),
        "{t}"
    );
    let rt = vtysh(&h, "r1", "show ip route bgp");
    assert!(
        rt.contains("B>* 10.0.3.1/32 [20/0] via 10.0.1.2, epair0a, weight 1, "),
        "{rt}"
    );
    // r3 has r1's network through r2, so they reach each other.
    let ping = ok(&h, "jexec r1 ping -c 1 10.0.3.1");
    assert!(ping.contains("1 packets received"), "{ping}");
    // A loop is not taken: r2 sends r3's routes back to r3 (as FRR does),
    // which drops them.
    let t3 = vtysh(&h, "r3", "show bgp ipv4 unicast");
    assert!(!t3.contains("65002 65003"), "{t3}");
    let one = vtysh(&h, "r1", "show bgp ipv4 unicast 10.0.3.1");
    assert!(
        one.starts_with("BGP routing table entry for 10.0.3.1/32\nPaths: (1 available, best #1, table default)\n")
            && one.contains("\n  65002 65003\n    10.0.1.2 from 10.0.1.2 (10.0.2.1)\n      Origin IGP, valid, external, best (First path received)\n"),
        "{one}"
    );
    let two = vtysh(&h, "r1", "show bgp ipv4 unicast 10.0.1.0/24");
    assert!(
        two.contains(
            "      Origin IGP, metric 0, weight 32768, valid, sourced, local, best (Origin)\n  Local\n    \
             0.0.0.0 from 0.0.0.0 (10.0.1.1)\n      Origin incomplete, metric 0, weight 32768, valid, sourced\n"
        ),
        "{two}"
    );
    // A hard clear resets the session; it comes back by itself.
    ok(&h, "jexec r1 vtysh -c 'clear bgp 10.0.1.2'");
    h.run_for(Duration::from_secs(5));
    let n = vtysh(&h, "r1", "show bgp neighbors 10.0.1.2");
    assert!(
        n.contains("BGP state = Established") && n.contains("Connections established 2; dropped 1"),
        "{n}"
    );
    assert!(n.contains("Admin. reset"), "{n}");
    assert_eq!(route(&h, "r1", "10.0.3.1"), ["10.0.3.1", "10.0.1.2", "UGH1", "epair0a"]);
    // r3 shuts its session down: a NOTIFICATION (Cease) ends it, and
    // what r3 announced is withdrawn all the way to r1.
    ok(
        &h,
        "jexec r3 vtysh -c 'configure terminal' -c 'router bgp 65003' -c 'neighbor 10.0.2.1 shutdown'",
    );
    h.run_for(Duration::from_secs(5));
    let sum = vtysh(&h, "r2", "show bgp summary");
    assert!(
        sum.contains("10.0.2.2        4      65003 ") && sum.contains("       Active        0 N/A"),
        "{sum}"
    );
    let nb = vtysh(&h, "r3", "show bgp summary");
    assert!(nb.contains(" Idle (Admin)        0 N/A"), "{nb}");
    assert!(route(&h, "r1", "10.0.3.1").is_empty());
    assert!(!vtysh(&h, "r1", "show bgp ipv4 unicast").contains("10.0.3.1/32"));
}

/// r1 and r2 in AS 65001 (iBGP, r2 next-hop-self), r3 in AS 65003 with
/// FRR 8.4's default `bgp ebgp-requires-policy` at r2 until it has a
/// policy: a route map that takes r3's /32s at LOCAL_PREF 300 through a
/// prefix list.
const I1: &str = "router bgp 65001
 neighbor 10.0.1.2 remote-as internal
 neighbor 10.0.1.2 timers 3 9
";
const I2: &str = "router bgp 65001
 neighbor 10.0.1.1 remote-as 65001
 neighbor 10.0.1.1 timers 3 9
 neighbor 10.0.2.2 remote-as 65003
 neighbor 10.0.2.2 timers 3 9
 address-family ipv4 unicast
  neighbor 10.0.1.1 next-hop-self
 exit-address-family
!
ip prefix-list HOSTS seq 5 permit 10.0.0.0/8 ge 32
!
route-map FROM-R3 permit 10
 match ip address prefix-list HOSTS
 set local-preference 300
exit
";
const I3: &str = "router bgp 65003
 no bgp ebgp-requires-policy
 neighbor 10.0.2.1 remote-as 65001
 neighbor 10.0.2.1 timers 3 9
 network 10.0.3.1/32
 network 10.0.2.0/24
";

#[test]
fn ibgp_policy_and_the_hold_timer() {
    let h = chain("bgp-ibgp", [I1, I2, I3]);
    h.run_for(Duration::from_secs(10));
    // No inbound policy for the eBGP neighbor: nothing taken from it.
    let sum = vtysh(&h, "r2", "show bgp summary");
    assert!(sum.contains("     (Policy) (Policy) N/A"), "{sum}");
    assert!(route(&h, "r1", "10.0.3.1").is_empty());
    ok(
        &h,
        "jexec r2 vtysh -c 'configure terminal' -c 'router bgp 65001' -c 'neighbor 10.0.2.2 route-map FROM-R3 in'",
    );
    h.run_for(Duration::from_secs(2));
    // The route refresh brought r3's routes; only the /32 passed.
    let t = vtysh(&h, "r2", "show bgp ipv4 unicast");
    assert!(
        t.contains("*> 10.0.3.1/32      10.0.2.2                 0    300      0 65003 i"),
        "{t}"
    );
    assert!(!t.contains("10.0.2.0/24      10.0.2.2"), "{t}");
    // r1 has it by iBGP, next hop r2 itself, LOCAL_PREF kept, at 200.
    let t1 = vtysh(&h, "r1", "show bgp ipv4 unicast");
    assert!(
        t1.contains("*>i10.0.3.1/32      10.0.1.2                 0    300      0 65003 i"),
        "{t1}"
    );
    let rt = vtysh(&h, "r1", "show ip route bgp");
    assert!(
        rt.contains("B>* 10.0.3.1/32 [200/0] via 10.0.1.2, epair0a, weight 1, "),
        "{rt}"
    );
    // r2 sends nothing to r3 (no outbound policy): (Policy) for PfxSnt.
    let sum = vtysh(&h, "r2", "show bgp summary");
    let l = sum.lines().find(|l| l.starts_with("10.0.2.2 ")).unwrap_or_default();
    assert!(l.ends_with("            1 (Policy) N/A"), "{sum}");
    // r3's end of the link goes down: r3 ends its session at once, r2
    // hears nothing more and its hold timer (9 s) ends the session.
    ok(&h, "jexec r3 ifconfig epair1b down");
    h.run_for(Duration::from_secs(5));
    assert!(vtysh(&h, "r2", "show bgp neighbors 10.0.2.2").contains("BGP state = Established"));
    h.run_for(Duration::from_secs(6));
    let n = vtysh(&h, "r2", "show bgp neighbors 10.0.2.2");
    assert!(
        !n.contains("BGP state = Established") && n.contains("Hold Timer Expired"),
        "{n}"
    );
    assert!(route(&h, "r1", "10.0.3.1").is_empty(), "withdrawn over iBGP too");
}

/// What bgpd sends is BGP as Wireshark reads it: OPENs with their
/// capabilities, UPDATEs with their attributes, KEEPALIVEs and a
/// NOTIFICATION, nothing malformed, every checksum right.
#[test]
fn the_wire_is_what_wireshark_reads() {
    let h = routers("bgp-wire", "true", "", CHAIN, &[]);
    let dir = common::tmpdir("bgp-wire");
    let pcap = dir.join("bgp.pcap");
    ok(&h, &format!("jexec r1 tcpdump -i epair0a -w {} &", pcap.display()));
    for (i, conf) in [R1, R2].iter().enumerate() {
        let f = dir.join(format!("r{}.conf", i + 1));
        std::fs::write(&f, conf).expect("conf");
        ok(&h, &format!("jexec r{} bgpd -d -f {}", i + 1, f.display()));
    }
    h.run_for(Duration::from_secs(5));
    ok(
        &h,
        "jexec r2 vtysh -c 'configure terminal' -c 'router bgp 65002' -c 'neighbor 10.0.1.1 shutdown'",
    );
    h.run_for(Duration::from_secs(1));
    h.tasks().kill_all();
    let Some(bad) = common::tshark_bad_packets(&pcap) else {
        return;
    };
    assert_eq!(bad, "", "tshark finds nothing malformed, no bad checksum");
    let Some(msgs) = common::tshark_frames(&pcap, "bgp", &["bgp.type", "bgp.notify.major_error"]) else {
        return;
    };
    let types: Vec<&str> = msgs
        .lines()
        .filter_map(|l| l.split('\t').nth(1))
        .flat_map(|t| t.split(','))
        .collect();
    for t in ["1", "2", "3", "4"] {
        assert!(types.contains(&t), "BGP message type {t} on the wire: {msgs}");
    }
    assert!(msgs.lines().any(|l| l.ends_with("\t3\t6")), "a Cease: {msgs}");
    let Some(caps) = common::tshark_frames(
        &pcap,
        "bgp.type == 1",
        &["bgp.open.myas", "bgp.open.holdtime", "bgp.cap.4as"],
    ) else {
        return;
    };
    assert!(caps.contains("\t65001\t180\t65001"), "{caps}");
    let Some(upd) = common::tshark_frames(
        &pcap,
        "bgp.type == 2 && bgp.nlri_prefix",
        &["bgp.nlri_prefix", "bgp.update.path_attribute.next_hop"],
    ) else {
        return;
    };
    assert!(
        upd.contains("10.0.1.0\t10.0.1.1"),
        "r1's connected network, next hop r1: {upd}"
    );
}

/// r2 reflects routes (RFC 4456) between r1 and r3, its clients, all
/// in AS 65001: r3's prefix reaches r1 with its next hop kept, r3 as the
/// originator and r2's cluster; not once neither is a client (from a
/// client a route goes to every iBGP neighbor, from a non-client only to
/// clients).
#[test]
fn a_route_reflector_passes_ibgp_routes_between_its_clients() {
    let h = chain(
        "bgp-rr",
        [
            "router bgp 65001\n neighbor 10.0.1.2 remote-as internal\n",
            "router bgp 65001\n neighbor 10.0.1.1 remote-as internal\n neighbor 10.0.2.2 remote-as internal\n \
             address-family ipv4 unicast\n  neighbor 10.0.1.1 route-reflector-client\n  \
             neighbor 10.0.2.2 route-reflector-client\n",
            "router bgp 65001\n neighbor 10.0.2.1 remote-as internal\n network 10.0.3.1/32\n",
        ],
    );
    ok(&h, "jexec r1 route add -net 10.0.2.0/24 10.0.1.2");
    h.run_for(Duration::from_secs(5));
    let t = vtysh(&h, "r1", "show bgp ipv4 unicast");
    assert!(
        t.contains("*>i10.0.3.1/32      10.0.2.2                 0    100      0 i"),
        "{t}"
    );
    let one = vtysh(&h, "r1", "show bgp ipv4 unicast 10.0.3.1/32");
    assert!(
        one.contains("      Originator: 10.0.3.1, Cluster list: 10.0.2.1\n"),
        "{one}"
    );
    assert_eq!(route(&h, "r1", "10.0.3.1"), ["10.0.3.1", "10.0.1.2", "UGH1", "epair0a"]);
    ok(
        &h,
        "jexec r2 vtysh -c 'configure terminal' -c 'router bgp 65001' -c 'no neighbor 10.0.1.1 route-reflector-client' \
         -c 'no neighbor 10.0.2.2 route-reflector-client'",
    );
    h.run_for(Duration::from_secs(2));
    assert!(!vtysh(&h, "r1", "show bgp ipv4 unicast").contains("10.0.3.1/32"));
}

/// A route staticd adds later is redistributed at once: a RIB change
/// wakes bgpd (the kernel's news of a RIB's writes wakes no one, and
/// staticd starting changes no configuration), not its next keepalive.
#[test]
fn a_static_route_added_later_is_announced_at_once() {
    let r1 =
        format!("{R1}router bgp 65001\n address-family ipv4 unicast\n  redistribute static\n exit-address-family\n");
    let h = chain("bgp-static", [&r1, R2, R3]);
    h.run_for(Duration::from_secs(10));
    assert!(!vtysh(&h, "r2", "show bgp ipv4 unicast").contains("10.9.0.0/16"));
    // staticd on the same integrated configuration, as FRR's, with one
    // route more.
    let f = common::tmpdir("bgp-static-conf").join("frr.conf");
    std::fs::write(&f, r1 + "ip route 10.9.0.0/16 10.0.1.2\n").expect("conf");
    ok(&h, &format!("jexec r1 staticd -d -f {}", f.display()));
    h.run_for(Duration::from_millis(20));
    let t = vtysh(&h, "r2", "show bgp ipv4 unicast");
    assert!(t.contains("*> 10.9.0.0/16"), "{t}");
}

/// [`CHAIN`] with IPv6 on each link too (2001:db8:1::/64,
/// 2001:db8:2::/64) and 2001:db8:3::1/128 on r3's lo0.
const DUAL: &str = "jexec r1 ifconfig epair0a inet6 2001:db8:1::1/64
     jexec r2 ifconfig epair0b inet6 2001:db8:1::2/64
     jexec r2 ifconfig epair1a inet6 2001:db8:2::1/64
     jexec r3 ifconfig epair1b inet6 2001:db8:2::2/64
     jexec r3 ifconfig lo0 inet6 2001:db8:3::1/128 alias
     jexec r1 sysctl net.inet6.ip6.forwarding=1
     jexec r2 sysctl net.inet6.ip6.forwarding=1
     jexec r3 sysctl net.inet6.ip6.forwarding=1";

/// IPv6 unicast over the IPv4 sessions (RFC 4760, RFC 2545): activated
/// per neighbor, negotiated in the OPENs, announced with the session
/// interface's global and link-local next hops, installed through the
/// link-local one, reached by ping6 and withdrawn in MP_UNREACH.
#[test]
fn ipv6_prefixes_ride_the_ipv4_sessions() {
    let r1 = "router bgp 65001
 no bgp ebgp-requires-policy
 neighbor 10.0.1.2 remote-as 65002
 address-family ipv6 unicast
  redistribute connected
  neighbor 10.0.1.2 activate
 exit-address-family
";
    let r2 = "router bgp 65002
 no bgp ebgp-requires-policy
 neighbor 10.0.1.1 remote-as 65001
 neighbor 10.0.2.2 remote-as 65003
 address-family ipv6 unicast
  neighbor 10.0.1.1 activate
  neighbor 10.0.1.1 prefix-list NOT-LINK out
  neighbor 10.0.2.2 activate
 exit-address-family
ipv6 prefix-list NOT-LINK seq 5 deny 2001:db8:2::/64
ipv6 prefix-list NOT-LINK seq 10 permit any
";
    let r3 = "router bgp 65003
 no bgp ebgp-requires-policy
 neighbor 10.0.2.1 remote-as 65002
 address-family ipv6 unicast
  network 2001:db8:3::1/128
  network 2001:db8:2::/64
  neighbor 10.0.2.1 activate
 exit-address-family
";
    let h = chain("bgp-ipv6", [r1, r2, r3]);
    common::run(&h, DUAL);
    h.run_for(Duration::from_secs(20));
    let sum = vtysh(&h, "r2", "show bgp summary");
    let v6 = sum
        .split("\nIPv6 Unicast Summary (VRF default):\n")
        .nth(1)
        .unwrap_or_default();
    assert!(sum.starts_with("\nIPv4 Unicast Summary (VRF default):\n"), "{sum}");
    let row = |a: &str| v6.lines().find(|l| l.starts_with(a)).unwrap_or_default().to_string();
    // Everything goes back to where it came from too, as FRR sends it;
    // r2's outbound list keeps r3's link from r1.
    assert!(row("10.0.1.1 ").ends_with("            1        2 N/A"), "{sum}");
    assert!(row("10.0.2.2 ").ends_with("            2        3 N/A"), "{sum}");
    // r2's global address on the link and its link-local one; the table
    // shows the link-local one, the RIB and the kernel use it.
    let ll = linklocal(&h, "r2", "epair0b");
    let t = vtysh(&h, "r1", "show bgp ipv6 unicast");
    assert!(
        t.contains(&format!(
            "\n*> 2001:db8:3::1/128\n                    {ll}\n{:59}0 65002 65003 i\n",
            ""
        )),
        "{t}"
    );
    let one = vtysh(&h, "r1", "show bgp ipv6 unicast 2001:db8:3::1");
    assert!(
        one.contains(&format!(
            "\n  65002 65003\n    2001:db8:1::2 from 10.0.1.2 (10.0.2.1)\n    ({ll}) (used)\n"
        )),
        "{one}"
    );
    let rt = ok(&h, "jexec r1 netstat -rn -f inet6");
    let line = rt.lines().find(|l| l.starts_with("2001:db8:3::1 ")).unwrap_or_default();
    let w: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(w[..3], ["2001:db8:3::1", &format!("{ll}%epair0a"), "UGH1"], "{rt}");
    let ping = ok(&h, "jexec r1 ping6 -c 2 2001:db8:3::1");
    assert!(ping.contains("2 packets received"), "{ping}");
    assert!(!t.contains("2001:db8:2::/64"), "{t}");
    assert!(route(&h, "r1", "10.0.3.1").is_empty(), "r3 announces no IPv4");
    // Taken back: withdrawn in MP_UNREACH, gone from r1's kernel.
    ok(
        &h,
        "jexec r3 vtysh -c 'configure terminal' -c 'router bgp 65003' -c 'address-family ipv6 unicast' \
         -c 'no network 2001:db8:3::1/128'",
    );
    h.run_for(Duration::from_secs(3));
    assert!(!vtysh(&h, "r1", "show bgp ipv6 unicast").contains("2001:db8:3::1/128"));
    let rt = ok(&h, "jexec r1 netstat -rn -f inet6");
    assert!(!rt.contains("2001:db8:3::1 "), "{rt}");
    let run = vtysh(&h, "r3", "show running-config");
    assert!(
        run.contains(
            " !\n address-family ipv6 unicast\n  network 2001:db8:2::/64\n  neighbor 10.0.2.1 activate\n \
             exit-address-family\n"
        ),
        "{run}"
    );
}
