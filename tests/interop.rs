//! TCP and UDP against the Linux kernel, through a TAP device into a
//! network namespace: Linux's nc, curl and iperf3 talk to vimage's nc and
//! iperf3 and the other way round, byte for byte, also across a lossy,
//! slow link. Needs root and /dev/net/tun (skipped, with the reason,
//! otherwise); installs iperf3, netcat-openbsd and curl if missing.

mod common;

use common::{Netns, drive, sh, spawn};
use vimage::{ClockKind, Config, Host};

/// Jail `h` owns tap0 (10.99.`n`.1/24); its other end is in a Linux
/// namespace as 10.99.`n`.2. `pipe` emulates the link on vimage's side.
struct Lab {
    host: Host,
    ns: Netns,
    us: String,
    linux: String,
}

fn lab(n: u8, pipe: &str) -> Option<Lab> {
    if !common::can_tap() {
        return None;
    }
    for (tool, pkg) in [
        ("ip", "iproute2"),
        ("iperf3", "iperf3"),
        ("nc", "netcat-openbsd"),
        ("curl", "curl"),
    ] {
        if !common::ensure_tool(tool, pkg) {
            return None;
        }
    }
    let pid = std::process::id();
    let ns = Netns(format!("vio{n}x{pid}"));
    let dev = format!("vio{n}x{pid}");
    let (us, linux) = (format!("10.99.{n}.1"), format!("10.99.{n}.2"));
    sh(&format!("ip netns add {}", ns.0));
    let host = Host::new(Config {
        clock: ClockKind::Real,
        seed: u64::from(n),
        ..Config::default()
    });
    for line in [
        "jail -c name=h vnet persist".to_string(),
        format!("ifconfig tap0 create tapdev {dev}"),
        "ifconfig tap0 vnet h".into(),
        format!("jexec h ifconfig tap0 inet {us}/24 up"),
    ] {
        let o = host.exec(&line);
        assert!(o.success(), "{line}: {o:?}");
    }
    if !pipe.is_empty() {
        let o = host.exec(&format!("jexec h pipe tap0 config {pipe}"));
        assert!(o.success(), "{o:?}");
    }
    let nsn = &ns.0;
    sh(&format!("ip link set {dev} netns {nsn}"));
    sh(&format!("ip -n {nsn} link set lo up"));
    sh(&format!("ip -n {nsn} addr add {linux}/24 dev {dev}"));
    sh(&format!("ip -n {nsn} link set {dev} up"));
    // Linux's TCP must not depend on offloads a TAP peer never does.
    let _ = std::process::Command::new("ip")
        .args([
            "netns", "exec", nsn, "ethtool", "-K", &dev, "tso", "off", "gso", "off", "gro", "off",
        ])
        .output();
    Some(Lab { host, ns, us, linux })
}

impl Lab {
    fn linux(&self, cmd: &str) -> std::process::Child {
        spawn(&format!("ip netns exec {} {cmd}", self.ns.0))
    }

    fn exec(&self, cmd: &str) -> vimage::Output {
        self.host.exec(cmd)
    }
}

/// Files both ways with nc, and a web page fetched by curl.
fn files_and_web(l: &Lab, tag: &str) {
    let dir = common::tmpdir(tag);
    let (us, linux) = (&l.us, &l.linux);
    // Linux nc -> vimage nc -l.
    let up = common::random_bytes(2_000_000, 1);
    std::fs::write(dir.join("up"), &up).expect("write");
    let got = dir.join("got-up");
    assert!(l.exec(&format!("jexec h nc -l 7000 > {} &", got.display())).success());
    let out = drive(
        &l.host,
        l.linux(&format!("nc -N -w 10 {us} 7000 < {}", dir.join("up").display())),
    );
    l.host.run_for(std::time::Duration::from_millis(300));
    assert_eq!(std::fs::read(&got).unwrap_or_default(), up, "Linux to vimage: {out}");
    // vimage nc -> Linux nc -l.
    let down = common::random_bytes(1_500_000, 2);
    std::fs::write(dir.join("down"), &down).expect("write");
    let linux_got = dir.join("got-down");
    let server = l.linux(&format!("nc -l -w 10 {linux} 7001 > {}", linux_got.display()));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let o = l.exec(&format!(
        "jexec h nc -N -w 10 {linux} 7001 < {}",
        dir.join("down").display()
    ));
    assert_eq!(o.status, 0, "{o:?}");
    let out = drive(&l.host, server);
    assert_eq!(
        std::fs::read(&linux_got).unwrap_or_default(),
        down,
        "vimage to Linux: {out}"
    );
    // curl fetches a page that vimage's nc serves.
    let body = "<h1>Hello from a vnet</h1>\n".repeat(2000);
    let page = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    std::fs::write(dir.join("page"), &page).expect("write");
    assert!(
        l.exec(&format!("jexec h nc -l 8080 < {} &", dir.join("page").display()))
            .success()
    );
    let out = drive(&l.host, l.linux(&format!("curl -s -m 10 http://{us}:8080/index.html")));
    assert!(out == body, "curl got {} bytes, not the page", out.len());
}

/// Linux's iperf3 against ours, both directions; ours against Linux's.
fn iperf3_both_ways(l: &Lab, secs: u32) {
    let (us, linux) = (&l.us, &l.linux);
    assert!(l.exec("jexec h iperf3 -s &").success());
    for flags in ["", "-R"] {
        let out = drive(&l.host, l.linux(&format!("iperf3 -c {us} -t {secs} {flags}")));
        assert!(
            out.contains("iperf Done.") && !out.contains("error"),
            "iperf3 {flags}: {out}"
        );
        let receiver = out.lines().find(|l| l.ends_with("receiver")).unwrap_or("");
        assert!(!receiver.contains(" 0.00 Bytes"), "{out}");
    }
    let server = l.linux(&format!("iperf3 -s -1 -B {linux}"));
    std::thread::sleep(std::time::Duration::from_millis(500));
    let o = l.exec(&format!("jexec h iperf3 -c {linux} -t 2"));
    assert!(o.success() && o.stdout.ends_with("iperf Done.\n"), "{o:?}");
    let out = drive(&l.host, server);
    assert!(
        out.contains("receiver") && !out.contains("error"),
        "Linux server: {out}"
    );
}

#[test]
fn linux_nc_curl_and_iperf3_talk_to_vimage() {
    let Some(l) = lab(1, "") else { return };
    files_and_web(&l, "interop-clean");
    iperf3_both_ways(&l, 5);
    // UDP: Linux's iperf3 sends at a rate and sees our receiver's report.
    let out = drive(&l.host, l.linux(&format!("iperf3 -c {} -u -b 20M -t 2", l.us)));
    assert!(out.contains("iperf Done.") && out.contains("receiver"), "{out}");
}

#[test]
fn through_two_percent_loss_and_ten_ms_delay() {
    let Some(l) = lab(2, "plr 0.02 delay 10ms") else { return };
    files_and_web(&l, "interop-lossy");
    iperf3_both_ways(&l, 5);
    let s = l.exec("jexec h netstat -s -p tcp").stdout;
    assert!(
        !s.contains("\t\t0 data packets (0 bytes) retransmitted"),
        "loss means retransmissions: {s}"
    );
}
