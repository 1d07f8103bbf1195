//! A TCP server in vnet `s` (10.0.0.1:80) that accepts, sends 5000 bytes
//! and reads until the end, and a forged peer (10.0.0.2) whose segments
//! the rig writes: a correct handshake, data and FIN when asked, and
//! anything else — out of the window, bad ACKs, RST and SYN in every
//! state, bad checksums. The real vnet at 10.0.0.2 drops what the server
//! answers (`net.inet.tcp.blackhole`), so only the rig speaks for it.
//!
//! Every payload byte is a function of its sequence number, so what the
//! server reads can be checked: it must be the stream that begins right
//! after one of the SYNs the rig sent, exactly once and in order.

use std::cell::RefCell;
use std::net::SocketAddrV4;
use std::rc::Rc;
use std::time::Duration;

use crate::host::Host;
use crate::kern::jail::Jid;
use crate::kern::mbuf::Mbuf;
use crate::kern::proc::Stdio;
use crate::net::ifnet::{IF, netisr_queue};
use crate::netinet::in_pcb::{Endpoint, Ends, ip4};
use crate::netinet::ip::{IPPROTO_TCP, Ipv4Hdr};
use crate::netinet::tcp_var::{TCP, TcpState};
use crate::socket::TcpListener;
use crate::vnet::VnetId;
use crate::wire::tcp::{TH_ACK, TH_FIN, TH_RST, TH_SYN, TcpHdr, TcpOpts, seq_gt, seq_leq, write_opts};

const SERVER: u32 = 0x0a00_0001;
const PEER: u32 = 0x0a00_0002;
const SPORT: u16 = 80;

/// The byte every segment carries at sequence number `seq`.
pub fn byte_at(seq: u32) -> u8 {
    (seq ^ (seq >> 8) ^ (seq >> 19)) as u8
}

/// Which sequence number a forged segment carries.
#[derive(Clone, Copy, Debug)]
pub enum Seq {
    /// The next in order for the connection.
    Next,
    /// That plus an offset (negative: old data; large: beyond the window).
    Off(i32),
    /// Any number at all.
    Raw(u32),
}

/// One step of the forged peer.
#[derive(Clone, Debug)]
pub enum Op {
    /// A SYN from `port` with options, starting at `isn`.
    Syn { port: u16, isn: u32 },
    /// The ACK completing the handshake of the current connection.
    Ack,
    /// `len` bytes in order (with FIN if `fin`), acknowledging all.
    Data { len: u16, fin: bool },
    /// Any segment: flags, sequence, acknowledgment as an offset from what
    /// the server sent (or raw), window, length, and a good checksum or not.
    Raw {
        flags: u8,
        seq: Seq,
        ack: Seq,
        win: u16,
        len: u16,
        good_sum: bool,
    },
    /// Let time pass.
    Wait(u16),
}

/// The header fields of a forged segment, and its length.
struct Forged {
    flags: u8,
    seq: u32,
    ack: u32,
    win: u16,
    len: usize,
}

/// The rig.
pub struct TcpRig {
    pub host: Host,
    server: VnetId,
    ifindex: u32,
    mac: [u8; 6],
    /// What the server has read, per accepted connection.
    reads: Rc<RefCell<Vec<Vec<u8>>>>,
    /// Every SYN sequence number the rig sent.
    isns: Vec<u32>,
    /// The connection the rig is playing: peer port, next sequence number.
    port: u16,
    nxt: u32,
}

impl Default for TcpRig {
    fn default() -> Self {
        TcpRig::new()
    }
}

impl TcpRig {
    pub fn new() -> TcpRig {
        let host = Host::new(Default::default());
        for l in [
            "jail -c name=s vnet persist",
            "jail -c name=p vnet persist",
            "ifconfig epair0 create",
            "ifconfig epair0a vnet s",
            "ifconfig epair0b vnet p",
            "jexec s ifconfig epair0a inet 10.0.0.1/24 up",
            "jexec p ifconfig epair0b inet 10.0.0.2/24 up",
            "jexec p sysctl net.inet.tcp.blackhole=1",
            "jexec s sysctl net.inet.tcp.msl=2000",
            "jexec s sysctl net.inet.tcp.keepinit=10000",
        ] {
            let o = host.exec(l);
            assert!(o.success(), "tcp rig setup: {l}: {o:?}");
        }
        let (server, ifindex, mac, jid) = {
            let mut k = host.kernel();
            let jid = k.jail_getid(Jid::HOST, "s").expect("jail s");
            let v = k.prison_vnet(jid).expect("vnet s");
            let ifp = k
                .vnet(v)
                .expect("vnet")
                .builtin(IF)
                .by_name("epair0a")
                .expect("epair0a");
            (v, ifp.index, ifp.lladdr, jid)
        };
        let reads = Rc::new(RefCell::new(Vec::new()));
        let p = host.proc(jid, Stdio::null_all());
        let l = TcpListener::bind(&p, SocketAddrV4::new(SERVER.into(), SPORT).into()).expect("listen");
        let r = reads.clone();
        host.tasks().spawn(Box::pin(async move {
            loop {
                let Ok((mut s, _)) = l.accept().await else { return 1 };
                let i = {
                    let mut r = r.borrow_mut();
                    r.push(Vec::new());
                    r.len() - 1
                };
                let _ = s.write(&[b'x'; 5000]).await;
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    r.borrow_mut()[i].extend_from_slice(&buf[..n]);
                }
            }
        }));
        host.run_for(Duration::from_millis(1));
        TcpRig {
            host,
            server,
            ifindex,
            mac,
            reads,
            isns: Vec::new(),
            port: 1024,
            nxt: 0,
        }
    }

    /// The server's view of the current connection: (state, snd_una,
    /// snd_max, rcv_nxt), from its TCB or its syncache entry.
    fn server_view(&self) -> Option<(TcpState, u32, u32, u32)> {
        let mut k = self.host.kernel();
        let t = k.vnet(self.server).ok()?.builtin(TCP);
        let ends = Ends {
            local: Endpoint::v4(SERVER, SPORT),
            foreign: Endpoint::v4(PEER, self.port),
        };
        if let Some(tp) = t.conns.get(&ends).and_then(|&id| t.get(id)) {
            return Some((tp.state, tp.snd_una, tp.snd_max, tp.rcv_nxt));
        }
        let e = t.syncache.entries.get(&ends)?;
        Some((
            TcpState::SynReceived,
            e.iss,
            e.iss.wrapping_add(1),
            e.irs.wrapping_add(1),
        ))
    }

    /// Forge and deliver one segment, then let 5 ms pass.
    fn send(&mut self, f: Forged, opts: &TcpOpts, good_sum: bool) {
        let Forged {
            flags,
            seq,
            ack,
            win,
            len,
        } = f;
        let mut ob = [0u8; 40];
        let olen = write_opts(opts, &mut ob);
        let hlen = 20 + olen;
        let mut seg = vec![0u8; hlen + len];
        // SYN and FIN take a sequence number before or after the data.
        let first = seq.wrapping_add(u32::from(flags & TH_SYN != 0));
        for (i, b) in seg[hlen..].iter_mut().enumerate() {
            *b = byte_at(first.wrapping_add(i as u32));
        }
        let h = TcpHdr {
            sport: self.port,
            dport: SPORT,
            seq,
            ack,
            off: hlen,
            flags,
            win,
            urp: 0,
        };
        h.write(&mut seg, &ob[..olen], ip4(PEER), ip4(SERVER));
        if !good_sum {
            let mut p = crate::wire::tcp::Packet::new_unchecked(&mut seg[..]);
            let c = p.checksum();
            p.set_checksum(c ^ 0x5a5a);
        }
        let mut f = self.mac.to_vec();
        f.extend_from_slice(&[0x02, 0xfe, 0, 0, 0, 2, 0x08, 0x00]);
        let mut ip = [0u8; 20];
        Ipv4Hdr::new(PEER, SERVER, IPPROTO_TCP, 64, 1, (20 + seg.len()) as u16).write(&mut ip);
        f.extend_from_slice(&ip);
        f.extend_from_slice(&seg);
        netisr_queue(&mut self.host.kernel(), self.ifindex, Mbuf::from_slice(&f));
        self.host.run_for(Duration::from_millis(5));
    }

    /// Play one step.
    pub fn step(&mut self, op: &Op) {
        let ts = TcpOpts {
            ts: Some((self.host.now().0 as u32 / 1000, 0)),
            ..TcpOpts::default()
        };
        match *op {
            Op::Syn { port, isn } => {
                self.port = 1024 + port % 60000;
                self.isns.push(isn);
                self.nxt = isn.wrapping_add(1);
                let o = TcpOpts {
                    mss: Some(1460),
                    wscale: Some(7),
                    sack_ok: true,
                    ..ts
                };
                self.send(
                    Forged {
                        flags: TH_SYN,
                        seq: isn,
                        ack: 0,
                        win: 65535,
                        len: 0,
                    },
                    &o,
                    true,
                );
            }
            Op::Ack => {
                if let Some((_, _, max, _)) = self.server_view() {
                    let nxt = self.nxt;
                    self.send(
                        Forged {
                            flags: TH_ACK,
                            seq: nxt,
                            ack: max,
                            win: 65535,
                            len: 0,
                        },
                        &ts,
                        true,
                    );
                }
            }
            Op::Data { len, fin } => {
                let ack = self.server_view().map_or(0, |(_, _, max, _)| max);
                let len = len as usize % 3000;
                let flags = TH_ACK | if fin { TH_FIN } else { 0 };
                let nxt = self.nxt;
                self.send(
                    Forged {
                        flags,
                        seq: nxt,
                        ack,
                        win: 65535,
                        len,
                    },
                    &ts,
                    true,
                );
                self.nxt = nxt.wrapping_add(len as u32 + u32::from(fin));
            }
            Op::Raw {
                flags,
                seq,
                ack,
                win,
                len,
                good_sum,
            } => {
                let view = self.server_view();
                let rcv = view.map_or(self.nxt, |(_, _, _, r)| r);
                let una = view.map_or(0, |(_, u, _, _)| u);
                let seq = match seq {
                    Seq::Next => self.nxt,
                    Seq::Off(o) => rcv.wrapping_add(o as u32),
                    Seq::Raw(x) => x,
                };
                let ack = match ack {
                    Seq::Next => view.map_or(0, |(_, _, m, _)| m),
                    Seq::Off(o) => una.wrapping_add(o as u32),
                    Seq::Raw(x) => x,
                };
                // A SYN (starts a stream) the server may take: remember
                // where its data begins.
                if flags & TH_SYN != 0 && flags & TH_RST == 0 {
                    self.isns.push(seq);
                }
                self.send(
                    Forged {
                        flags: flags & 0x3f,
                        seq,
                        ack,
                        win,
                        len: len as usize % 3000,
                    },
                    &ts,
                    good_sum,
                );
            }
            Op::Wait(ms) => self.host.run_for(Duration::from_millis(u64::from(ms))),
        }
    }

    /// The invariants; the first broken one, named.
    pub fn check(&self) -> Result<(), String> {
        // What the server read is, per connection, the stream after one of
        // our SYNs: each byte once, in order.
        for (i, r) in self.reads.borrow().iter().enumerate() {
            let ok = r.is_empty()
                || self.isns.iter().any(|&isn| {
                    r.iter()
                        .enumerate()
                        .all(|(j, &b)| b == byte_at(isn.wrapping_add(1).wrapping_add(j as u32)))
                });
            if !ok {
                return Err(format!(
                    "connection {i}: the {} bytes read are not the stream sent",
                    r.len()
                ));
            }
        }
        let mut k = self.host.kernel();
        let t = k.vnet(self.server).map_err(|e| e.to_string())?.builtin(TCP);
        let (max_buf, reass_max) = (t.recvbuf_max.max(1) as usize, t.reass_maxqueuelen.max(1) as usize);
        if t.syncache.len() > 512 {
            return Err(format!("syncache of {}", t.syncache.len()));
        }
        for tp in t.all() {
            let id = format!("{} {}", tp.foreign, tp.state);
            if !(seq_leq(tp.snd_una, tp.snd_nxt) && seq_leq(tp.snd_nxt, tp.snd_max)) {
                return Err(format!(
                    "{id}: snd_una {} snd_nxt {} snd_max {}",
                    tp.snd_una, tp.snd_nxt, tp.snd_max
                ));
            }
            if tp.rcv_buf.len() + tp.reass_bytes > 2 * max_buf || tp.reass.len() > reass_max {
                return Err(format!(
                    "{id}: receive memory {} + {}",
                    tp.rcv_buf.len(),
                    tp.reass_bytes
                ));
            }
            let mut last = tp.snd_una;
            for &(s, e) in &tp.scoreboard {
                if !seq_gt(e, s) || seq_gt(last, s) || seq_gt(e, tp.snd_max) {
                    return Err(format!(
                        "{id}: scoreboard {:?} (una {}, max {})",
                        tp.scoreboard, tp.snd_una, tp.snd_max
                    ));
                }
                last = e;
            }
            if tp.state == TcpState::Listen && tp.listen.as_ref().is_some_and(|l| l.queue.len() > l.backlog) {
                return Err(format!("{id}: accept queue past its backlog"));
            }
        }
        Ok(())
    }

    /// Read so far, over all connections.
    pub fn bytes_read(&self) -> usize {
        self.reads.borrow().iter().map(Vec::len).sum()
    }
}

/// Flags for raw segments: every combination that matters.
pub const FLAG_CHOICES: [u8; 10] = [
    TH_SYN,
    TH_RST,
    TH_ACK,
    TH_FIN | TH_ACK,
    TH_RST | TH_ACK,
    TH_SYN | TH_ACK,
    TH_SYN | TH_FIN,
    TH_SYN | TH_RST,
    0,
    0x3f,
];
