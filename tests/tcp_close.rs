//! Every way a TCP connection ends, judged by the segments on the wire
//! (RFC 9293 §3.6): one FIN per side at the sequence number after its
//! data, acknowledged once and never sent again at a new number; a
//! close with unread data is a reset (RFC 2525 §2.17); a simultaneous
//! close takes both sides through CLOSING to TIME_WAIT.

mod common;

use std::net::Shutdown;
use std::time::Duration;

use common::{ok, proc_in};
use vimage::Host;
use vimage::socket::{TcpListener, TcpStream};

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

/// One TCP segment as a capture saw it.
#[derive(Clone, Copy, Debug)]
struct Seg {
    /// From the client (a, 10.0.1.2)?
    from_client: bool,
    flags: u8,
    seq: u32,
    ack: u32,
    len: u32,
}

/// The TCP segments of an Ethernet/IPv4 pcap, read from their bytes.
fn segments(pcap: &std::path::Path) -> Vec<Seg> {
    let f = std::fs::File::open(pcap).expect("pcap");
    let mut r = pcap_file::pcap::PcapReader::new(f).expect("pcap header");
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        let d = p.expect("packet").data;
        if d.len() < 14 + 20 || d[12..14] != [0x08, 0x00] || d[14 + 9] != 6 {
            continue;
        }
        let ip = &d[14..];
        let ihl = usize::from(ip[0] & 0xf) * 4;
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        let th = &ip[ihl..];
        let off = usize::from(th[12] >> 4) * 4;
        let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        out.push(Seg {
            from_client: ip[12..16] == [10, 0, 1, 2],
            flags: th[13],
            seq: be32(&th[4..8]),
            ack: be32(&th[8..12]),
            len: (total - ihl - off) as u32,
        });
    }
    out
}

/// What each side sent, in order.
fn side(segs: &[Seg], client: bool) -> Vec<Seg> {
    segs.iter().copied().filter(|s| s.from_client == client).collect()
}

/// The one FIN a side sent: its sequence number, after all its data.
/// Panics (with the trace) if there were two at different numbers.
fn the_fin(segs: &[Seg], client: bool) -> u32 {
    let mine = side(segs, client);
    let fins: Vec<u32> = mine
        .iter()
        .filter(|s| s.flags & FIN != 0)
        .map(|s| s.seq + s.len)
        .collect();
    assert!(!fins.is_empty(), "no FIN from {}: {segs:#?}", who(client));
    assert!(
        fins.iter().all(|&f| f == fins[0]),
        "{} sent FINs at different sequence numbers {fins:?}: {segs:#?}",
        who(client)
    );
    let data_end = mine
        .iter()
        .filter(|s| s.len > 0 || s.flags & SYN != 0)
        .map(|s| s.seq.wrapping_add(s.len.max(1)))
        .max()
        .unwrap_or(0);
    assert_eq!(fins[0], data_end, "the FIN follows the data: {segs:#?}");
    // Nothing after the FIN is sent at a sequence number past it + 1.
    for s in &mine {
        assert!(
            (s.seq.wrapping_sub(fins[0]) as i32) <= 1,
            "{} sent past its FIN: {s:?}",
            who(client)
        );
    }
    fins[0]
}

fn who(client: bool) -> &'static str {
    if client { "the client" } else { "the server" }
}

/// What one end of a connection does with it; 0 if all went as meant.
type Side = std::pin::Pin<Box<dyn Future<Output = i32>>>;

/// A a -- r -- b lab capturing on b's interface, a server on b:80
/// running `server`, and a client on a running `client`; both must
/// return 0. The segments seen, and b's and a's netstat afterwards.
fn close_case(
    seed: u64,
    pipe: &str,
    name: &str,
    server: impl FnOnce(TcpStream, vimage::Proc) -> Side + 'static,
    client: impl FnOnce(TcpStream, vimage::Proc) -> Side + 'static,
) -> (Vec<Seg>, Host) {
    let h = common::routed_lab(seed);
    if !pipe.is_empty() {
        ok(&h, &format!("jexec r pipe epair0b config {pipe}"));
        ok(&h, &format!("jexec r pipe epair1a config {pipe}"));
    }
    let pcap = common::tmpdir(name).join("b.pcap");
    ok(&h, &format!("jexec b tcpdump -i epair1b -w {} &", pcap.display()));
    let (pa, pb) = (proc_in(&h, "a"), proc_in(&h, "b"));
    let l = TcpListener::bind(&pb, "0.0.0.0:80".parse().expect("addr")).expect("bind");
    let pb2 = pb.clone();
    let srv = h.tasks().spawn(Box::pin(async move {
        let (s, _) = l.accept().await.expect("accept");
        server(s, pb2).await
    }));
    let pa2 = pa.clone();
    let cli = h.tasks().spawn(Box::pin(async move {
        let s = TcpStream::connect(&pa, "10.0.2.2:80".parse().expect("addr"))
            .await
            .expect("connect");
        client(s, pa2).await
    }));
    assert_eq!(h.wait(cli), Ok(0), "client");
    assert_eq!(h.wait(srv), Ok(0), "server");
    // Long enough for every retransmission timer that might (wrongly) fire.
    h.run_for(Duration::from_secs(10));
    h.tasks().kill_all();
    let segs = segments(&pcap);
    assert!(
        segs.iter().any(|s| s.flags & (SYN | ACK) == SYN | ACK),
        "captured: {segs:#?}"
    );
    (segs, h)
}

/// Read to the end of the stream; 0 if it ended cleanly.
async fn drain(s: &mut TcpStream) -> i32 {
    let mut got = Vec::new();
    i32::from(s.read_to_end(&mut got).await.is_err())
}

/// The graceful end both ways: each FIN once, the last ACK at FIN + 1,
/// no reset.
fn assert_graceful(segs: &[Seg]) {
    let cfin = the_fin(segs, true);
    let sfin = the_fin(segs, false);
    assert!(segs.iter().all(|s| s.flags & RST == 0), "no reset: {segs:#?}");
    let c = side(segs, true);
    let last = c.last().expect("client segments");
    assert_eq!(
        (last.flags, last.seq, last.ack),
        (ACK, cfin + 1, sfin + 1),
        "the client's last segment acknowledges the server's FIN: {segs:#?}"
    );
    for (client, fin) in [(true, cfin), (false, sfin)] {
        let peer = side(segs, !client);
        assert!(
            peer.iter().any(|s| s.flags & ACK != 0 && s.ack == fin + 1),
            "{}'s FIN was acknowledged: {segs:#?}",
            who(client)
        );
        // Without loss each FIN goes once.
        let n = side(segs, client).iter().filter(|s| s.flags & FIN != 0).count();
        assert_eq!(n, 1, "{} sent one FIN: {segs:#?}", who(client));
    }
}

#[test]
fn shutdown_then_close_sends_one_fin() {
    // nc -N: write, shutdown(SHUT_WR), read to the end, close.
    let (segs, _h) = close_case(
        1,
        "",
        "close-shutdown",
        |mut s, _| Box::pin(async move { drain(&mut s).await }),
        |mut s, _| {
            Box::pin(async move {
                s.write_all(b"hello world").await.expect("write");
                s.shutdown(Shutdown::Write).expect("shutdown");
                drain(&mut s).await
            })
        },
    );
    assert_graceful(&segs);
    let c = side(&segs, true);
    assert!(c.iter().any(|s| s.len == 11), "the data went: {segs:#?}");
}

#[test]
fn close_alone_sends_one_fin() {
    // The server closes first once it has everything; the client closes
    // after the server's FIN (its close is then a LAST_ACK).
    let (segs, h) = close_case(
        2,
        "",
        "close-only",
        |mut s, _| {
            Box::pin(async move {
                let mut b = [0u8; 11];
                s.read_exact(&mut b).await.expect("read");
                drop(s);
                i32::from(&b != b"hello world")
            })
        },
        |mut s, _| {
            Box::pin(async move {
                s.write_all(b"hello world").await.expect("write");
                let r = drain(&mut s).await;
                drop(s);
                r
            })
        },
    );
    let sfin = the_fin(&segs, false);
    let cfin = the_fin(&segs, true);
    assert!(segs.iter().all(|s| s.flags & RST == 0), "no reset: {segs:#?}");
    // The server closed first: its last segment acknowledges the client's FIN.
    let last = *side(&segs, false).last().expect("server segments");
    assert_eq!((last.flags, last.seq, last.ack), (ACK, sfin + 1, cfin + 1), "{segs:#?}");
    let b = ok(&h, "jexec b netstat -an -p tcp");
    assert!(b.contains("TIME_WAIT"), "the side that closed first waits: {b}");
}

#[test]
fn close_of_a_connection_with_nothing_more_to_say() {
    // A client that writes and closes at once (nc without -N at the end
    // of its input): one FIN, after the data.
    let (segs, _h) = close_case(
        3,
        "delay 1ms",
        "close-at-once",
        |mut s, _| Box::pin(async move { drain(&mut s).await }),
        |mut s, _| {
            Box::pin(async move {
                s.write_all(b"hello world").await.expect("write");
                drop(s);
                0
            })
        },
    );
    assert_graceful(&segs);
}

#[test]
fn close_with_unread_data_resets() {
    let (segs, h) = close_case(
        4,
        "delay 1ms",
        "close-unread",
        |mut s, p| {
            Box::pin(async move {
                s.write_all(b"you will not read this").await.expect("write");
                p.sleep(Duration::from_millis(100)).await;
                // The peer reset: reading says so, or ends.
                let mut b = [0u8; 8];
                let _ = s.read(&mut b).await;
                0
            })
        },
        |s, p| {
            Box::pin(async move {
                p.sleep(Duration::from_millis(50)).await;
                drop(s);
                0
            })
        },
    );
    let c = side(&segs, true);
    assert!(c.iter().all(|s| s.flags & FIN == 0), "a reset, not a FIN: {segs:#?}");
    let rst: Vec<_> = c.iter().filter(|s| s.flags & RST != 0).collect();
    assert_eq!(rst.len(), 1, "one reset: {segs:#?}");
    // The reset is at the client's next sequence number and acknowledges
    // what arrived (RST|ACK, as FreeBSD's tcp_drop sends it).
    let syn = c.iter().find(|s| s.flags & SYN != 0).expect("the client's SYN");
    assert_eq!(rst[0].seq, syn.seq + 1, "{segs:#?}");
    assert_eq!(rst[0].flags, RST | ACK, "{segs:#?}");
    let srv_data = side(&segs, false)
        .iter()
        .find(|s| s.len > 0)
        .copied()
        .expect("server data");
    assert_eq!(rst[0].ack, srv_data.seq + srv_data.len, "{segs:#?}");
    let a = ok(&h, "jexec a netstat -s -p tcp");
    assert!(a.contains("\t1 connection closed (including 1 drop)\n"), "{a}");
}

#[test]
fn both_sides_close_at_once() {
    // The FINs cross on a 5 ms path: each side sees the other's FIN in
    // FIN_WAIT_1 (CLOSING), then the ACK of its own (TIME_WAIT).
    let at = Duration::from_millis(500);
    let (segs, h) = close_case(
        5,
        "delay 5ms",
        "close-simultaneous",
        move |mut s, p| {
            Box::pin(async move {
                p.sleep_until(vimage::Time::ZERO.saturating_add(at)).await;
                s.shutdown(Shutdown::Write).expect("shutdown");
                drain(&mut s).await
            })
        },
        move |mut s, p| {
            Box::pin(async move {
                p.sleep_until(vimage::Time::ZERO.saturating_add(at)).await;
                s.shutdown(Shutdown::Write).expect("shutdown");
                drain(&mut s).await
            })
        },
    );
    let cfin = the_fin(&segs, true);
    let sfin = the_fin(&segs, false);
    for client in [true, false] {
        let mine = side(&segs, client);
        let fins: Vec<_> = mine.iter().filter(|s| s.flags & FIN != 0).collect();
        assert_eq!(fins.len(), 1, "{} sent one FIN: {segs:#?}", who(client));
        // The FIN crossed the other's: it acknowledges no FIN.
        let other = if client { sfin } else { cfin };
        assert_eq!(fins[0].ack, other, "the FINs crossed: {segs:#?}");
        // Then it acknowledged the other's FIN, at FIN + 1.
        let mine_fin = if client { cfin } else { sfin };
        let last = mine.last().expect("segments");
        assert_eq!(
            (last.flags, last.seq, last.ack),
            (ACK, mine_fin + 1, other + 1),
            "{segs:#?}"
        );
    }
    assert!(segs.iter().all(|s| s.flags & RST == 0), "no reset: {segs:#?}");
    // Both wait out 2MSL; the capture ran 10 s, so they still do.
    for j in ["a", "b"] {
        let n = ok(&h, &format!("jexec {j} netstat -an -p tcp"));
        assert!(n.contains("TIME_WAIT"), "{j}: {n}");
    }
}
