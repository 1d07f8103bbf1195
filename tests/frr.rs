//! vimage's routing daemons against FRR 8.4 (Debian's frr) running in a
//! Linux network namespace joined through a TAP device: adjacency and
//! routes learned both ways, and a vimage host reaching a prefix only FRR
//! announced. Needs root and /dev/net/tun (skipped, with the reason,
//! otherwise); installs frr if missing.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Netns, sh};
use vimage::{ClockKind, Config, Host};

/// FRR's zebra and a protocol daemon in a namespace, with their own
/// sockets and pid files in `dir`; stopped however the test ends.
struct Frr {
    ns: String,
    dir: PathBuf,
}

impl Frr {
    fn start(ns: &str, dir: &Path, conf: &str, daemon: &str) -> Frr {
        std::fs::create_dir_all(dir).expect("dir");
        let f = dir.join("frr.conf");
        std::fs::write(&f, conf).expect("conf");
        sh(&format!("chown -R frr:frr {0} && chmod 755 {0}", dir.display()));
        let d = dir.display();
        for prog in ["zebra", daemon] {
            sh(&format!(
                "ip netns exec {ns} /usr/lib/frr/{prog} -d -f {f} -i {d}/{prog}.pid -z {d}/zserv.api --vty_socket {d}",
                f = f.display()
            ));
        }
        Frr {
            ns: ns.to_string(),
            dir: dir.to_path_buf(),
        }
    }

    /// `vtysh -c CMD` against these daemons.
    fn vtysh(&self, cmd: &str) -> String {
        sh(&format!(
            "ip netns exec {} vtysh --vty_socket {} -c '{cmd}'",
            self.ns,
            self.dir.display()
        ))
    }
}

impl Frr {
    /// `configure terminal` and `lines`.
    fn vtysh_config(&self, lines: &[&str]) -> String {
        let mut cmd = format!(
            "ip netns exec {} vtysh --vty_socket {} -c 'configure terminal'",
            self.ns,
            self.dir.display()
        );
        for l in lines {
            cmd += &format!(" -c '{l}'");
        }
        sh(&cmd)
    }
}

impl Drop for Frr {
    fn drop(&mut self) {
        for pid in ["zebra", "ripd", "ripngd", "ospfd", "bgpd"] {
            if let Ok(p) = std::fs::read_to_string(self.dir.join(format!("{pid}.pid"))) {
                let _ = std::process::Command::new("kill").arg(p.trim()).status();
            }
        }
    }
}

/// Whether FRR can run here; says why not.
fn have_frr() -> bool {
    if !common::tap_with(&[("ip", "iproute2"), ("vtysh", "frr")]) {
        return false;
    }
    let ok = Path::new("/usr/lib/frr/zebra").exists();
    if !ok {
        eprintln!("skipped: frr installed without /usr/lib/frr/zebra");
    }
    ok
}

/// Run the engine until `done` holds (at most `secs` seconds).
fn drive_until(h: &Host, secs: u64, mut done: impl FnMut(&Host) -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        h.run_for(Duration::from_millis(200));
        if done(h) {
            return true;
        }
    }
    false
}

/// Namespace `ns` with 10.60.1.1/24 on its lo (FRR's alone) and a
/// vimage host whose jail r forwards, has 10.50.1.1/32 on lo0 (ours
/// alone) and tap0 as 10.99.`net`.1/24, and runs `daemon`; the TAP's
/// Linux end `dev` goes into `ns` as 10.99.`net`.2/24.
fn tap_lab(ns: &Netns, dev: &str, net: u8, daemon: &str) -> Host {
    let ours = [
        format!("jexec r ifconfig tap0 inet 10.99.{net}.1/24 up"),
        "jexec r ifconfig lo0 inet 10.50.1.1/32 alias".into(),
        "jexec r sysctl net.inet.ip.forwarding=1".into(),
        format!("jexec r {daemon}"),
    ];
    let theirs = [format!("ip addr add 10.99.{net}.2/24 dev {dev}")];
    tap_jail(ns, dev, "addr add 10.60.1.1/24 dev lo", &ours, &theirs)
}

/// As [`tap_lab`] over IPv6: FRR's 2001:db8:60::1/64, our
/// 2001:db8:50::1/128, the link 2001:db8:99::/64 (and each end's
/// link-local address).
fn tap_lab6(ns: &Netns, dev: &str, daemon: &str) -> Host {
    let ours = [
        "jexec r ifconfig tap0 inet6 2001:db8:99::1/64 up".to_string(),
        "jexec r ifconfig lo0 inet6 2001:db8:50::1/128 alias".into(),
        "jexec r sysctl net.inet6.ip6.forwarding=1".into(),
        format!("jexec r {daemon}"),
    ];
    let theirs = [
        // Its link-local address usable at once, as RIPng's source.
        format!("sysctl -qw net.ipv6.conf.{dev}.accept_dad=0"),
        format!("ip addr add 2001:db8:99::2/64 dev {dev} nodad"),
    ];
    tap_jail(ns, dev, "addr add 2001:db8:60::1/64 dev lo", &ours, &theirs)
}

/// The link-local address of `dev` in namespace `ns`, without its length.
fn linux_linklocal(ns: &Netns, dev: &str) -> String {
    let out = sh(&format!("ip -n {} -6 addr show dev {dev} scope link", ns.0));
    out.split_whitespace()
        .skip_while(|w| *w != "inet6")
        .nth(1)
        .and_then(|a| a.split('/').next())
        .unwrap_or_else(|| panic!("{out}"))
        .to_string()
}

/// Namespace `ns` with `lo` (an `ip addr` command) on its loopback, and
/// jail r on tap0, set up by `ours`; the TAP's Linux end `dev` moved
/// into `ns`, given `theirs` (commands run there) and brought up.
fn tap_jail(ns: &Netns, dev: &str, lo: &str, ours: &[String], theirs: &[String]) -> Host {
    sh(&format!("ip netns add {}", ns.0));
    sh(&format!("ip -n {} link set lo up", ns.0));
    sh(&format!("ip -n {} {lo}", ns.0));
    let h = Host::new(Config {
        clock: ClockKind::Real,
        ..Config::default()
    });
    let head = [
        "jail -c name=r vnet persist".to_string(),
        format!("ifconfig tap0 create tapdev {dev}"),
        "ifconfig tap0 vnet r".into(),
    ];
    for line in head.iter().chain(ours) {
        let o = h.exec(line);
        assert!(o.success(), "{line}: {o:?}");
    }
    sh(&format!("ip link set {dev} netns {}", ns.0));
    for t in theirs {
        sh(&format!("ip netns exec {} {t}", ns.0));
    }
    sh(&format!("ip -n {} link set {dev} up", ns.0));
    h
}

#[test]
fn ripv2_with_frr_both_ways() {
    if !have_frr() {
        return;
    }
    let pid = std::process::id();
    let (ns, dev) = (Netns(format!("vfrr{pid}")), format!("vfrr{pid}"));
    let dir = common::tmpdir("frr-rip");
    let ours = dir.join("vimage.conf");
    std::fs::write(&ours, "router rip\n network 10.0.0.0/8\n").expect("conf");
    // 10.60.1.0/24 is FRR's alone, 10.50.1.1 ours alone.
    let h = tap_lab(&ns, &dev, 51, &format!("ripd -d -f {}", ours.display()));
    let frr = Frr::start(
        &ns.0,
        &dir.join("frr"),
        "frr defaults traditional\nhostname linux\nrouter rip\n network 10.0.0.0/8\n redistribute connected\n",
        "ripd",
    );
    let learned = drive_until(&h, 30, |h| {
        h.exec("jexec r vtysh -c 'show ip rip'")
            .stdout
            .contains("R(n) 10.60.1.0/24")
            && sh(&format!("ip -n {} route", ns.0)).contains("10.50.1.1 ")
    });
    let ours = h.exec("jexec r vtysh -c 'show ip rip'").stdout;
    let theirs = frr.vtysh("show ip rip");
    assert!(learned, "vimage:\n{ours}\nFRR:\n{theirs}");
    assert!(
        ours.contains("R(n) 10.60.1.0/24       10.99.51.2            2 10.99.51.2        0 "),
        "{ours}"
    );
    assert!(
        theirs.contains("R(n) 10.50.1.1/32       10.99.51.1            2 10.99.51.1        0 "),
        "{theirs}"
    );
    let linux = sh(&format!("ip -n {} route", ns.0));
    assert!(
        linux.contains("via 10.99.51.1") && linux.contains("proto rip"),
        "{linux}"
    );
    let rib = h.exec("jexec r netstat -rn -f inet").stdout;
    assert!(
        rib.contains("10.60.1.0/24       10.99.51.2         UG1        tap0"),
        "{rib}"
    );
    // A prefix only FRR announced, reached.
    let ping = h.exec("jexec r ping -c 2 10.60.1.1");
    assert!(ping.stdout.contains("2 packets received"), "{ping:?}");
    // FRR sees us as a neighbour with nothing malformed.
    let status = frr.vtysh("show ip rip status");
    let src = status
        .lines()
        .find(|l| l.trim_start().starts_with("10.99.51.1"))
        .unwrap_or("");
    let n: Vec<&str> = src.split_whitespace().collect();
    assert_eq!(n.get(1..3), Some(&["0", "0"][..]), "{status}");
    h.tasks().kill_all();
}

#[test]
fn ripng_with_frr_both_ways() {
    if !have_frr() {
        return;
    }
    let pid = std::process::id();
    let (ns, dev) = (Netns(format!("vfrg{pid}")), format!("vfrg{pid}"));
    let dir = common::tmpdir("frr-ripng");
    let ours = dir.join("vimage.conf");
    // Short timers: a first message lost while an address is still
    // tentative is told again within seconds, not a regular update later.
    std::fs::write(&ours, "router ripng\n network 2001:db8::/32\n timers basic 5 30 20\n").expect("conf");
    let h = tap_lab6(&ns, &dev, &format!("ripngd -d -f {}", ours.display()));
    let frr = Frr::start(
        &ns.0,
        &dir.join("frr"),
        "frr defaults traditional\nhostname linux\nrouter ripng\n network 2001:db8:99::/64\n redistribute connected\n timers basic 5 30 20\n",
        "ripngd",
    );
    let learned = drive_until(&h, 40, |h| {
        h.exec("jexec r vtysh -c 'show ipv6 ripng'")
            .stdout
            .contains("R(n) 2001:db8:60::/64")
            && sh(&format!("ip -n {} -6 route", ns.0)).contains("2001:db8:50::1 ")
    });
    let ours = h.exec("jexec r vtysh -c 'show ipv6 ripng'").stdout;
    let theirs = frr.vtysh("show ipv6 ripng");
    assert!(learned, "vimage:\n{ours}\nFRR:\n{theirs}");
    // Through FRR's link-local address, on tap0.
    let ll = linux_linklocal(&ns, &dev);
    assert!(
        ours.contains(&format!(
            "R(n) 2001:db8:60::/64 \n                  {ll:<28}tap0       2    0  "
        )),
        "{ours}"
    );
    assert!(theirs.contains("R(n) 2001:db8:50::1/128"), "{theirs}");
    let linux = sh(&format!("ip -n {} -6 route", ns.0));
    let ours_there = linux.lines().find(|l| l.starts_with("2001:db8:50::1 ")).unwrap_or("");
    assert!(
        ours_there.contains(" via fe80::") && ours_there.contains(" proto ripng"),
        "{linux}"
    );
    let rib = h.exec("jexec r netstat -rn -f inet6").stdout;
    let line = rib.lines().find(|l| l.starts_with("2001:db8:60::/64")).unwrap_or("");
    assert!(line.contains(&format!("{ll}%tap0")) && line.contains("UG1"), "{rib}");
    // A prefix only FRR announced, reached.
    let ping = h.exec("jexec r ping6 -c 2 2001:db8:60::1");
    assert!(ping.stdout.contains("2 packets received"), "{ping:?}");
    // FRR takes us as a neighbour with nothing malformed.
    // (The address, then its counters on the next line.)
    let status = frr.vtysh("show ipv6 ripng status");
    let src = status
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("fe80::"))
        .nth(1)
        .unwrap_or("");
    let n: Vec<&str> = src.split_whitespace().collect();
    assert_eq!(n.get(0..2), Some(&["0", "0"][..]), "{status}");
    // And our status reads as theirs does.
    let mine = h.exec("jexec r vtysh -c 'show ipv6 ripng status'").stdout;
    let tail = |s: &str| s.lines().skip(2).take(4).map(str::to_string).collect::<Vec<_>>();
    assert_eq!(tail(&mine), tail(&status), "vimage:\n{mine}\nFRR:\n{status}");
    h.tasks().kill_all();
}

/// ospfd and FRR's ospfd on one broadcast link, `dr` ("vimage" or
/// "frr") made its designated router by the other's priority 0, the
/// link in `area` (not 0: we are an ABR, our lo0 in the backbone): both
/// Full, the databases alike to the checksum, and routes both ways.
fn ospf_with_frr(dr: &str, area: u8) {
    if !have_frr() {
        return;
    }
    let pid = std::process::id();
    let tag = format!("{}{area}", if dr == "frr" { "f" } else { "v" });
    let (ns, dev) = (Netns(format!("vo{pid}{tag}")), format!("vo{pid}{tag}"));
    let dir = common::tmpdir(&format!("frr-ospf-{dr}{area}"));
    let timers = " ip ospf hello-interval 1\n ip ospf dead-interval 4\n";
    let (our_prio, their_prio) = if dr == "frr" { (0, 1) } else { (1, 0) };
    let ours = dir.join("vimage.conf");
    std::fs::write(
        &ours,
        format!(
            "interface tap0\n{timers} ip ospf priority {our_prio}\nrouter ospf\n network 10.99.52.0/24 area {area}\n \
             network 10.50.1.1/32 area 0\n"
        ),
    )
    .expect("conf");
    // 10.60.1.0/24 is FRR's alone (redistributed: an AS-external LSA),
    // 10.50.1.1 ours alone (a stub link of our router LSA).
    let h = tap_lab(&ns, &dev, 52, &format!("ospfd -d -f {}", ours.display()));
    let frr = Frr::start(
        &ns.0,
        &dir.join("frr"),
        &format!(
            "frr defaults traditional\nhostname linux\ninterface {dev}\n{timers} ip ospf priority {their_prio}\n\
             router ospf\n ospf router-id 10.60.1.1\n network 10.99.52.0/24 area {area}\n redistribute connected\n"
        ),
        "ospfd",
    );
    let learned = drive_until(&h, 40, |h| {
        h.exec("jexec r vtysh -c 'show ip route ospf'")
            .stdout
            .contains("O>* 10.60.1.0/24 [110/20] via 10.99.52.2, tap0")
            && sh(&format!("ip -n {} route", ns.0)).contains("10.50.1.1 ")
    });
    let (our_role, their_role) = if dr == "frr" {
        ("DR", "DROther")
    } else {
        ("DROther", "DR")
    };
    let ours = h.exec("jexec r vtysh -c 'show ip ospf neighbor'").stdout;
    let theirs = frr.vtysh("show ip ospf neighbor");
    let routes = h.exec("jexec r vtysh -c 'show ip route'").stdout;
    let linux = sh(&format!("ip -n {} route", ns.0));
    assert!(learned, "vimage:\n{ours}{routes}\nFRR:\n{theirs}{linux}");
    assert!(
        ours.contains(&format!("10.60.1.1         {their_prio} Full/{our_role} ")),
        "{ours}"
    );
    assert!(
        theirs.contains(&format!("10.50.1.1         {our_prio} Full/{their_role} ")),
        "{theirs}"
    );
    // Every LSA FRR holds we hold, the same instance: ID, router,
    // sequence number and checksum.
    let lsas = |db: &str| -> Vec<String> {
        db.lines()
            .filter(|l| l.contains(" 0x8"))
            .map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                let (id, adv) = (w.first().copied().unwrap_or(""), w.get(1).copied().unwrap_or(""));
                let tail: Vec<&str> = w.iter().skip(3).take(2).copied().collect();
                format!("{id} {adv} {}", tail.join(" "))
            })
            .collect()
    };
    let db_theirs = frr.vtysh("show ip ospf database");
    let db_ours = h.exec("jexec r vtysh -c 'show ip ospf database'").stdout;
    let (mut a, mut b) = (lsas(&db_ours), lsas(&db_theirs));
    a.sort();
    b.sort();
    // As an ABR we hold the backbone's too.
    let same = if area == 0 {
        a == b
    } else {
        b.iter().all(|l| a.contains(l))
    };
    assert!(!b.is_empty() && same, "vimage:\n{db_ours}\nFRR:\n{db_theirs}");
    assert!(
        linux.contains("via 10.99.52.1") && linux.contains("proto ospf"),
        "{linux}"
    );
    let rib = h.exec("jexec r netstat -rn -f inet").stdout;
    assert!(
        rib.contains("10.60.1.0/24       10.99.52.2         UG1        tap0"),
        "{rib}"
    );
    let ping = h.exec("jexec r ping -c 2 10.60.1.1");
    assert!(ping.stdout.contains("2 packets received"), "{ping:?}");
    let general = h.exec("jexec r vtysh -c 'show ip ospf'").stdout;
    assert!(
        general.contains("misaddressed 0\n"),
        "FRR sent us nothing we refused: {general}"
    );
    h.tasks().kill_all();
}

#[test]
fn ospf_with_frr_as_dr() {
    ospf_with_frr("frr", 0);
}

#[test]
fn ospf_with_frr_as_drother() {
    ospf_with_frr("vimage", 0);
}

/// We are the area border router: FRR in area 1 learns our backbone's
/// 10.50.1.1/32 from our summary LSA.
#[test]
fn ospf_with_frr_behind_our_abr() {
    ospf_with_frr("vimage", 1);
}

/// bgpd and FRR's bgpd in an eBGP session: FRR with its default
/// `bgp ebgp-requires-policy` and a route map both ways, we without; both
/// Established, each one's prefixes in the other's table and kernel, a
/// vimage host reaching FRR's prefix; then FRR withdraws it.
#[test]
fn bgp_with_frr_both_ways() {
    if !have_frr() {
        return;
    }
    let pid = std::process::id();
    let (ns, dev) = (Netns(format!("vfrb{pid}")), format!("vfrb{pid}"));
    let dir = common::tmpdir("frr-bgp");
    let ours = dir.join("vimage.conf");
    std::fs::write(
        &ours,
        "router bgp 65001\n no bgp ebgp-requires-policy\n neighbor 10.99.53.2 remote-as 65002\n \
         neighbor 10.99.53.2 timers 3 9\n address-family ipv4 unicast\n  redistribute connected\n exit-address-family\n",
    )
    .expect("conf");
    let h = tap_lab(&ns, &dev, 53, &format!("bgpd -d -f {}", ours.display()));
    // Both sides' messages as Linux sees them, for tshark.
    let pcap = dir.join("bgp.pcap");
    let mut dump = common::spawn(&format!(
        "exec ip netns exec {} tcpdump -U -i {dev} -w {} tcp port 179",
        ns.0,
        pcap.display()
    ));
    std::thread::sleep(Duration::from_millis(300));
    let frr = Frr::start(
        &ns.0,
        &dir.join("frr"),
        "frr defaults traditional\nhostname linux\nrouter bgp 65002\n bgp router-id 10.99.53.2\n \
         neighbor 10.99.53.1 remote-as 65001\n neighbor 10.99.53.1 timers 3 9\n \
         address-family ipv4 unicast\n  network 10.60.1.0/24\n  neighbor 10.99.53.1 route-map ALL in\n  \
         neighbor 10.99.53.1 route-map ALL out\n exit-address-family\n!\nroute-map ALL permit 10\n",
        "bgpd",
    );
    let learned = drive_until(&h, 40, |h| {
        h.exec("jexec r netstat -rn -f inet").stdout.contains("10.60.1.0/24")
            && sh(&format!("ip -n {} route", ns.0)).contains("10.50.1.1 ")
    });
    let ours = h.exec("jexec r vtysh -c 'show bgp summary'").stdout;
    let theirs = frr.vtysh("show bgp summary");
    assert!(
        learned,
        "vimage:\n{ours}\nFRR:\n{theirs}\n{}",
        frr.vtysh("show bgp neighbors")
    );
    // Each has the other's prefixes: FRR ours (10.50.1.1/32 and the
    // link), we FRR's one.
    let line = |s: &str, who: &str| s.lines().find(|l| l.starts_with(who)).unwrap_or("").to_string();
    assert!(
        line(&ours, "10.99.53.2 ").starts_with("10.99.53.2      4      65002 "),
        "{ours}"
    );
    assert!(
        line(&ours, "10.99.53.2 ").ends_with("            1        3 N/A"),
        "{ours}"
    );
    assert!(
        line(&theirs, "10.99.53.1 ").ends_with("            2        3 N/A"),
        "{theirs}"
    );
    let t = frr.vtysh("show bgp ipv4 unicast");
    assert!(
        t.contains("*> 10.50.1.1/32     10.99.53.1               0             0 65001 ?"),
        "{t}"
    );
    let linux = sh(&format!("ip -n {} route", ns.0));
    assert!(
        linux.contains("10.50.1.1 nhid") && linux.contains(" via 10.99.53.1 dev ") && linux.contains("proto bgp"),
        "{linux}"
    );
    let rib = h.exec("jexec r netstat -rn -f inet").stdout;
    assert!(
        rib.contains("10.60.1.0/24       10.99.53.2         UG1        tap0"),
        "{rib}"
    );
    let tbl = h.exec("jexec r vtysh -c 'show bgp ipv4 unicast'").stdout;
    assert!(
        tbl.contains("*> 10.60.1.0/24     10.99.53.2               0             0 65002 i"),
        "{tbl}"
    );
    let ping = h.exec("jexec r ping -c 2 10.60.1.1");
    assert!(ping.stdout.contains("2 packets received"), "{ping:?}");
    // FRR withdraws its network: gone here too.
    frr.vtysh_config(&[
        "router bgp 65002",
        "address-family ipv4 unicast",
        "no network 10.60.1.0/24",
    ]);
    let gone = drive_until(&h, 20, |h| {
        !h.exec("jexec r netstat -rn -f inet").stdout.contains("10.60.1.0/24")
    });
    assert!(gone, "{}", h.exec("jexec r vtysh -c 'show bgp ipv4 unicast'").stdout);
    // Nothing we sent made FRR reset the session.
    let n = frr.vtysh("show bgp neighbors 10.99.53.1");
    assert!(
        n.contains("BGP state = Established") && n.contains("Connections established 1; dropped 0"),
        "{n}"
    );
    let _ = dump.kill();
    let _ = dump.wait();
    if let Some(bad) = common::tshark_bad_packets(&pcap) {
        assert_eq!(bad, "", "tshark: nothing malformed, checksums right");
        let opens = common::tshark_frames(&pcap, "bgp.type == 1", &["ip.src", "bgp.open.myas"]).unwrap_or_default();
        assert!(
            opens.contains("10.99.53.1\t65001") && opens.contains("10.99.53.2\t65002"),
            "{opens}"
        );
    }
    h.tasks().kill_all();
}

/// IPv6 unicast with FRR's bgpd over an IPv4 session (RFC 4760, RFC
/// 2545): both activate it, each one's IPv6 prefixes reach the other's
/// table and kernel through the link-local next hop, a vimage host
/// pings FRR's prefix, FRR's withdrawal in MP_UNREACH takes it away,
/// and tshark reads both sides' MP_REACH_NLRI.
#[test]
fn bgp_ipv6_with_frr_both_ways() {
    if !have_frr() {
        return;
    }
    let pid = std::process::id();
    let (ns, dev) = (Netns(format!("vfr6{pid}")), format!("vfr6{pid}"));
    let dir = common::tmpdir("frr-bgp6");
    let conf = dir.join("vimage.conf");
    std::fs::write(
        &conf,
        "router bgp 65001\n no bgp ebgp-requires-policy\n neighbor 10.99.54.2 remote-as 65002\n \
         neighbor 10.99.54.2 timers 3 9\n address-family ipv6 unicast\n  redistribute connected\n  \
         neighbor 10.99.54.2 activate\n exit-address-family\n",
    )
    .expect("conf");
    let ours = [
        "jexec r ifconfig tap0 inet 10.99.54.1/24 up".to_string(),
        "jexec r ifconfig tap0 inet6 2001:db8:99::1/64".into(),
        "jexec r ifconfig lo0 inet6 2001:db8:50::1/128 alias".into(),
        "jexec r sysctl net.inet6.ip6.forwarding=1".into(),
        format!("jexec r bgpd -d -f {}", conf.display()),
    ];
    let theirs = [
        "ip addr add 10.99.54.2/24 dev DEV".replace("DEV", &dev),
        format!("sysctl -qw net.ipv6.conf.{dev}.accept_dad=0"),
        format!("ip addr add 2001:db8:99::2/64 dev {dev} nodad"),
    ];
    let h = tap_jail(&ns, &dev, "addr add 2001:db8:60::1/64 dev lo", &ours, &theirs);
    let pcap = dir.join("bgp6.pcap");
    let mut dump = common::spawn(&format!(
        "exec ip netns exec {} tcpdump -U -i {dev} -w {} tcp port 179",
        ns.0,
        pcap.display()
    ));
    std::thread::sleep(Duration::from_millis(300));
    let frr = Frr::start(
        &ns.0,
        &dir.join("frr"),
        "frr defaults traditional\nhostname linux\nrouter bgp 65002\n bgp router-id 10.99.54.2\n \
         neighbor 10.99.54.1 remote-as 65001\n neighbor 10.99.54.1 timers 3 9\n \
         address-family ipv6 unicast\n  network 2001:db8:60::/64\n  neighbor 10.99.54.1 activate\n  \
         neighbor 10.99.54.1 route-map ALL in\n  neighbor 10.99.54.1 route-map ALL out\n exit-address-family\n\
         !\nroute-map ALL permit 10\n",
        "bgpd",
    );
    let learned = drive_until(&h, 40, |h| {
        h.exec("jexec r netstat -rn -f inet6")
            .stdout
            .contains("2001:db8:60::/64")
            && sh(&format!("ip -n {} -6 route", ns.0)).contains("2001:db8:50::1 ")
    });
    let sum = h.exec("jexec r vtysh -c 'show bgp summary'").stdout;
    let theirs = frr.vtysh("show bgp ipv6 unicast summary");
    assert!(
        learned,
        "vimage:\n{sum}\n{}\nFRR:\n{theirs}\n{}",
        h.exec("jexec r vtysh -c 'show bgp ipv6 unicast'").stdout,
        frr.vtysh("show bgp ipv6 unicast")
    );
    // FRR's link-local address: its next hop, and our gateway.
    let ll = linux_linklocal(&ns, &dev);
    let v6 = sum
        .split("IPv6 Unicast Summary (VRF default):\n")
        .nth(1)
        .unwrap_or_default();
    let row = |s: &str| s.lines().find(|l| l.starts_with("10.99.54.")).unwrap_or("").to_string();
    // Ours: FRR's one prefix in; our two (the link, the loopback) and
    // FRR's out, which FRR refuses (its own AS), as in IPv4.
    assert!(row(v6).ends_with("            1        3 N/A"), "{sum}");
    assert!(row(&theirs).ends_with("            2        3 N/A"), "{theirs}");
    let t = frr.vtysh("show bgp ipv6 unicast 2001:db8:50::1/128");
    assert!(
        t.contains("\n  65001\n    2001:db8:99::1 from 10.99.54.1 (10.99.54.1)\n"),
        "{t}"
    );
    let linux = sh(&format!("ip -n {} -6 route", ns.0));
    assert!(
        linux.contains("2001:db8:50::1 nhid") && linux.contains(" via fe80::") && linux.contains("proto bgp"),
        "{linux}"
    );
    let rib = h.exec("jexec r netstat -rn -f inet6").stdout;
    let line = rib
        .lines()
        .find(|l| l.starts_with("2001:db8:60::/64 "))
        .unwrap_or_default();
    assert_eq!(
        line.split_whitespace().take(3).collect::<Vec<_>>(),
        ["2001:db8:60::/64", &format!("{ll}%tap0"), "UG1"],
        "{rib}"
    );
    let ping = h.exec("jexec r ping6 -c 2 2001:db8:60::1");
    assert!(ping.stdout.contains("2 packets received"), "{ping:?}");
    frr.vtysh_config(&[
        "router bgp 65002",
        "address-family ipv6 unicast",
        "no network 2001:db8:60::/64",
    ]);
    let gone = drive_until(&h, 20, |h| {
        !h.exec("jexec r netstat -rn -f inet6")
            .stdout
            .contains("2001:db8:60::/64")
    });
    assert!(gone, "{}", h.exec("jexec r vtysh -c 'show bgp ipv6 unicast'").stdout);
    let n = frr.vtysh("show bgp neighbors 10.99.54.1");
    assert!(
        n.contains("BGP state = Established") && n.contains("Connections established 1; dropped 0"),
        "{n}"
    );
    let _ = dump.kill();
    let _ = dump.wait();
    if let Some(bad) = common::tshark_bad_packets(&pcap) {
        assert_eq!(bad, "", "tshark: nothing malformed, checksums right");
        let reach = common::tshark_frames(
            &pcap,
            "bgp.update.path_attribute.mp_reach_nlri.afi == 2",
            &["ip.src", "bgp.update.path_attribute.mp_reach_nlri.next_hop.ipv6"],
        )
        .unwrap_or_default();
        assert!(
            reach.contains("10.99.54.1\t2001:db8:99::1") && reach.contains("10.99.54.2\t2001:db8:99::2"),
            "{reach}"
        );
    }
    h.tasks().kill_all();
}
