//! vimage's iperf3 against itself under the virtual clock, across a
//! router and emulated links: the output iperf3 users read, and figures
//! that follow from the link (rate, loss).

mod common;

use common::{ok, routed_lab};

/// The routed lab with the a–r link shaped both ways.
fn lab(seed: u64, pipe: &str) -> vimage::Host {
    let h = routed_lab(seed);
    ok(&h, &format!("jexec a pipe epair0a config {pipe}"));
    ok(&h, &format!("jexec r pipe epair0b config {pipe}"));
    ok(&h, "jexec b iperf3 -s &");
    h
}

/// The Mbit/s figure of the first line ending with `role`.
fn mbits(out: &str, role: &str) -> f64 {
    let l = out
        .lines()
        .find(|l| l.ends_with(role))
        .unwrap_or_else(|| panic!("no {role} line: {out}"));
    let w: Vec<&str> = l.split_whitespace().collect();
    let i = w.iter().position(|x| x.ends_with("bits/sec")).expect("rate");
    let n: f64 = w[i - 1].parse().expect("number");
    match w[i] {
        "Gbits/sec" => n * 1000.0,
        "Mbits/sec" => n,
        "Kbits/sec" => n / 1000.0,
        _ => n / 1e6,
    }
}

#[test]
fn tcp_fills_the_link_and_reports_like_iperf3() {
    let h = lab(1, "bw 50Mbit/s delay 5ms queue 100");
    let out = ok(&h, "jexec a iperf3 -c 10.0.2.2 -t 4");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Connecting to host 10.0.2.2, port 5201");
    assert!(
        lines[1].starts_with("[  4] local 10.0.1.2 port ") && lines[1].ends_with(" connected to 10.0.2.2 port 5201")
    );
    assert_eq!(
        lines[2],
        "[ ID] Interval           Transfer     Bitrate         Retr  Cwnd"
    );
    assert!(lines[3].starts_with("[  4]   0.00-1.00   sec  "), "{out}");
    assert!(lines[6].starts_with("[  4]   3.00-4.00   sec  "), "{out}");
    assert_eq!(lines[7], "- - - - - - - - - - - - - - - - - - - - - - - - -");
    assert_eq!(lines[8], "[ ID] Interval           Transfer     Bitrate         Retr");
    assert!(
        lines[9].starts_with("[  4]   0.00-4.00   sec  ") && lines[9].ends_with("sender"),
        "{out}"
    );
    assert!(lines[10].ends_with("receiver"));
    assert_eq!(&lines[11..], ["", "iperf Done."]);
    let rate = mbits(&out, "receiver");
    assert!(
        (35.0..=50.0).contains(&rate),
        "a 50 Mbit/s link carried {rate} Mbit/s: {out}"
    );
}

#[test]
fn udp_at_a_rate_counts_the_loss_of_the_link() {
    let h = lab(2, "delay 2ms plr 0.05");
    let out = ok(&h, "jexec a iperf3 -c 10.0.2.2 -u -b 10M -t 3 -l 1000");
    assert!(
        out.contains("[ ID] Interval           Transfer     Bitrate         Total Datagrams\n"),
        "{out}"
    );
    let sent = mbits(&out, "sender");
    assert!((9.9..=10.1).contains(&sent), "paced to 10 Mbit/s: {sent}: {out}");
    let recv = out.lines().find(|l| l.ends_with("receiver")).expect("receiver");
    // "lost/total (pct%)": 5 % of the datagrams, give or take.
    let lt = recv
        .split_whitespace()
        .find(|w| w.contains('/') && !w.contains("bits"))
        .expect("lost/total");
    let (lost, total) = lt.split_once('/').expect("pair");
    let (lost, total): (f64, f64) = (lost.parse().expect("n"), total.parse().expect("n"));
    assert!(
        (3600.0..=3800.0).contains(&total),
        "{total} datagrams of 1000 bytes in 3 s: {out}"
    );
    let pct = 100.0 * lost / total;
    assert!((3.5..=6.5).contains(&pct), "{pct}% lost: {out}");
}

#[test]
fn parallel_reverse_and_byte_counts() {
    let h = lab(3, "bw 100Mbit/s delay 1ms queue 200");
    let out = ok(&h, "jexec a iperf3 -c 10.0.2.2 -t 2 -P 3 -R");
    assert!(out.contains("Reverse mode, remote host 10.0.2.2 is sending\n"), "{out}");
    assert_eq!(out.matches(" connected to 10.0.2.2 port 5201").count(), 3, "{out}");
    assert!(out.contains("[SUM]   0.00-1.00   sec  "), "{out}");
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("[SUM]") && l.ends_with("receiver"))
            .count(),
        1
    );
    let sum = mbits(
        &out.lines()
            .filter(|l| l.starts_with("[SUM]"))
            .collect::<Vec<_>>()
            .join("\n"),
        "receiver",
    );
    assert!(
        (60.0..=100.0).contains(&sum),
        "three streams share 100 Mbit/s: {sum}: {out}"
    );
    let out = ok(&h, "jexec a iperf3 -c 10.0.2.2 -n 1M");
    let sender = out.lines().find(|l| l.ends_with("sender")).expect("sender");
    assert!(sender.contains("  1.00 MBytes  "), "{out}");
}

#[test]
fn errors_are_iperf3s() {
    let h = lab(4, "delay 1ms");
    let o = h.exec("jexec a iperf3 -c 10.0.2.2 -p 5999");
    assert_eq!(o.status, 1);
    assert_eq!(
        o.stderr,
        "iperf3: error - unable to connect to server - server may have stopped running or use a different port, \
         firewall issue, etc.: Connection refused\n"
    );
    let o = h.exec("jexec a iperf3");
    assert_eq!(o.status, 1);
    assert!(
        o.stderr
            .starts_with("iperf3: parameter error - must either be a client (-c) or server (-s)\n")
    );
    let o = h.exec("jexec a iperf3 -c 10.0.2.2 -u -l 8");
    assert!(
        o.stderr.starts_with("iperf3: parameter error - block size invalid\n"),
        "{o:?}"
    );
}

/// Two jails on one plain epair: 10.0.0.1 and 10.0.0.2 (the server).
fn plain_pair() -> vimage::Host {
    let h = common::pair_lab("10.0.0.1/24", "10.0.0.2/24");
    ok(&h, "jexec b iperf3 -s &");
    h
}

/// A link's goodput at `rate` bit/s: TCP's 1448 bytes (timestamps on) of
/// every 1514-byte frame.
fn goodput_mbits(rate: f64) -> f64 {
    rate * 1448.0 / 1514.0 / 1e6
}

#[test]
fn a_plain_link_runs_at_its_line_rate() {
    // Every epair is 10Gbase-T (ifconfig says so); under the virtual clock
    // frames take their serialization time, so TCP fills the line.
    let h = plain_pair();
    let media = ok(&h, "jexec a ifconfig epair0a");
    assert!(
        media.contains("\tmedia: Ethernet 10Gbase-T (10Gbase-T <full-duplex>)\n"),
        "{media}"
    );
    let out = ok(&h, "jexec a iperf3 -c 10.0.0.2 -t 1");
    let rate = mbits(&out, "receiver");
    let line = goodput_mbits(10e9);
    assert!(rate >= 0.95 * line && rate <= 1.001 * line, "{rate} of {line}: {out}");
    // A datagram stream at a tenth of the line loses nothing.
    let out = ok(&h, "jexec a iperf3 -c 10.0.0.2 -u -b 1G -t 1");
    let l = out.lines().find(|l| l.ends_with("receiver")).expect("receiver");
    assert!(l.contains(" 0/") && l.contains(" (0%)"), "{out}");
    assert!((990.0..=1010.0).contains(&mbits(&out, "receiver")), "{out}");
}

#[test]
fn the_media_sets_the_line_rate() {
    let h = plain_pair();
    ok(&h, "jexec a ifconfig epair0a media 1000baseT");
    ok(&h, "jexec b ifconfig epair0b media 1000baseT");
    let media = ok(&h, "jexec a ifconfig epair0a");
    assert!(
        media.contains("\tmedia: Ethernet 1000baseT (1000baseT <full-duplex>)\n"),
        "{media}"
    );
    let out = ok(&h, "jexec a iperf3 -c 10.0.0.2 -t 2");
    let rate = mbits(&out, "receiver");
    let line = goodput_mbits(1e9);
    assert!(rate >= 0.95 * line && rate <= 1.001 * line, "{rate} of {line}: {out}");
    // More than the line can carry: the sender's queue fills, sendto says
    // ENOBUFS and iperf3 sends less (nothing is lost on the way).
    let out = ok(&h, "jexec a iperf3 -c 10.0.0.2 -u -b 2G -t 1");
    let l = out.lines().find(|l| l.ends_with("receiver")).expect("receiver");
    assert!(l.contains(" 0/") && l.contains(" (0%)"), "{out}");
    assert!(mbits(&out, "receiver") <= 1000.0, "{out}");
    let v = common::vnet(&h, "a");
    let oqdrops = h
        .kernel()
        .vnet(v)
        .expect("vnet")
        .builtin(vimage::net::ifnet::IF)
        .by_name("epair0a")
        .expect("if")
        .counters
        .oqdrops;
    assert!(oqdrops > 0, "the queue overflowed: counted as output drops");
    let o = h.exec("jexec a ifconfig epair0a media 7Gbase-T");
    assert_eq!(o.stderr, "ifconfig: unknown media subtype: 7Gbase-T\n");
    let o = h.exec("jexec a ifconfig lo0 media 1000baseT");
    assert_eq!(o.stderr, "ifconfig: SIOCSIFMEDIA (media): Device not configured\n");
}

#[test]
fn ipv6_fills_the_same_link_and_the_server_takes_both_families() {
    // One server (no -4 or -6: both families, as iperf3's dual-stack
    // socket), a client of each family through the router.
    let h = lab(1, "bw 50Mbit/s delay 5ms queue 100");
    common::run(
        &h,
        "jexec a ifconfig epair0a inet6 2001:db8:1::2/64 no_dad
         jexec r ifconfig epair0b inet6 2001:db8:1::1/64 no_dad
         jexec r ifconfig epair1a inet6 2001:db8:2::1/64 no_dad
         jexec b ifconfig epair1b inet6 2001:db8:2::2/64 no_dad
         jexec r sysctl net.inet6.ip6.forwarding=1
         jexec a route -6 add default 2001:db8:1::1
         jexec b route -6 add default 2001:db8:2::1",
    );
    let out = ok(&h, "jexec a iperf3 -6 -c 2001:db8:2::2 -t 4");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Connecting to host 2001:db8:2::2, port 5201");
    assert!(
        lines[1].starts_with("[  4] local 2001:db8:1::2 port ")
            && lines[1].ends_with(" connected to 2001:db8:2::2 port 5201"),
        "{out}"
    );
    let rate = mbits(&out, "receiver");
    assert!(
        (35.0..=50.0).contains(&rate),
        "50 Mbit/s less IPv6's 20 more header bytes: {rate}"
    );
    let v4 = ok(&h, "jexec a iperf3 -4 -c 10.0.2.2 -t 1");
    assert!(v4.contains("iperf Done."), "{v4}");
    let u = ok(&h, "jexec a iperf3 -c 2001:db8:2::2 -u -b 10M -t 1");
    assert!(u.contains("0/") && u.contains("receiver"), "{u}");
    let e = h.exec("jexec a iperf3 -4 -c 2001:db8:2::2");
    assert!(e.stderr.contains("unable to resolve host"), "{e:?}");
}
