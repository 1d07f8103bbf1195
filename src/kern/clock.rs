//! Two clocks behind one interface: virtual (discrete-event) and real.
//!
//! Protocol code never reads a clock of its own: it is handed the kernel's
//! [`Time`]. Under the virtual clock time stands still until the engine
//! jumps it to the next event; under the real clock it is the wall clock
//! since the host started.

use std::fmt;
use std::time::Duration;

/// Nanoseconds since the host started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub u64);

impl Time {
    pub const ZERO: Time = Time(0);
    /// Never.
    pub const MAX: Time = Time(u64::MAX);

    pub fn from_duration(d: Duration) -> Time {
        Time(d.as_nanos().min(u64::MAX as u128) as u64)
    }

    pub fn as_duration(self) -> Duration {
        Duration::from_nanos(self.0)
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    pub fn saturating_add(self, d: Duration) -> Time {
        Time(self.0.saturating_add(Time::from_duration(d).0))
    }

    pub fn saturating_sub(self, o: Time) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(o.0))
    }
}

/// A time `d` later (saturating: never stays never).
impl std::ops::Add<Duration> for Time {
    type Output = Time;
    fn add(self, d: Duration) -> Time {
        self.saturating_add(d)
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}", self.0 / 1_000_000_000, (self.0 % 1_000_000_000) / 1000)
    }
}

/// Which clock drives the host.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClockKind {
    /// Discrete-event: time jumps to the next event; runs are repeatable.
    #[default]
    Virtual,
    /// Wall-clock time, for interactive use and the real host.
    Real,
}

impl std::str::FromStr for ClockKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "virtual" => Ok(ClockKind::Virtual),
            "real" => Ok(ClockKind::Real),
            _ => Err(format!("unknown clock '{s}' (use 'virtual' or 'real')")),
        }
    }
}

/// The clock.
pub struct Clock {
    kind: ClockKind,
    now: Time,
    start: std::time::Instant,
    /// Wall-clock time at start (since the UNIX epoch); zero for virtual.
    epoch: Duration,
}

impl Clock {
    pub fn new(kind: ClockKind) -> Clock {
        let epoch = match kind {
            ClockKind::Virtual => Duration::ZERO,
            ClockKind::Real => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default(),
        };
        Clock {
            kind,
            now: Time::ZERO,
            start: std::time::Instant::now(),
            epoch,
        }
    }

    pub fn kind(&self) -> ClockKind {
        self.kind
    }

    /// The current time.
    pub fn now(&self) -> Time {
        match self.kind {
            ClockKind::Virtual => self.now,
            ClockKind::Real => Time::from_duration(self.start.elapsed()),
        }
    }

    /// `t` as wall-clock time since the UNIX epoch: for captures. Under the
    /// virtual clock the run starts at the epoch.
    pub fn wallclock(&self, t: Time) -> Duration {
        self.epoch + t.as_duration()
    }

    /// Move virtual time forward to `t` (never backwards). Under the real
    /// clock, wait until `t`.
    pub fn advance_to(&mut self, t: Time) {
        match self.kind {
            ClockKind::Virtual => self.now = self.now.max(t),
            ClockKind::Real => {
                let now = self.now();
                if t > now {
                    std::thread::sleep(t.saturating_sub(now));
                }
            }
        }
    }
}

/// Parse a duration as the shell and lab files write them: `1.5`, `2s`,
/// `100ms`, `20us`, `5ns`, `2m`, `1h` (a bare number is seconds, as in
/// sleep(1)).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("invalid duration '{s}'"))?;
    let scale = match unit {
        "" | "s" => 1.0,
        "ms" => 1e-3,
        "us" => 1e-6,
        "ns" => 1e-9,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("invalid duration '{s}' (units: ns, us, ms, s, m, h)")),
    };
    let secs = n * scale;
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(format!("invalid duration '{s}'"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `ppsratecheck(9)`: at most so many events a second.
#[derive(Clone, Copy, Debug)]
pub struct PpsLimit {
    /// The second counted in (of uptime: u32 lasts 136 years and keeps
    /// the limit 8 bytes in every vnet's ICMP and ICMPv6).
    second: u32,
    count: u32,
}

impl Default for PpsLimit {
    fn default() -> Self {
        PpsLimit {
            second: u32::MAX,
            count: 0,
        }
    }
}

impl PpsLimit {
    /// May one more happen at `now`, `maxpps` a second (0 or less: no
    /// limit)?
    pub fn check(&mut self, now: Time, maxpps: i32) -> bool {
        if maxpps <= 0 {
            return true;
        }
        let sec = (now.0 / 1_000_000_000) as u32;
        if sec != self.second {
            self.second = sec;
            self.count = 0;
        }
        self.count += 1;
        self.count <= maxpps as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("3us"), Ok(Duration::from_micros(3)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("abc").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn virtual_clock_only_moves_forward() {
        let mut c = Clock::new(ClockKind::Virtual);
        c.advance_to(Time(50));
        c.advance_to(Time(10));
        assert_eq!(c.now(), Time(50));
        assert_eq!(format!("{}", Time(1_500_000_000)), "1.500000");
    }
}
