//! tcpdump: pcap-filter(7) expressions (libpcap's compiler) choosing the
//! same frames as libpcap's own tcpdump, and lines printed exactly as
//! tcpdump 4.99 prints them, under every printing flag, for a capture of
//! ARP, ICMP, UDP and a whole TCP connection with options.

mod common;

use std::path::Path;
use std::process::Command;

use common::{ok, pair_lab, routed_lab};

/// A capture on b of: ARP, pings, a TCP connection carrying a line, a
/// UDP datagram, a refused TCP connection, and a port unreachable.
fn capture(dir: &Path) -> std::path::PathBuf {
    let h = pair_lab("10.0.0.1/24", "10.0.0.2/24");
    let pcap = dir.join("all.pcap");
    let small = dir.join("small.txt");
    std::fs::write(&small, "hello over tcp\n").expect("write");
    common::run(
        &h,
        &format!(
            "jexec b tcpdump -i epair0b -w {} &
             jexec a ping -c 2 10.0.0.2
             jexec b nc -l 9000 > /dev/null &
             jexec a nc -N 10.0.0.2 9000 < {s}
             jexec b nc -u -l 9001 > /dev/null &
             jexec a nc -u -w 1 10.0.0.2 9001 < {s}
             jexec a nc -u -w 1 10.0.0.2 9003 < {s}",
            pcap.display(),
            s = small.display()
        ),
    );
    let _ = h.exec("jexec a nc -z 10.0.0.2 9002");
    h.run_for(std::time::Duration::from_secs(1));
    h.tasks().kill_all();
    pcap
}

/// What a tcpdump prints reading `pcap` with `flags`.
fn read(bin: &str, flags: &[&str], pcap: &Path) -> String {
    let o = Command::new(bin)
        .args(["tcpdump"].iter().filter(|_| bin.ends_with("vimage")))
        .arg("-r")
        .arg(pcap)
        .args(flags)
        .env("TZ", "UTC")
        .output()
        .expect("tcpdump");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// tcpdump 4.99 itself reads `pcap` with each of `flags`: every line
/// must be the same as ours (skipped, saying why, without tcpdump).
fn agrees_with_tcpdump(pcap: &Path, flags: &[&[&str]]) {
    if !common::ensure_tool("tcpdump", "tcpdump") {
        return;
    }
    for flags in flags {
        let real = read("tcpdump", flags, pcap);
        let ours = read(env!("CARGO_BIN_EXE_vimage"), flags, pcap);
        let first = ours.lines().zip(real.lines()).find(|(a, b)| a != b);
        assert!(
            !real.is_empty() && ours == real,
            "tcpdump {flags:?}: first difference (ours, tcpdump's): {first:?}"
        );
    }
}

#[test]
fn lines_are_tcpdumps() {
    let dir = common::tmpdir("tcpdump-lines");
    let pcap = capture(&dir);
    let ours = read(env!("CARGO_BIN_EXE_vimage"), &["-n"], &pcap);
    // Relative sequence numbers after the handshake, TCP options, the
    // padded ARP of a 60-byte frame.
    for line in [
        "ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 46",
        "ICMP echo request, id ",
        "Flags [S], seq ",
        "options [mss 1460,nop,wscale 6,nop,nop,sackOK,nop,nop,TS val ",
        ": Flags [.], ack 1, win ",
        "Flags [P.], seq 1:16, ack 1, win ",
        "UDP, length 15",
        "ICMP 10.0.0.2 udp port 9003 unreachable, length 51",
        "Flags [R.], seq 0, ack ",
    ] {
        assert!(ours.contains(line), "{line:?} in\n{ours}");
    }
    // tcpdump 4.99 itself reads the same file: every line the same. (-ttt
    // and -ttttt are left out: tcpdump takes a first timestamp of 0, the
    // virtual clock's start, for none.)
    agrees_with_tcpdump(
        &pcap,
        &[
            &["-n"][..],
            &["-n", "-v"],
            &["-n", "-vv"],
            &["-n", "-e"],
            &["-n", "-X"],
            &["-n", "-x"],
            &["-n", "-A"],
            &["-n", "-S"],
            &["-n", "-tttt"],
            &["-n", "-tt"],
            &["-n", "-t", "-e", "-vX"],
            &["-n", "udp or icmp"],
        ],
    );
}

#[test]
fn filters_choose_what_libpcap_chooses() {
    let dir = common::tmpdir("tcpdump-filters");
    let pcap = capture(&dir);
    let have_real = common::ensure_tool("tcpdump", "tcpdump");
    for expr in [
        "tcp port 9000",
        "udp port 9001",
        "tcp dst port 9000",
        "tcp port 9000 and host 10.0.0.2",
        "icmp",
        "arp",
        "not arp and not icmp",
        "tcp[tcpflags] & tcp-syn != 0",
        "ether broadcast",
        "greater 90",
        "src net 10.0.0.0/24 and (udp or icmp[icmptype] = icmp-echo)",
    ] {
        let ours = read(env!("CARGO_BIN_EXE_vimage"), &["-n", expr], &pcap);
        assert!(!ours.is_empty(), "{expr} chose nothing");
        if have_real {
            assert_eq!(ours, read("tcpdump", &["-n", expr], &pcap), "{expr}");
        }
    }
    // Live: a filter on an interface keeps just what it matches.
    let h = routed_lab(3);
    ok(
        &h,
        "jexec r tcpdump -n -i epair1a -c 2 icmp and host 10.0.2.2 > /dev/null &",
    );
    let live = dir.join("live.pcap");
    ok(
        &h,
        &format!("jexec b tcpdump -i epair1b -w {} tcp dst port 9000 &", live.display()),
    );
    ok(&h, "jexec b nc -l 9000 > /dev/null &");
    ok(&h, "jexec a ping -c 1 10.0.2.2");
    let o = h.exec("echo hi | jexec a nc -N 10.0.2.2 9000");
    assert!(o.success(), "{o:?}");
    h.run_for(std::time::Duration::from_secs(1));
    h.tasks().kill_all();
    let got = read(env!("CARGO_BIN_EXE_vimage"), &["-n"], &live);
    assert!(
        !got.is_empty() && got.lines().all(|l| l.contains(" > 10.0.2.2.9000: ")),
        "{got}"
    );
}

#[test]
fn errors_are_libpcaps_and_tcpdumps() {
    let h = pair_lab("10.0.0.1/24", "10.0.0.2/24");
    let o = h.exec("jexec a tcpdump -i epair0a tcp port");
    assert_eq!(o.status, 1);
    assert!(
        o.stderr == "tcpdump: can't parse filter expression: syntax error\n",
        "{o:?}"
    );
    let o = h.exec("jexec a tcpdump -i nope0");
    assert_eq!(
        (o.status, o.stderr.as_str()),
        (
            1,
            "tcpdump: nope0: No such device exists (BIOCSETIF failed: Device not configured)\n"
        )
    );
    let dir = common::tmpdir("tcpdump-errors");
    let junk = dir.join("junk.txt");
    std::fs::write(&junk, "this is not a capture file at all\n").expect("write");
    let o = h.exec(&format!("tcpdump -r {}", junk.display()));
    assert_eq!((o.status, o.stderr.as_str()), (1, "tcpdump: unknown file format\n"));
    let o = h.exec(&format!("tcpdump -r {}", dir.join("nothere.pcap").display()));
    assert_eq!(o.status, 1);
    assert!(o.stderr.ends_with("nothere.pcap: No such file or directory\n"), "{o:?}");
}

#[test]
fn an_interrupted_capture_ends_with_a_newline_then_its_counts() {
    let h = pair_lab("10.0.0.1/24", "10.0.0.2/24");
    let (out, obuf) = vimage::Out::buffer();
    let (err, ebuf) = vimage::Out::buffer();
    let argv = ["jexec", "b", "tcpdump", "-n", "-i", "epair0b", "icmp"]
        .map(String::from)
        .to_vec();
    let (id, intr) = h.spawn_fg(
        argv,
        vimage::Stdio {
            stdin: vimage::In::null(),
            stdout: out,
            stderr: err,
        },
    );
    ok(&h, "jexec a ping -c 2 10.0.0.2");
    assert!(intr.raise(), "tcpdump catches SIGINT");
    assert_eq!(h.wait(id), Ok(0));
    let out = String::from_utf8_lossy(&obuf.borrow()).into_owned();
    let err = String::from_utf8_lossy(&ebuf.borrow()).into_owned();
    assert_eq!(out.lines().count(), 5, "{out}");
    assert!(out.ends_with(" length 64\n\n"), "{out:?}");
    assert!(
        err.ends_with("4 packets captured\n4 packets received by filter\n0 packets dropped by kernel\n"),
        "{err}"
    );
}

#[test]
fn vlans_and_tunnels_are_tcpdumps() {
    // 802.1Q tags (looked through, or shown with -e), IPIP and GRE with
    // a key, each line as tcpdump prints it.
    let dir = common::tmpdir("tcpdump-tunnels");
    let pcap = dir.join("wire.pcap");
    let h = common::tunnels(&pcap);
    for peer in ["10.10.0.2", "192.168.0.2", "172.16.0.2"] {
        ok(&h, &format!("jexec a ping -c 1 {peer}"));
    }
    h.run_for(std::time::Duration::from_secs(1));
    h.tasks().kill_all();
    let ours = read(env!("CARGO_BIN_EXE_vimage"), &["-n"], &pcap);
    for line in [
        "IP 10.10.0.1 > 10.10.0.2: ICMP echo request",
        "IP 10.0.0.1 > 10.0.0.2: IP 192.168.0.1 > 192.168.0.2: ICMP echo request",
        "IP 10.0.0.1 > 10.0.0.2: GREv0, key=0x7, length 92: IP 172.16.0.1 > 172.16.0.2: ICMP echo request",
    ] {
        assert!(ours.contains(line), "{line:?} in\n{ours}");
    }
    agrees_with_tcpdump(
        &pcap,
        &[
            &["-n"][..],
            &["-n", "-e"],
            &["-n", "-v"],
            &["-n", "-e", "-v"],
            &["-n", "-vv", "-X"],
            &["-n", "vlan and icmp"],
        ],
    );
}

#[test]
fn ipv6_and_neighbour_discovery_are_tcpdumps() {
    // DAD probes, a router's advertisements with their options, a host's
    // solicitation, NS/NA with link-layer options and flags, echoes,
    // time exceeded, no route, port unreachable (traceroute6), packet
    // too big, TCP and UDP over IPv6: each line as tcpdump prints it.
    let dir = common::tmpdir("tcpdump-ipv6");
    let pcap = dir.join("v6.pcap");
    let h = vimage::Host::new(vimage::Config::default());
    common::run(
        &h,
        &format!(
            "jail -c name=a vnet persist
             jail -c name=r vnet persist
             jail -c name=b vnet persist
             ifconfig epair0 create
             ifconfig epair1 create
             ifconfig epair0a vnet a
             ifconfig epair0b vnet r
             ifconfig epair1a vnet r
             ifconfig epair1b vnet b
             jexec r tcpdump -i epair0b -w {} &
             jexec a ifconfig epair0a inet6 2001:db8:1::1/64 accept_rtadv
             jexec r ifconfig epair0b inet6 2001:db8:1::2/64
             jexec r ifconfig epair1a inet6 2001:db8:2::1/64
             jexec b ifconfig epair1b inet6 2001:db8:2::2/64
             jexec r sysctl net.inet6.ip6.forwarding=1
             jexec b route -6 add default 2001:db8:2::1
             sleep 2
             jexec r rtadvd epair0b
             jexec a rtsol epair0a
             sleep 3
             jexec a ping6 -c 1 2001:db8:2::2
             jexec b nc -6 -l 5000 > /dev/null &
             echo over tcp | jexec a nc -N 2001:db8:2::2 5000
             jexec a traceroute6 -q 1 -m 2 2001:db8:2::2
             jexec r ifconfig epair1a mtu 1280",
            pcap.display()
        ),
    );
    let _ = h.exec("jexec a ping6 -c 1 -m 1 2001:db8:2::2");
    let _ = h.exec("jexec a ping6 -c 1 2001:db8:7::2");
    let _ = h.exec("jexec a ping6 -c 1 -s 1400 2001:db8:2::2");
    h.run_for(std::time::Duration::from_secs(1));
    h.tasks().kill_all();
    let ours = read(env!("CARGO_BIN_EXE_vimage"), &["-n", "-v"], &pcap);
    for line in [
        ":: > ff02::1:ff00:1: [icmp6 sum ok] ICMP6, neighbor solicitation, length 24, who has 2001:db8:1::1",
        "ICMP6, router advertisement, length 56\n\thop limit 64, Flags [none], pref medium, router lifetime 1800s",
        "\t  prefix info option (3), length 32 (4): 2001:db8:1::/64, Flags [onlink, auto], valid time 2592000s, pref. time 604800s",
        "> ff02::2: [icmp6 sum ok] ICMP6, router solicitation, length 16\n\t  source link-address option (1), length 8 (1): ",
        "Flags [solicited, override]\n\t  destination link-address option (2), length 8 (1): ",
        "ICMP6, time exceeded in-transit for 2001:db8:2::2",
        "ICMP6, destination unreachable, unreachable route 2001:db8:7::2",
        "ICMP6, destination unreachable, unreachable port, 2001:db8:2::2 udp port 3343",
        "ICMP6, packet too big, mtu 1280",
    ] {
        assert!(ours.contains(line), "{line:?} in\n{ours}");
    }
    agrees_with_tcpdump(
        &pcap,
        &[
            &["-n"][..],
            &["-n", "-e"],
            &["-n", "-v"],
            &["-n", "-vv"],
            &["-n", "-vv", "-X"],
            &["-n", "icmp6"],
            &["-n", "-v", "ip6 and tcp"],
        ],
    );
}
