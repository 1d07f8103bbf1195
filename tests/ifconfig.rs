//! ifconfig(8) as FreeBSD's: what setting an address does, the address
//! family filters, names and descriptions, and cloned interfaces.

mod common;

use common::ok;

#[test]
fn an_address_brings_the_interface_up() {
    // ether_ioctl(SIOCSIFADDR) sets IFF_UP: no `up` needed.
    let h = common::pair_lab("192.168.1.10/24", "192.168.1.11/24");
    let out = ok(&h, "jexec a ifconfig epair0a");
    assert!(
        out.starts_with("epair0a: flags=1008843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST,LOWER_UP>"),
        "{out}"
    );
    let out = ok(&h, "jexec a ping -c 1 192.168.1.11");
    assert!(out.contains("1 packets received"), "{out}");
    // `down` after the address still wins.
    ok(&h, "jexec a ifconfig epair0a inet 192.168.1.10/24 down");
    let out = ok(&h, "jexec a ifconfig epair0a");
    assert!(out.starts_with("epair0a: flags=1008842<BROADCAST,"), "{out}");
}

#[test]
fn vlans_tag_frames_and_tunnels_carry_ip() {
    let dir = common::tmpdir("ifconfig-tunnels");
    let pcap = dir.join("wire.pcap");
    let h = common::tunnels(&pcap);
    for peer in ["10.10.0.2", "192.168.0.2", "172.16.0.2"] {
        let o = ok(&h, &format!("jexec a ping -c 2 {peer}"));
        assert!(o.contains("2 packets received"), "{peer}: {o}");
    }
    assert_eq!(
        ok(&h, "jexec a ifconfig vlan0"),
        "vlan0: flags=1008843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST,LOWER_UP> metric 0 mtu 1500\n\
         \toptions=0\n\
         \tether 02:00:00:00:03:0a\n\
         \tinet 10.10.0.1 netmask 0xffffff00 broadcast 10.10.0.255\n\
         \tinet6 fe80::ff:fe00:30a%vlan0 prefixlen 64 scopeid 0x6\n\
         \tgroups: vlan\n\
         \tvlan: 10 vlanproto: 802.1q vlanpcp: 0 parent interface: epair0a\n\
         \tmedia: Ethernet 10Gbase-T (10Gbase-T <full-duplex>)\n\
         \tstatus: active\n\
         \tnd6 options=21<PERFORMNUD,AUTO_LINKLOCAL>\n"
    );
    assert_eq!(
        ok(&h, "jexec a ifconfig gif0"),
        "gif0: flags=1008051<UP,POINTOPOINT,RUNNING,MULTICAST,LOWER_UP> metric 0 mtu 1280\n\
         \toptions=80000<LINKSTATE>\n\
         \ttunnel inet 10.0.0.1 --> 10.0.0.2\n\
         \tinet 192.168.0.1 --> 192.168.0.2 netmask 0xffffff00\n\
         \tgroups: gif\n\
         \tnd6 options=21<PERFORMNUD,AUTO_LINKLOCAL>\n"
    );
    let gre = ok(&h, "jexec a ifconfig gre0");
    assert!(
        gre.starts_with("gre0: flags=1008051<UP,POINTOPOINT,RUNNING,MULTICAST,LOWER_UP> metric 0 mtu 1476\n"),
        "{gre}"
    );
    assert!(
        gre.contains("\tinet 172.16.0.1 --> 172.16.0.2 netmask 0xffffffff\n\tgroups: gre\n\tgrekey: 0x7 (7)\n"),
        "{gre}"
    );
    // A wrong key: the far end drops what it cannot open.
    ok(&h, "jexec b ifconfig gre0 grekey 8");
    assert!(!h.exec("jexec a ping -c 1 -t 1 172.16.0.2").success());
    h.run_for(std::time::Duration::from_secs(1));
    h.tasks().kill_all();
    // Wireshark reads the wire as 802.1Q, IPIP and GRE with its key.
    for (filter, n) in [
        ("vlan.id == 10 && icmp.type == 8", 2),
        ("ip.proto == 4 && icmp.type == 8", 2),
        ("gre.key == 7 && icmp.type == 8", 3),
    ] {
        if let Some(frames) = common::tshark_frames(&pcap, filter, &[]) {
            assert_eq!(frames.lines().count(), n, "{filter}: {frames}");
        }
    }
}

#[test]
fn names_descriptions_loopbacks_and_family_filters() {
    let h = common::pair_lab("10.0.0.1/24", "10.0.0.2/24");
    assert_eq!(
        ok(&h, "jexec a ifconfig lo1 create"),
        "",
        "the name asked for is not printed"
    );
    assert_eq!(ok(&h, "jexec a ifconfig lo create"), "lo2\n");
    ok(&h, "jexec a ifconfig lo1 inet 10.99.0.1/32");
    assert!(ok(&h, "jexec b route add 10.99.0.1 10.0.0.1").contains("add host 10.99.0.1"));
    assert!(
        ok(&h, "jexec b ping -c 1 10.99.0.1").contains("1 packets received"),
        "lo1 answers"
    );
    assert_eq!(ok(&h, "jexec a ifconfig epair0a name uplink"), "uplink\n");
    ok(&h, "jexec a ifconfig uplink description 'to b'");
    assert_eq!(
        ok(&h, "jexec a ifconfig uplink inet"),
        "uplink: flags=1008843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST,LOWER_UP> metric 0 mtu 1500\n\
         \tdescription: to b\n\
         \toptions=8<VLAN_MTU>\n\
         \tinet 10.0.0.1 netmask 0xffffff00 broadcast 10.0.0.255\n"
    );
    assert_eq!(
        ok(&h, "jexec a ifconfig uplink ether"),
        "uplink: flags=1008843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST,LOWER_UP> metric 0 mtu 1500\n\
         \tdescription: to b\n\
         \toptions=8<VLAN_MTU>\n\
         \tether 02:00:00:00:03:0a\n"
    );
    assert_eq!(ok(&h, "jexec a ifconfig -l inet"), "lo0 uplink lo1\n");
    assert_eq!(ok(&h, "jexec a ifconfig lo2 inet"), "", "no inet address: nothing");
    let all = ok(&h, "jexec a ifconfig -a inet");
    assert_eq!(all.matches("flags=").count(), 3, "{all}");
    assert!(!all.contains("ether "), "{all}");
    ok(&h, "jexec a ifconfig uplink -description");
    assert!(!ok(&h, "jexec a ifconfig uplink").contains("description"));
    let o = h.exec("jexec a ifconfig inet");
    assert_eq!(
        o.stderr, "ifconfig: interface inet does not exist\n",
        "FreeBSD wants -a"
    );
    let o = h.exec("jexec a ifconfig lo2 name lo1");
    assert_eq!(o.stderr, "ifconfig: ioctl SIOCSIFNAME (set name): File exists\n");
}
