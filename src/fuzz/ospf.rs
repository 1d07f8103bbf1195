//! ospfd against a forged neighbour: r (10.0.1.2, ospfd on, hello 1 s,
//! dead 4 s) and n (10.0.1.1), whose OSPF packets the rig writes
//! through a raw socket, to r and to 224.0.0.5. Whatever it sends, ospfd
//! keeps running, its database holds no more LSAs than r's own and those
//! sent, and the kernel holds only routes through n to real
//! destinations.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::host::Host;
use crate::socket::RawSocket;
use crate::wire::ospf::{OspfBody, OspfRepr};

/// The neighbour's packets go to r, and the engine runs between them.
pub struct OspfRig {
    pub host: Host,
    sock: std::rc::Rc<RawSocket>,
    /// LSAs the packets sent carried, at most.
    lsas: usize,
}

/// r's router ID (its highest address).
pub const R: u32 = 0x0a00_0102;

impl OspfRig {
    pub fn new() -> OspfRig {
        let conf = "interface epair0a\n ip ospf hello-interval 1\n ip ospf dead-interval 4\n\
                    router ospf\n network 10.0.0.0/8 area 0\n";
        let (host, p) = super::daemon_rig("ospfd", conf);
        let sock = RawSocket::new(&p, false, 89).expect("raw socket");
        host.run_for(Duration::from_secs(1));
        OspfRig {
            host,
            sock: std::rc::Rc::new(sock),
            lsas: 0,
        }
    }

    /// Send `msg` from n to r (or to 224.0.0.5), with its length and
    /// checksum made right if `fix`; then let `ms` pass.
    pub fn send(&mut self, msg: &[u8], to_group: bool, fix: bool, ms: u16) {
        let mut m = msg.to_vec();
        if fix && m.len() >= 24 {
            let len = m.len() as u16;
            m[2..4].copy_from_slice(&len.to_be_bytes());
            m[12..14].fill(0);
            m[14..24].fill(0);
            let sum = crate::wire::checksum::in_cksum(&m);
            m[12..14].copy_from_slice(&sum.to_be_bytes());
        }
        if let Ok(OspfRepr {
            body: OspfBody::Lsu(l), ..
        }) = OspfRepr::parse(&m)
        {
            self.lsas += l.len();
        }
        let to = if to_group { [224, 0, 0, 5] } else { [10, 0, 1, 2] };
        let s = self.sock.clone();
        s.set_multicast_if(self.index());
        self.host.tasks().spawn(Box::pin(async move {
            let _ = s.send_to(&m, (Ipv4Addr::from(to), 0).into()).await;
            0
        }));
        self.host.run_for(Duration::from_millis(u64::from(ms)));
    }

    /// What r sent n (unicast) since the last look, OSPF packets parsed.
    pub fn recv(&self) -> Vec<OspfRepr> {
        let mut buf = vec![0u8; 65_535];
        let mut v = Vec::new();
        while let Some((n, _, _)) = self.sock.try_recv_from_if(&mut buf) {
            let ihl = usize::from(buf[0] & 0xf) * 4;
            if let Some(r) = buf.get(ihl..n).and_then(|b| OspfRepr::parse(b).ok()) {
                v.push(r);
            }
        }
        v
    }

    /// n's interface.
    fn index(&self) -> u32 {
        let mut k = self.host.kernel();
        let v = k
            .jail_getid(crate::kern::jail::Jid::HOST, "n")
            .and_then(|j| k.prison_vnet(j))
            .expect("n");
        let ifs = k.vnet(v).expect("vnet").builtin(crate::net::ifnet::IF);
        ifs.by_name("epair0b").map_or(0, |i| i.index)
    }

    /// ospfd still answers, and what it holds is within bounds.
    pub fn check(&self) -> Result<(), String> {
        let o = self.host.exec("jexec r vtysh -c 'show ip ospf database'");
        if !o.success() {
            return Err(format!("ospfd is gone: {o:?}"));
        }
        let rows = o
            .stdout
            .lines()
            .filter(|l| l.split_whitespace().nth(3).is_some_and(|w| w.starts_with("0x")))
            .count();
        if rows > 2 + self.lsas {
            return Err(format!("{rows} LSAs from {} sent:\n{}", self.lsas, o.stdout));
        }
        super::routes_through_n(&self.host)
    }
}

impl Default for OspfRig {
    fn default() -> Self {
        OspfRig::new()
    }
}
