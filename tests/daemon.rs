//! The daemon: started in the background, driven by separate `vimage`
//! commands as a script would (jails, epairs, ping, nc moving a file
//! through standard input), a lab loaded into it, Ctrl-C stopping a
//! command, versions and malformed requests refused, stopped with no
//! socket left behind.
#![cfg(unix)]

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use vimage::daemon::proto::{self, Kind, VERSION};

struct Daemon {
    dir: PathBuf,
    sock: PathBuf,
    pid: u32,
}

impl Daemon {
    fn start(name: &str) -> Daemon {
        let dir = common::tmpdir(&format!("daemon-{name}"));
        let mut d = Daemon {
            sock: dir.join("ctl.sock"),
            dir,
            pid: 0,
        };
        let o = d.run(&["daemon"]);
        assert!(o.status.success(), "daemon: {}", text(&o.stderr));
        let said = text(&o.stdout);
        assert!(said.contains("listening on"), "{said}");
        d.pid = said
            .split_whitespace()
            .nth(2)
            .and_then(|p| p.parse().ok())
            .expect("vimage: daemon PID listening on ...");
        d
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_vimage"));
        c.env("VIMAGE_SOCKET", &self.sock).args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).stdin(Stdio::null()).output().expect("run vimage")
    }

    /// Run, expecting success; the standard output.
    fn ok(&self, line: &str) -> String {
        let args: Vec<&str> = line.split_whitespace().collect();
        let o = self.run(&args);
        assert!(o.status.success(), "{line}: {}{}", text(&o.stdout), text(&o.stderr));
        text(&o.stdout)
    }

    /// Two hosts on an epair, set up by separate commands.
    fn pair(&self) {
        for l in [
            "jail -c name=a vnet persist",
            "jail -c name=b vnet persist",
            "ifconfig epair create",
            "ifconfig epair0a vnet a",
            "ifconfig epair0b vnet b",
            "jexec a ifconfig epair0a inet 10.0.0.1/24 up",
            "jexec b ifconfig epair0b inet 10.0.0.2/24 up",
        ] {
            self.ok(l);
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.sock.exists() {
            let _ = self.run(&["daemon", "stop"]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Read a child's output into `seen` until `pat` shows in it.
fn read_until(out: &mut impl Read, seen: &mut Vec<u8>, pat: &str) {
    let mut b = [0u8; 256];
    while !text(seen).contains(pat) {
        let n = out.read(&mut b).expect("read");
        assert!(n > 0, "the output ended before {pat:?}: {}", text(seen));
        seen.extend_from_slice(&b[..n]);
    }
}

/// Wait (at most 10 s) until `f` holds.
fn eventually(what: &str, f: impl Fn() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(10), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn commands_from_separate_processes_share_the_stacks() {
    let d = Daemon::start("drive");
    let mode = std::fs::metadata(&d.sock).expect("socket").permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the socket is the user's alone");
    d.pair();
    assert_eq!(d.ok("jls name"), "a\nb\n");
    let out = d.ok("jexec a ping -c 2 10.0.0.2");
    assert!(out.contains("2 packets transmitted, 2 packets received"), "{out}");
    assert!(d.ok("jexec b arp -an").contains("10.0.0.1"));
    // Exit statuses and errors come back as they were.
    let o = d.run(&["jexec", "a", "ping", "-c", "1", "-t", "1", "10.0.0.9"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stdout));
    let o = d.run(&["jexec", "nosuch", "hostname"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(text(&o.stderr), "jexec: jail \"nosuch\" not found\n");
    let o = d.run(&["sysctl", "net.inet.ip.nosuch"]);
    assert_eq!(text(&o.stderr), "sysctl: unknown oid 'net.inet.ip.nosuch'\n");
    assert_eq!(o.status.code(), Some(1));

    // A file through nc's standard input, across the daemon.
    let data = common::random_bytes(1_500_000, 5);
    let server = d
        .cmd(&["jexec", "b", "nc", "-l", "80"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("server");
    eventually("nc listens", || d.ok("jexec b sockstat -l").contains("*:80"));
    let mut client = d
        .cmd(&["jexec", "a", "nc", "-N", "10.0.0.2", "80"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("client");
    let mut w = client.stdin.take().expect("stdin");
    w.write_all(&data).expect("feed the client");
    drop(w);
    assert!(client.wait().expect("client").success());
    let got = server.wait_with_output().expect("server");
    assert!(got.status.success());
    assert!(
        got.stdout == data,
        "{} of {} bytes, not the same",
        got.stdout.len(),
        data.len()
    );

    // A command that does not read its input leaves it to the next one.
    let sh = Command::new("sh")
        .arg("-c")
        .arg(format!("\"{}\" jls name >/dev/null; cat", env!("CARGO_BIN_EXE_vimage")))
        .env("VIMAGE_SOCKET", &d.sock)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sh");
    let mut i = sh.stdin.as_ref().expect("stdin");
    i.write_all(b"left for cat\n").expect("write");
    let o = {
        let mut sh = sh;
        drop(sh.stdin.take());
        sh.wait_with_output().expect("sh")
    };
    assert_eq!(text(&o.stdout), "left for cat\n");

    // Stop, and nothing is left.
    assert_eq!(d.ok("daemon stop"), "");
    assert!(!d.sock.exists(), "the socket file is gone");
    // Without a daemon a command runs on a fresh host of its own.
    assert_eq!(d.ok("jls name"), "");
}

/// Ping's replies counted by the far side.
fn echoes(d: &Daemon) -> String {
    d.ok("jexec b netstat -s -p icmp")
        .lines()
        .find(|l| l.contains("echo reply:"))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_long_command_streams_and_stops_with_its_client() {
    let d = Daemon::start("stream");
    d.pair();
    let mut ping: Child = d
        .cmd(&["jexec", "a", "ping", "-i", "0.1", "10.0.0.2"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("ping");
    // Its lines arrive while it runs.
    let mut out = ping.stdout.take().expect("stdout");
    let mut seen = Vec::new();
    read_until(&mut out, &mut seen, "icmp_seq=2 ");
    // Ctrl-C is ping's SIGINT: it stops and prints its statistics.
    let _ = Command::new("kill").args(["-INT", &ping.id().to_string()]).status();
    out.read_to_end(&mut seen).expect("the rest");
    let st = ping.wait().expect("ping");
    let text = text(&seen);
    assert!(text.contains("--- 10.0.0.2 ping statistics ---"), "{text}");
    assert!(st.success(), "{st:?}");
    let before = echoes(&d);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(echoes(&d), before, "ping still runs");

    // A command that does not catch it is stopped.
    let mut nc = d
        .cmd(&["jexec", "b", "nc", "-l", "90"])
        .stdin(Stdio::null())
        .spawn()
        .expect("nc");
    eventually("nc listens", || d.ok("jexec b sockstat -l").contains("*:90"));
    let _ = Command::new("kill").args(["-INT", &nc.id().to_string()]).status();
    assert_eq!(nc.wait().expect("nc").code(), Some(130));
    assert!(!d.ok("jexec b sockstat -l").contains("*:90"));

    // A client that goes away stops its command too.
    let mut ping = d
        .cmd(&["jexec", "a", "ping", "-i", "0.1", "10.0.0.2"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("ping");
    eventually("ping runs", || echoes(&d) != before);
    let _ = ping.kill();
    let _ = ping.wait();
    // The daemon notices the hang-up soon: the count stops moving.
    eventually("ping stops with its client", || {
        let before = echoes(&d);
        std::thread::sleep(Duration::from_millis(400));
        echoes(&d) == before
    });
}

#[test]
fn labs_load_into_the_daemon_and_live_on() {
    let d = Daemon::start("lab");
    let lab = d.dir.join("two.toml");
    std::fs::write(
        &lab,
        r#"
name = "two"
[[node]]
name = "h1"
[[node]]
name = "h2"
run = ["nc -l 7 &"]
[[link]]
ends = ["h1", "h2"]
[[event]]
at = "200ms"
node = "h1"
run = "ping -c 2 -i 0.1 h2"
"#,
    )
    .expect("write lab");
    let path = lab.to_str().expect("utf-8 path");
    let o = d.run(&["run", "--daemon", path]);
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}{}", text(&o.stderr));
    assert!(out.starts_with("# two: 2 nodes, 1 links"), "{out}");
    assert!(out.contains("h1] ping -c 2 -i 0.1 h2"), "{out}");
    assert!(out.contains("2 packets transmitted, 2 packets received"), "{out}");
    // The lab lives on: its names resolve, its server still listens.
    assert!(d.ok("jexec h1 ping -c 1 h2").contains("1 packets received"));
    assert!(d.ok("jexec h2 sockstat -l").contains("*:7"));
    // ^C stops a lab's timeline and its foreground commands.
    let endless = d.dir.join("endless.toml");
    std::fs::write(
        &endless,
        "[[node]]\nname = \"e1\"\n[[node]]\nname = \"e2\"\n[[link]]\nends = [\"e1\", \"e2\"]\n\
         [[event]]\nat = \"0s\"\nnode = \"e1\"\nrun = \"ping -i 0.05 e2\"\n",
    )
    .expect("write lab");
    let mut c = d
        .cmd(&["run", "--daemon", endless.to_str().expect("utf-8")])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run --daemon");
    let replies = || {
        // The lab is built once the daemon has the request: until then, nothing.
        text(&d.run(&["jexec", "e2", "netstat", "-s", "-p", "icmp"]).stdout)
            .lines()
            .find(|l| l.contains("echo reply:"))
            .unwrap_or_default()
            .to_string()
    };
    eventually("the lab's ping runs", || replies().contains("echo reply: 3"));
    let _ = Command::new("kill").args(["-INT", &c.id().to_string()]).status();
    assert_eq!(c.wait().expect("client").code(), Some(130));
    std::thread::sleep(Duration::from_millis(100));
    let before = replies();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(replies(), before, "the lab's ping still runs");
    drop(c.stdout.take());

    // Loading it twice: the names are taken.
    let o = d.run(&["run", "--daemon", path]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    // A bad file is refused with where.
    std::fs::write(&lab, "[[node]]\nname = \"x\"\ncolour = 1\n").expect("write");
    let o = d.run(&["run", "--daemon", path]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains(":3:1: unknown field `colour`"),
        "{}",
        text(&o.stderr)
    );
}

/// Send raw frames on a connection of our own; the last frame back (up
/// to the first EXIT or ERROR).
fn raw(sock: &Path, frames: &[(u8, &[u8])]) -> Option<(Kind, Vec<u8>)> {
    let mut s = UnixStream::connect(sock).expect("connect");
    for (k, p) in frames {
        let mut f = vec![*k];
        f.extend_from_slice(&(p.len() as u32).to_be_bytes());
        f.extend_from_slice(p);
        s.write_all(&f).expect("send");
    }
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut last = None;
    while let Ok(Some(f)) = proto::recv(&mut s) {
        let end = matches!(f.0, Kind::Error | Kind::Exit);
        last = Some(f);
        if end {
            break;
        }
    }
    last
}

#[test]
fn versions_and_malformed_requests_are_refused_and_the_daemon_lives() {
    let d = Daemon::start("proto");
    let v = VERSION.to_be_bytes();
    let other = (VERSION + 1).to_be_bytes();
    let error = |r: Option<(Kind, Vec<u8>)>| match r {
        Some((Kind::Error, m)) => text(&m),
        r => panic!("expected an error, got {r:?}"),
    };
    let e = error(raw(&d.sock, &[(Kind::Hello as u8, &other)]));
    assert!(
        e.contains(&format!(
            "speaks control protocol {VERSION}, the client {}",
            VERSION + 1
        )),
        "{e}"
    );
    assert!(error(raw(&d.sock, &[(99, b"")])).contains("malformed request"));
    assert!(error(raw(&d.sock, &[(Kind::Argv as u8, b"[]")])).contains("before HELLO"));
    let e = error(raw(
        &d.sock,
        &[(Kind::Hello as u8, &v), (Kind::Argv as u8, b"not json")],
    ));
    assert!(e.contains("malformed request: ARGV"), "{e}");
    let e = error(raw(&d.sock, &[(Kind::Hello as u8, &v), (Kind::Argv as u8, b"[]")]));
    assert!(e.contains("no command"), "{e}");
    let e = error(raw(
        &d.sock,
        &[(Kind::Hello as u8, &v), (Kind::Lab as u8, b"{\"x\":1}")],
    ));
    assert!(e.contains("malformed request: LAB"), "{e}");
    // Input nobody asked for.
    let e = error(raw(
        &d.sock,
        &[
            (Kind::Hello as u8, &v),
            (Kind::Argv as u8, b"[\"sleep\",\"5\"]"),
            (Kind::Stdin as u8, b"unasked"),
        ],
    ));
    assert!(e.contains("beyond what was asked for"), "{e}");
    // A frame too long; a client that hangs up at once.
    let mut s = UnixStream::connect(&d.sock).expect("connect");
    s.write_all(&[Kind::Hello as u8, 0xff, 0xff, 0xff, 0xff]).expect("send");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    match proto::recv(&mut s) {
        Ok(Some((Kind::Error, m))) => assert!(text(&m).contains("too large"), "{}", text(&m)),
        r => panic!("{r:?}"),
    }
    drop(UnixStream::connect(&d.sock).expect("connect and hang up"));
    // Garbage of every kind, after a good HELLO or without one.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..200 {
        let mut junk = Vec::new();
        if i % 2 == 0 {
            junk.extend_from_slice(&[Kind::Hello as u8, 0, 0, 0, 4]);
            junk.extend_from_slice(&v);
        }
        for _ in 0..(i % 40) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Mostly small lengths, so frames end inside the junk.
            junk.push(if junk.len() % 5 == 1 { 0 } else { x as u8 });
        }
        let mut s = UnixStream::connect(&d.sock).expect("connect");
        let _ = s.write_all(&junk);
        let _ = s.shutdown(std::net::Shutdown::Write);
        s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        let mut back = Vec::new();
        let _ = s.read_to_end(&mut back);
    }
    // A good request works after all that.
    let o = d.ok("sysctl -n net.inet.ip.forwarding");
    assert_eq!(o, "0\n");
    let o = d.run(&["daemon"]);
    assert_eq!(o.status.code(), Some(1), "a second daemon on the same socket");
    assert!(text(&o.stderr).contains("already listens"));
    // SIGTERM stops it cleanly: no socket file left.
    let _ = Command::new("kill").args(["-TERM", &d.pid.to_string()]).status();
    eventually("the socket file goes", || !d.sock.exists());
}

#[test]
fn a_client_refuses_a_daemon_of_another_version() {
    let dir = common::tmpdir("daemon-fake");
    let sock = dir.join("fake.sock");
    let l = UnixListener::bind(&sock).expect("bind");
    let fake = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        let hello = proto::recv(&mut s).expect("hello");
        assert_eq!(hello, Some((Kind::Hello, VERSION.to_be_bytes().to_vec())));
        proto::send(&mut s, Kind::Hello, &(VERSION + 1).to_be_bytes()).expect("answer");
    });
    let o = Command::new(env!("CARGO_BIN_EXE_vimage"))
        .env("VIMAGE_SOCKET", &sock)
        .args(["jls"])
        .output()
        .expect("run");
    fake.join().expect("fake daemon");
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        text(&o.stderr),
        format!(
            "vimage: daemon: the daemon speaks control protocol {}, this vimage {VERSION}: use the same vimage for both\n",
            VERSION + 1
        )
    );
    // A socket file nobody answers on: said, then a fresh host.
    drop(UnixListener::bind(dir.join("dead.sock")).expect("bind"));
    let o = Command::new(env!("CARGO_BIN_EXE_vimage"))
        .env("VIMAGE_SOCKET", dir.join("dead.sock"))
        .args(["hostname"])
        .output()
        .expect("run");
    assert!(o.status.success());
    assert!(text(&o.stderr).contains("(a daemon that died? vimage daemon replaces it); running on a fresh host"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn without_a_daemon_ctrl_c_is_pings_sigint_too_and_sigterm_ends_it() {
    // A one-shot ping on a fresh host, sent `sig` once it runs: its exit
    // status and everything it printed.
    let ping_then = |sig: &str| {
        let mut ping = Command::new(env!("CARGO_BIN_EXE_vimage"))
            .env("VIMAGE_SOCKET", "/nonexistent/vimage.sock")
            .args(["--clock", "real", "ping", "-i", "0.1", "127.0.0.1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("ping");
        let mut out = ping.stdout.take().expect("stdout");
        let mut seen = Vec::new();
        read_until(&mut out, &mut seen, "icmp_seq=1 ");
        let _ = Command::new("kill").args([sig, &ping.id().to_string()]).status();
        out.read_to_end(&mut seen).expect("the rest");
        (ping.wait().expect("ping").success(), text(&seen))
    };
    let (ok, out) = ping_then("-INT");
    assert!(ok, "{out}");
    assert!(out.contains("--- 127.0.0.1 ping statistics ---"), "{out}");
    // SIGTERM is not ^C: the process ends at once, without statistics.
    let (ok, out) = ping_then("-TERM");
    assert!(!ok, "{out}");
    assert!(!out.contains("statistics"), "{out}");
}

#[test]
fn a_bash_script_drives_a_lab_through_the_daemon() {
    let dir = common::tmpdir("daemon-script");
    let sock = dir.join("v.sock");
    let o = Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/daemon.sh"))
        .arg(env!("CARGO_BIN_EXE_vimage"))
        .env("VIMAGE_SOCKET", &sock)
        .stdin(Stdio::null())
        .output()
        .expect("bash");
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}{}", text(&o.stderr));
    assert!(out.contains("2 packets transmitted, 2 packets received"), "{out}");
    assert!(out.contains(" 2  10.0.2.2  "), "{out}");
    assert!(out.contains("received 20000 lines"), "{out}");
    assert!(!sock.exists(), "the script's trap stopped the daemon");
    let _ = std::fs::remove_dir_all(&dir);
}
