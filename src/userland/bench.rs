//! `vimage bench`: the figures the issues ask for, printed in one run.

use std::time::Instant;

use crate::alloc;
use crate::host::Host;
use crate::kern::Config;
use crate::kern::proc::Out;

/// `vimage bench vnets [N...]`: vnets created and destroyed per second,
/// and bytes per idle vnet with every registered module, for each N.
pub fn vnets(sizes: &[usize], out: &Out) -> i32 {
    out.write_fmt(format_args!(
        "{:>10} {:>14} {:>14} {:>12} {:>12}\n",
        "vnets", "creates/s", "destroys/s", "bytes/vnet", "rss/vnet"
    ));
    for &n in sizes {
        let host = Host::new(Config::default());
        let mut k = host.kernel();
        let mut ids = Vec::with_capacity(n);
        let (heap0, rss0) = (alloc::live_bytes(), alloc::rss_bytes());
        let t = Instant::now();
        for _ in 0..n {
            match k.vnet_create(None) {
                Ok(id) => ids.push(id),
                Err(e) => {
                    out.write_fmt(format_args!("bench: {e}\n"));
                    return 1;
                }
            }
        }
        let create = t.elapsed();
        let (heap1, rss1) = (alloc::live_bytes(), alloc::rss_bytes());
        let t = Instant::now();
        for id in ids.drain(..) {
            if let Err(e) = k.vnet_destroy(id) {
                out.write_fmt(format_args!("bench: {e}\n"));
                return 1;
            }
        }
        let destroy = t.elapsed();
        let per = |a: Option<usize>, b: Option<usize>| match (a, b) {
            (Some(a), Some(b)) => format!("{}", b.saturating_sub(a) / n.max(1)),
            _ => "-".into(),
        };
        out.write_fmt(format_args!(
            "{:>10} {:>14.0} {:>14.0} {:>12} {:>12}\n",
            n,
            n as f64 / create.as_secs_f64(),
            n as f64 / destroy.as_secs_f64(),
            per(heap0, heap1),
            per(rss0, rss1),
        ));
    }
    out.write_fmt(format_args!(
        "reference: Linux network namespace ~280 KB and ~3.7 ms each (ip netns add, this kind of machine)\n"
    ));
    0
}

/// Build a chain of `n` vnets (jails c0..c{n-1}) joined by epairs, with
/// static routes and forwarding on, over IPv4 (10.X.Y.0/24 links) or
/// IPv6 (2001:db8:I::/64); returns the host, the vnets of both ends, and
/// the addresses of the first and the far end.
pub fn chain(n: usize, cfg: Config, inet6: bool) -> Result<Chain, String> {
    let host = Host::new(cfg);
    // Link i's address of end e (1: its left, 2: its right).
    let addr = |i: usize, e: u8| -> String {
        if inet6 {
            format!("2001:db8:{i:x}::{e}")
        } else {
            format!("10.{}.{}.{e}", i / 256, i % 256)
        }
    };
    let net = |i: usize| -> String {
        if inet6 {
            format!("2001:db8:{i:x}::/64")
        } else {
            format!("10.{}.{}.0/24", i / 256, i % 256)
        }
    };
    let (plen, all) = if inet6 {
        ("64", "2001:db8::/32")
    } else {
        ("24", "10.0.0.0/8")
    };
    // No duplicate address detection: a bench wants its addresses usable
    // (bindable) at once, not after a second of virtual time.
    let (fam, dad, fwd, route) = if inet6 {
        ("inet6 ", " no_dad", "net.inet6.ip6.forwarding", "route -6 add")
    } else {
        ("", "", "net.inet.ip.forwarding", "route add -net")
    };
    let mut script = String::new();
    for i in 0..n {
        script += &format!("jail -c name=c{i} vnet persist\n");
    }
    for i in 0..n - 1 {
        script += &format!(
            "ifconfig epair{i} create\nifconfig epair{i}a vnet c{i}\nifconfig epair{i}b vnet c{}\n",
            i + 1
        );
        script += &format!("jexec c{i} ifconfig epair{i}a {fam}{}/{plen}{dad} up\n", addr(i, 1));
        script += &format!(
            "jexec c{} ifconfig epair{i}b {fam}{}/{plen}{dad} up\n",
            i + 1,
            addr(i, 2)
        );
    }
    for i in 0..n {
        if i > 0 && i < n - 1 {
            script += &format!("jexec c{i} sysctl {fwd}=1\n");
        }
        if i < n - 1 {
            script += &format!("jexec c{i} {route} {all} {}\n", addr(i, 2));
        }
    }
    // Shorter routes back: every vnet reaches the start through its left.
    for i in 2..n {
        for j in 0..i - 1 {
            script += &format!("jexec c{i} {route} {} {}\n", net(j), addr(i - 1, 1));
        }
    }
    script += &format!("jexec c{} sysctl net.inet.udp.blackhole=1\n", n - 1);
    let (out, buf) = Out::buffer();
    let mut sh = crate::userland::shell::Shell::new(&host, out.clone(), out);
    sh.run_script(script.as_bytes());
    if sh.status() != 0 {
        return Err(String::from_utf8_lossy(&buf.borrow()).into_owned());
    }
    let (first, last) = {
        let k = host.kernel();
        let id = |name: &str| k.jail_getid(crate::Jid::HOST, name).and_then(|j| k.prison_vnet(j));
        (
            id("c0").map_err(|e| e.to_string())?,
            id(&format!("c{}", n - 1)).map_err(|e| e.to_string())?,
        )
    };
    let parse = |s: String| s.parse::<std::net::IpAddr>().map_err(|e| e.to_string());
    Ok(Chain {
        host,
        first,
        last,
        src: parse(addr(0, 1))?,
        dst: parse(addr(n - 2, 2))?,
    })
}

/// A chain of vnets, built by [`chain`].
pub struct Chain {
    pub host: Host,
    pub first: crate::vnet::VnetId,
    pub last: crate::vnet::VnetId,
    /// The first vnet's address and the far end's.
    pub src: std::net::IpAddr,
    pub dst: std::net::IpAddr,
}

/// `vimage bench forward [-6] [PACKETS]`: 64-byte frames (UDP, 18 bytes
/// of payload over IPv4, 2 over IPv6) sent across a 10-vnet chain, under
/// the virtual clock, on one core.
pub fn forward(packets: usize, inet6: bool, out: &Out) -> i32 {
    use crate::netinet::ip::IPPROTO_UDP;
    use crate::netinet::ip_output::IpOpts;
    use crate::netinet::protosw::pr_output;
    use crate::netinet::udp::UDP;
    let n = 10;
    let Chain {
        host,
        first,
        last,
        src,
        dst,
    } = match chain(n, Config::default(), inet6) {
        Ok(x) => x,
        Err(e) => {
            out.write_fmt(format_args!("bench: {e}\n"));
            return 1;
        }
    };
    let mut udp = crate::kern::mbuf::Mbuf::zeroed(8 + if inet6 { 2 } else { 18 });
    let mut u = crate::wire::udp::Packet::new_unchecked(udp.data_mut());
    u.emit_header(5000, 9);
    u.fill_checksum(src, dst);
    let opts = IpOpts {
        proto: IPPROTO_UDP,
        ..IpOpts::default()
    };
    let mut k = host.kernel();
    let got = |k: &mut crate::Kernel| k.vnet(last).map(|v| v.builtin(UDP).stats.noport).unwrap_or(0);
    // Send a batch, then run the (virtual) clock until it has arrived:
    // the links serialize frames at their line rates.
    let send = |k: &mut crate::Kernel, count: usize| {
        let before = got(k);
        for _ in 0..count {
            let _ = k.with_vnet(first, |k, v| pr_output(k, v, udp.clone(), src, dst, opts));
        }
        k.run_due();
        while got(k) < before + count as u64 {
            let Some(t) = k.next_deadline() else { break };
            k.clock.advance_to(t);
            k.run_due();
        }
    };
    // Warm up: ARP along the chain.
    send(&mut k, 16);
    // Three rounds: the median and the best (a busy machine only slows one).
    let mut rounds = Vec::new();
    let mut lost = false;
    for _ in 0..3 {
        let before = k.vnet(last).map(|v| v.builtin(UDP).stats.noport).unwrap_or(0);
        let frames0 = k.stats.frames;
        let batch = 256;
        let t = Instant::now();
        let mut sent = 0;
        while sent < packets {
            let b = batch.min(packets - sent);
            send(&mut k, b);
            sent += b;
        }
        let el = t.elapsed().as_secs_f64();
        let got = k.vnet(last).map(|v| v.builtin(UDP).stats.noport).unwrap_or(0) - before;
        let hops = k.stats.frames - frames0;
        lost |= got as usize != packets;
        rounds.push((got as f64 / el, hops as f64 / el, hops / got.max(1)));
    }
    rounds.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (med, best) = (rounds[1], rounds[2]);
    out.write_fmt(format_args!(
        "forward: {packets} frames of 64 bytes over a {n}-vnet chain, {}, 3 rounds ({} hops a frame)\n",
        if inet6 { "IPv6" } else { "IPv4" },
        med.2
    ));
    out.write_fmt(format_args!(
        "  median {:.0} frames/s end to end ({:.0} hop deliveries/s); best {:.0} ({:.0})\n",
        med.0, med.1, best.0, best.1
    ));
    out.write_fmt(format_args!(
        "  reference: FreeBSD epair routing 1-2 M/s; Linux veth chain ~167 k/s (iperf3, this machine)\n"
    ));
    i32::from(lost)
}

/// Move `bytes` over TCP from the first to the last vnet of an `n`-vnet
/// chain whose links have MTU `mtu`, over IPv4 or IPv6 (virtual clock,
/// links without delay: the figure is what one core moves). Gbit/s of
/// payload.
pub fn tcp_throughput(n: usize, mtu: u32, bytes: usize, inet6: bool) -> Result<f64, String> {
    use crate::socket::{TcpListener, TcpStream};
    let Chain { host, dst, .. } = chain(n.max(2), Config::default(), inet6)?;
    for i in 0..n.max(2) - 1 {
        for (end, jail) in [("a", i), ("b", i + 1)] {
            let o = host.exec(&format!("jexec c{jail} ifconfig epair{i}{end} mtu {mtu}"));
            if !o.success() {
                return Err(o.stderr);
            }
        }
    }
    let jail = |name: &str| {
        host.kernel()
            .jail_getid(crate::Jid::HOST, name)
            .map_err(|e| e.to_string())
    };
    let (a, b) = (jail("c0")?, jail(&format!("c{}", n.max(2) - 1))?);
    let (pa, pb) = (
        host.proc(a, crate::Stdio::null_all()),
        host.proc(b, crate::Stdio::null_all()),
    );
    let to = std::net::SocketAddr::new(dst, 5201);
    let l = TcpListener::bind(&pb, to).map_err(|e| e.to_string())?;
    let block = 128 * 1024;
    let server = host.tasks().spawn(Box::pin(async move {
        let Ok((mut s, _)) = l.accept().await else { return 1 };
        let mut buf = vec![0u8; block];
        let mut got = 0;
        loop {
            match s.read(&mut buf).await {
                Ok(0) => return i32::from(got != bytes),
                Ok(k) => got += k,
                Err(_) => return 1,
            }
        }
    }));
    let started = std::rc::Rc::new(std::cell::Cell::new(None));
    let st = started.clone();
    let client = host.tasks().spawn(Box::pin(async move {
        let Ok(mut s) = TcpStream::connect(&pa, to).await else {
            return 1;
        };
        st.set(Some(Instant::now()));
        let block = vec![0x5au8; 128 * 1024];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(block.len());
            if s.write_all(&block[..n]).await.is_err() {
                return 1;
            }
            left -= n;
        }
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut b = [0u8; 1];
        let _ = s.read(&mut b).await;
        0
    }));
    let r = host.wait(server).map_err(|e| e.to_string())?;
    let el = started.get().map(|t| t.elapsed()).unwrap_or_default();
    let _ = host.wait(client);
    if r != 0 {
        return Err("the transfer did not complete".into());
    }
    Ok(bytes as f64 * 8.0 / el.as_secs_f64() / 1e9)
}

/// The median and the best of `runs` measurements (a busy machine only
/// ever makes a run slower).
pub fn median_best(runs: usize, mut f: impl FnMut() -> Result<f64, String>) -> Result<(f64, f64), String> {
    let mut v = (0..runs.max(1)).map(|_| f()).collect::<Result<Vec<f64>, String>>()?;
    v.sort_by(f64::total_cmp);
    Ok((v[v.len() / 2], v[v.len() - 1]))
}

/// `vimage bench tcp [-6] [MBYTES]`: TCP throughput on one core between
/// two vnets on one epair at MTU 1500 and 65535, and across a 10-vnet
/// chain; the median and best of three transfers each.
pub fn tcp(mbytes: usize, inet6: bool, out: &Out) -> i32 {
    let bytes = mbytes << 20;
    let mut status = 0;
    out.write_fmt(format_args!(
        "tcp: {mbytes} MB per transfer over {}, median and best of 3, Gbit/s\n",
        if inet6 { "IPv6" } else { "IPv4" }
    ));
    for (name, n, mtu) in [
        ("2 vnets, 1 epair, MTU 1500", 2, 1500),
        ("2 vnets, 1 epair, MTU 65535", 2, 65535),
        ("10-vnet routed chain, MTU 1500", 10, 1500),
    ] {
        match median_best(3, || tcp_throughput(n, mtu, bytes, inet6)) {
            Ok((m, b)) => out.write_fmt(format_args!("  {name:<32} {m:>7.2} {b:>7.2}\n")),
            Err(e) => {
                out.write_fmt(format_args!("  {name}: {e}\n"));
                status = 1;
            }
        }
    }
    out.write_fmt(format_args!(
        "  reference: Linux netns + veth, 10-namespace chain, offloads off: 2.55 Gbit/s (this machine)\n"
    ));
    status
}

/// `vimage bench route [ROUTES]`: lookups per second in a large table.
pub fn route(routes: usize, out: &Out) -> i32 {
    use crate::net::route::{Gateway, RouteTable, Rtentry};
    let mut t = RouteTable::default();
    let mut x = 0x2545_f491_u32;
    let mut rnd = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    let start = Instant::now();
    let mut added = 0;
    while added < routes {
        let plen = 8 + (rnd() % 25) as u8;
        let e = Rtentry {
            dst: rnd(),
            plen,
            gateway: Gateway::Inet(0x0a00_0001),
            ifindex: 2,
            flags: 0,
            mtu: 0,
        };
        if t.add(e).is_ok() {
            added += 1;
        }
    }
    let insert = start.elapsed();
    let addrs: Vec<u32> = (0..1_000_000).map(|_| rnd()).collect();
    let start = Instant::now();
    let mut hits = 0u64;
    for _ in 0..5 {
        for &a in &addrs {
            hits += t.lookup(a).is_some() as u64;
        }
    }
    let el = start.elapsed();
    out.write_fmt(format_args!(
        "route: {routes} routes inserted in {:.3} s; {:.0} lookups/s ({:.0} ns each, {hits} hits)\n",
        insert.as_secs_f64(),
        5e6 / el.as_secs_f64(),
        el.as_nanos() as f64 / 5e6
    ));
    0
}

/// `vimage bench ospf [N]`: an N x N grid of routers (routes = "ospf"
/// in a lab's words) under the virtual clock, run until every router
/// has a route to every link; the virtual and wall time it took, and
/// what ospfd did meanwhile. Then a link in the middle fails (both ends
/// down) and the same until no router has a route to it and every
/// router still has one to every other link: reconvergence.
pub fn ospf(n: usize, out: &Out) -> i32 {
    use crate::lab::Lab;
    use crate::net::route::ROUTE;
    let text = format!("name = \"ospf grid\"\nroutes = \"ospf\"\n[topology]\nkind = \"grid\"\nsize = [{n}, {n}]\n");
    let lab = match Lab::parse("bench", &text) {
        Ok(l) => l,
        Err(e) => {
            out.write_fmt(format_args!("bench: {e}\n"));
            return 2;
        }
    };
    let host = Host::new(Config::default());
    let wall = Instant::now();
    let built = match crate::lab::build(&host, &lab) {
        Ok(b) => b,
        Err(e) => {
            out.write_fmt(format_args!("bench: {e}\n"));
            return 1;
        }
    };
    for node in &lab.nodes {
        let o = host.exec(&format!("jexec {} ospfd -d", node.name));
        if !o.success() {
            out.write_fmt(format_args!("bench: {}: {}", node.name, o.stderr));
            return 1;
        }
    }
    let links = lab.links.len();
    // Routers with routes to every link but `dead` (host routes aside),
    // and none through a gateway to it (its ends keep their own).
    let routed = |host: &Host, dead: Option<(u32, u8)>| {
        let mut k = host.kernel();
        let want = links - usize::from(dead.is_some());
        built
            .vnets
            .iter()
            .filter(|&&v| {
                k.vnet(v).ok().and_then(|v| v.get(ROUTE)).is_some_and(|t| {
                    let e = t.entries();
                    let to_dead = |x: &&crate::net::route::Rtentry| Some((x.dst, x.plen)) == dead;
                    e.iter().filter(|x| x.plen < 32 && !to_dead(x)).count() == want
                        && !e
                            .iter()
                            .any(|x| to_dead(&x) && x.flags & crate::net::route::RTF_GATEWAY != 0)
                })
            })
            .count()
    };
    // Run in `step`s until every router has its routes (10 minutes at
    // most); how many do.
    let converge = |host: &Host, dead: Option<(u32, u8)>, step: std::time::Duration| {
        let mut done = 0;
        for _ in 0..(600_000 / step.as_millis().max(1)) {
            host.run_for(step);
            done = routed(host, dead);
            if done == built.vnets.len() {
                break;
            }
        }
        done
    };
    let start = host.now();
    let done = converge(&host, None, std::time::Duration::from_secs(1));
    let virt = host.now().saturating_sub(start);
    let el = wall.elapsed();
    let (mut spf, mut sent) = (0, 0);
    for &jid in &built.jids {
        let p = host.proc(jid, crate::kern::proc::Stdio::null_all());
        if let Some(f) = crate::routing::frr_of(&p)
            && let Some(o) = f.borrow().ospf.as_ref()
        {
            spf += o.spf_runs;
            sent += o.sent;
        }
    }
    out.write_fmt(format_args!("ospf: {spf} SPF runs, {sent} packets sent\n"));
    out.write_fmt(format_args!(
        "ospf: {n}x{n} grid, {} routers, {links} links: {done} routers with all {links} routes after {:.0} s virtual, {:.2} s wall{}\n",
        built.vnets.len(),
        virt.as_secs_f64(),
        el.as_secs_f64(),
        alloc::live_bytes().map_or(String::new(), |h| format!(", heap {:.1} MB", h as f64 / 1e6))
    ));
    if done != built.vnets.len() || links == 0 {
        return 1;
    }
    // The middle link fails.
    let mid = links / 2;
    let l = &lab.links[mid];
    let ends = [(l.a, &built.ifnames[mid].0), (l.b, &built.ifnames[mid].1)];
    for (node, ifname) in ends {
        let name = &lab.nodes[node].name;
        let o = host.exec(&format!("jexec {name} ifconfig {ifname} down"));
        if !o.success() {
            out.write_fmt(format_args!("bench: {name}: {}", o.stderr));
            return 1;
        }
    }
    let dead = l.addr[0].map(|(a, plen)| (a & crate::net::radix::mask(plen), plen));
    let (start, wall) = (host.now(), Instant::now());
    let again = converge(&host, dead, std::time::Duration::from_millis(10));
    out.write_fmt(format_args!(
        "ospf: link {}-{} down: {again} routers with the other {} routes and none to it after {:.2} s virtual, {:.2} s wall\n",
        lab.nodes[l.a].name,
        lab.nodes[l.b].name,
        links - 1,
        host.now().saturating_sub(start).as_secs_f64(),
        wall.elapsed().as_secs_f64(),
    ));
    i32::from(again != built.vnets.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both families' benches move every byte across a routed chain (a
    /// bench that only errs prints no figure, and nothing else would say).
    #[test]
    fn the_tcp_bench_runs_over_both_families() {
        for inet6 in [false, true] {
            let r = tcp_throughput(3, 1500, 1 << 20, inet6);
            assert!(matches!(r, Ok(g) if g > 0.0), "inet6 {inet6}: {r:?}");
        }
    }

    /// The OSPF grid converges, and again after its middle link fails.
    #[test]
    fn the_ospf_bench_converges_and_reconverges() {
        let (out, buf) = Out::buffer();
        assert_eq!(ospf(3, &out), 0);
        let text = String::from_utf8_lossy(&buf.borrow()).to_string();
        assert!(text.contains(": 9 routers with all 12 routes after "), "{text}");
        assert!(
            text.contains(" down: 9 routers with the other 11 routes and none to it after "),
            "{text}"
        );
    }
}
