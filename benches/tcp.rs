//! TCP throughput on one core, printed in one run: vimage between two
//! vnets on one epair at MTU 1500 and 65535 and across a 10-vnet routed
//! chain at MTU 1500 — and smoltcp's loopback TCP measured beside it, the
//! yardstick the figures are divided by: once as smoltcp's own example
//! runs it (the application never touches the bytes) and once with the
//! application copying its data in and out, as any socket program (and
//! vimage's benchmark) does.
//!
//! `cargo bench --bench tcp` (MB per transfer: `TCP_BENCH_MB`, default 1024).

use std::time::Instant;

use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::phy::{Loopback, Medium};
use smoltcp::socket::tcp;
use smoltcp::wire::{EthernetAddress, IpAddress, IpCidr};

/// smoltcp moving `bytes` over TCP through its loopback device (MTU
/// 65535, 64 KB socket buffers, as its own loopback benchmark), Gbit/s.
/// `app_copies`: the application writes from and reads into its own
/// buffers (`send_slice`/`recv_slice`), as vimage's benchmark does;
/// without, it only claims and releases ring space, as smoltcp's example.
fn smoltcp_loopback(bytes: usize, app_copies: bool) -> f64 {
    let mut dev = Loopback::new(Medium::Ethernet);
    let cfg = Config::new(EthernetAddress([2, 0, 0, 0, 0, 1]).into());
    let now = smoltcp::time::Instant::now;
    let mut iface = Interface::new(cfg, &mut dev, now());
    iface.update_ip_addrs(|a| {
        let _ = a.push(IpCidr::new(IpAddress::v4(127, 0, 0, 1), 8));
    });
    let sock = || {
        tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; 65536]),
            tcp::SocketBuffer::new(vec![0; 65536]),
        )
    };
    let mut storage: [_; 2] = Default::default();
    let mut sockets = SocketSet::new(&mut storage[..]);
    let server = sockets.add(sock());
    let client = sockets.add(sock());
    if sockets.get_mut::<tcp::Socket>(server).listen(5201).is_err() {
        return 0.0;
    }
    let cx = iface.context();
    if sockets
        .get_mut::<tcp::Socket>(client)
        .connect(cx, (IpAddress::v4(127, 0, 0, 1), 5201), 49152)
        .is_err()
    {
        return 0.0;
    }
    let t = Instant::now();
    let mut got = 0;
    let (block, mut buf) = (vec![0x5au8; 128 * 1024], vec![0u8; 128 * 1024]);
    while got < bytes {
        iface.poll(now(), &mut dev, &mut sockets);
        let s = sockets.get_mut::<tcp::Socket>(server);
        while s.can_recv() {
            got += if app_copies {
                s.recv_slice(&mut buf).unwrap_or(0)
            } else {
                s.recv(|b| (b.len(), b.len())).unwrap_or(0)
            };
        }
        let c = sockets.get_mut::<tcp::Socket>(client);
        while c.can_send() {
            if app_copies {
                let _ = c.send_slice(&block);
            } else {
                let _ = c.send(|b| (b.len(), ()));
            }
        }
    }
    got as f64 * 8.0 / t.elapsed().as_secs_f64() / 1e9
}

fn main() {
    let mb: usize = std::env::var("TCP_BENCH_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1024);
    let bytes = mb << 20;
    use vimage::userland::bench::{median_best, tcp_throughput};
    println!("tcp throughput, one core, {mb} MB per transfer; Gbit/s, median and best of 3");
    let (bare, bare_best) = median_best(3, || Ok(smoltcp_loopback(bytes, false))).unwrap_or_default();
    println!(
        "  {:<40} {bare:>7.2} {bare_best:>7.2}",
        "smoltcp 0.14 loopback, data untouched"
    );
    let (smol, smol_best) = median_best(3, || Ok(smoltcp_loopback(bytes, true))).unwrap_or_default();
    println!(
        "  {:<40} {smol:>7.2} {smol_best:>7.2}",
        "smoltcp 0.14 loopback, app copies"
    );
    for (name, n, mtu) in [
        ("vimage: 2 vnets, 1 epair, MTU 1500", 2, 1500),
        ("vimage: 2 vnets, 1 epair, MTU 65535", 2, 65535),
        ("vimage: 10-vnet routed chain, MTU 1500", 10, 1500),
    ] {
        match median_best(3, || tcp_throughput(n, mtu, bytes, false)) {
            Ok((m, b)) => println!(
                "  {name:<40} {m:>7.2} {b:>7.2}  ({:.2}x / {:.2}x smoltcp)",
                m / smol,
                m / bare
            ),
            Err(e) => println!("  {name:<40} failed: {e}"),
        }
    }
    println!("  ratios: to smoltcp with app copies / with data untouched (both stacks copy app data in vimage's runs)");
    println!("  targets: chain >= 2.5 Gbit/s (Linux netns+veth: 2.55); MTU 65535 >= smoltcp");
}
