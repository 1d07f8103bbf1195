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
