//! What a socket asks of TCP (after `tcp_usrreq.c`): bind, listen,
//! connect, accept, send, receive, shutdown, close. Calls that cannot
//! finish now leave the caller's waker and answer [`Errno::Again`].

use std::task::Waker;
use std::time::Duration;

use crate::kern::Kernel;
use crate::netinet::in_jail::{prison_local_ip, prison_remote_ip, prison_saddr_ip};
use crate::netinet::in_pcb::{Endpoint, Ends, Errno, Owner, Vflag, in_pcb_af, in_pcbbind, in_pcbladdr};
use crate::netinet::tcp_output::{tcp_output, wscale_for};
use crate::netinet::tcp_subr::{tcp_close, tcp_drop, tcp_iss, tcp_mss_for, tcp_timer_update};
use crate::netinet::tcp_var::{Listen, SoError, TCP, TcbId, TcpState};
use crate::vnet::Vnet;

/// The jail addresses of a TCB's owner.
fn tcp_ip4(v: &mut Vnet, id: TcbId) -> Option<std::rc::Rc<[u32]>> {
    v.builtin(TCP).get(id).and_then(|tp| Owner::ip4_rc(&tp.owner))
}

/// `socket(AF_INET or AF_INET6, SOCK_STREAM)`: a new, closed TCB;
/// `any` is the wildcard of the family.
pub fn tcp_attach(v: &mut Vnet, owner: Option<Owner>, any: Endpoint) -> TcbId {
    let vflag = Vflag::new(v, any);
    let t = v.builtin(TCP);
    let id = t.alloc();
    let (sack, ts) = (t.sack_enable, t.rfc1323);
    if let Some(tp) = t.get_mut(id) {
        (tp.local, tp.foreign) = (any, any);
        tp.vflag = vflag;
        tp.sack_ok = sack;
        tp.ts_ok = ts;
        tp.owner = owner;
    }
    id
}

/// `bind(2)`.
pub fn tcp_bind(v: &mut Vnet, id: TcbId, to: Endpoint) -> Result<(), Errno> {
    let (vf, to) = match v.builtin(TCP).get(id) {
        Some(tp) if tp.local.port != 0 || tp.state != TcpState::Closed => return Err(Errno::Inval),
        Some(tp) => (tp.vflag, in_pcb_af(tp.vflag, tp.local, to)?.1),
        None => return Err(Errno::Inval),
    };
    let reuse = v.builtin(TCP).get(id).is_some_and(|tp| tp.reuseaddr);
    let ip4 = tcp_ip4(v, id);
    let laddr = prison_local_ip(ip4.as_deref(), to.addr)?;
    let port = in_pcbbind(v, laddr, to.port, |v, a, p| {
        v.builtin(TCP).port_in_use((vf, a), p, reuse, ip4.as_deref())
    })?;
    if let Some(tp) = v.builtin(TCP).get_mut(id) {
        tp.local = Endpoint::new(laddr, port);
    }
    Ok(())
}

/// `listen(2)`: the backlog is capped like `kern.ipc.soacceptqueue`.
pub fn tcp_listen(v: &mut Vnet, id: TcbId, backlog: usize) -> Result<(), Errno> {
    if let Some(local) = v.builtin(TCP).get(id).map(|tp| tp.local)
        && local.port == 0
    {
        tcp_bind(v, id, local)?;
    }
    let t = v.builtin(TCP);
    let tp = t.get_mut(id).ok_or(Errno::Inval)?;
    if tp.state != TcpState::Closed {
        return Err(Errno::Inval);
    }
    tp.state = TcpState::Listen;
    tp.listen = Some(Listen {
        backlog: backlog.clamp(1, 4096),
        ..Listen::default()
    });
    let port = tp.local.port;
    t.listeners.entry(port).or_default().push(id);
    Ok(())
}

/// `connect(2)`: send a SYN; [`tcp_poll_connect`] says when it is done.
pub fn tcp_connect(k: &mut Kernel, v: &mut Vnet, id: TcbId, to: Endpoint) -> Result<(), Errno> {
    let now = k.now();
    let (vf, (local, to)) = match v.builtin(TCP).get(id) {
        Some(tp) if tp.state == TcpState::Closed && tp.foreign.is_unspecified() => {
            (tp.vflag, in_pcb_af(tp.vflag, tp.local, to)?)
        }
        Some(_) => return Err(Errno::IsConn),
        None => return Err(Errno::Inval),
    };
    let ip4 = tcp_ip4(v, id);
    let foreign = to.at(prison_remote_ip(ip4.as_deref(), to.addr));
    if foreign.is_unspecified() || foreign.port == 0 {
        return Err(Errno::AddrNotAvail);
    }
    let src = in_pcbladdr(v, foreign.addr).ok_or(Errno::NetUnreach)?;
    let src = prison_saddr_ip(ip4.as_deref(), src)?;
    let mss = tcp_mss_for(v, now, foreign.addr);
    let laddr = if local.is_unspecified() { src } else { local.addr };
    let lport = if local.port == 0 {
        // An ephemeral port with no such connection yet.
        let any = local.addr;
        in_pcbbind(v, any, 0, |v, _, p| {
            let t = v.builtin(TCP);
            let ends = Ends {
                local: Endpoint::new(laddr, p),
                foreign,
            };
            t.conns.contains_key(&ends) || t.port_in_use((vf, any), p, false, ip4.as_deref())
        })?
    } else {
        local.port
    };
    let t = v.builtin(TCP);
    let ends = Ends {
        local: Endpoint::new(laddr, lport),
        foreign,
    };
    if t.conns.contains_key(&ends) {
        return Err(Errno::AddrInUse);
    }
    let iss = tcp_iss(t.secret, &ends, now);
    let (rfc1323, recvbuf_max, keepinit) = (t.rfc1323, t.recvbuf_max.max(1) as usize, t.keepinit.max(1) as u64);
    let tp = t.get_mut(id).ok_or(Errno::Inval)?;
    (tp.local, tp.foreign) = (ends.local, ends.foreign);
    tp.iss = iss;
    tp.snd_una = iss;
    tp.snd_nxt = iss;
    tp.snd_max = iss;
    tp.recover = iss;
    tp.t_maxseg = mss;
    tp.rcv_scale = if rfc1323 { wscale_for(recvbuf_max) } else { 0 };
    tp.state = TcpState::SynSent;
    tp.timers.keep = Some(now.saturating_add(Duration::from_millis(keepinit)));
    tp.last_activity = now;
    t.conns.insert(ends, id);
    t.stats.connattempt += 1;
    tcp_output(k, v, id);
    Ok(())
}

/// Is the connection up yet? `Again` (waker left) while it is opening.
pub fn tcp_poll_connect(v: &mut Vnet, id: TcbId, w: &Waker) -> Result<(), Errno> {
    let tp = v.builtin(TCP).get_mut(id).ok_or(Errno::Inval)?;
    match tp.state {
        TcpState::SynSent | TcpState::SynReceived => {
            tp.wwaker = Some(w.clone());
            Err(Errno::Again)
        }
        TcpState::Closed => Err(tp.error.take().map_or(Errno::NotConn, Errno::So)),
        _ => Ok(()),
    }
}

/// `accept(2)`: the next connection of a listening socket.
pub fn tcp_accept(v: &mut Vnet, lid: TcbId, w: &Waker, owner: impl FnOnce() -> Owner) -> Result<TcbId, Errno> {
    let t = v.builtin(TCP);
    let l = t.get_mut(lid).ok_or(Errno::Inval)?;
    let q = l.listen.as_mut().ok_or(Errno::Inval)?;
    match q.queue.pop_front() {
        Some(id) => {
            if let Some(tp) = t.get_mut(id) {
                tp.head = None;
                tp.owner = Some(owner());
            }
            Ok(id)
        }
        None => {
            l.rwaker = Some(w.clone());
            Err(Errno::Again)
        }
    }
}

/// `send(2)`: as much of `data` as the send buffer takes (the buffer grows
/// up to `sendbuf_max` while the peer's window is larger).
pub fn tcp_send(k: &mut Kernel, v: &mut Vnet, id: TcbId, data: &[u8], w: &Waker) -> Result<usize, Errno> {
    let t = v.builtin(TCP);
    let (auto, max) = (t.sendbuf_auto, t.sendbuf_max.max(1) as usize);
    let tp = t.get_mut(id).ok_or(Errno::Inval)?;
    if let Some(e) = tp.error.take() {
        return Err(Errno::So(e));
    }
    match tp.state {
        TcpState::Established | TcpState::CloseWait if !tp.snd_fin => {}
        TcpState::SynSent | TcpState::SynReceived => {
            tp.wwaker = Some(w.clone());
            return Err(Errno::Again);
        }
        _ => return Err(Errno::Pipe),
    }
    if auto
        && tp.snd_autosize
        && tp.snd_space() < data.len()
        && tp.snd_hiwat < max
        && tp.snd_wnd as usize >= tp.snd_hiwat / 2
    {
        tp.snd_hiwat = (tp.snd_hiwat * 2).min(max);
    }
    let n = tp.snd_space().min(data.len());
    if n == 0 {
        tp.wwaker = Some(w.clone());
        return Err(Errno::Again);
    }
    tp.snd_buf.extend(&data[..n]);
    tcp_output(k, v, id);
    Ok(n)
}

/// `recv(2)`: 0 at the end of the stream.
pub fn tcp_recv(k: &mut Kernel, v: &mut Vnet, id: TcbId, buf: &mut [u8], w: &Waker) -> Result<usize, Errno> {
    let tp = v.builtin(TCP).get_mut(id).ok_or(Errno::Inval)?;
    if tp.rcv_buf.is_empty() {
        if tp.fin_rcvd {
            return Ok(0);
        }
        if let Some(e) = tp.error.take() {
            return Err(Errno::So(e));
        }
        return match tp.state {
            TcpState::Closed if tp.orphan || tp.local.port == 0 => Err(Errno::NotConn),
            TcpState::Closed => Ok(0),
            TcpState::Listen => Err(Errno::NotConn),
            _ => {
                tp.rwaker = Some(w.clone());
                Err(Errno::Again)
            }
        };
    }
    let n = tp.rcv_buf.read(buf);
    // Room opened up: tcp_output sends a window update if it is worth one.
    tcp_output(k, v, id);
    Ok(n)
}

/// Bytes waiting to be read, and to be sent (netstat's Recv-Q, Send-Q).
pub fn tcp_queues(v: &mut Vnet, id: TcbId) -> (usize, usize) {
    v.builtin(TCP)
        .get(id)
        .map_or((0, 0), |tp| (tp.rcv_buf.len(), tp.snd_buf.len()))
}

/// `shutdown(SHUT_WR)`: a FIN after the data (`tcp_usrclosed`).
pub fn tcp_shutdown(k: &mut Kernel, v: &mut Vnet, id: TcbId) -> Result<(), Errno> {
    let tp = v.builtin(TCP).get_mut(id).ok_or(Errno::Inval)?;
    match tp.state {
        TcpState::Established => tp.state = TcpState::FinWait1,
        TcpState::CloseWait => tp.state = TcpState::LastAck,
        TcpState::SynSent | TcpState::Listen | TcpState::Closed => {
            tcp_close(k, v, id);
            return Ok(());
        }
        _ => return Ok(()),
    }
    tp.snd_fin = true;
    tcp_output(k, v, id);
    Ok(())
}

/// The user lets go of a socket (`close(2)`): a listener drops what waits
/// on it; unread data makes it a reset (RFC 2525 §2.17); otherwise the
/// connection closes gracefully on its own.
pub fn tcp_detach(k: &mut Kernel, v: &mut Vnet, id: TcbId) {
    let Some(tp) = v.builtin(TCP).get_mut(id) else { return };
    tp.orphan = true;
    tp.owner = None;
    tp.rwaker = None;
    tp.wwaker = None;
    if let Some(l) = tp.listen.take() {
        for c in l.queue {
            tcp_detach(k, v, c);
            tcp_drop(k, v, c, None);
        }
        tcp_close(k, v, id);
        v.builtin(TCP).free(id);
        return;
    }
    match tp.state {
        TcpState::Closed => {
            v.builtin(TCP).free(id);
        }
        TcpState::SynSent => tcp_close(k, v, id),
        _ if !tp.rcv_buf.is_empty() => tcp_drop(k, v, id, Some(SoError::ConnAborted)),
        TcpState::Established | TcpState::CloseWait => {
            let _ = tcp_shutdown(k, v, id);
            let fw2 = Duration::from_millis(v.builtin(TCP).finwait2_timeout.max(1) as u64);
            let now = k.now();
            if let Some(tp) = v.builtin(TCP).get_mut(id)
                && tp.state == TcpState::FinWait2
            {
                tp.timers.keep = Some(now.saturating_add(fw2));
            }
            tcp_timer_update(k, v, id);
        }
        _ => {}
    }
}

/// `SO_KEEPALIVE`.
pub fn tcp_set_keepalive(k: &mut Kernel, v: &mut Vnet, id: TcbId, on: bool) {
    let now = k.now();
    let t = v.builtin(TCP);
    let idle = Duration::from_millis(t.keepidle.max(1) as u64);
    if let Some(tp) = t.get_mut(id) {
        tp.keepalive = on;
        if on && tp.state.synchronized() {
            tp.timers.keep = Some(now.saturating_add(idle));
        }
    }
    tcp_timer_update(k, v, id);
}
