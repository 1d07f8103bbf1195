//! nc, netstat's socket list and counters, and sockstat, driven as a user
//! drives them: command lines in the shell, files moved through `<` and
//! `>`, and their exact output.

mod common;

use common::{ok, routed_lab};

fn random_file(path: &std::path::Path, n: usize) -> Vec<u8> {
    let d = common::random_bytes(n, 0x9e37_79b9_7f4a_7c15);
    std::fs::write(path, &d).expect("write");
    d
}

#[test]
fn nc_moves_a_file_across_a_router() {
    let h = routed_lab(1);
    let dir = common::tmpdir("nc-file");
    let (src, dst) = (dir.join("in.bin"), dir.join("out.bin"));
    let sent = random_file(&src, 1_000_000);
    let pcap = dir.join("r.pcap");
    ok(&h, &format!("jexec r tcpdump -i epair1a -w {} &", pcap.display()));
    ok(&h, &format!("jexec b nc -l 40404 > {} &", dst.display()));
    let o = h.exec(&format!("jexec a nc -v -N 10.0.2.2 40404 < {}", src.display()));
    assert_eq!(o.status, 0, "{o:?}");
    assert_eq!(o.stderr, "Connection to 10.0.2.2 40404 port [tcp/*] succeeded!\n");
    h.run_for(std::time::Duration::from_secs(1));
    assert_eq!(std::fs::read(&dst).expect("out"), sent, "the file arrived whole");
    // The router saw what a wire would carry: checksums Wireshark accepts
    // (inside vimage they are left to the receiver's trust, as on an epair).
    h.tasks().kill_all();
    if let Some(problems) = common::tshark_problems(&pcap) {
        assert_eq!(problems, "", "tshark objects");
        assert!(common::tshark_count(&pcap) > 700, "the transfer was captured");
    }
    // The receiver's counters: every byte in sequence, its connection
    // accepted and closed, none of it retransmitted.
    let s = ok(&h, "jexec b netstat -s -p tcp");
    for line in [
        "\t1 connection accept\n",
        "\t1 connection established (including accepts)\n",
        "\t\t0 data packets (0 bytes) retransmitted\n",
        "\t1 syncache entry added\n",
        "\t\t1 completed\n",
        "\t2 connections closed (including 0 drops)\n",
        "\t0 connections in LISTEN state\n",
    ] {
        assert!(s.contains(line), "{line:?} in\n{s}");
    }
    assert!(s.contains(" (1000000 bytes) received in-sequence\n"), "{s}");
}

#[test]
fn nc_reports_refusals_scans_and_bad_arguments() {
    let h = routed_lab(2);
    ok(&h, "jexec b nc -l 22 &");
    let o = h.exec("jexec a nc -v 10.0.2.2 23");
    assert_eq!(o.status, 1);
    assert_eq!(
        o.stderr,
        "nc: connect to 10.0.2.2 port 23 (tcp) failed: Connection refused\n"
    );
    // Without -v a failure is silent, as FreeBSD's.
    let o = h.exec("jexec a nc 10.0.2.2 23");
    assert_eq!((o.status, o.stderr.as_str()), (1, ""));
    let o = h.exec("jexec a nc -z 10.0.2.2 20-23");
    assert_eq!(
        (o.status, o.stderr.as_str()),
        (0, "Connection to 10.0.2.2 22 port [tcp/ssh] succeeded!\n")
    );
    for (cmd, err) in [
        ("nc -l -p 80", "nc: cannot use -p and -l\n"),
        ("nc -k 10.0.2.2 80", "nc: must use -l with -k\n"),
        ("nc 10.0.2.2 99999", "nc: port number too large: 99999\n"),
        ("nc -w x 10.0.2.2 80", "nc: timeout invalid: x\n"),
        (
            "nc nosuchhost 80",
            "nc: getaddrinfo: hostname nor servname provided, or not known\n",
        ),
    ] {
        let o = h.exec(&format!("jexec a {cmd}"));
        assert_eq!((o.status, o.stderr.as_str()), (1, err), "{cmd}");
    }
    // A host that never answers: -w bounds the connect.
    let t0 = h.now();
    let o = h.exec("jexec a nc -v -w 2 10.0.2.99 80");
    assert_eq!(o.status, 1);
    assert!(
        o.stderr.starts_with("nc: connect to 10.0.2.99 port 80 (tcp) failed: "),
        "{o:?}"
    );
    assert!(h.now().saturating_sub(t0) <= std::time::Duration::from_secs(3));
}

#[test]
fn nc_udp_exchange() {
    let h = routed_lab(3);
    let dir = common::tmpdir("nc-udp");
    let (q, got) = (dir.join("q"), dir.join("got"));
    std::fs::write(&q, "ping over udp\n").expect("write");
    ok(&h, &format!("jexec b nc -u -l 5353 > {} &", got.display()));
    let o = h.exec(&format!("jexec a nc -u -w 1 10.0.2.2 5353 < {}", q.display()));
    assert_eq!(o.status, 0, "{o:?}");
    assert_eq!(std::fs::read_to_string(&got).expect("got"), "ping over udp\n");
    let u = ok(&h, "jexec b netstat -ss -p udp");
    assert_eq!(u, "udp:\n\t1 datagram received\n\t1 delivered\n");
    // Nobody on 5354: the sender hears port unreachable, so a -z probe
    // of a closed port... still looks open, as on FreeBSD (the ICMP error
    // comes back after the probes went), but the receiver counts it.
    ok(&h, "jexec a nc -uz 10.0.2.2 5354");
    h.run_for(std::time::Duration::from_secs(1));
    let u = ok(&h, "jexec b netstat -ss -p udp");
    assert!(u.contains("\t4 dropped due to no socket\n"), "{u}");
}

#[test]
fn netstat_and_sockstat_list_the_sockets() {
    let h = routed_lab(4);
    ok(&h, "jexec b nc -l 80 &");
    ok(&h, "jexec b nc -u -l 53 &");
    ok(&h, "jexec a nc -p 40000 10.0.2.2 80 &");
    h.run_for(std::time::Duration::from_secs(1));
    assert_eq!(
        ok(&h, "jexec b netstat -an"),
        "Active Internet connections (including servers)\n\
         Proto Recv-Q Send-Q Local Address          Foreign Address        (state)    \n\
         tcp4       0      0 10.0.2.2.80            10.0.1.2.40000         ESTABLISHED\n\
         tcp4       0      0 *.80                   *.*                    LISTEN     \n\
         udp4       0      0 *.53                   *.*                    \n"
    );
    // Without -a: no servers, nothing on a wildcard address.
    assert_eq!(
        ok(&h, "jexec b netstat -n -p tcp"),
        "Active Internet connections\n\
         Proto Recv-Q Send-Q Local Address          Foreign Address        (state)    \n\
         tcp4       0      0 10.0.2.2.80            10.0.1.2.40000         ESTABLISHED\n"
    );
    assert_eq!(ok(&h, "jexec r netstat -an"), "", "no sockets, no header");
    let s = ok(&h, "jexec b sockstat");
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(
        lines[0],
        "USER     COMMAND    PID   FD  PROTO  LOCAL ADDRESS         FOREIGN ADDRESS      "
    );
    assert_eq!(lines.len(), 4, "{s}");
    // The listener and the accepted connection share nc's process.
    let pid = |l: &str| l.split_whitespace().nth(2).map(str::to_string);
    assert_eq!(pid(lines[1]), pid(lines[2]));
    assert!(lines[1].ends_with("3   tcp4   *:80                  *:*"), "{s}");
    assert!(
        lines[2].ends_with("4   tcp4   10.0.2.2:80           10.0.1.2:40000"),
        "{s}"
    );
    assert!(lines[3].ends_with("3   udp4   *:53                  *:*"), "{s}");
    let s = ok(&h, "sockstat -q -s -c -j b");
    assert!(s.ends_with("10.0.1.2:40000                     ESTABLISHED\n"), "{s}");
    let o = h.exec("sockstat -P sctp,bogus");
    assert_eq!(
        (o.status, o.stderr.as_str()),
        (1, "sockstat: protocol bogus not found\n")
    );
    let o = h.exec("netstat -p bogus");
    assert_eq!(o.stderr, "netstat: bogus: unknown or uninstrumented protocol\n");
}
