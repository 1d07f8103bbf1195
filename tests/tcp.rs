//! TCP end to end inside vimage: transfers of random data (checked by
//! hash) across routers, under loss, duplication, reordering and jitter,
//! with both congestion control algorithms; the handshake, close and
//! reset behaviours; and the counters they leave.

mod common;

use std::hash::{DefaultHasher, Hasher};
use std::net::{Shutdown, SocketAddr};
use std::time::Duration;

use common::{ok, proc_in, run};
use vimage::socket::{TcpListener, TcpStream};
use vimage::{Host, Jid, Stdio};

/// a -- r -- b (see `routed_lab`), with `pipe` options on both
/// directions of the a-r link.
fn lab(seed: u64, pipe: &str) -> Host {
    let h = common::routed_lab(seed);
    if !pipe.is_empty() {
        ok(&h, &format!("jexec a pipe epair0a config {pipe}"));
        ok(&h, &format!("jexec r pipe epair0b config {pipe}"));
    }
    h
}

fn hash(d: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    h.write(d);
    h.finish()
}

/// Send `n` random bytes from a to b; what b got, and a's retransmits.
fn transfer(h: &Host, n: usize, cc: &str) -> (Vec<u8>, Vec<u8>, u64) {
    let jail = |name: &str| h.kernel().jail_getid(Jid::HOST, name).expect("jail");
    let pa = h.proc(jail("a"), Stdio::inherit());
    let pb = h.proc(jail("b"), Stdio::inherit());
    let sent = common::random_bytes(n, 42);
    let to_send = sent.clone();
    let got = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let got2 = got.clone();
    let listener = TcpListener::bind(&pb, "0.0.0.0:5001".parse().expect("addr")).expect("bind");
    let server = h.tasks().spawn(Box::pin(async move {
        let (mut s, _) = listener.accept().await.expect("accept");
        let mut buf = vec![0u8; 65536];
        loop {
            match s.read(&mut buf).await {
                Ok(0) => return 0,
                Ok(k) => got2.borrow_mut().extend_from_slice(&buf[..k]),
                Err(_) => return 1,
            }
        }
    }));
    let rexmits = std::rc::Rc::new(std::cell::Cell::new(0));
    let r2 = rexmits.clone();
    let cc = cc.to_string();
    let client = h.tasks().spawn(Box::pin(async move {
        let to: SocketAddr = "10.0.2.2:5001".parse().expect("addr");
        let mut s = TcpStream::connect(&pa, to).await.expect("connect");
        s.set_congestion(&cc).expect("cc");
        for chunk in to_send.chunks(100_000) {
            s.write_all(chunk).await.expect("write");
        }
        s.shutdown(Shutdown::Write).expect("shutdown");
        // Wait for the peer's FIN: all was acknowledged.
        let mut b = [0u8; 1];
        let _ = s.read(&mut b).await;
        r2.set(s.retransmits().unwrap_or(0));
        0
    }));
    assert_eq!(h.wait(client), Ok(0));
    assert_eq!(h.wait(server), Ok(0));
    let got = got.borrow().clone();
    (sent, got, rexmits.get())
}

#[test]
fn a_clean_transfer_across_a_router() {
    let h = lab(1, "");
    let (sent, got, rexmits) = transfer(&h, 2_000_000, "newreno");
    assert_eq!(got.len(), sent.len());
    assert_eq!(hash(&got), hash(&sent));
    assert_eq!(rexmits, 0);
    let s = ok(&h, "jexec a netstat -s -p tcp");
    assert!(s.contains("\t1 connection request\n"), "{s}");
    assert!(s.contains("\t1 connection established (including accepts)\n"), "{s}");
}

#[test]
fn transfers_survive_loss_duplication_reordering_and_jitter() {
    for cc in ["newreno", "cubic"] {
        for (seed, pipe) in [
            (2, "plr 0.02 delay 5ms"),
            (3, "dup 0.05 delay 2ms jitter 2ms uniform"),
            (4, "delay 10ms jitter 8ms normal plr 0.01 dup 0.01"),
            (5, "bw 20Mbit/s delay 10ms queue 20 plr 0.005"),
        ] {
            let h = lab(seed, pipe);
            let (sent, got, rexmits) = transfer(&h, 1_000_000, cc);
            assert_eq!(got.len(), sent.len(), "{cc} {pipe}");
            assert_eq!(hash(&got), hash(&sent), "{cc} {pipe}: the bytes differ");
            if pipe.contains("plr") {
                assert!(rexmits > 0, "{cc} {pipe}: losses mean retransmissions");
            }
        }
    }
}

#[test]
fn connection_refused_reset_and_timeouts() {
    let h = lab(6, "");
    let jail = |name: &str| h.kernel().jail_getid(Jid::HOST, name).expect("jail");
    let pa = h.proc(jail("a"), Stdio::inherit());
    // Nobody listens on b:9: a RST answers the SYN.
    let t = h.tasks().spawn(Box::pin(async move {
        match TcpStream::connect(&pa, "10.0.2.2:9".parse().expect("addr")).await {
            Err(e) if e.to_string() == "Connection refused" => 0,
            _ => 1,
        }
    }));
    assert_eq!(h.wait(t), Ok(0));
    // Nobody at all at 10.0.2.77: ARP fails, the router says host unreachable.
    let pa = h.proc(jail("a"), Stdio::inherit());
    let t = h.tasks().spawn(Box::pin(async move {
        match TcpStream::connect(&pa, "10.0.2.77:9".parse().expect("addr")).await {
            Err(e) => (e.to_string() != "No route to host") as i32,
            Ok(_) => 2,
        }
    }));
    assert_eq!(h.wait(t), Ok(0));
    let s = ok(&h, "jexec a netstat -ss -p tcp");
    // Both attempts die embryonic; the unreachable one after its SYN was
    // resent past three timeouts with the ICMP error kept (`tcp_notify`).
    for line in [
        "\t2 connection requests\n",
        "\t2 embryonic connections dropped\n",
        "\t3 retransmit timeouts\n",
    ] {
        assert!(s.contains(line), "{line:?} in {s}");
    }
}

#[test]
fn close_and_time_wait() {
    let h = lab(7, "");
    let jail = |name: &str| h.kernel().jail_getid(Jid::HOST, name).expect("jail");
    let (pa, pb) = (h.proc(jail("a"), Stdio::inherit()), h.proc(jail("b"), Stdio::inherit()));
    let l = TcpListener::bind(&pb, "0.0.0.0:80".parse().expect("addr")).expect("bind");
    let srv = h.tasks().spawn(Box::pin(async move {
        let (mut s, _) = l.accept().await.expect("accept");
        let mut b = [0u8; 10];
        let n = s.read(&mut b).await.unwrap_or(99);
        s.write_all(b"bye").await.expect("write");
        // b closes first: it is b that waits in TIME_WAIT.
        drop(s);
        n as i32
    }));
    let cli = h.tasks().spawn(Box::pin(async move {
        let mut s = TcpStream::connect(&pa, "10.0.2.2:80".parse().expect("addr"))
            .await
            .expect("connect");
        s.write_all(b"hi").await.expect("write");
        let mut b = [0u8; 10];
        let mut got = Vec::new();
        loop {
            match s.read(&mut b).await {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&b[..n]),
                Err(_) => return 2,
            }
        }
        (got != b"bye") as i32
    }));
    assert_eq!(h.wait(cli), Ok(0));
    assert_eq!(h.wait(srv), Ok(2));
    h.run_for(Duration::from_secs(1));
    let b = ok(&h, "jexec b netstat -an -p tcp");
    assert!(b.contains("TIME_WAIT"), "{b}");
    // 2MSL later it is gone.
    h.run_for(Duration::from_secs(61));
    let b = ok(&h, "jexec b netstat -an -p tcp");
    assert!(!b.contains("TIME_WAIT"), "{b}");
}

#[test]
fn a_new_syn_takes_over_a_connection_in_time_wait() {
    let h = lab(8, "");
    let (pa, pb) = (proc_in(&h, "a"), proc_in(&h, "b"));
    let l = TcpListener::bind(&pb, "0.0.0.0:80".parse().expect("addr")).expect("bind");
    let srv = h.tasks().spawn(Box::pin(async move {
        for _ in 0..2 {
            let Ok((mut s, _)) = l.accept().await else { return 1 };
            // b closes first, so b holds the pair of ends in TIME_WAIT.
            let _ = s.write_all(b"bye").await;
        }
        0
    }));
    let to: SocketAddr = "10.0.2.2:80".parse().expect("addr");
    let once = |from: Option<SocketAddr>| {
        let pa = pa.clone();
        h.tasks().spawn(Box::pin(async move {
            let Ok(mut s) = TcpStream::connect_from(&pa, from, to).await else {
                return -1;
            };
            let port = s.local_addr().map_or(0, |a| a.port());
            let mut got = Vec::new();
            let _ = s.read_to_end(&mut got).await;
            if got == b"bye" { i32::from(port) } else { -2 }
        }))
    };
    let first = once(None);
    let port = h.wait(first).expect("first");
    assert!(port > 0, "{port}");
    assert!(ok(&h, "jexec b netstat -an -p tcp").contains("TIME_WAIT"));
    // The same ends again, at once: b lets the old connection go (RFC
    // 6191), where a challenge would cost a's SYN a retransmission.
    let t = h.now();
    let from = SocketAddr::new("10.0.1.2".parse().expect("addr"), port as u16);
    let again = once(Some(from));
    assert_eq!(h.wait(again), Ok(port));
    assert!(
        h.now().saturating_sub(t) < Duration::from_millis(500),
        "no SYN was resent"
    );
    assert_eq!(h.wait(srv), Ok(0));
}

#[test]
fn half_close_and_a_zero_window() {
    let h = lab(8, "delay 1ms");
    let (pa, pb) = (proc_in(&h, "a"), proc_in(&h, "b"));
    let l = TcpListener::bind(&pb, "0.0.0.0:9000".parse().expect("addr")).expect("bind");
    let pb2 = pb.clone();
    let srv = h.tasks().spawn(Box::pin(async move {
        let (mut s, _) = l.accept().await.expect("accept");
        // Read nothing for 20 s: the window closes, the sender probes it.
        pb2.sleep(Duration::from_secs(20)).await;
        let mut got = Vec::new();
        if s.read_to_end(&mut got).await.is_err() {
            return 1;
        }
        // The client's half is closed; ours still carries a reply.
        let reply = common::random_bytes(100_000, 9);
        s.write_all(&reply).await.expect("reply");
        i32::from(hash(&got) != hash(&common::random_bytes(8_000_000, 8)))
    }));
    let cli = h.tasks().spawn(Box::pin(async move {
        let mut s = TcpStream::connect(&pa, "10.0.2.2:9000".parse().expect("addr"))
            .await
            .expect("connect");
        s.write_all(&common::random_bytes(8_000_000, 8)).await.expect("write");
        s.shutdown(Shutdown::Write).expect("shutdown");
        let mut got = Vec::new();
        if s.read_to_end(&mut got).await.is_err() {
            return 2;
        }
        i32::from(hash(&got) != hash(&common::random_bytes(100_000, 9)))
    }));
    assert_eq!(h.wait(srv), Ok(0), "the server got the 8 MB");
    assert_eq!(h.wait(cli), Ok(0), "the client got the reply after its FIN");
    let a = ok(&h, "jexec a netstat -s -p tcp");
    let probes: u64 = a
        .lines()
        .find(|l| l.ends_with("window probe packets"))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let b = ok(&h, "jexec b netstat -ss -p tcp");
    assert!(probes >= 1, "the persist timer probed the zero window: {a}\n{b}");
}

#[test]
fn simultaneous_open() {
    let h = lab(9, "");
    let (pa, pb) = (proc_in(&h, "a"), proc_in(&h, "b"));
    let ta = h.tasks().spawn(Box::pin(async move {
        let from = Some("10.0.1.2:7000".parse().expect("addr"));
        let mut s = match TcpStream::connect_from(&pa, from, "10.0.2.2:7001".parse().expect("addr")).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("a: {e}");
                return 1;
            }
        };
        s.write_all(b"from a").await.expect("write");
        let mut b = [0u8; 6];
        s.read_exact(&mut b).await.expect("read");
        i32::from(&b != b"from b")
    }));
    let tb = h.tasks().spawn(Box::pin(async move {
        let from = Some("10.0.2.2:7001".parse().expect("addr"));
        let Ok(mut s) = TcpStream::connect_from(&pb, from, "10.0.1.2:7000".parse().expect("addr")).await else {
            return 1;
        };
        s.write_all(b"from b").await.expect("write");
        let mut b = [0u8; 6];
        s.read_exact(&mut b).await.expect("read");
        i32::from(&b != b"from a")
    }));
    assert_eq!((h.wait(ta), h.wait(tb)), (Ok(0), Ok(0)));
    // Both sides counted a connection request and an establishment.
    for j in ["a", "b"] {
        let s = ok(&h, &format!("jexec {j} netstat -s -p tcp"));
        assert!(
            s.contains("\t1 connection request\n") && s.contains("\t1 connection established"),
            "{j}: {s}"
        );
    }
}

#[test]
fn path_mtu_discovery_shrinks_the_segments() {
    let h = lab(10, "");
    // The router's link onward is narrower than both ends know.
    ok(&h, "jexec r ifconfig epair1a mtu 1280");
    let (sent, got, _) = transfer(&h, 500_000, "cubic");
    assert_eq!(hash(&got), hash(&sent));
    let a = ok(&h, "jexec a netstat -s -p tcp");
    assert!(a.contains("\t\t1 resend initiated by MTU discovery\n"), "{a}");
    let icmp = ok(&h, "jexec r netstat -s -p icmp");
    assert!(icmp.contains("destination unreachable: "), "{icmp}");
}

#[test]
fn keepalive_drops_a_dead_peer() {
    let h = lab(11, "");
    run(
        &h,
        "jexec a sysctl net.inet.tcp.keepidle=2000
         jexec a sysctl net.inet.tcp.keepintvl=500
         jexec a sysctl net.inet.tcp.keepcnt=3",
    );
    let (pa, pb) = (proc_in(&h, "a"), proc_in(&h, "b"));
    let l = TcpListener::bind(&pb, "0.0.0.0:22".parse().expect("addr")).expect("bind");
    let _srv = h.tasks().spawn(Box::pin(async move {
        let (s, _) = l.accept().await.expect("accept");
        std::future::pending::<()>().await;
        drop(s);
        0
    }));
    let cli = h.tasks().spawn(Box::pin(async move {
        let mut s = TcpStream::connect(&pa, "10.0.2.2:22".parse().expect("addr"))
            .await
            .expect("connect");
        s.set_keepalive(true).expect("keepalive");
        let mut b = [0u8; 1];
        match s.read(&mut b).await {
            Err(e) if e.to_string() == "Operation timed out" => 0,
            other => {
                eprintln!("{other:?}");
                1
            }
        }
    }));
    h.run_for(Duration::from_secs(1));
    // The peer vanishes without a word.
    ok(&h, "jexec b ifconfig epair1b down");
    let t0 = h.now();
    assert_eq!(h.wait(cli), Ok(0));
    let took = h.now().saturating_sub(t0);
    assert!(
        took >= Duration::from_millis(2500) && took <= Duration::from_secs(5),
        "{took:?}"
    );
    let a = ok(&h, "jexec a netstat -s -p tcp");
    assert!(
        a.contains("\t\t3 keepalive probes sent\n") && a.contains("\t\t1 connection dropped by keepalive\n"),
        "{a}"
    );
}

#[test]
fn a_syn_flood_costs_bounded_memory_and_cookies_keep_the_door_open() {
    use vimage::fuzz::tcp::{Op, TcpRig};
    let mut rig = TcpRig::new();
    ok(&rig.host, "jexec s sysctl net.inet.tcp.syncache.cachelimit=64");
    for i in 0..1000u32 {
        rig.step(&Op::Syn {
            port: 0,
            isn: i.wrapping_mul(7919),
        });
        if i % 2 == 0 {
            // Different source ports: distinct half-open connections.
            rig.step(&Op::Syn {
                port: (i % 3000) as u16 + 4,
                isn: i,
            });
        }
    }
    assert_eq!(rig.check(), Ok(()));
    let s = ok(&rig.host, "jexec s netstat -s -p tcp");
    assert!(!s.contains("\t0 cookies sent\n"), "past the limit, cookies: {s}");
    // A real client still gets in.
    let p = proc_in(&rig.host, "p");
    let t = rig.host.tasks().spawn(Box::pin(async move {
        match TcpStream::connect(&p, "10.0.0.1:80".parse().expect("addr")).await {
            Ok(_) => 0,
            Err(_) => 1,
        }
    }));
    assert_eq!(rig.host.wait(t), Ok(0));
}
