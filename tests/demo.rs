//! The README's main command (the default lab) and the scripted tour of
//! the FreeBSD commands (`vimage demo`).

mod common;

use std::process::Command;

#[test]
fn the_tour_builds_a_lab_pings_traceroutes_captures_and_transfers() {
    let dir = common::tmpdir("demo");
    let o = Command::new(env!("CARGO_BIN_EXE_vimage"))
        .arg("demo")
        .current_dir(&dir)
        .output()
        .expect("run vimage");
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(!out.contains("demo: unexpected"), "{out}");
    assert!(
        out.contains("3 packets transmitted, 3 packets received, 0.0% packet loss"),
        "{out}"
    );
    // traceroute lists each router, then the host.
    let hops: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with(' ') && l.contains(" ms "))
        .collect();
    for (n, addr) in [(1, "10.1.0.1"), (2, "10.0.12.2"), (3, "10.0.23.3"), (4, "10.3.0.33")] {
        assert!(
            hops.iter().any(|l| l.starts_with(&format!("{n:2}  {addr} ({addr})"))),
            "hop {n} {addr} missing: {hops:?}"
        );
    }
    // The delays configured on the router links show in the round trip.
    assert!(out.contains("icmp_seq=1 ttl=61 time=14.0"), "{out}");
    assert!(
        out.contains("92 bytes from 10.0.23.2: Destination Host Unreachable"),
        "{out}"
    );
    assert!(
        out.contains("member: epair0b flags=143<LEARNING,DISCOVER,AUTOEDGE,AUTOPTP>"),
        "{out}"
    );
    // TCP and UDP across the routers, with throughput: TCP near the
    // 100 Mbit/s of the r2-r3 link by the last second, UDP at its rate.
    assert_eq!(out.matches("iperf Done.").count(), 2, "{out}");
    let tcp_last = out
        .lines()
        .find(|l| l.starts_with("[  4]   2.00-3.00   sec") && l.contains("Mbits/sec"))
        .expect("the third second of the TCP test");
    let rate: f64 = tcp_last
        .split_whitespace()
        .nth(6)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0.0);
    assert!((70.0..=100.0).contains(&rate), "{tcp_last}");
    assert!(
        out.contains(" 20.0 Mbits/sec  0.000 ms  0/3452 (0%)  sender\n"),
        "{out}"
    );
    assert!(
        out.contains("\t2 connections established (including accepts)\n"),
        "{out}"
    );
    let pcap = dir.join("vimage-demo.pcap");
    let meta = std::fs::metadata(&pcap).expect("the demo writes its pcap");
    assert!(meta.len() > 24 + 10 * 16, "pcap holds frames");
    match common::tshark_problems(&pcap) {
        Some(problems) => {
            assert_eq!(problems, "", "tshark found problems in the demo's pcap");
            assert!(common::tshark_count(&pcap) >= 20);
        }
        None => eprintln!("skipped the tshark check (see above)"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_main_command_runs_the_default_lab() {
    let o = Command::new(env!("CARGO_BIN_EXE_vimage")).output().expect("run vimage");
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    // It shows its lab file, then what each command printed.
    assert!(out.starts_with("# The lab file (examples/labs/demo.toml"), "{out}");
    assert!(out.contains("    [[node]]\n    name = \"h1\"\n"), "{out}");
    assert!(
        out.contains("3 packets transmitted, 3 packets received, 0.0% packet loss"),
        "{out}"
    );
    for hop in [" 1  10.255.255.3 ", " 2  10.0.0.2 ", " 3  10.0.0.6 ", " 4  10.0.0.10 "] {
        assert!(out.contains(hop), "traceroute hop {hop:?}: {out}");
    }
    // Dual stack: ping6 and traceroute6 across the same routers.
    assert!(
        out.contains("--- h3 ping6 statistics ---\n2 packets transmitted, 2 packets received, 0.0% packet loss"),
        "{out}"
    );
    for hop in [
        " 1  fd00:ffff::3 ",
        " 2  fd00::2 ",
        " 3  fd00:0:0:1::2 ",
        " 4  fd00:0:0:2::2 ",
    ] {
        assert!(out.contains(hop), "traceroute6 hop {hop:?}: {out}");
    }
    assert_eq!(out.matches("iperf Done.").count(), 2, "TCP and UDP: {out}");
    assert!(
        out.contains("92 bytes from 10.0.0.2: Destination Host Unreachable"),
        "{out}"
    );
    assert!(out.contains("[exit status 2, as meant]"), "{out}");
}
