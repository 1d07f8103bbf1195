//! staticd: the static routes of FRR's configuration (`ip route PREFIX
//! GATEWAY [IFNAME] [DISTANCE]`, `ipv6 route ...`), as FRR 8.4's staticd
//! gives them to zebra: each goes to its family's RIB at its distance
//! (1 unless told) while its gateway is reachable, through the kernel's
//! route to it (so a gateway off the link resolves recursively), and
//! leaves when it is not. Several routes to one prefix: the one of
//! lowest distance that resolves (a floating static route waits behind
//! another). Other daemons redistribute them (`redistribute static`).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use super::Frr;
use super::conf::StaticRoute;
use super::daemon::{Daemon, Wake, daemon_open, daemon_run, daemon_stop, daemon_wait};
use super::rib::{Proto, Rib, RibFamily, RibRoute};
use crate::kern::proc::Proc;
use crate::net::ifnet::IF;
use crate::socket::RouteSocket;

pub async fn staticd(p: Proc, argv: Vec<String>) -> i32 {
    let (a, frr) = match daemon_open(&p, &argv, Daemon::Staticd) {
        Ok(x) => x,
        Err(s) => return s,
    };
    let Ok(rs) = RouteSocket::open(&p, None) else {
        daemon_stop(&p, &frr, Daemon::Staticd);
        return 1;
    };
    let f = frr.clone();
    daemon_run(p, frr, Daemon::Staticd, a.daemon, move |q| serve(q, f, rs)).await
}

async fn serve(p: Proc, frr: Rc<RefCell<Frr>>, rs: RouteSocket) -> i32 {
    p.intr.catch();
    loop {
        let seen = {
            let mut f = frr.borrow_mut();
            let f = &mut *f;
            static_to_rib(&p, &f.conf.statics, &mut f.rib);
            static_to_rib(&p, &f.conf.statics6, &mut f.rib6);
            f.rib.sync(&p, &rs);
            f.rib6.sync(&p, &rs);
            f.generation
        };
        // Woken by a change of the kernel's routes, the RIBs (a gateway
        // may resolve through another daemon's route) or the
        // configuration; the hour is only a bound.
        let until = p.now().saturating_add(Duration::from_secs(3600));
        let nothing = std::future::pending::<std::io::Result<()>>();
        if let Wake::Intr = daemon_wait(&p, &frr, seen, nothing, &rs, until).await {
            return 0;
        }
    }
}

/// The routes that resolve now into `rib`, the others out.
fn static_to_rib<K: RibFamily>(p: &Proc, statics: &[StaticRoute<K>], rib: &mut Rib<K>) {
    let now = p.now();
    let mut best: std::collections::BTreeMap<(K, u8), RibRoute<K>> = Default::default();
    for s in statics {
        let zone = s.ifname.as_ref().and_then(|n| {
            p.vnet(|_, v| v.get(IF).and_then(|l| l.by_name(n)).map(|i| i.index))
                .ok()
                .flatten()
        });
        if s.ifname.is_some() && zone.is_none() {
            continue;
        }
        let gw = zone.map_or(s.gateway, |z| s.gateway.with_zone(z));
        let Some((gateway, ifindex)) = rib.resolve(p, gw, Proto::Static) else {
            continue;
        };
        if zone.is_some_and(|z| z != ifindex) {
            continue;
        }
        let r = RibRoute {
            proto: Proto::Static,
            distance: s.distance,
            metric: 0,
            gateway,
            ifindex,
            since: now,
        };
        let e = best.entry(s.prefix).or_insert(r);
        if r.distance < e.distance {
            *e = r;
        }
    }
    let keep: Vec<(K, u8)> = best.keys().copied().collect();
    for (prefix, r) in best {
        rib.update(prefix, r);
    }
    rib.retain(Proto::Static, &keep);
}
