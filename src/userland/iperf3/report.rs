//! iperf3's text output (`iperf_locale.c`, `units.c`): adaptive units and
//! the interval and summary lines, byte for byte.

/// `unit_snprintf`: `A` adaptive bytes (powers of 1024), `a` adaptive bits
/// (powers of 1000) of a number of bytes.
pub fn unit(bytes: f64, bits: bool) -> String {
    let (mut n, base, labels) = if bits {
        (bytes * 8.0, 1000.0, ["bit", "Kbit", "Mbit", "Gbit", "Tbit"])
    } else {
        (bytes, 1024.0, ["Byte", "KByte", "MByte", "GByte", "TByte"])
    };
    let mut conv = 0;
    while n >= base && conv < 4 {
        n /= base;
        conv += 1;
    }
    let label = labels[conv];
    if n < 9.995 {
        format!("{n:4.2} {label}")
    } else if n < 99.95 {
        format!("{n:4.1} {label}")
    } else {
        format!("{n:4.0} {label}")
    }
}

/// C's `%.2g`: two significant digits, trailing zeros dropped.
pub fn g2(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return if x.is_finite() { "0".into() } else { x.to_string() };
    }
    let exp = x.abs().log10().floor() as i32;
    let rounded = format!("{:.1e}", x);
    let e: i32 = rounded.split('e').nth(1).and_then(|e| e.parse().ok()).unwrap_or(exp);
    if !(-4..2).contains(&e) {
        let m = rounded.split('e').next().unwrap_or("0");
        let m = m.trim_end_matches('0').trim_end_matches('.');
        return format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    let decimals = (1 - e).max(0) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

pub const SEPARATOR: &str = "- - - - - - - - - - - - - - - - - - - - - - - - -\n";
pub const HEADER: &str = "[ ID] Interval           Transfer     Bitrate\n";
pub const HEADER_RETR: &str = "[ ID] Interval           Transfer     Bitrate         Retr\n";
pub const HEADER_RETR_CWND: &str = "[ ID] Interval           Transfer     Bitrate         Retr  Cwnd\n";
pub const HEADER_UDP: &str = "[ ID] Interval           Transfer     Bitrate         Jitter    Lost/Total Datagrams\n";
pub const HEADER_UDP_SENDER: &str = "[ ID] Interval           Transfer     Bitrate         Total Datagrams\n";

/// One line's figures.
pub struct Line<'a> {
    /// `[  5]` (the socket) or `[SUM]`.
    pub id: Option<u32>,
    pub start: f64,
    pub end: f64,
    pub bytes: u64,
    /// What the line is: "sender", "receiver" or "" for intervals.
    pub role: &'a str,
}

impl Line<'_> {
    fn head(&self) -> String {
        let id = match self.id {
            Some(fd) => format!("[{fd:3}]"),
            None => "[SUM]".into(),
        };
        let secs = self.end - self.start;
        let rate = if secs > 0.0 { self.bytes as f64 / secs } else { 0.0 };
        format!(
            "{id} {:6.2}-{:<6.2} sec  {}s  {}s/sec",
            self.start,
            self.end,
            unit(self.bytes as f64, false),
            unit(rate, true)
        )
    }

    /// `report_bw_format`.
    pub fn plain(&self) -> String {
        format!("{}                  {}\n", self.head(), self.role)
    }

    /// `report_bw_retrans_format`.
    pub fn retr(&self, retr: u64) -> String {
        format!("{}  {retr:3}             {}\n", self.head(), self.role)
    }

    /// `report_bw_retrans_cwnd_format`.
    pub fn retr_cwnd(&self, retr: u64, cwnd: u64) -> String {
        format!(
            "{}  {retr:3}   {}s       {}\n",
            self.head(),
            unit(cwnd as f64, false),
            self.role
        )
    }

    /// `report_bw_udp_format`: jitter in seconds, lost of total datagrams.
    pub fn udp(&self, jitter: f64, lost: u64, total: u64) -> String {
        let pct = if total > 0 {
            100.0 * lost as f64 / total as f64
        } else {
            0.0
        };
        format!(
            "{}  {:5.3} ms  {lost}/{total} ({}%)  {}\n",
            self.head(),
            jitter * 1000.0,
            g2(pct),
            self.role
        )
    }

    /// `report_bw_udp_sender_format`.
    pub fn udp_sender(&self, packets: u64) -> String {
        format!("{} {packets}  {}\n", self.head(), self.role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_as_iperf3_prints_them() {
        assert_eq!(unit(2.47 * 1024.0 * 1024.0 * 1024.0, false), "2.47 GByte");
        assert_eq!(unit(131072.0, false), " 128 KByte");
        assert_eq!(unit(131072.0 * 4.0 / 1.0, true), "4.19 Mbit");
        assert_eq!(unit(0.0, true), "0.00 bit");
        assert_eq!(unit(12_500_000.0, true), " 100 Mbit");
    }

    #[test]
    fn percent_g() {
        assert_eq!(g2(0.0), "0");
        assert_eq!(g2(1.5), "1.5");
        assert_eq!(g2(12.34), "12");
        assert_eq!(g2(0.125), "0.12");
        assert_eq!(g2(100.0), "1e+02");
        assert_eq!(g2(0.00001234), "1.2e-05");
    }

    #[test]
    fn lines_match_iperf3() {
        let l = Line {
            id: Some(5),
            start: 0.0,
            end: 1.0,
            bytes: 131072,
            role: "",
        };
        assert_eq!(
            l.udp_sender(4),
            "[  5]   0.00-1.00   sec   128 KBytes  1.05 Mbits/sec 4  \n"
        );
        assert_eq!(
            l.udp(0.000004, 0, 4),
            "[  5]   0.00-1.00   sec   128 KBytes  1.05 Mbits/sec  0.004 ms  0/4 (0%)  \n"
        );
    }
}
