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
