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

impl Drop for Frr {
    fn drop(&mut self) {
        for pid in ["zebra", "ripd", "ospfd", "bgpd"] {
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
    sh(&format!("ip netns add {}", ns.0));
    sh(&format!("ip -n {} link set lo up", ns.0));
    // 10.60.1.0/24 is FRR's alone, 10.50.1.1 ours alone.
    sh(&format!("ip -n {} addr add 10.60.1.1/24 dev lo", ns.0));
    let h = Host::new(Config {
        clock: ClockKind::Real,
        ..Config::default()
    });
    for line in [
        "jail -c name=r vnet persist".to_string(),
        format!("ifconfig tap0 create tapdev {dev}"),
        "ifconfig tap0 vnet r".into(),
        "jexec r ifconfig tap0 inet 10.99.51.1/24 up".into(),
        "jexec r ifconfig lo0 inet 10.50.1.1/32 alias".into(),
        "jexec r sysctl net.inet.ip.forwarding=1".into(),
        format!("jexec r ripd -d -f {}", ours.display()),
    ] {
        let o = h.exec(&line);
        assert!(o.success(), "{line}: {o:?}");
    }
    sh(&format!("ip link set {dev} netns {}", ns.0));
    sh(&format!("ip -n {} addr add 10.99.51.2/24 dev {dev}", ns.0));
    sh(&format!("ip -n {} link set {dev} up", ns.0));
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
