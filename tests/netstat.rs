//! netstat(1)'s interface and queue views as FreeBSD 14 prints them:
//! `-L` (listen queues), `-i` with `-b`/`-d` and `-I`, and `-w` (the
//! traffic every N seconds, a delta a line).

mod common;

use common::{ok, pair_lab};

fn lab() -> vimage::Host {
    let h = pair_lab("10.0.0.1/24", "10.0.0.2/24");
    ok(&h, "jexec b nc -l 80 > /dev/null &");
    ok(&h, "jexec b iperf3 -s > /dev/null &");
    ok(&h, "jexec a ping -c 3 10.0.0.2");
    h
}

#[test]
fn listen_queues() {
    // iperf3 -s listens for both families on one socket (tcp46).
    let h = lab();
    assert_eq!(
        ok(&h, "jexec b netstat -Lan"),
        "Current listen queue sizes (qlen/incqlen/maxqlen)\n\
         Proto Listen                           Local Address         \n\
         tcp46 0/0/128                          *.5201                 \n\
         tcp4  0/0/1                            *.80                   \n"
    );
    assert_eq!(ok(&h, "jexec a netstat -L"), "", "a listens on nothing");
}

#[test]
fn interfaces_with_bytes_drops_and_one_interface() {
    let h = lab();
    assert_eq!(
        ok(&h, "jexec a netstat -i"),
        "Name      Mtu Network      Address              Ipkts Ierrs Idrop    Opkts Oerrs  Coll\n\
         lo0     16384 <Link#2>                              0     0     0        0     0     0\n\
         lo0     16384 127.0.0.0/8  127.0.0.1                0     -     -        0     -     -\n\
         epair0a  1500 <Link#4>     02:00:00:00:03:0a        7     0     0        7     0     0\n\
         epair0a  1500 10.0.0.0/24  10.0.0.1                 7     -     -        7     -     -\n"
    );
    assert_eq!(
        ok(&h, "jexec a netstat -I epair0a -b -d"),
        "Name      Mtu Network      Address              Ipkts Ierrs Idrop     Ibytes    Opkts Oerrs     Obytes  Coll  Drop\n\
         epair0a  1500 <Link#4>     02:00:00:00:03:0a        7     0     0        582        7     0        582     0     0 \n\
         epair0a  1500 10.0.0.0/24  10.0.0.1                 7     -     -        582        7     -        582     -     - \n"
    );
}

#[test]
fn traffic_every_second() {
    let h = lab();
    ok(&h, "jexec a ping -c 5 -i 0.5 10.0.0.2 > /dev/null &");
    let out = ok(&h, "jexec a netstat -w 1 -q 3");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "            input        (Total)           output");
    assert_eq!(
        lines[1],
        "   packets  errs idrops      bytes    packets  errs      bytes colls"
    );
    assert_eq!(lines.len(), 5, "{out}");
    // Deltas: the echoes out and their replies in, 98 bytes each (the
    // three seconds see four or five of them).
    let col = |i: usize| -> u64 {
        lines[2..]
            .iter()
            .map(|l| {
                l.split_whitespace()
                    .nth(i)
                    .and_then(|x| x.parse::<u64>().ok())
                    .unwrap_or(999)
            })
            .sum()
    };
    let n = col(0);
    assert!((4..=5).contains(&n), "{out}");
    assert_eq!((col(3), col(4), col(6)), (98 * n, n, 98 * n), "{out}");
    let out = ok(&h, "jexec a netstat -w 1 -q 1 -I epair0a");
    assert!(
        out.starts_with("            input        epair0a           output\n"),
        "{out}"
    );
    let o = h.exec("jexec a netstat -w 1 -q 1 -I nope0");
    assert_eq!(
        (o.status, o.stderr.as_str()),
        (65, "netstat: interface nope0 not found\n")
    );
}
