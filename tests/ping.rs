//! ping(8) as FreeBSD's: replies, duplicates, sequence numbers that wrap,
//! and its flags and messages.

mod common;

use common::ok;
use vimage::Host;

/// Two jails a (10.0.0.1) and b (10.0.0.2) on one epair.
fn pair() -> Host {
    common::pair_lab("10.0.0.1/24", "10.0.0.2/24")
}

#[test]
fn sequence_numbers_wrap_without_duplicates() {
    // 70,000 echoes: icmp_seq wraps after 65535, and a reply to a reused
    // number is new, not a duplicate.
    let h = pair();
    // A thousand a second: more than ICMP's response limit allows.
    ok(&h, "jexec b sysctl net.inet.icmp.icmplim=0");
    let out = ok(&h, "jexec a ping -q -c 70000 -i 0.001 10.0.0.2");
    assert!(
        out.contains("\n70000 packets transmitted, 70000 packets received, 0.0% packet loss\n"),
        "{out}"
    );
    let out = ok(&h, "jexec a ping -c 65538 -i 0.001 10.0.0.2");
    let tail: Vec<&str> = out.lines().filter(|l| l.contains("icmp_seq=")).skip(65534).collect();
    assert_eq!(tail.len(), 4, "{tail:?}");
    assert!(
        tail[1].contains("icmp_seq=65535 ") && tail[2].contains("icmp_seq=0 "),
        "{tail:?}"
    );
    assert!(tail.iter().all(|l| !l.contains("DUP")), "{tail:?}");
}

#[test]
fn flags_as_freebsds() {
    let h = pair();
    // -p: the pattern fills the data after the timestamp, and is said.
    let out = ok(&h, "jexec a ping -c 1 -p deadbeef -s 16 10.0.0.2");
    assert!(
        out.starts_with("PATTERN: 0xdeadbeef\nPING 10.0.0.2 (10.0.0.2): 16 data bytes\n24 bytes from"),
        "{out}"
    );
    // -f: a dot per request, a backspace per reply, no reply lines.
    let out = ok(&h, "jexec a ping -f -c 5 10.0.0.2");
    assert!(out.contains("data bytes\n.\u{8}.\u{8}.\u{8}.\u{8}.\u{8}\n--- 10.0.0.2 ping statistics ---\n5 packets transmitted, 5 packets received"), "{out:?}");
    // -a: a bell before each reply line.
    let out = ok(&h, "jexec a ping -a -c 2 10.0.0.2");
    assert_eq!(out.matches("\u{7}64 bytes from").count(), 2, "{out:?}");
    // -i 0: back to back.
    let t0 = h.now();
    let out = ok(&h, "jexec a ping -q -c 100 -i 0 10.0.0.2");
    assert!(out.contains("100 packets transmitted, 100 packets received"), "{out}");
    assert!(
        h.now().saturating_sub(t0) < std::time::Duration::from_secs(2),
        "sent without waiting"
    );
    // -v: the ICMP packets that are not about our own pings are listed
    // too (here a port unreachable for a's datagram).
    let v = h.exec("echo x | jexec a nc -u -w 1 10.0.0.2 9 & jexec a ping -v -c 2 10.0.0.2");
    assert!(v.stdout.contains(": Destination Port Unreachable\n"), "{v:?}");
    let q = h.exec("echo x | jexec a nc -u -w 1 10.0.0.2 9 & jexec a ping -c 2 10.0.0.2");
    assert!(!q.stdout.contains("Unreachable"), "{q:?}");
}

#[test]
fn messages_and_usage_as_freebsds() {
    let h = pair();
    for (args, err, st) in [
        ("-m 256", "ping: invalid TTL: `256'\n", 64),
        ("-c 0", "ping: invalid count of packets to transmit: `0'\n", 64),
        ("-c x", "ping: invalid count of packets to transmit: `x'\n", 64),
        ("-i x", "ping: invalid timing interval: `x'\n", 64),
        ("-s 70000", "ping: packet size too large: 70000 > 65507\n", 64),
        ("-t 4000", "ping: invalid timeout: `4000' > 3600\n", 64),
        ("-W x", "ping: invalid timing interval: `x'\n", 64),
        ("-p xyz", "ping: patterns must be specified as hex digits\n", 64),
        ("-f -i 1", "ping: -f and -i: incompatible options\n", 64),
    ] {
        let o = h.exec(&format!("jexec a ping {args} 10.0.0.2"));
        assert_eq!((o.status, o.stderr.as_str()), (st, err), "ping {args}");
    }
    let o = h.exec("jexec a ping nosuch.example");
    assert_eq!(
        (o.status, o.stderr.as_str()),
        (68, "ping: cannot resolve nosuch.example: Unknown host\n")
    );
    let usage = "usage:\n\tping [-4AaDdfHnoQqRrv] [-C pcp] [-c count] [-G sweepmaxsize]\n";
    let o = h.exec("jexec a ping");
    assert!(o.status == 1 && o.stderr.starts_with(usage), "{o:?}");
    let o = h.exec("jexec a ping -Z 10.0.0.2");
    assert!(
        o.stderr.starts_with(&format!("ping: illegal option -- Z\n{usage}")),
        "{o:?}"
    );
    let o = h.exec("jexec a ping -c");
    assert!(
        o.stderr
            .starts_with(&format!("ping: option requires an argument -- c\n{usage}")),
        "{o:?}"
    );
    // No command says clap's words for a missing operand.
    for cmd in ["traceroute", "jexec", "arp -d", "route add", "nc -l"] {
        let o = h.exec(cmd);
        assert!(!o.stderr.contains("the following required"), "{cmd}: {o:?}");
        assert!(o.stderr.contains("usage: "), "{cmd}: {o:?}");
    }
}
