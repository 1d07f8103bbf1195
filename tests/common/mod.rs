//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

/// apt-get runs one at a time, however many tests want packages.
static APT: Mutex<()> = Mutex::new(());

/// `n` pseudo-random bytes (xorshift64), the same for the same seed.
pub fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Are we root (so we may install packages and make TAP devices)?
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// Make sure `tool` is on the machine, installing Debian `package` if we
/// can. False (after printing why) when it cannot be had.
pub fn ensure_tool(tool: &str, package: &str) -> bool {
    let have = || {
        Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if have() {
        return true;
    }
    if !is_root() {
        eprintln!("skipped: {tool} is not installed and we are not root to install {package}");
        return false;
    }
    let _g = APT.lock().unwrap_or_else(|e| e.into_inner());
    if have() {
        return true;
    }
    let script = format!(
        "echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections; \
         (DEBIAN_FRONTEND=noninteractive apt-get install -y -q {package} || \
          (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q {package})) >/dev/null 2>&1"
    );
    let _ = Command::new("sh").arg("-c").arg(script).status();
    if !have() {
        eprintln!("skipped: could not install {package} for {tool}");
        return false;
    }
    true
}

/// A fresh temporary directory for one test.
pub fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vimage-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Frames of a pcap that match a tshark display filter (checksums
/// checked), one line each: the frame number, then `fields`. `None` if
/// tshark cannot be had.
pub fn tshark_frames(pcap: &std::path::Path, filter: &str, fields: &[&str]) -> Option<String> {
    if !ensure_tool("tshark", "tshark") {
        return None;
    }
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"]).arg(pcap);
    for proto in ["ip", "udp", "tcp"] {
        cmd.args(["-o", &format!("{proto}.check_checksum:TRUE")]);
    }
    cmd.args(["-Y", filter, "-T", "fields", "-e", "frame.number"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let o = cmd.output().ok()?;
    assert!(
        o.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    Some(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// Read a pcap with tshark; the problems it reports (malformed packets,
/// bad checksums, and expert warnings), one per line.
pub fn tshark_problems(pcap: &std::path::Path) -> Option<String> {
    tshark_frames(
        pcap,
        "_ws.malformed || _ws.expert.severity >= warning",
        &["_ws.expert.message"],
    )
}

/// Frames tshark finds malformed or with a bad IP, UDP or TCP checksum
/// (protocol events such as resets are no problem here).
pub fn tshark_bad_packets(pcap: &std::path::Path) -> Option<String> {
    tshark_frames(
        pcap,
        "_ws.malformed || ip.checksum.status == 0 || udp.checksum.status == 0 || tcp.checksum.status == 0",
        &[],
    )
}

/// How many frames tshark reads from a pcap.
pub fn tshark_count(pcap: &std::path::Path) -> usize {
    Command::new("tshark")
        .args(["-n", "-r"])
        .arg(pcap)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().count())
        .unwrap_or(0)
}

/// Run a command line on `h`; it must succeed. Its standard output.
#[track_caller]
pub fn ok(h: &vimage::Host, cmd: &str) -> String {
    let o = h.exec(cmd);
    assert!(o.success(), "{cmd}: {o:?}");
    o.stdout
}

/// Run each non-empty line of `script` with [`ok`].
#[track_caller]
pub fn run(h: &vimage::Host, script: &str) {
    for l in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
        ok(h, l);
    }
}

/// The vnet of a jail.
pub fn vnet(h: &vimage::Host, jail: &str) -> vimage::VnetId {
    h.kernel().jail_vnet(vimage::Jid::HOST, jail).expect("jail")
}

/// A process in jail `name`.
pub fn proc_in(h: &vimage::Host, name: &str) -> vimage::Proc {
    let j = h.kernel().jail_getid(vimage::Jid::HOST, name).expect("jail");
    h.proc(j, vimage::Stdio::inherit())
}

/// Two jails a and b on one epair (epair0a in a, epair0b in b), with
/// these addresses set without `up` (an address brings it up).
pub fn pair_lab(addr_a: &str, addr_b: &str) -> vimage::Host {
    let h = vimage::Host::new(vimage::Config::default());
    run(
        &h,
        &format!(
            "jail -c name=a vnet persist
             jail -c name=b vnet persist
             ifconfig epair0 create
             ifconfig epair0a vnet a
             ifconfig epair0b vnet b
             jexec a ifconfig epair0a inet {addr_a}
             jexec b ifconfig epair0b inet {addr_b}"
        ),
    );
    h
}

/// a, r and c on one link: each has one end of an epair (epair0a,
/// epair1a, epair2a), whose other end is a port of bridge0 in jail sw,
/// all up; `before` runs once the jails exist, before their interfaces
/// arrive.
pub fn bridged3(cfg: vimage::Config, before: &str) -> vimage::Host {
    let h = vimage::Host::new(cfg);
    run(
        &h,
        "jail -c name=a vnet persist
         jail -c name=r vnet persist
         jail -c name=c vnet persist
         jail -c name=sw vnet persist",
    );
    run(&h, before);
    run(
        &h,
        "ifconfig bridge0 create vnet sw
         ifconfig epair0 create
         ifconfig epair1 create
         ifconfig epair2 create
         ifconfig epair0a vnet a
         ifconfig epair1a vnet r
         ifconfig epair2a vnet c
         ifconfig epair0b vnet sw
         ifconfig epair1b vnet sw
         ifconfig epair2b vnet sw
         jexec sw ifconfig bridge0 addm epair0b addm epair1b addm epair2b up
         jexec sw ifconfig epair0b up
         jexec sw ifconfig epair1b up
         jexec sw ifconfig epair2b up",
    );
    h
}

/// Three jails in a line, a -- r -- b: a is 10.0.1.2 and b 10.0.2.2, r
/// forwards between 10.0.1.1 and 10.0.2.1.
pub fn routed_lab(seed: u64) -> vimage::Host {
    let h = vimage::Host::new(vimage::Config {
        seed,
        ..vimage::Config::default()
    });
    run(
        &h,
        "jail -c name=a vnet persist
         jail -c name=r vnet persist
         jail -c name=b vnet persist
         ifconfig epair0 create
         ifconfig epair1 create
         ifconfig epair0a vnet a
         ifconfig epair0b vnet r
         ifconfig epair1a vnet r
         ifconfig epair1b vnet b
         jexec a ifconfig epair0a inet 10.0.1.2/24 up
         jexec r ifconfig epair0b inet 10.0.1.1/24 up
         jexec r ifconfig epair1a inet 10.0.2.1/24 up
         jexec b ifconfig epair1b inet 10.0.2.2/24 up
         jexec r sysctl net.inet.ip.forwarding=1
         jexec a route add default 10.0.1.1
         jexec b route add default 10.0.2.1",
    );
    h
}

/// Can we make TAP devices (root, /dev/net/tun)? Says why not.
pub fn can_tap() -> bool {
    let ok = is_root() && std::path::Path::new("/dev/net/tun").exists();
    if !ok {
        eprintln!("skipped: TAP interop needs root and /dev/net/tun");
    }
    ok
}

/// Can this test talk to Linux through TAP, with these tools (Debian
/// packages installed if need be)? Says why not.
pub fn tap_with(tools: &[(&str, &str)]) -> bool {
    can_tap() && tools.iter().all(|(tool, pkg)| ensure_tool(tool, pkg))
}

/// A host under the real clock, `script` run on it a line at a time
/// (each must succeed).
pub fn real_host(script: &str) -> vimage::Host {
    let host = vimage::Host::new(vimage::Config {
        clock: vimage::ClockKind::Real,
        ..vimage::Config::default()
    });
    for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let o = host.exec(line);
        assert!(o.success(), "{line}: {o:?}");
    }
    host
}

/// Run a shell command on the real host; it must succeed. Its output.
pub fn sh(cmd: &str) -> String {
    let o = Command::new("sh").arg("-c").arg(cmd).output().expect("sh");
    assert!(o.status.success(), "{cmd}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A Linux network namespace, deleted (with what is in it) however the
/// test ends.
pub struct Netns(pub String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// Start a Linux command line, its output captured.
pub fn spawn(cmd: &str) -> std::process::Child {
    Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn")
}

/// Run the engine (real time) until a Linux process ends (at most 60 s);
/// its standard output and error.
pub fn drive(host: &vimage::Host, mut child: std::process::Child) -> String {
    let start = std::time::Instant::now();
    loop {
        host.run_for(std::time::Duration::from_millis(10));
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if start.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            break;
        }
    }
    let o = child.wait_with_output().expect("child output");
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

/// a and b on one epair (up, 10.0.0.1 and .2) with a vlan, a gif and a
/// gre tunnel between them; b captures the wire into `pcap`.
pub fn tunnels(pcap: &std::path::Path) -> vimage::Host {
    let h = pair_lab("10.0.0.1/24", "10.0.0.2/24");
    run(
        &h,
        &format!(
            "jexec b tcpdump -i epair0b -w {} &
             jexec a ifconfig vlan create vlan 10 vlandev epair0a
             jexec b ifconfig epair0b.10 create
             jexec a ifconfig vlan0 inet 10.10.0.1/24
             jexec b ifconfig epair0b.10 inet 10.10.0.2/24
             jexec a ifconfig gif0 create
             jexec a ifconfig gif0 tunnel 10.0.0.1 10.0.0.2
             jexec a ifconfig gif0 inet 192.168.0.1 192.168.0.2
             jexec b ifconfig gif0 create tunnel 10.0.0.2 10.0.0.1
             jexec b ifconfig gif0 inet 192.168.0.2 192.168.0.1
             jexec a ifconfig gre0 create tunnel 10.0.0.1 10.0.0.2 grekey 7
             jexec a ifconfig gre0 inet 172.16.0.1 172.16.0.2 netmask 255.255.255.255
             jexec b ifconfig gre0 create tunnel 10.0.0.2 10.0.0.1 grekey 7
             jexec b ifconfig gre0 inet 172.16.0.2 172.16.0.1 netmask 255.255.255.255",
            pcap.display()
        ),
    );
    h
}

/// Run `script` as `vimage shell` would; (status, stdout, stderr).
pub fn script(h: &vimage::Host, script: &str) -> (i32, String, String) {
    let (out, obuf) = vimage::Out::buffer();
    let (err, ebuf) = vimage::Out::buffer();
    let mut s = vimage::userland::shell::Shell::new(h, out, err);
    s.run_script(script.as_bytes());
    let text = |b: &std::rc::Rc<std::cell::RefCell<Vec<u8>>>| String::from_utf8_lossy(&b.borrow()).into_owned();
    (s.status(), text(&obuf), text(&ebuf))
}

/// `vtysh -c CMD` in `jail`; it must succeed.
pub fn vtysh(h: &vimage::Host, jail: &str, cmd: &str) -> String {
    ok(h, &format!("jexec {jail} vtysh -c '{cmd}'"))
}

/// The line of `jail`'s `netstat -rn` for `dst`, its columns (none if
/// it has no route there).
pub fn route(h: &vimage::Host, jail: &str, dst: &str) -> Vec<String> {
    let rib = ok(h, &format!("jexec {jail} netstat -rn -f inet"));
    rib.lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .find(|w| w.first().map(String::as_str) == Some(dst))
        .unwrap_or_default()
}

/// r1 -- r2 -- r3 on 10.0.1.0/24 and 10.0.2.0/24, r3 with 10.0.3.1/32 on
/// lo0: the routing daemons' chain.
pub const CHAIN: &str = "ifconfig epair0 create
     ifconfig epair1 create
     ifconfig epair0a vnet r1
     ifconfig epair0b vnet r2
     ifconfig epair1a vnet r2
     ifconfig epair1b vnet r3
     jexec r1 ifconfig epair0a inet 10.0.1.1/24
     jexec r2 ifconfig epair0b inet 10.0.1.2/24
     jexec r2 ifconfig epair1a inet 10.0.2.1/24
     jexec r3 ifconfig epair1b inet 10.0.2.2/24
     jexec r3 ifconfig lo0 inet 10.0.3.1/32 alias";

/// Forwarding jails r1, r2 and r3 wired by `script`; those in `daemons`
/// run routing daemon `daemon` (`ripd`, `ospfd`) with configuration
/// `conf` (written in directory `tag`).
pub fn routers(tag: &str, daemon: &str, conf: &str, script: &str, daemons: &[&str]) -> vimage::Host {
    let dir = tmpdir(tag);
    let f = dir.join("frr.conf");
    std::fs::write(&f, conf).expect("conf");
    let h = vimage::Host::new(Default::default());
    for r in ["r1", "r2", "r3"] {
        ok(&h, &format!("jail -c name={r} vnet persist"));
        ok(&h, &format!("jexec {r} sysctl net.inet.ip.forwarding=1"));
    }
    run(&h, script);
    for r in daemons {
        ok(&h, &format!("jexec {r} {daemon} -d -f {}", f.display()));
    }
    h
}

/// Jail `j`'s link-local address on `ifname`, without its zone.
pub fn linklocal(h: &vimage::Host, j: &str, ifname: &str) -> String {
    let out = ok(h, &format!("jexec {j} ifconfig {ifname}"));
    out.split_whitespace()
        .skip_while(|w| *w != "inet6")
        .nth(1)
        .and_then(|a| a.split('%').next())
        .filter(|a| a.starts_with("fe80::"))
        .unwrap_or_else(|| panic!("{out}"))
        .to_string()
}
