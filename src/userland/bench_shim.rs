//! `vimage bench shim`: host programs in jails (docs/HOST_PROGRAMS.md)
//! measured beside the same programs on Linux's loopback. The programs
//! are this binary's hidden `__peer` commands, plain `std::net` code, so
//! under the shim they are as any host program: TCP throughput between
//! two jails on one epair (MTU 1500 and 65535), and connections per
//! second, each a small HTTP request and its answer.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::host::Host;
use crate::kern::Config;
use crate::kern::clock::ClockKind;
use crate::kern::proc::Out;

const REQUEST: &[u8] = b"GET / HTTP/1.0\r\nHost: b\r\n\r\n";
const ANSWER: &[u8] = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";
/// Clients connecting at once, on both sides of the comparison.
const CLIENTS: &str = "16";

/// The peers, run as `vimage __peer ...`:
/// `sink ADDR` takes one connection, reads it to its end, answers the
/// count; `source ADDR BYTES` sends that many and prints Gbit/s;
/// `http ADDR` answers requests until killed; `get ADDR N THREADS`
/// makes N connections and prints connections per second.
pub fn peer(args: &[&str]) -> i32 {
    match peer_run(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("vimage __peer: {e}");
            1
        }
    }
}

fn peer_run(args: &[&str]) -> std::io::Result<()> {
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidInput, "usage");
    let num = |s: &str| s.parse::<usize>().map_err(|_| bad());
    match args {
        ["sink", addr] => {
            let l = TcpListener::bind(addr)?;
            let (mut s, _) = l.accept()?;
            let mut buf = vec![0u8; 256 << 10];
            let mut n = 0u64;
            loop {
                match s.read(&mut buf)? {
                    0 => break,
                    k => n += k as u64,
                }
            }
            s.write_all(&n.to_le_bytes())
        }
        ["source", addr, bytes] => {
            let total = num(bytes)?;
            let mut s = TcpStream::connect(addr)?;
            let block = vec![0x5au8; 256 << 10];
            let t = Instant::now();
            let mut left = total;
            while left > 0 {
                let k = left.min(block.len());
                s.write_all(&block[..k])?;
                left -= k;
            }
            s.shutdown(Shutdown::Write)?;
            let mut got = [0u8; 8];
            s.read_exact(&mut got)?;
            let secs = t.elapsed().as_secs_f64();
            if u64::from_le_bytes(got) != total as u64 {
                return Err(std::io::Error::other("bytes lost"));
            }
            println!("{:.2}", total as f64 * 8.0 / secs / 1e9);
            Ok(())
        }
        ["http", addr] => {
            let l = TcpListener::bind(addr)?;
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                std::thread::spawn(move || {
                    let mut buf = [0u8; 1024];
                    let mut have = Vec::new();
                    while !have.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(k) => have.extend_from_slice(&buf[..k]),
                        }
                    }
                    let _ = s.write_all(ANSWER);
                });
            }
            Ok(())
        }
        ["get", addr, n, threads] => {
            let (n, threads) = (num(n)?, num(threads)?.max(1));
            let addr = addr.to_string();
            let t = Instant::now();
            let workers: Vec<_> = (0..threads)
                .map(|i| {
                    let addr = addr.clone();
                    let mine = n / threads + usize::from(i < n % threads);
                    std::thread::spawn(move || -> std::io::Result<()> {
                        for _ in 0..mine {
                            let mut s = TcpStream::connect(&addr)?;
                            s.write_all(REQUEST)?;
                            let mut got = Vec::new();
                            s.read_to_end(&mut got)?;
                            if got != ANSWER {
                                return Err(std::io::Error::other("bad answer"));
                            }
                        }
                        Ok(())
                    })
                })
                .collect();
            for w in workers {
                w.join().map_err(|_| std::io::Error::other("a thread died"))??;
            }
            println!("{:.0}", n as f64 / t.elapsed().as_secs_f64());
            Ok(())
        }
        _ => Err(bad()),
    }
}

/// Two jails on one epair at `mtu`, under the real clock.
fn pair(mtu: u32) -> Result<Host, String> {
    let h = Host::new(Config {
        clock: ClockKind::Real,
        ..Config::default()
    });
    for l in [
        "jail -c name=a vnet persist".to_string(),
        "jail -c name=b vnet persist".into(),
        "ifconfig epair0 create".into(),
        "ifconfig epair0a vnet a".into(),
        "ifconfig epair0b vnet b".into(),
        format!("jexec a ifconfig epair0a inet 10.0.0.1/24 mtu {mtu} up"),
        format!("jexec b ifconfig epair0b inet 10.0.0.2/24 mtu {mtu} up"),
    ] {
        let o = h.exec(&l);
        if !o.success() {
            return Err(format!("{l}: {}", o.stderr));
        }
    }
    Ok(h)
}

/// Start the server peer `args` in jail b, wait until it listens on
/// `port`, run the client peer `client` in jail a: its output.
fn jailed(h: &Host, exe: &str, server: &str, port: u16, client: &str) -> Result<String, String> {
    let o = h.exec(&format!("jexec b {exe} __peer {server} > /dev/null &"));
    if !o.success() {
        return Err(o.stderr);
    }
    let start = Instant::now();
    while !h.exec("jexec b sockstat -4l").stdout.contains(&format!(":{port} ")) {
        if start.elapsed() > Duration::from_secs(10) {
            return Err("the server never listened".into());
        }
        h.run_for(Duration::from_millis(50));
    }
    let o = h.exec(&format!("jexec a {exe} __peer {client}"));
    if !o.success() {
        return Err(o.stderr);
    }
    Ok(o.stdout.trim().to_string())
}

/// The same peers on Linux's loopback.
fn loopback(exe: &str, server: &[&str], client: &[&str]) -> Result<String, String> {
    use std::process::{Command, Stdio};
    let mut srv = Command::new(exe)
        .arg("__peer")
        .args(server)
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_millis(300));
    let o = Command::new(exe).arg("__peer").args(client).output();
    let _ = srv.kill();
    let _ = srv.wait();
    let o = o.map_err(|e| e.to_string())?;
    if !o.status.success() {
        return Err(String::from_utf8_lossy(&o.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// `vimage bench shim [MB [CONNS]]`.
pub fn shim(mbytes: usize, conns: usize, out: &Out) -> i32 {
    let exe = match std::env::current_exe() {
        Ok(e) => e.display().to_string(),
        Err(e) => {
            out.write_fmt(format_args!("bench: {e}\n"));
            return 1;
        }
    };
    let bytes = (mbytes << 20).to_string();
    out.write_fmt(format_args!(
        "shim: host programs in two jails on one epair, through libvimage_shim.so, beside Linux loopback\n"
    ));
    let mut status = 0;
    let mut row = |what: &str, r: Result<String, String>, unit: &str| match r {
        Ok(v) => out.write_fmt(format_args!("  {what:<44} {v:>9} {unit}\n")),
        Err(e) => {
            status = 1;
            out.write_fmt(format_args!("  {what:<44} failed: {}\n", e.trim()))
        }
    };
    for mtu in [1500u32, 65535] {
        let r = pair(mtu).and_then(|h| {
            jailed(
                &h,
                &exe,
                "sink 10.0.0.2:5201",
                5201,
                &format!("source 10.0.0.2:5201 {bytes}"),
            )
        });
        row(&format!("TCP, jail to jail, MTU {mtu}"), r, "Gbit/s");
    }
    let r = loopback(&exe, &["sink", "127.0.0.1:5299"], &["source", "127.0.0.1:5299", &bytes]);
    row("TCP, Linux loopback", r, "Gbit/s");
    let n = conns.to_string();
    let r = pair(1500).and_then(|h| {
        let r = jailed(
            &h,
            &exe,
            "http 10.0.0.2:8080",
            8080,
            &format!("get 10.0.0.2:8080 {n} {CLIENTS}"),
        );
        h.tasks().kill_all();
        r
    });
    row("HTTP/1.0 connections, jail to jail", r, "conn/s");
    let r = loopback(
        &exe,
        &["http", "127.0.0.1:8099"],
        &["get", "127.0.0.1:8099", &n, CLIENTS],
    );
    row("HTTP/1.0 connections, Linux loopback", r, "conn/s");
    out.write_fmt(format_args!(
        "  targets (issue 11): >= 2 Gbit/s jail to jail, >= 10,000 connections/s\n"
    ));
    status
}
