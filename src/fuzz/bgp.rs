//! bgpd against a hostile neighbor: r (10.0.1.2, AS 65001, bgpd with
//! neighbor 10.0.1.1 remote-as 65002, `maximum-prefix 500` in IPv4 and
//! in IPv6 unicast) and n
//! (10.0.1.1), whose TCP session to port 179 the rig drives: an OPEN
//! and KEEPALIVE, then whatever bytes it is given. A session bgpd ends is
//! opened again before the next bytes. Whatever it sends, bgpd keeps
//! running, holds no more of n's prefixes than `maximum-prefix` allows,
//! and the kernel holds only routes through n to real destinations.

use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::host::Host;
use crate::kern::proc::Proc;
use crate::socket::TcpStream;
use crate::wire::bgp::{AFI_IPV4, AFI_IPV6, Cap, Msg, Open, SAFI_UNICAST, msg_len};

pub const CONF: &str = "router bgp 65001\n bgp router-id 10.0.1.2\n no bgp ebgp-requires-policy\n \
                        neighbor 10.0.1.1 remote-as 65002\n neighbor 10.0.1.1 timers 3 9\n \
                        neighbor 10.0.1.1 timers connect 1\n neighbor 10.0.1.1 passive\n \
                        neighbor 10.0.1.1 maximum-prefix 500\n \
                        address-family ipv6 unicast\n  neighbor 10.0.1.1 activate\n  \
                        neighbor 10.0.1.1 maximum-prefix 500\n exit-address-family\n";

/// n's side of the session.
pub struct BgpRig {
    pub host: Host,
    p: Proc,
    conn: Rc<RefCell<Option<TcpStream>>>,
    /// What r sent, messages parsed as they came (its NOTIFICATIONs).
    pub got: Vec<Msg>,
    rbuf: Vec<u8>,
}

impl BgpRig {
    pub fn new() -> BgpRig {
        let (host, p) = super::daemon_rig("bgpd", CONF);
        let mut rig = BgpRig {
            host,
            p,
            conn: Rc::new(RefCell::new(None)),
            got: Vec::new(),
            rbuf: Vec::new(),
        };
        rig.connect();
        rig
    }

    /// A session: connect, OPEN (AS 65002, hold 9 s) and KEEPALIVE.
    pub fn connect(&mut self) {
        let mut hello = Vec::new();
        Msg::Open(Open {
            version: 4,
            my_as: 65002,
            hold: 9,
            id: 0x0a00_0101,
            caps: vec![
                Cap::Mp(AFI_IPV4, SAFI_UNICAST),
                Cap::Mp(AFI_IPV6, SAFI_UNICAST),
                Cap::RouteRefresh,
                Cap::As4(65002),
            ],
        })
        .emit(true, &mut hello);
        Msg::Keepalive.emit(true, &mut hello);
        let (q, slot) = (self.p.clone(), self.conn.clone());
        self.host.tasks().spawn(Box::pin(async move {
            let to = SocketAddr::from((Ipv4Addr::new(10, 0, 1, 2), 179));
            if let Ok(mut s) = TcpStream::connect(&q, to).await
                && s.write_all(&hello).await.is_ok()
            {
                *slot.borrow_mut() = Some(s);
            }
            0
        }));
        self.host.run_for(Duration::from_millis(500));
        self.read();
    }

    /// Read what r sent; false once the session is gone.
    fn read(&mut self) -> bool {
        let mut c = self.conn.borrow_mut();
        let Some(s) = c.as_mut() else { return false };
        let mut cx = Context::from_waker(Waker::noop());
        let mut buf = vec![0u8; 65_536];
        let mut alive = true;
        loop {
            match s.poll_read_buf(&mut cx, &mut buf) {
                Poll::Ready(Ok(n)) if n > 0 => self.rbuf.extend_from_slice(&buf[..n]),
                Poll::Ready(_) => {
                    alive = false;
                    break;
                }
                Poll::Pending => break,
            }
        }
        while let Ok(Some(l)) = msg_len(&self.rbuf) {
            if self.rbuf.len() < l {
                break;
            }
            if let Ok(m) = Msg::parse(&self.rbuf[..l], true) {
                self.got.push(m);
            }
            self.rbuf.drain(..l);
        }
        if !alive {
            *c = None;
            self.rbuf.clear();
        }
        alive
    }

    /// Send `bytes` on the session (opened again first if r ended it),
    /// then let `ms` pass.
    pub fn send(&mut self, bytes: &[u8], ms: u16) {
        if !self.read() {
            self.host.run_for(Duration::from_millis(1500));
            self.connect();
        }
        let (slot, b) = (self.conn.clone(), bytes.to_vec());
        self.host.tasks().spawn(Box::pin(async move {
            let s = slot.borrow_mut().take();
            if let Some(mut s) = s {
                let ok = s.write_all(&b).await.is_ok();
                if ok {
                    *slot.borrow_mut() = Some(s);
                }
            }
            0
        }));
        self.host.run_for(Duration::from_millis(u64::from(ms).max(1)));
        self.read();
    }

    /// Send one message.
    pub fn send_msg(&mut self, m: &Msg, ms: u16) {
        let mut b = Vec::new();
        m.emit(true, &mut b);
        self.send(&b, ms);
    }

    /// A line of `show bgp neighbors`.
    pub fn neighbor(&self) -> String {
        self.host.exec("jexec r vtysh -c 'show bgp neighbors 10.0.1.1'").stdout
    }

    /// bgpd still answers, and what it holds is within bounds.
    pub fn check(&self) -> Result<(), String> {
        for af in ["ipv4", "ipv6"] {
            let o = self.host.exec(&format!("jexec r vtysh -c 'show bgp {af} unicast'"));
            if !o.success() {
                return Err(format!("bgpd is gone: {o:?}"));
            }
            let paths = o.stdout.lines().filter(|l| l.starts_with(['*', ' '])).count();
            if paths > 2 * 501 {
                return Err(format!("{paths} {af} paths past maximum-prefix 500:\n{}", o.stdout));
            }
        }
        super::routes_through_n(&self.host)
    }
}

impl Default for BgpRig {
    fn default() -> Self {
        Self::new()
    }
}
