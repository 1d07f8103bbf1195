//! Congestion control, after FreeBSD's mod_cc framework: NewReno
//! (RFC 5681 with appropriate byte counting, RFC 3465) and CUBIC
//! (RFC 9438). Chosen per vnet by `net.inet.tcp.cc.algorithm` and per
//! socket (`TCP_CONGESTION`).
//!
//! The hooks see the window in bytes; recovery itself (fast retransmit,
//! NewReno partial ACKs, SACK) is tcp_input's.

use std::time::Duration;

use crate::kern::clock::Time;

/// CUBIC's constants (RFC 9438 §4.1, §4.6): C = 0.4, β = 0.7.
const CUBIC_C: f64 = 0.4;
const CUBIC_BETA: f64 = 0.7;

/// CUBIC's state (RFC 9438 §4).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Cubic {
    /// The window before the last reduction, in segments.
    w_max: f64,
    /// The time to regain `w_max`, in seconds.
    k: f64,
    /// When the current congestion avoidance epoch began.
    epoch: Option<Time>,
    /// The Reno-friendly estimate, in segments.
    w_est: f64,
}

/// The algorithm of a connection.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cc {
    NewReno {
        /// Bytes acknowledged in congestion avoidance, toward the next MSS.
        ca_acked: u32,
    },
    Cubic(Cubic),
}

/// The window a hook works on.
pub struct Window<'a> {
    pub cwnd: &'a mut u32,
    pub ssthresh: &'a mut u32,
    pub mss: u32,
    pub flight: u32,
}

impl Cc {
    /// What `net.inet.tcp.cc.available` lists.
    pub const AVAILABLE: &'static [&'static str] = &["newreno", "cubic"];

    pub fn known(name: &str) -> bool {
        Cc::AVAILABLE.contains(&name)
    }

    /// The algorithm called `name` (NewReno if unknown).
    pub fn new(name: &str) -> Cc {
        match name {
            "cubic" => Cc::Cubic(Cubic::default()),
            _ => Cc::NewReno { ca_acked: 0 },
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Cc::NewReno { .. } => "newreno",
            Cc::Cubic(_) => "cubic",
        }
    }

    /// New data acknowledged outside recovery: grow the window.
    pub fn ack_received(&mut self, w: Window<'_>, acked: u32, now: Time, srtt: Duration) {
        let mss = w.mss.max(1);
        if *w.cwnd < *w.ssthresh {
            // Slow start, with appropriate byte counting (L = 2).
            *w.cwnd = w.cwnd.saturating_add(acked.min(2 * mss));
            return;
        }
        match self {
            Cc::NewReno { ca_acked } => {
                *ca_acked += acked;
                if *ca_acked >= *w.cwnd {
                    *ca_acked -= *w.cwnd;
                    *w.cwnd = w.cwnd.saturating_add(mss);
                }
            }
            Cc::Cubic(c) => {
                let cwnd = *w.cwnd as f64 / mss as f64;
                let epoch = *c.epoch.get_or_insert_with(|| {
                    c.k = if cwnd < c.w_max {
                        ((c.w_max - cwnd) / CUBIC_C).cbrt()
                    } else {
                        0.0
                    };
                    c.w_est = cwnd;
                    now
                });
                if c.w_max == 0.0 {
                    c.w_max = cwnd;
                }
                // RFC 9438 §4.2: aim at W_cubic(t + RTT).
                let t = now.saturating_sub(epoch).as_secs_f64() + srtt.as_secs_f64();
                let target = CUBIC_C * (t - c.k).powi(3) + c.w_max;
                // §4.3: the Reno-friendly region.
                let alpha = 3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA);
                c.w_est += alpha * (acked as f64 / mss as f64) / cwnd;
                let next = if target < c.w_est {
                    c.w_est
                } else if target > cwnd {
                    // §4.4: at most half again per RTT.
                    cwnd + ((target.min(1.5 * cwnd) - cwnd) / cwnd) * (acked as f64 / mss as f64)
                } else {
                    cwnd
                };
                *w.cwnd = ((next * mss as f64) as u32).max(*w.cwnd);
            }
        }
    }

    /// Loss found by duplicate ACKs or SACK: the new ssthresh (RFC 5681
    /// eqn. 4, RFC 9438 §4.6); cwnd is the caller's to set.
    pub fn cong_signal(&mut self, w: Window<'_>) {
        let mss = w.mss.max(1);
        match self {
            Cc::NewReno { ca_acked } => {
                *ca_acked = 0;
                *w.ssthresh = (w.flight / 2).max(2 * mss);
            }
            Cc::Cubic(c) => {
                let cwnd = *w.cwnd as f64 / mss as f64;
                // §4.7 fast convergence.
                c.w_max = if cwnd < c.w_max {
                    cwnd * (1.0 + CUBIC_BETA) / 2.0
                } else {
                    cwnd
                };
                c.epoch = None;
                *w.ssthresh = ((*w.cwnd as f64 * CUBIC_BETA) as u32).max(2 * mss);
            }
        }
    }

    /// A retransmission timeout (RFC 5681 eqn. 4; RFC 9438 §4.8).
    pub fn timeout(&mut self, w: Window<'_>) {
        let mss = w.mss.max(1);
        let flight = w.flight;
        self.cong_signal(Window {
            cwnd: w.cwnd,
            ssthresh: w.ssthresh,
            mss,
            flight,
        });
        if let Cc::NewReno { .. } = self {
            *w.ssthresh = (flight / 2).max(2 * mss);
        }
        *w.cwnd = mss;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grow(cc: &mut Cc, cwnd: &mut u32, ssthresh: &mut u32, rtts: u32) {
        let mss = 1000;
        for r in 0..rtts {
            let acks = *cwnd / mss;
            for _ in 0..acks {
                cc.ack_received(
                    Window {
                        cwnd,
                        ssthresh,
                        mss,
                        flight: 0,
                    },
                    mss,
                    Time((r as u64) * 100_000_000),
                    Duration::from_millis(100),
                );
            }
        }
    }

    #[test]
    fn newreno_slow_start_then_one_mss_per_rtt() {
        let mut cc = Cc::new("newreno");
        let (mut cwnd, mut ssthresh) = (10_000, 40_000);
        grow(&mut cc, &mut cwnd, &mut ssthresh, 2);
        assert_eq!(cwnd, 40_000, "doubled twice, to ssthresh");
        grow(&mut cc, &mut cwnd, &mut ssthresh, 4);
        assert_eq!(cwnd, 44_000, "then one segment per round trip");
        cc.cong_signal(Window {
            cwnd: &mut cwnd,
            ssthresh: &mut ssthresh,
            mss: 1000,
            flight: 44_000,
        });
        assert_eq!(ssthresh, 22_000);
        cc.timeout(Window {
            cwnd: &mut cwnd,
            ssthresh: &mut ssthresh,
            mss: 1000,
            flight: 30_000,
        });
        assert_eq!((cwnd, ssthresh), (1000, 15_000));
    }

    #[test]
    fn cubic_backs_off_by_beta_and_regains_w_max_in_k() {
        let mut cc = Cc::new("cubic");
        let (mut cwnd, mut ssthresh) = (100_000, 50_000);
        cc.cong_signal(Window {
            cwnd: &mut cwnd,
            ssthresh: &mut ssthresh,
            mss: 1000,
            flight: 100_000,
        });
        assert_eq!(ssthresh, 70_000);
        cwnd = ssthresh;
        // K = cbrt(100 * 0.3 / 0.4) ≈ 4.2 s: after 5 s of 100 ms rounds
        // the window is back above W_max; growth is concave then convex.
        let mut seen = vec![];
        for round in 0..50 {
            let acks = cwnd / 1000;
            for _ in 0..acks {
                cc.ack_received(
                    Window {
                        cwnd: &mut cwnd,
                        ssthresh: &mut ssthresh,
                        mss: 1000,
                        flight: 0,
                    },
                    1000,
                    Time(round * 100_000_000),
                    Duration::from_millis(100),
                );
            }
            seen.push(cwnd);
        }
        assert!(seen[20] < 100_000 && seen[20] > 90_000, "plateau near W_max: {seen:?}");
        assert!(*seen.last().unwrap_or(&0) > 100_000, "probing beyond: {seen:?}");
        assert_eq!(Cc::new("bogus").name(), "newreno");
        assert!(Cc::known("cubic") && !Cc::known("vegas"));
    }
}
