//! `vimage bench bgp`: a BGP session receiving a full table, into
//! bgpd and, side by side where it can run, into FRR's bgpd and zebra.

use std::time::Instant;

use crate::alloc;
use crate::host::Host;
use crate::kern::Config;
use crate::kern::proc::Out;

/// The messages a feed of `n` IPv4 /24s (from 32.0.0.0 on) takes: an
/// OPEN of AS `asn` (hold time 0: no keepalives), a KEEPALIVE, then
/// UPDATEs of as many prefixes as fit, next hop `nh`.
pub fn bgp_feed(n: usize, asn: u32, id: u32, nh: u32) -> (Vec<u8>, Vec<u8>) {
    use crate::wire::bgp::{AFI_IPV4, Attrs, Cap, Msg, ORIGIN_IGP, Open, SAFI_UNICAST, Seg, emit_updates};
    let mut hello = Vec::new();
    Msg::Open(Open {
        version: 4,
        my_as: asn as u16,
        hold: 0,
        id,
        caps: vec![Cap::Mp(AFI_IPV4, SAFI_UNICAST), Cap::As4(asn)],
    })
    .emit(true, &mut hello);
    Msg::Keepalive.emit(true, &mut hello);
    let prefixes: Vec<(u32, u8)> = (0..n as u32).map(|i| (0x2000_0000 + (i << 8), 24)).collect();
    let attrs = Attrs {
        origin: ORIGIN_IGP,
        as_path: vec![Seg::Seq(vec![65100, 65200])],
        next_hop: nh,
        local_pref: Some(100),
        ..Attrs::default()
    };
    let mut updates = Vec::with_capacity(n * 4 + n / 200 * 64);
    emit_updates(&attrs, &prefixes, true, &mut updates);
    (hello, updates)
}

/// `vimage bench bgp [N]`: a BGP session that receives N IPv4 prefixes
/// (1,000,000): jail `r` runs bgpd, jail `feed` an iBGP speaker that sends
/// the whole table at once. The wall time from the first UPDATE until
/// bgpd has every prefix in its table and the kernel's, and the heap it
/// took per prefix (bgpd's table, the RIB, the kernel's routes).
pub fn bgp(n: usize, out: &Out) -> i32 {
    use crate::kern::jail::Jid;
    use crate::kern::proc::Stdio;
    use crate::socket::TcpStream;
    let host = Host::new(Config::default());
    let dir = std::env::temp_dir().join(format!("vimage-bench-bgp-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let conf = dir.join("frr.conf");
    let _ = std::fs::write(
        &conf,
        "router bgp 65001\n bgp router-id 10.77.0.1\n neighbor 10.77.0.2 remote-as internal\n",
    );
    for line in [
        "jail -c name=r vnet persist".to_string(),
        "jail -c name=feed vnet persist".into(),
        "ifconfig epair0 create".into(),
        "ifconfig epair0a vnet r".into(),
        "ifconfig epair0b vnet feed".into(),
        "jexec r ifconfig epair0a inet 10.77.0.1/24".into(),
        "jexec feed ifconfig epair0b inet 10.77.0.2/24".into(),
        format!("jexec r bgpd -d -f {}", conf.display()),
    ] {
        let o = host.exec(&line);
        if !o.success() {
            out.write_fmt(format_args!("bench: {line}: {}", o.stderr));
            return 1;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let jid = |name: &str| host.kernel().jail_getid(Jid::HOST, name).ok();
    let (Some(r), Some(feed)) = (jid("r"), jid("feed")) else {
        return 1;
    };
    let rp = host.proc(r, Stdio::null_all());
    let fp = host.proc(feed, Stdio::null_all());
    let (hello, updates) = bgp_feed(n, 65001, 0x0a4d_0002, 0x0a4d_0002);
    let bytes = updates.len();
    let sent = std::rc::Rc::new(std::cell::Cell::new(false));
    let flag = sent.clone();
    let q = fp.clone();
    fp.spawn(Box::pin(async move {
        let to = std::net::SocketAddr::from(([10, 77, 0, 1], 179));
        let Ok(mut s) = TcpStream::connect(&q, to).await else {
            return 1;
        };
        let mut buf = vec![0u8; 65_536];
        if s.write_all(&hello).await.is_err() || s.read(&mut buf).await.is_err() {
            return 1;
        }
        flag.set(true);
        // The bench starts its clocks meanwhile.
        q.sleep(std::time::Duration::from_millis(500)).await;
        if s.write_all(&updates).await.is_err() {
            return 1;
        }
        drop(updates);
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
        0
    }));
    let state = || {
        let f = crate::routing::frr_of(&rp)?;
        let f = f.borrow();
        let b = f.bgp.as_ref()?;
        Some((b.v4.table.len(), f.rib.installed()))
    };
    // The session first, then the clock starts.
    for _ in 0..1000 {
        host.run_for(std::time::Duration::from_millis(10));
        if sent.get() {
            break;
        }
    }
    let heap0 = alloc::live_bytes();
    let wall = Instant::now();
    let v0 = host.now();
    let mut got = (0, 0);
    for _ in 0..100_000 {
        host.run_for(std::time::Duration::from_millis(50));
        got = state().unwrap_or_default();
        if got.0 >= n && got.1 >= n {
            break;
        }
    }
    let el = wall.elapsed();
    let virt = host.now().saturating_sub(v0);
    let per = match (heap0, alloc::live_bytes()) {
        (Some(a), Some(b)) => format!(", {:.0} B per prefix", b.saturating_sub(a) as f64 / n.max(1) as f64),
        _ => String::new(),
    };
    out.write_fmt(format_args!(
        "bgp: {n} prefixes ({:.1} MB of UPDATEs) from one iBGP neighbor: {} in bgpd's table, {} in the kernel after {:.2} s wall ({:.1} s virtual){per}\n",
        bytes as f64 / 1e6,
        got.0,
        got.1,
        el.as_secs_f64(),
        virt.as_secs_f64()
    ));
    i32::from(got.0 < n || got.1 < n)
}

/// The same feed into FRR's bgpd and zebra, in a Linux network namespace
/// through a veth (root and FRR needed; else a line saying why not): the
/// wall time until FRR has every prefix in its table and the kernel's
/// FIB, and the memory (RSS) bgpd and zebra grew by per prefix.
pub fn bgp_frr(n: usize, out: &Out) {
    match bgp_frr_run(n) {
        Ok(line) => out.write_fmt(format_args!("{line}\n")),
        Err(e) => out.write_fmt(format_args!("bgp: FRR's figures skipped: {e}\n")),
    }
}

fn bgp_frr_run(n: usize) -> Result<String, String> {
    use std::io::{Read, Write};
    use std::process::Command;
    let sh = |cmd: &str| -> Result<String, String> {
        let o = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .output()
            .map_err(|e| e.to_string())?;
        if !o.status.success() {
            return Err(format!("{cmd}: {}", String::from_utf8_lossy(&o.stderr).trim()));
        }
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    };
    if !std::path::Path::new("/usr/lib/frr/bgpd").exists() {
        return Err("no /usr/lib/frr/bgpd (apt-get install frr)".into());
    }
    let pid = std::process::id();
    let ns = format!("vbf{pid}");
    let dir = std::env::temp_dir().join(format!("vimage-bench-frr-{pid}"));
    struct Cleanup(String, std::path::PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            for d in ["bgpd", "zebra"] {
                if let Ok(p) = std::fs::read_to_string(self.1.join(format!("{d}.pid"))) {
                    let _ = Command::new("kill").arg(p.trim()).status();
                }
            }
            let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
            let _ = std::fs::remove_dir_all(&self.1);
        }
    }
    sh(&format!("ip netns add {ns}"))?;
    let _clean = Cleanup(ns.clone(), dir.clone());
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let d = dir.display();
    sh(&format!(
        "ip link add vbh{pid} type veth peer name vbn{pid} && ip link set vbn{pid} netns {ns} && \
         ip addr add 10.78.0.1/24 dev vbh{pid} && ip link set vbh{pid} up && \
         ip -n {ns} addr add 10.78.0.2/24 dev vbn{pid} && ip -n {ns} link set vbn{pid} up && ip -n {ns} link set lo up"
    ))?;
    std::fs::write(
        dir.join("frr.conf"),
        "frr defaults traditional\nrouter bgp 65001\n bgp router-id 10.78.0.2\n neighbor 10.78.0.1 remote-as internal\n",
    )
    .map_err(|e| e.to_string())?;
    sh(&format!("chown -R frr:frr {d} && chmod 755 {d}"))?;
    for prog in ["zebra", "bgpd"] {
        sh(&format!(
            "ip netns exec {ns} /usr/lib/frr/{prog} -d -f {d}/frr.conf -i {d}/{prog}.pid -z {d}/zserv.api --vty_socket {d}"
        ))?;
    }
    let rss = || -> u64 {
        ["bgpd", "zebra"]
            .iter()
            .filter_map(|p| std::fs::read_to_string(dir.join(format!("{p}.pid"))).ok())
            .filter_map(|p| std::fs::read_to_string(format!("/proc/{}/status", p.trim())).ok())
            .filter_map(|s| {
                let l = s.lines().find(|l| l.starts_with("VmRSS:"))?.to_string();
                l.split_whitespace().nth(1)?.parse::<u64>().ok()
            })
            .sum::<u64>()
            * 1024
    };
    let (hello, updates) = bgp_feed(n, 65001, 0x0a4e_0001, 0x0a4e_0001);
    let to = std::net::SocketAddr::from(([10, 78, 0, 2], 179));
    // Until FRR's bgpd has read its configuration it ends a session at
    // once (an FSM error): try again until its OPEN comes back.
    let mut s = None;
    let mut buf = [0u8; 4096];
    for _ in 0..50 {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let Ok(mut c) = std::net::TcpStream::connect_timeout(&to, std::time::Duration::from_millis(200)) else {
            continue;
        };
        if c.write_all(&hello).is_ok() && matches!(c.read(&mut buf), Ok(n) if n >= 19 && buf[18] == 1) {
            s = Some(c);
            break;
        }
    }
    let mut s = s.ok_or("FRR's bgpd does not take the session")?;
    let mut reader = s.try_clone().map_err(|e| e.to_string())?;
    std::thread::spawn(move || while matches!(reader.read(&mut buf), Ok(n) if n > 0) {});
    std::thread::sleep(std::time::Duration::from_millis(500));
    let rss0 = rss();
    let wall = Instant::now();
    s.write_all(&updates).map_err(|e| e.to_string())?;
    let vtysh = |c: &str| sh(&format!("ip netns exec {ns} vtysh --vty_socket {d} -c '{c}'"));
    // `show ip route summary`'s ibgp line: routes, and those in the FIB.
    let counts = || -> Option<(usize, usize)> {
        let t = vtysh("show ip route summary").ok()?;
        let w: Vec<usize> = t
            .lines()
            .find(|l| l.starts_with("ibgp"))?
            .split_whitespace()
            .skip(1)
            .filter_map(|x| x.parse().ok())
            .collect();
        Some((*w.first()?, *w.get(1)?))
    };
    let mut got = (0, 0);
    while wall.elapsed() < std::time::Duration::from_secs(300) {
        std::thread::sleep(std::time::Duration::from_millis(250));
        got = counts().unwrap_or_default();
        if got.0 >= n && got.1 >= n {
            break;
        }
    }
    let el = wall.elapsed();
    let per = rss().saturating_sub(rss0) as f64 / n.max(1) as f64;
    Ok(format!(
        "bgp: FRR 8.4 (bgpd and zebra in a namespace) for the same feed: {} routes, {} in the FIB after {:.2} s wall, {per:.0} B per prefix (RSS)",
        got.0,
        got.1,
        el.as_secs_f64()
    ))
}
